/*
 * The lock module (src/lock.c): git lock files taken as git takes them,
 * with owner records that let a later kpin remove exactly the locks a dead
 * kpin left, and never anyone else's.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "kpin/error.h"
#include "../src/lock.h"

static int setup(void **state)
{
	*state = h_tmpdir();
	return 0;
}

#define teardown h_repo_teardown

static bool exists(const char *dir, const char *name)
{
	return access(h_path(dir, name), F_OK) == 0;
}

/* How many files whose name starts with "kpin-" are in @dir. */
static int kpin_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, "kpin-", 5))
			n++;
	closedir(d);
	return n;
}

/*
 * A child process takes the lock on "<dir>/index" and then either exits
 * without releasing it (@linger false: a killed kpin) or reports on
 * @ready and waits to be killed (a live one). Returns its pid.
 */
static pid_t child_locks(const char *dir, bool linger)
{
	int fds[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct kpin_lock lk = KPIN_LOCK_INIT;
		char target[4096];

		snprintf(target, sizeof(target), "%s/index", dir);
		c = kpin_lock_take(&lk, target, 0) ? 'n' : 'y';
		if (write(fds[1], &c, 1) != 1 || !linger)
			_exit(0);
		pause();
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	assert_int_equal(c, 'y');
	if (!linger)
		assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void test_lock_commit(void **state)
{
	const char *dir = *state;
	struct kpin_lock lk = KPIN_LOCK_INIT;
	struct kpin_buf got = KPIN_BUF_INIT;
	int fd;

	h_writes(h_path(dir, "index"), "old");
	assert_int_equal(kpin_lock_take(&lk, h_path(dir, "index"), 0), 0);
	assert_true(exists(dir, "index.lock"));
	fd = kpin_lock_fd(&lk);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "new", 3), 3);
	/* until the commit, the target is untouched */
	assert_int_equal(h_read(&got, h_path(dir, "index")), 0);
	h_assert_same(got.ptr, got.len, "old", 3);
	assert_int_equal(kpin_lock_commit(&lk), 0);
	assert_int_equal(h_read(&got, h_path(dir, "index")), 0);
	h_assert_same(got.ptr, got.len, "new", 3);
	assert_false(exists(dir, "index.lock"));
	assert_int_equal(kpin_files(dir), 0);
	kpin_buf_release(&got);
}

static void test_lock_rollback(void **state)
{
	const char *dir = *state;
	struct kpin_lock lk = KPIN_LOCK_INIT;
	struct kpin_buf got = KPIN_BUF_INIT;

	h_writes(h_path(dir, "index"), "old");
	assert_int_equal(kpin_lock_take(&lk, h_path(dir, "index"), 0), 0);
	assert_true(kpin_lock_fd(&lk) >= 0);
	kpin_lock_release(&lk);
	assert_int_equal(h_read(&got, h_path(dir, "index")), 0);
	h_assert_same(got.ptr, got.len, "old", 3);
	assert_false(exists(dir, "index.lock"));
	assert_int_equal(kpin_files(dir), 0);
	kpin_lock_release(&lk);		/* a no-op now */
	kpin_buf_release(&got);
}

/* A lock someone else holds: git's message, with the path; kept. */
static void test_lock_foreign(void **state)
{
	const char *dir = *state;
	struct kpin_lock lk = KPIN_LOCK_INIT;
	struct kpin_buf notes = KPIN_BUF_INIT;

	h_writes(h_path(dir, "index.lock"), "");
	assert_int_equal(kpin_lock_take(&lk, h_path(dir, "index"), 30),
			 KPIN_ELOCKED);
	h_assert_contains(kpin_error_last()->message, "Unable to create '");
	h_assert_contains(kpin_error_last()->message, "index.lock': File "
			  "exists. Another git process seems to be running");
	assert_true(exists(dir, "index.lock"));
	assert_int_equal(kpin_files(dir), 0);
	/* and no repair takes it for a dead kpin's */
	assert_int_equal(kpin_lock_repair(dir, &notes), 0);
	assert_true(exists(dir, "index.lock"));
	kpin_buf_release(&notes);
}

/* A dead kpin's lock is proven and removed, with its record. */
static void test_lock_repair_dead(void **state)
{
	const char *dir = *state;
	struct kpin_buf notes = KPIN_BUF_INIT;
	pid_t pid = child_locks(dir, false);
	char want[64];

	assert_true(exists(dir, "index.lock"));
	assert_true(kpin_files(dir) > 0);
	assert_int_equal(kpin_lock_repair(dir, &notes), 1);
	assert_false(exists(dir, "index.lock"));
	assert_int_equal(kpin_files(dir), 0);
	snprintf(want, sizeof(want), "of kpin process %ld", (long)pid);
	h_assert_contains(notes.ptr, want);
	kpin_buf_release(&notes);
}

/* A live kpin's lock is left alone. */
static void test_lock_repair_live(void **state)
{
	const char *dir = *state;
	struct kpin_buf notes = KPIN_BUF_INIT;
	pid_t pid = child_locks(dir, true);

	assert_int_equal(kpin_lock_repair(dir, &notes), 0);
	assert_true(exists(dir, "index.lock"));
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(kpin_lock_repair(dir, &notes), 1);
	assert_false(exists(dir, "index.lock"));
	kpin_buf_release(&notes);
}

/*
 * A dead kpin's lock removed by hand, and the lock taken again by git
 * (perhaps on the very inode): the record does not prove it kpin's.
 */
static void test_lock_repair_replaced(void **state)
{
	const char *dir = *state;
	struct kpin_buf notes = KPIN_BUF_INIT;

	child_locks(dir, false);
	unlink(h_path(dir, "index.lock"));
	h_writes(h_path(dir, "index.lock"), "");
	assert_int_equal(kpin_lock_repair(dir, &notes), 0);
	assert_true(exists(dir, "index.lock"));
	/* the dead process's record and private files are gone */
	assert_int_equal(kpin_files(dir), 0);
	kpin_buf_release(&notes);
}

static void test_lock_process_dead(void **state)
{
	pid_t pid = fork();

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_true(kpin_lock_process_dead(pid, 0));
	assert_false(kpin_lock_process_dead(getpid(), 0));
	/* the same pid with another start time: a reused pid */
	assert_true(kpin_lock_process_dead(getpid(), 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_rollback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_foreign, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_repair_dead, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_repair_live, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_repair_replaced,
						setup, teardown),
		cmocka_unit_test(test_lock_process_dead),
	};

	return cmocka_run_group_tests_name("lock", tests, NULL, NULL);
}
