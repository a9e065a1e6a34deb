/*
 * kpin_redact(): tokens of every length, repeated and overlapping, and
 * the user info of URLs. A token shorter than the "***" that replaces it
 * once overflowed the buffer, and "*" (which "***" contains) looped
 * forever: each case runs under an alarm so that a loop fails the test.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "../src/remote.h"

static void check(const char *text, const char *secret, const char *want)
{
	struct kpin_buf b = KPIN_BUF_INIT;

	alarm(5);
	kpin_redact(&b, text, secret);
	alarm(0);
	assert_string_equal(kpin_buf_cstr(&b), want);
	assert_int_equal(b.len, strlen(want));
	kpin_buf_release(&b);
}

static void test_redact_short_tokens(void **state)
{
	(void)state;
	check("token a here, a", "a", "token *** here, ***");
	check("xyxyxy", "xy", "*********");
	check("abc", "abc", "***");
	check("abcd", "", "abcd");
	check("abcd", NULL, "abcd");
	check("", "a", "");
}

static void test_redact_star(void **state)
{
	(void)state;
	check("a*b**c", "*", "a***b******c");
	check("***", "**", "****");
}

static void test_redact_repeated_overlapping(void **state)
{
	(void)state;
	check("s3cr3t and s3cr3t, s3cr3ts3cr3t", "s3cr3t",
	      "*** and ***, ******");
	/* leftmost first, never overlapping: no whole token is left */
	check("aaaa", "aa", "******");
	check("aaa", "aa", "***a");
	check("abab-aba", "aba", "***b-***");
}

static void test_redact_urls(void **state)
{
	(void)state;
	check("failed: https://x-access-token:tok123@github.com/o/r.git",
	      "tok123", "failed: https://***@github.com/o/r.git");
	check("https://u:p@h/x and ssh://git@h:r and file:///a@b",
	      NULL, "https://***@h/x and ssh://***@h:r and file:///a@b");
	check("a long token in https://host/tok123 path", "tok123",
	      "a long token in https://host/*** path");
	check("no url, no secret", "zz", "no url, no secret");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_short_tokens),
		cmocka_unit_test(test_redact_star),
		cmocka_unit_test(test_redact_repeated_overlapping),
		cmocka_unit_test(test_redact_urls),
	};

	return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
