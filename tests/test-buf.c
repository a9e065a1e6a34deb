/*
 * Byte buffers: growth, NUL termination, detach, formatting and JSON
 * string escaping.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void test_buf_add_and_terminate(void **state)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	int i;

	(void)state;
	assert_string_equal(kpin_buf_cstr(&b), "");
	for (i = 0; i < 1000; i++)
		kpin_buf_addch(&b, 'a' + i % 26);
	assert_int_equal(b.len, 1000);
	assert_int_equal(b.ptr[1000], '\0');
	assert_true(b.cap > b.len);
	kpin_buf_add(&b, "\0z", 2);
	assert_int_equal(b.len, 1002);
	assert_int_equal(b.ptr[1000], '\0');
	assert_int_equal(b.ptr[1001], 'z');
	kpin_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.ptr, "");
	kpin_buf_release(&b);
	assert_null(b.ptr);
	kpin_buf_release(&b);	/* twice is harmless */
}

static void test_buf_addf_detach(void **state)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	size_t len;
	char *s;

	(void)state;
	kpin_buf_addf(&b, "%s-%d-%05.1f", "x", 42, 3.14159);
	assert_string_equal(b.ptr, "x-42-003.1");
	kpin_buf_addf(&b, "%1000s", "");
	assert_int_equal(b.len, 1010);
	s = kpin_buf_detach(&b, &len);
	assert_int_equal(len, 1010);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	free(s);
	s = kpin_buf_detach(&b, &len);	/* empty buffer gives "" */
	assert_string_equal(s, "");
	free(s);
}

static void test_buf_json(void **state)
{
	struct kpin_buf b = KPIN_BUF_INIT;

	(void)state;
	kpin_buf_add_json(&b, "a\"b\\c\nd\te\x01" "f");
	kpin_buf_addch(&b, ' ');
	kpin_buf_add_json(&b, NULL);
	kpin_buf_addch(&b, ' ');
	kpin_buf_add_json(&b, "caf\xc3\xa9");
	assert_string_equal(b.ptr, "\"a\\\"b\\\\c\\nd\\te\\u0001f\" null "
			    "\"caf\xc3\xa9\"");
	kpin_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_add_and_terminate),
		cmocka_unit_test(test_buf_addf_detach),
		cmocka_unit_test(test_buf_json),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
