/*
 * Test helpers shared by every tests/test-*.c program: temporary
 * directories, running the kpin binary and capturing its output, file
 * helpers and a byte-exact comparison that names the first differing
 * offset. Included by the tests only.
 */
#ifndef KPIN_TEST_HARNESS_H
#define KPIN_TEST_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "kpin.h"

/*
 * struct h_result - What a kpin run did
 * @status: exit status, or 128 + signal
 * @out: stdout, NUL-terminated
 * @err: stderr, NUL-terminated
 */
struct h_result {
	int status;
	struct kpin_buf out;
	struct kpin_buf err;
};

void h_result_release(struct h_result *r);

/* h_kpin() - The binary under test: $KPIN, else ./kpin. */
const char *h_kpin(void);

/* h_testdata() - The testdata directory: $TESTDATA, else ./testdata. */
const char *h_testdata(void);

/* h_shared() - ../shared relative to the tree, or $KPIN_SHARED. */
const char *h_shared(void);

/*
 * h_run() - Run a program and wait for it
 * @r: receives status and output
 * @cwd: directory to run in, or NULL
 * @env: extra "NAME=value" strings (NULL-terminated list) or NULL;
 *       "NAME=" with nothing after removes NAME
 * @argv: NULL-terminated argument vector; argv[0] "kpin" means h_kpin()
 * @stdin_data: bytes fed on stdin, or NULL for /dev/null
 */
int h_run(struct h_result *r, const char *cwd, const char *const *env,
	  const char *const *argv, const char *stdin_data);

/* h_kpin_run() - h_run() of kpin with a variable argument list. */
int h_kpin_run(struct h_result *r, const char *cwd, ...);

/* h_sh() - Run a shell command line (for git as a witness); returns status. */
int h_sh(struct h_result *r, const char *cwd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* h_tmpdir() - A fresh directory under $TMPDIR; free() the path. */
char *h_tmpdir(void);

/* h_rmrf() - Remove a tree (used on h_tmpdir() results only). */
void h_rmrf(const char *path);

/* h_read() - A whole file into @out; returns 0 or -1. */
int h_read(struct kpin_buf *out, const char *path);

/* h_write() - Create or truncate a file with the given bytes. */
void h_write(const char *path, const void *data, size_t len);

/* h_writes() - h_write() of a C string. */
void h_writes(const char *path, const char *s);

/* h_path() - "dir/name" in a static rotating buffer. */
const char *h_path(const char *dir, const char *name);

/* h_copy() - Copy a file. */
void h_copy(const char *from, const char *to);

/*
 * h_assert_same() - Fail with the first differing offset unless equal
 */
#define h_assert_same(a, alen, b, blen) \
	h_assert_same_(a, alen, b, blen, __FILE__, __LINE__)
void h_assert_same_(const char *a, size_t alen, const char *b, size_t blen,
		    const char *file, int line);

/* h_assert_contains() - Fail unless @hay contains @needle. */
#define h_assert_contains(hay, needle) \
	h_assert_contains_(hay, needle, __FILE__, __LINE__)
void h_assert_contains_(const char *hay, const char *needle,
			const char *file, int line);

/* h_digest() - A valid sha256 digest made from @seed (static buffer). */
const char *h_digest(unsigned seed);

/* h_stat_same() - Are inode, size and mtime equal? */
int h_stat_same(const struct stat *a, const struct stat *b);

/*
 * h_repo_init() - A repository with one commit on branch "main"
 * @dir: created if missing
 * @bare: make a bare repository
 * @files: "path", "content" pairs, then NULL
 *
 * Built with libgit2; user.name and user.email are set in its config.
 */
void h_repo_init(const char *dir, bool bare, const char *const *files);

/*
 * h_repo_setup() - A cmocka setup: h_repo_init() of @files (non-bare) in
 * a fresh h_tmpdir(), whose path goes to *@state; h_repo_teardown()
 * removes it.
 */
int h_repo_setup(void **state, const char *const *files);
int h_repo_teardown(void **state);

/* h_assert_git_clean() - git status is empty and fsck --strict passes. */
void h_assert_git_clean(const char *dir);

/*
 * h_repo_commit() - Commit files on top of a branch with libgit2, as
 * another writer would (no worktree change)
 * @dir: repository
 * @branch: full ref name
 * @files: "path", "content" pairs, then NULL
 */
void h_repo_commit(const char *dir, const char *branch,
		   const char *const *files);

/* h_git() - Run git in @dir, output in @r; returns the exit status. */
int h_git(struct h_result *r, const char *dir, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* h_git_out() - git's stdout with the final newline removed (static). */
const char *h_git_out(const char *dir, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * h_ssh_signer() - An Ed25519 key without passphrase "dir/name" (and
 * name.pub), made by ssh-keygen; with @principal, also allowed for it in
 * the allowed-signers file "dir/allowed"
 */
void h_ssh_signer(const char *dir, const char *name, const char *principal);

/* h_env_home() - "HOME=<empty dir>" so that no global git config leaks in. */
const char *h_env_home(void);

/*
 * h_spawn() - Start kpin without waiting
 * @cwd: directory
 * @env: as for h_run()
 * @argv: NULL-terminated, argv[0] "kpin"
 *
 * Returns: the pid; h_wait() collects its exit status.
 */
int h_spawn(const char *cwd, const char *const *env, const char *const *argv);
int h_wait(int pid);

#endif
