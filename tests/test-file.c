/*
 * Whole-file reads and atomic replacement: the size cap, refusing
 * non-regular files, keeping the mode, editing through symlinks, refusing
 * to write over a file that changed since it was read, and removing the
 * temporary files a killed kpin left behind (but not a live one's).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static int setup(void **state)
{
	*state = h_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	h_rmrf(*state);
	free(*state);
	return 0;
}

static void test_file_read_cap(void **state)
{
	const char *dir = *state;
	struct kpin_buf b = KPIN_BUF_INIT;
	struct stat st;

	h_writes(h_path(dir, "f"), "0123456789");
	assert_int_equal(kpin_file_read(&b, h_path(dir, "f"), 10, &st), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(st.st_size, 10);
	assert_int_equal(kpin_file_read(&b, h_path(dir, "f"), 9, NULL),
			 KPIN_EINVALID);
	h_assert_contains(kpin_error_last()->message, "over the limit of 9");
	assert_int_equal(kpin_file_read(&b, h_path(dir, "missing"), 9, NULL),
			 KPIN_ENOTFOUND);
	assert_int_equal(kpin_file_read(&b, dir, 9, NULL), KPIN_EINVALID);
	h_assert_contains(kpin_error_last()->message, "not a regular file");
	kpin_buf_release(&b);
}

static void test_file_replace_keeps_mode(void **state)
{
	const char *dir = *state;
	const char *p = h_path(dir, "k.yaml");
	struct kpin_buf b = KPIN_BUF_INIT;
	struct stat st;

	h_writes(p, "old\n");
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(kpin_file_replace(p, "new\n", 4, NULL), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(h_read(&b, p), 0);
	assert_string_equal(b.ptr, "new\n");
	kpin_buf_release(&b);
}

static void test_file_replace_through_symlink(void **state)
{
	const char *dir = *state;
	struct kpin_buf b = KPIN_BUF_INIT;
	struct stat st;
	char target[4096];

	assert_int_equal(mkdir(h_path(dir, "real"), 0755), 0);
	h_writes(h_path(dir, "real/k.yaml"), "old\n");
	assert_int_equal(symlink("real/k.yaml", h_path(dir, "link.yaml")), 0);
	assert_int_equal(kpin_file_replace(h_path(dir, "link.yaml"), "new\n",
					   4, NULL), 0);
	assert_int_equal(lstat(h_path(dir, "link.yaml"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(readlink(h_path(dir, "link.yaml"), target,
				  sizeof(target)), 11);
	assert_int_equal(h_read(&b, h_path(dir, "real/k.yaml")), 0);
	assert_string_equal(b.ptr, "new\n");
	kpin_buf_release(&b);
}

static void test_file_replace_refuses_concurrent_change(void **state)
{
	const char *dir = *state;
	const char *p = h_path(dir, "k.yaml");
	struct kpin_buf b = KPIN_BUF_INIT;
	struct stat st;

	h_writes(p, "one\n");
	assert_int_equal(kpin_file_read(&b, p, 100, &st), 0);
	/* another writer replaces the file in between */
	h_writes(h_path(dir, "other"), "two!\n");
	assert_int_equal(rename(h_path(dir, "other"), p), 0);
	assert_int_equal(kpin_file_replace(p, "three\n", 6, &st),
			 KPIN_EMODIFIED);
	assert_int_equal(h_read(&b, p), 0);
	assert_string_equal(b.ptr, "two!\n");
	kpin_buf_release(&b);
}

static void test_file_stale_temps_removed(void **state)
{
	const char *dir = *state;
	char dead[256], live[256];
	pid_t pid = fork();
	int st;

	if (pid == 0)
		_exit(0);
	assert_true(pid > 0);
	waitpid(pid, &st, 0);
	/* a temp of a process that is gone, and one of ours (alive) */
	snprintf(dead, sizeof(dead), ".k.yaml.kpin-%ld-abcdef", (long)pid);
	snprintf(live, sizeof(live), ".k.yaml.kpin-%ld-abcdef",
		 (long)getpid());
	h_writes(h_path(dir, dead), "partial");
	h_writes(h_path(dir, live), "partial");
	h_writes(h_path(dir, "k.yaml"), "x\n");
	assert_int_equal(kpin_file_replace(h_path(dir, "k.yaml"), "y\n", 2,
					   NULL), 0);
	assert_int_equal(access(h_path(dir, dead), F_OK), -1);
	assert_int_equal(access(h_path(dir, live), F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_read_cap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_file_replace_keeps_mode,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_file_replace_through_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_file_replace_refuses_concurrent_change, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_file_stale_temps_removed,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("file", tests, NULL, NULL);
}
