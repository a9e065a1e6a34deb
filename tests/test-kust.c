/*
 * Unit tests of the edit core's library interface: what kpin_kust_open
 * reports (fields, styles, positions, diagnostics), kpin_kust_find, and
 * kpin_kust_edit's contract (merged and conflicting changes, idempotence,
 * several changes in one pass, the verifier refusing a tampered result).
 * Byte-level formatting cases live in testdata/kust (test-golden).
 */
#include <string.h>

#include "harness.h"

#define A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct kpin_kust *open_ok(const char *s)
{
	struct kpin_kust *k = NULL;

	if (kpin_kust_open(&k, s, strlen(s), 0))
		fail_msg("open failed: %s", kpin_error_last()->message);
	return k;
}

static void test_kust_fields(void **state)
{
	const char *s =
		"kind: Kustomization\n"
		"images:\n"
		"- name: app\n"
		"  newName: 'ghcr.io/x/app'\n"
		"  newTag: \"v1\"\n"
		"  digest: " A "\n"
		"- name: other\n"
		"  newTag:\n";
	struct kpin_kust *k = open_ok(s);
	const struct kpin_image *img;
	size_t len;

	(void)state;
	assert_int_equal(kpin_kust_image_count(k), 2);
	assert_true(kpin_kust_has_images_key(k));
	assert_int_equal(kpin_kust_key_count(k), 2);
	assert_string_equal(kpin_kust_key(k, 1)->name, "images");
	assert_int_equal(kpin_kust_key(k, 1)->line, 2);

	assert_int_equal(kpin_kust_find(&img, k, "app"), 0);
	assert_int_equal(img->index, 0);
	assert_int_equal(img->line, 3);
	assert_int_equal(img->col, 3);
	assert_string_equal(img->new_name.value, "ghcr.io/x/app");
	assert_int_equal(img->new_name.style, KPIN_STYLE_SINGLE);
	assert_string_equal(img->new_tag.value, "v1");
	assert_int_equal(img->new_tag.style, KPIN_STYLE_DOUBLE);
	assert_int_equal(img->digest.style, KPIN_STYLE_PLAIN);
	assert_int_equal(img->digest.line, 6);
	assert_int_equal(img->digest.col, 11);
	assert_string_equal(kpin_kust_effective_digest(img, &len), A);

	assert_int_equal(kpin_kust_find(&img, k, "other"), 0);
	assert_int_equal(img->new_tag.style, KPIN_STYLE_NULL);
	assert_int_equal(img->digest.style, KPIN_STYLE_NONE);
	assert_null(kpin_kust_effective_digest(img, &len));

	assert_int_equal(kpin_kust_find(&img, k, "nope"), KPIN_ENOTFOUND);
	assert_null(img);
	kpin_kust_free(k);
}

static void test_kust_effective_digest_from_tag(void **state)
{
	struct kpin_kust *k = open_ok("images:\n- name: a\n  newTag: v2@" A "\n");
	const struct kpin_image *img;
	size_t len;
	const char *d;

	(void)state;
	assert_int_equal(kpin_kust_find(&img, k, "a"), 0);
	d = kpin_kust_effective_digest(img, &len);
	assert_int_equal(len, strlen(A));
	assert_memory_equal(d, A, len);
	kpin_kust_free(k);
}

static void test_kust_ambiguous(void **state)
{
	struct kpin_kust *k = open_ok("images:\n- name: a\n- name: b\n"
				      "- name: 'a'\n");
	const struct kpin_image *img;

	(void)state;
	assert_int_equal(kpin_kust_find(&img, k, "a"), KPIN_EAMBIGUOUS);
	assert_int_equal(kpin_error_last()->line, 4);
	h_assert_contains(kpin_error_last()->message, "2:3 and 4:3");
	assert_int_equal(kpin_kust_find(&img, k, "b"), 0);
	kpin_kust_free(k);
}

