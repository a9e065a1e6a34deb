/*
 * Every lock kpin takes, in one module (as git keeps lockfile.c): the
 * repository's kpin.lock, which serialises kpin processes, and git's own
 * lock files (index.lock), taken as git takes them (created exclusively)
 * with an owner record that proves, after a crash, which lock a dead kpin
 * left. Nothing else in kpin opens a "*.lock" file. Included by the
 * library's git modules (gitindex, journal, update) only.
 *
 * A git lock is taken in four steps: a private file
 * "<dir>/kpin-lock.<name>.<pid>" is created and its modification time set
 * to a value that names this process; the owner record
 * "<dir>/kpin-owner.<name>.<pid>" (pid, process start time from
 * /proc/<pid>/stat field 22, the lock's path, the private file's device,
 * inode and modification time) is written; the private file is linked to
 * "<target>.lock", which fails if the lock exists, exactly as git's
 * O_EXCL create does; the private name is removed. The lock file itself
 * is never written: new content goes to "<dir>/kpin-new.<name>.<pid>",
 * renamed over the target on commit, and the lock is removed after it. So
 * a lock whose device, inode and modification time are the ones a record
 * names, and whose recorded process is gone, was provably left by a dead
 * kpin; any other lock is someone else's and is never removed.
 */
#ifndef KPIN_LOCK_H
#define KPIN_LOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "kpin/buf.h"

/*
 * struct kpin_lock - One git lock file held (or not) by this process
 * @target: the file the lock guards, e.g. "<gitdir>/index"
 * @path: the lock file, "<target>.lock"
 * @record: the owner record
 * @stage: where the new content of @target is written
 * @fd: open on @stage once kpin_lock_fd() was called, else -1
 * @held: whether @path is ours now
 *
 * Start from KPIN_LOCK_INIT; kpin_lock_release() returns a lock to it.
 */
struct kpin_lock {
	char *target;
	char *path;
	char *record;
	char *stage;
	int fd;
	bool held;
};

#define KPIN_LOCK_INIT { NULL, NULL, NULL, NULL, -1, false }

/*
 * kpin_lock_take() - Lock @target as git does ("<target>.lock")
 * @lk: an unheld lock (KPIN_LOCK_INIT or released)
 * @target: the file to lock, an absolute path
 * @wait_ms: how long to wait for another holder to let go
 *
 * Returns: 0, KPIN_ELOCKED when the lock stayed held (the message is
 * git's: "Unable to create '<path>': File exists...", nothing removed),
 * or KPIN_ERROR.
 */
int kpin_lock_take(struct kpin_lock *lk, const char *target, long wait_ms);

/*
 * kpin_lock_fd() - A file to write @lk's target's new content into
 *
 * Returns: a writable descriptor (owned by @lk), or KPIN_ERROR.
 */
int kpin_lock_fd(struct kpin_lock *lk);

/*
 * kpin_lock_publish() - Put what was written through kpin_lock_fd() in
 * place of the target, and keep the lock
 *
 * Readers see the new content at once (a rename); writers, who take the
 * lock first, stay out until kpin_lock_release(). Another write through
 * kpin_lock_fd() starts a new file.
 *
 * Returns: 0 or KPIN_ERROR.
 */
int kpin_lock_publish(struct kpin_lock *lk);

/*
 * kpin_lock_commit() - Put what was written through kpin_lock_fd() in
 * place of the target, then release the lock
 *
 * Returns: 0 or KPIN_ERROR (the lock is then still held).
 */
int kpin_lock_commit(struct kpin_lock *lk);

/*
 * kpin_lock_release() - Release @lk without changing the target (a
 * rollback), and free its strings. A no-op on an unheld lock.
 */
void kpin_lock_release(struct kpin_lock *lk);

/*
 * kpin_lock_repair() - Remove the locks that dead kpin processes left in
 * directory @dir (a git directory)
 * @notes: receives one line per lock removed, for the user
 *
 * Only a lock an owner record proves to be a dead kpin's is removed,
 * with its record and private files; records of live processes are left
 * alone. Returns how many locks were removed.
 */
int kpin_lock_repair(const char *dir, struct kpin_buf *notes);

/*
 * kpin_lock_process_dead() - Is process @pid gone (no such process, or
 * @start, its start time when non-zero, no longer matches)?
 */
bool kpin_lock_process_dead(pid_t pid, unsigned long long start);

/*
 * kpin_lock_repo() - Take "<gitdir>/kpin.lock", which serialises kpin
 * processes on one git directory (flock(): the kernel releases it when
 * its holder dies)
 * @fd: receives the descriptor to pass to kpin_unlock_repo()
 * @gitdir: the git directory, ending in '/'
 * @wait_ms: how long to wait for another kpin
 *
 * Returns: 0, KPIN_ELOCKED naming the holder, or KPIN_ERROR.
 */
int kpin_lock_repo(int *fd, const char *gitdir, long wait_ms);

/* kpin_unlock_repo() - Release kpin.lock; sets *@fd to -1. */
void kpin_unlock_repo(int *fd);

#endif
