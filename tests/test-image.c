/*
 * Image references: kustomize's split (ports are not tags) and the
 * reference an entry renders (name:tag@digest rules).
 */
#include <string.h>

#include "harness.h"

static void expect_split(const char *ref, const char *name, const char *tag,
			 const char *digest)
{
	struct kpin_imageref r;

	kpin_image_split(&r, ref, strlen(ref));
	if (r.name.len != strlen(name) || memcmp(r.name.ptr, name, r.name.len) ||
	    r.tag.len != strlen(tag) || memcmp(r.tag.ptr, tag, r.tag.len) ||
	    r.digest.len != strlen(digest) ||
	    memcmp(r.digest.ptr, digest, r.digest.len))
		fail_msg("split '%s' gave '%.*s' '%.*s' '%.*s'", ref,
			 (int)r.name.len, r.name.ptr, (int)r.tag.len, r.tag.ptr,
			 (int)r.digest.len, r.digest.ptr);
}

static void test_image_split(void **state)
{
	(void)state;
	expect_split("nginx", "nginx", "", "");
	expect_split("nginx:1.25", "nginx", "1.25", "");
	expect_split("nginx@sha256:abc", "nginx", "", "sha256:abc");
	expect_split("nginx:1.25@sha256:abc", "nginx", "1.25", "sha256:abc");
	expect_split("localhost:5000/app", "localhost:5000/app", "", "");
	expect_split("localhost:5000/app:v1", "localhost:5000/app", "v1", "");
	expect_split("[::1]:5000/a/b:v1@sha256:x", "[::1]:5000/a/b", "v1",
		     "sha256:x");
}

static void expect_render(const char *name, const char *nn, const char *nt,
			  const char *d, const char *want)
{
	struct kpin_buf b = KPIN_BUF_INIT;

	kpin_image_render(&b, name, nn, nt, d);
	assert_string_equal(b.ptr, want);
	kpin_buf_release(&b);
}

static void test_image_render(void **state)
{
	(void)state;
	expect_render("app", NULL, NULL, NULL, "app");
	expect_render("app", "ghcr.io/x/app", NULL, NULL, "ghcr.io/x/app");
	expect_render("app", NULL, "v1", NULL, "app:v1");
	expect_render("app", NULL, NULL, "sha256:d", "app@sha256:d");
	expect_render("app", "r/app", "v1", "sha256:d", "r/app:v1@sha256:d");
	expect_render("app", "", "", "", "app");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_split),
		cmocka_unit_test(test_image_render),
	};

	return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