static void test_kust_error_positions(void **state)
{
	static const struct {
		const char *yaml;
		int line, col;
		const char *msg;
	} cases[] = {
		{ "a: 1\nb: [x\n", 3, 1, "invalid YAML" },
		{ "a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first at 1:1)" },
		{ "a:\n  x: 1\n  y: 2\n  x: 3\n", 4, 3, "duplicate key 'x'" },
		{ "a: 1\n---\nb: 2\n", 2, 1, "more than one YAML document" },
		{ "- a\n", 1, 1, "must be a mapping" },
		{ "images: {a: 1}\n", 1, 9, "sequence of mappings" },
		{ "images:\n- name: a\n- tag: x\n", 3, 3, "has no 'name'" },
		{ "images:\n- x\n", 2, 3, "not a mapping" },
		{ "k: caf\xc3\n", 1, 7, "invalid UTF-8" },
		{ "k: \xed\xa0\x80\n", 1, 4, "invalid UTF-8" },
		{ "k: \xf4\x90\x80\x80\n", 1, 4, "invalid UTF-8" },
		{ "k: v\n\x00", 2, 1, "NUL byte" },
		{ "? [a]\n: 1\n", 1, 3, "scalar keys only" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kpin_kust *k = NULL;
		size_t len = strlen(cases[i].yaml);
		const struct kpin_error *err;

		if (strstr(cases[i].msg, "NUL"))
			len += 1;
		assert_int_equal(kpin_kust_open(&k, cases[i].yaml, len, 0),
				 KPIN_EINVALID);
		assert_null(k);
		err = kpin_error_last();
		h_assert_contains(err->message, cases[i].msg);
		if (err->line != cases[i].line || err->col != cases[i].col)
			fail_msg("case %zu: at %d:%d, expected %d:%d (%s)", i,
				 err->line, err->col, cases[i].line,
				 cases[i].col, err->message);
	}
}

static void test_kust_lenient_collects(void **state)
{
	const char *s = "images:\n- name: a\n- newTag: v1\n- name: b\n"
			"  name: c\nkind: x\nkind: y\n";
	struct kpin_kust *k = NULL;
	struct kpin_buf out = KPIN_BUF_INIT;
	struct kpin_change c = { "a", B, NULL, NULL };

	(void)state;
	assert_int_equal(kpin_kust_open(&k, s, strlen(s), KPIN_KUST_LENIENT),
			 0);
	assert_int_equal(kpin_kust_diag_count(k), 3);
	assert_string_equal(kpin_kust_diag(k, 0)->rule, "duplicate-key");
	assert_int_equal(kpin_kust_diag(k, 0)->line, 5);
	assert_string_equal(kpin_kust_diag(k, 1)->rule, "duplicate-key");
	assert_int_equal(kpin_kust_diag(k, 1)->line, 7);
	assert_string_equal(kpin_kust_diag(k, 2)->rule, "entry-without-name");
	/* a file with problems is never edited */
	assert_int_equal(kpin_kust_edit(&out, k, &c, 1, 0), KPIN_EINVALID);
	assert_int_equal(out.len, 0);
	kpin_kust_free(k);
}

static void test_kust_many_changes_one_pass(void **state)
{
	const char *s = "images:\n- name: a\n  digest: " A "\n- name: b\n"
			"  newTag: v1\n";
	const char *want = "images:\n- name: a\n  digest: " B "\n- name: b\n"
			   "  newTag: v2\n  digest: " B "\n- name: c\n"
			   "  digest: " A "\n";
	struct kpin_change c[] = {
		{ "a", B, NULL, NULL },
		{ "b", B, NULL, NULL },
		{ "b", NULL, "v2", NULL },	/* merges with the one above */
		{ "c", A, NULL, NULL },		/* created */
	};
	struct kpin_buf out = KPIN_BUF_INIT;

	(void)state;
	assert_int_equal(kpin_kust_set(&out, s, strlen(s), c, 4,
				       KPIN_KUST_CREATE), 0);
	h_assert_same(want, strlen(want), out.ptr, out.len);
	kpin_buf_release(&out);
}

static void test_kust_conflicting_changes(void **state)
{
	const char *s = "images:\n- name: a\n";
	struct kpin_change c[] = {
		{ "a", A, NULL, NULL },
		{ "a", B, NULL, NULL },
	};
	struct kpin_buf out = KPIN_BUF_INIT;

	(void)state;
	assert_int_equal(kpin_kust_set(&out, s, strlen(s), c, 2, 0),
			 KPIN_EINVALID);
	h_assert_contains(kpin_error_last()->message, "conflicting digests");
	assert_null(out.ptr);
}

static void test_kust_unchanged_and_idempotent(void **state)
{
	const char *s = "images:\n- name: a\n  newTag: '1.0'\n";
	struct kpin_change c = { "a", A, "1.0", NULL };
	struct kpin_buf once = KPIN_BUF_INIT, twice = KPIN_BUF_INIT;

	(void)state;
	assert_int_equal(kpin_kust_set(&once, s, strlen(s), &c, 1, 0), 0);
	assert_int_equal(kpin_kust_set(&twice, once.ptr, once.len, &c, 1, 0),
			 KPIN_EUNCHANGED);
	assert_int_equal(twice.len, 0);
	kpin_buf_release(&once);
}

static void test_kust_not_found_without_create(void **state)
{
	const char *s = "images:\n- name: a\n";
	struct kpin_change c = { "b", A, NULL, NULL };
	struct kpin_buf out = KPIN_BUF_INIT;

	(void)state;
	assert_int_equal(kpin_kust_set(&out, s, strlen(s), &c, 1, 0),
			 KPIN_ENOTFOUND);
	h_assert_contains(kpin_error_last()->message, "'b'");
}

static void test_kust_validates_values(void **state)
{
	const char *s = "images:\n- name: a\n";
	struct kpin_change bad[] = {
		{ "a", "sha256:abc", NULL, NULL },
		{ "a", A "\n", NULL, NULL },
		{ "a", NULL, "-v1", NULL },
		{ "a\nb", A, NULL, NULL },
		{ "a", "a:v1@" A, NULL, NULL },
		{ "a", NULL, NULL, NULL },
		{ "a", NULL, NULL, "x y" },
	};
	struct kpin_buf out = KPIN_BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kpin_kust_set(&out, s, strlen(s), &bad[i], 1,
					       0), KPIN_EINVALID);
	h_assert_contains(kpin_error_last()->message, "x y");
}

