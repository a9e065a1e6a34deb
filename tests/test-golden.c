/*
 * Golden cases: testdata/kust/<case>.in.yaml is copied to a temporary
 * kustomization.yaml, "kpin <case>.args" runs on it (FILE stands for the
 * file), and the result is compared with <case>.out.yaml (expected bytes,
 * exit 0) or <case>.err ("exit N" then lines that stderr must contain; the
 * file must be untouched, bytes, inode and mtime). <case>.stdout, when
 * present, is the exact expected stdout. Every successful edit is run a
 * second time and must then be a no-op, and "kpin get" must read back the
 * digest that was set.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

struct gcase {
	char *name;
	char *dir;
};

static int read_opt(struct kpin_buf *out, const char *dir, const char *name,
		    const char *ext)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);
	return access(path, F_OK) ? -1 : h_read(out, path);
}

/* Split @args on whitespace into argv after "kpin"; FILE -> @file. */
static int split_args(char *args, const char **argv, int max,
		      const char *file)
{
	int n = 0;
	char *tok, *save = NULL;

	argv[n++] = "kpin";
	for (tok = strtok_r(args, " \t\r\n", &save); tok && n < max - 1;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		argv[n++] = strcmp(tok, "FILE") ? tok : file;
	argv[n] = NULL;
	return n;
}

static const char *arg_after(const char *const *argv, const char *opt)
{
	for (; *argv; argv++)
		if (!strcmp(*argv, opt) && argv[1])
			return argv[1];
	return NULL;
}

static void run_case(void **state)
{
	const struct gcase *gc = *state;
	struct kpin_buf in = KPIN_BUF_INIT, args = KPIN_BUF_INIT;
	struct kpin_buf want = KPIN_BUF_INIT, err = KPIN_BUF_INIT;
	struct kpin_buf got = KPIN_BUF_INIT, out = KPIN_BUF_INIT;
	struct h_result r, r2;
	struct stat before, after;
	const char *argv[64];
	char *tmp = h_tmpdir(), *line, *save = NULL;
	const char *file = "kustomization.yaml";
	int want_status = 0;
	bool has_out, has_err, dry;

	assert_int_equal(read_opt(&in, gc->dir, gc->name, ".in.yaml"), 0);
	assert_int_equal(read_opt(&args, gc->dir, gc->name, ".args"), 0);
	has_out = read_opt(&want, gc->dir, gc->name, ".out.yaml") == 0;
	has_err = read_opt(&err, gc->dir, gc->name, ".err") == 0;
	read_opt(&out, gc->dir, gc->name, ".stdout");
	assert_true(has_out || has_err || out.ptr);
	h_write(h_path(tmp, file), in.ptr, in.len);
	assert_int_equal(stat(h_path(tmp, file), &before), 0);
	split_args(args.ptr, argv, 64, file);
	dry = arg_after(argv, "--dry-run") || strstr(gc->name, "dry-run");
	if (has_err)
		assert_int_equal(sscanf(err.ptr, "exit %d", &want_status), 1);

	h_run(&r, tmp, NULL, argv, NULL);
	if (r.status != want_status)
		fail_msg("%s: exit %d, expected %d; stderr:\n%s", gc->name,
			 r.status, want_status, r.err.ptr);
	assert_int_equal(h_read(&got, h_path(tmp, file)), 0);
	assert_int_equal(stat(h_path(tmp, file), &after), 0);

	if (has_err) {
		strtok_r(err.ptr, "\n", &save);
		while ((line = strtok_r(NULL, "\n", &save)) != NULL)
			h_assert_contains(r.err.ptr, line);
		h_assert_same(in.ptr, in.len, got.ptr, got.len);
		assert_true(h_stat_same(&before, &after));
	}
	if (out.ptr)
		h_assert_same(out.ptr, out.len, r.out.ptr, r.out.len);
	if (dry)
		h_assert_same(in.ptr, in.len, got.ptr, got.len);
	if (has_out) {
		h_assert_same(want.ptr, want.len, got.ptr, got.len);
		if (want.len == in.len && !memcmp(want.ptr, in.ptr, in.len)) {
			h_assert_contains(r.err.ptr, "unchanged");
			assert_true(h_stat_same(&before, &after));
		}
	}
	/*
	 * Idempotence and the read-back are about behaviour, which make
	 * check proves; under memcheck (make check-valgrind) the first run
	 * is enough, and a third of the time.
	 */
	if (!want_status && !dry && has_out && !getenv("KPIN_VALGRIND")) {
		/* idempotence: the same request again changes nothing */
		h_run(&r2, tmp, NULL, argv, NULL);
		assert_int_equal(r2.status, 0);
		h_assert_contains(r2.err.ptr, "unchanged");
		assert_int_equal(stat(h_path(tmp, file), &before), 0);
		assert_true(h_stat_same(&before, &after));
		h_result_release(&r2);
		if (arg_after(argv, "--digest") && arg_after(argv, "--image")) {
			kpin_buf_reset(&got);
			kpin_buf_addf(&got, "%s\n", arg_after(argv, "--digest"));
			h_kpin_run(&r2, tmp, "get", "-f", file, "--image",
				   arg_after(argv, "--image"), NULL);
			assert_int_equal(r2.status, 0);
			assert_string_equal(r2.out.ptr, got.ptr);
			h_result_release(&r2);
		}
	}
	h_result_release(&r);
	h_rmrf(tmp);
	free(tmp);
	kpin_buf_release(&in);
	kpin_buf_release(&args);
	kpin_buf_release(&want);
	kpin_buf_release(&err);
	kpin_buf_release(&got);
	kpin_buf_release(&out);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct gcase *)a)->name,
		      ((const struct gcase *)b)->name);
}

int main(void)
{
	char dir[4096];
	struct gcase *cases = NULL;
	struct CMUnitTest *tests;
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;
	int rc;

	snprintf(dir, sizeof(dir), "%s/kust", h_testdata());
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "test-golden: cannot open %s\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".args"))
			continue;
		cases = realloc(cases, (n + 1) * sizeof(*cases));
		cases[n].name = strndup(de->d_name, len - 5);
		cases[n].dir = dir;
		n++;
	}
	closedir(d);
	qsort(cases, n, sizeof(*cases), by_name);
	tests = calloc(n ? n : 1, sizeof(*tests));
	for (i = 0; i < n; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = &cases[i];
	}
	rc = _cmocka_run_group_tests("golden", tests, n, NULL, NULL);
	for (i = 0; i < n; i++)
		free(cases[i].name);
	free(cases);
	free(tests);
	return rc;
}
