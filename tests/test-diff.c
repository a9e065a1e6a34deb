/*
 * Unified diffs: hunk headers, context, separate hunks, missing final
 * newlines, CRLF lines, insertions at the start and end, and a large file
 * with scattered changes (bounded memory, one small hunk per change).
 */
#include <string.h>
#include <sys/resource.h>

#include "harness.h"

static void expect_diff(const char *a, const char *b, const char *want)
{
	struct kpin_buf out = KPIN_BUF_INIT;

	kpin_diff_unified(&out, a, strlen(a), b, strlen(b), "a/f", "b/f");
	if (strcmp(kpin_buf_cstr(&out), want))
		fail_msg("diff gave:\n%s\nexpected:\n%s", kpin_buf_cstr(&out),
			 want);
	kpin_buf_release(&out);
}

static void test_diff_equal_is_empty(void **state)
{
	(void)state;
	expect_diff("a\nb\n", "a\nb\n", "");
	expect_diff("", "", "");
}

static void test_diff_one_line(void **state)
{
	(void)state;
	expect_diff("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nX\n6\n7\n8\n",
		    "--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n"
		    " 6\n 7\n 8\n");
}

static void test_diff_insert_and_no_newline(void **state)
{
	(void)state;
	expect_diff("a\nb", "a\nb\nc",
		    "--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n-b\n"
		    "\\ No newline at end of file\n+b\n+c\n"
		    "\\ No newline at end of file\n");
	expect_diff("a\n", "x\na\n",
		    "--- a/f\n+++ b/f\n@@ -1 +1,2 @@\n+x\n a\n");
	expect_diff("", "x\n", "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n");
}

static void test_diff_two_hunks(void **state)
{
	struct kpin_buf a = KPIN_BUF_INIT, b = KPIN_BUF_INIT;
	struct kpin_buf out = KPIN_BUF_INIT;
	int i;

	(void)state;
	for (i = 1; i <= 30; i++) {
		kpin_buf_addf(&a, "%d\n", i);
		kpin_buf_addf(&b, "%d\n", i == 2 ? 200 : i == 28 ? 280 : i);
	}
	kpin_diff_unified(&out, a.ptr, a.len, b.ptr, b.len, "a/f", "b/f");
	assert_string_equal(out.ptr, "--- a/f\n+++ b/f\n"
			    "@@ -1,5 +1,5 @@\n 1\n-2\n+200\n 3\n 4\n 5\n"
			    "@@ -25,6 +25,6 @@\n 25\n 26\n 27\n-28\n+280\n"
			    " 29\n 30\n");
	kpin_buf_release(&a);
	kpin_buf_release(&b);
	kpin_buf_release(&out);
}

static void test_diff_crlf(void **state)
{
	(void)state;
	expect_diff("k: a\r\nx: 1\r\n", "k: b\r\nx: 1\r\n",
		    "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-k: a\r\n+k: b\r\n"
		    " x: 1\r\n");
}

/* Peak resident set of this process so far, in KiB. */
static long max_rss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/*
 * A 3.8 MB file with 100 changes spread through it: the hand-written
 * Myers took 535 MB on this and gave up with one 7.9 MB hunk. Each change
 * must be its own 7-line hunk, and the diff must not need more than a
 * few times the file's size.
 */
static void test_diff_large_scattered(void **state)
{
	struct kpin_buf a = KPIN_BUF_INIT, b = KPIN_BUF_INIT;
	struct kpin_buf out = KPIN_BUF_INIT;
	const char *p;
	long before, grew;
	size_t hunks = 0, lines = 0;
	int i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		kpin_buf_addf(&a, "  - name: registry.example/team/app-%06d\n",
			      i);
		if (i % 1000 == 500)
			kpin_buf_addf(&b, "  - name: registry.example/team/new-%06d\n",
				      i);
		else
			kpin_buf_addf(&b, "  - name: registry.example/team/app-%06d"
				      "\n", i);
	}
	assert_true(a.len > 3800000);
	before = max_rss_kib();
	assert_int_equal(kpin_diff_unified(&out, a.ptr, a.len, b.ptr, b.len,
					   "a/f", "b/f"), 0);
	grew = max_rss_kib() - before;
	for (p = out.ptr; p && *p; p = strchr(p, '\n') + 1) {
		hunks += !strncmp(p, "@@ ", 3);
		lines++;
	}
	assert_int_equal(hunks, 100);
	/* two file lines, then per hunk a header, 6 context lines, - and + */
	assert_int_equal(lines, 2 + 100 * 9);
	assert_non_null(strstr(out.ptr, "@@ -498,7 +498,7 @@\n"
			       "   - name: registry.example/team/app-000497\n"));
	if (grew > 64 * 1024)
		fail_msg("the diff grew the peak RSS by %ld KiB", grew);
	kpin_buf_release(&a);
	kpin_buf_release(&b);
	kpin_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_equal_is_empty),
		cmocka_unit_test(test_diff_one_line),
		cmocka_unit_test(test_diff_insert_and_no_newline),
		cmocka_unit_test(test_diff_two_hunks),
		cmocka_unit_test(test_diff_crlf),
		cmocka_unit_test(test_diff_large_scattered),
	};

	return cmocka_run_group_tests_name("diff", tests, NULL, NULL);
}
