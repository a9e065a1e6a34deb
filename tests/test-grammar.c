/*
 * The validators: registered digests, tags, reference names, path
 * segments, and which plain scalars YAML 1.1 or 1.2 would not read as
 * strings. Each table row is a case that would fail if its rule were
 * missing or loosened.
 */
#include <string.h>

#include "harness.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct row {
	const char *s;
	int ok;
};

static void check_rows(enum kpin_grammar g, const struct row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int got = kpin_grammar_match(g, rows[i].s, strlen(rows[i].s));

		if (got != rows[i].ok)
			fail_msg("grammar %d: '%s' gave %d, expected %d", (int)g,
				 rows[i].s, got, rows[i].ok);
	}
}

static void test_grammar_digest(void **state)
{
	static const struct row rows[] = {
		{ "sha256:" HEX64, 1 },
		{ "sha512:" HEX64 HEX64, 1 },
		{ "sha256:" HEX64 "\n", 0 },	/* $ must not take a newline */
		{ "sha256:" HEX64 "0", 0 },
		{ "sha256:0123456789abcdef", 0 },
		{ "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef"
		  "0123456789abcdef", 0 },
		{ "SHA256:" HEX64, 0 },
		{ HEX64, 0 },
		{ "md5:0123456789abcdef0123456789abcdef", 0 },
		{ "blake3:" HEX64, 0 },
		{ "sha512:" HEX64, 0 },
		{ "sha256: " HEX64, 0 },
		{ "", 0 },
	};

	(void)state;
	check_rows(KPIN_GRAMMAR_DIGEST, rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_grammar_digest_message(void **state)
{
	(void)state;
	assert_int_equal(kpin_grammar_check(KPIN_GRAMMAR_DIGEST, "digest",
					    "sha256:ABC"), KPIN_EINVALID);
	h_assert_contains(kpin_error_last()->message,
			  "digest must be sha256: followed by 64 lowercase "
			  "hex digits");
	h_assert_contains(kpin_error_last()->message, "uppercase");
	kpin_grammar_check(KPIN_GRAMMAR_DIGEST, "digest", "sha256:" HEX64 "\n");
	h_assert_contains(kpin_error_last()->message, "\\n");
	kpin_grammar_check(KPIN_GRAMMAR_DIGEST, "digest", "sha1:abc");
	h_assert_contains(kpin_error_last()->message, "unknown algorithm");
	kpin_grammar_check(KPIN_GRAMMAR_DIGEST, "digest", "sha256:abc");
	h_assert_contains(kpin_error_last()->message, "has 3 hex digits");
	assert_int_equal(kpin_grammar_check(KPIN_GRAMMAR_DIGEST, "digest",
					    "sha256:" HEX64), 0);
}

static void test_grammar_tag(void **state)
{
	static const struct row rows[] = {
		{ "v1.2.3", 1 }, { "latest", 1 }, { "_x", 1 }, { "1.10", 1 },
		{ "v1-rc.1_b", 1 }, { ".v1", 0 }, { "-v1", 0 }, { "v1:2", 0 },
		{ "v1@sha256", 0 }, { "v 1", 0 }, { "", 0 }, { "v1\n", 0 },
		{ "caf\xc3\xa9", 0 },
	};
	char longtag[130];

	(void)state;
	check_rows(KPIN_GRAMMAR_TAG, rows, sizeof(rows) / sizeof(rows[0]));
	memset(longtag, 'a', 128);
	longtag[128] = '\0';
	assert_int_equal(kpin_grammar_match(KPIN_GRAMMAR_TAG, longtag, 128), 1);
	longtag[128] = 'a';
	longtag[129] = '\0';
	assert_int_equal(kpin_grammar_match(KPIN_GRAMMAR_TAG, longtag, 129), 0);
}

static void test_grammar_name(void **state)
{
	static const struct row rows[] = {
		{ "app", 1 }, { "team/app", 1 }, { "ghcr.io/org/app", 1 },
		{ "localhost:5000/app", 1 }, { "[::1]:5000/app", 1 },
		{ "a--b/c__d", 1 }, { "registry.k8s.io/metrics-server/x", 1 },
		{ "App", 0 }, { "app:v1", 0 }, { "app@sha256:" HEX64, 0 },
		{ "-bad", 0 }, { "a___b", 0 }, { "a//b", 0 }, { "", 0 },
		{ "dashboardImage", 0 }, { "app\n", 0 },
	};
	char longname[300];

	(void)state;
	check_rows(KPIN_GRAMMAR_NAME, rows, sizeof(rows) / sizeof(rows[0]));
	memset(longname, 'a', 256);
	longname[256] = '\0';
	assert_int_equal(kpin_grammar_match(KPIN_GRAMMAR_NAME, longname, 256),
			 0);
	assert_int_equal(kpin_grammar_match(KPIN_GRAMMAR_NAME, longname, 255),
			 1);
}

static void test_grammar_segment(void **state)
{
	static const struct row rows[] = {
		{ "my-service", 1 }, { "prd", 1 }, { "a.b_c-d", 1 },
		{ "..x", 1 }, { ".", 0 }, { "..", 0 }, { "a/b", 0 },
		{ "../x", 0 }, { "", 0 }, { "/abs", 0 }, { "a b", 0 },
		{ "a\n", 0 },
	};

	(void)state;
	check_rows(KPIN_GRAMMAR_SEGMENT, rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_grammar_plain_is_string(void **state)
{
	static const char *const nonstrings[] = {
		"1234", "1.10", "3.2e2", "0e5", "1e5", ".5", "+1", "-7",
		"0o17", "0x1f", "0b101", "017", "1_000", "1:30", "190:20:30.15",
		".inf", "-.Inf", ".NaN", "true", "False", "yes", "No", "on",
		"OFF", "y", "N", "~", "null", "Null", "2024-01-15",
		"2001-12-14t21:59:43.10-05:00", "<<", "=",
	};
	static const char *const strings[] = {
		"v1", "1.10.3", "v1.0", "latest", "1.0-rc1", "sha256", "nil",
		"0x", "e5", "1a", "yes1", "2024-01-15-rc", "Yes!", "0o8",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nonstrings) / sizeof(nonstrings[0]); i++)
		if (kpin_grammar_plain_is_string(nonstrings[i],
						 strlen(nonstrings[i])))
			fail_msg("'%s' should not be a string", nonstrings[i]);
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (!kpin_grammar_plain_is_string(strings[i],
						  strlen(strings[i])))
			fail_msg("'%s' should be a string", strings[i]);
	assert_false(kpin_grammar_plain_is_string("", 0));
}

static void test_grammar_long_input_is_no_match(void **state)
{
	static char big[100000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	/* over the length cap: rejected before the matcher runs */
	assert_int_equal(kpin_grammar_match(KPIN_GRAMMAR_NAME, big,
					    sizeof(big) - 1), 0);
	assert_int_equal(kpin_grammar_match(KPIN_GRAMMAR_DIGEST_OCI, big,
					    sizeof(big) - 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grammar_digest),
		cmocka_unit_test(test_grammar_digest_message),
		cmocka_unit_test(test_grammar_tag),
		cmocka_unit_test(test_grammar_name),
		cmocka_unit_test(test_grammar_segment),
		cmocka_unit_test(test_grammar_plain_is_string),
		cmocka_unit_test(test_grammar_long_input_is_no_match),
	};
	int rc = cmocka_run_group_tests_name("grammar", tests, NULL, NULL);

	kpin_grammar_cleanup();
	return rc;
}