/* Names are lookup keys; names kpin writes are references. */
static void test_kust_names_are_keys(void **state)
{
	const char *s = "images:\n- name: dashboardImage\n"
			"- name: gcr.io/<<P>>/a:latest\n";
	struct kpin_change ok[] = {
		{ "dashboardImage", A, NULL, NULL, NULL },
		{ "gcr.io/<<P>>/a:latest", A, NULL, NULL, NULL },
	};
	struct kpin_change create = { "Other", A, NULL, NULL, NULL };
	struct kpin_buf out = KPIN_BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++)
		assert_int_equal(kpin_kust_set(&out, s, strlen(s), &ok[i], 1,
					       0), 0);
	assert_int_equal(kpin_kust_set(&out, s, strlen(s), &create, 1,
				       KPIN_KUST_CREATE), KPIN_EINVALID);
	h_assert_contains(kpin_error_last()->message, "image name to create");
	assert_int_equal(kpin_kust_set(&out, s, strlen(s), &create, 1, 0),
			 KPIN_ENOTFOUND);
	h_assert_contains(kpin_error_last()->message, "(entries: "
			  "'dashboardImage', 'gcr.io/<<P>>/a:latest')");
	kpin_buf_release(&out);
}

/* Tampering: rename a key outside the edit, as a planner bug might. */
static void rename_kind(struct kpin_buf *b, void *arg)
{
	char *p = strstr(b->ptr, "kind:");

	(void)arg;
	if (p)
		p[0] = 'm';
}

static void break_syntax(struct kpin_buf *b, void *arg)
{
	(void)arg;
	kpin_buf_adds(b, "[unclosed\n");
}

static void drop_char_of_value(struct kpin_buf *b, void *arg)
{
	char *p = strstr(b->ptr, B);

	(void)arg;
	if (p)
		p[10] = 'c';
}

/* A result that parses but whose root is no longer a mapping. */
static void scalar_root(struct kpin_buf *b, void *arg)
{
	(void)arg;
	kpin_buf_reset(b);
	kpin_buf_adds(b, "just text\n");
}

static void test_kust_verifier_catches_tampering(void **state)
{
	const char *s = "kind: K\nimages:\n- name: a\n  digest: " A "\n";
	struct kpin_change c = { "a", B, NULL, NULL };
	struct kpin_buf out = KPIN_BUF_INIT;
	kpin_kust_tamper_fn fns[] = { rename_kind, break_syntax,
				      drop_char_of_value, scalar_root };
	/* what the message must say: the re-parse's own error survives */
	const char *why[] = { "more than the intended values",
			      "does not parse (5:1: invalid YAML: could not find",
			      "more than the intended values",
			      "does not parse (root is not a mapping)" };
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		kpin_kust_set_tamper(fns[i], NULL);
		assert_int_equal(kpin_kust_set(&out, s, strlen(s), &c, 1, 0),
				 KPIN_EVERIFY);
		assert_null(out.ptr);
		h_assert_contains(kpin_error_last()->message, why[i]);
	}
	kpin_kust_set_tamper(NULL, NULL);
	assert_int_equal(kpin_kust_set(&out, s, strlen(s), &c, 1, 0), 0);
	kpin_buf_release(&out);
}

static void test_kust_large_mapping_duplicates(void **state)
{
	struct kpin_buf s = KPIN_BUF_INIT;
	struct kpin_kust *k = NULL;
	int i;

	(void)state;
	kpin_buf_adds(&s, "labels:\n");
	for (i = 0; i < 500; i++)
		kpin_buf_addf(&s, "  key%d: v\n", i);
	assert_int_equal(kpin_kust_open(&k, s.ptr, s.len, 0), 0);
	kpin_kust_free(k);
	kpin_buf_adds(&s, "  key250: again\n");
	assert_int_equal(kpin_kust_open(&k, s.ptr, s.len, 0), KPIN_EINVALID);
	assert_int_equal(kpin_error_last()->line, 502);
	h_assert_contains(kpin_error_last()->message, "first at 252:3");
	kpin_buf_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kust_fields),
		cmocka_unit_test(test_kust_effective_digest_from_tag),
		cmocka_unit_test(test_kust_ambiguous),
		cmocka_unit_test(test_kust_error_positions),
		cmocka_unit_test(test_kust_lenient_collects),
		cmocka_unit_test(test_kust_many_changes_one_pass),
		cmocka_unit_test(test_kust_conflicting_changes),
		cmocka_unit_test(test_kust_unchanged_and_idempotent),
		cmocka_unit_test(test_kust_not_found_without_create),
		cmocka_unit_test(test_kust_validates_values),
		cmocka_unit_test(test_kust_names_are_keys),
		cmocka_unit_test(test_kust_verifier_catches_tampering),
		cmocka_unit_test(test_kust_large_mapping_duplicates),
	};
	int rc = cmocka_run_group_tests_name("kust", tests, NULL, NULL);

	kpin_grammar_cleanup();
	return rc;
}
