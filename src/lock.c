/*
 * kpin's locks (see src/lock.h). The owner record is plain text:
 *
 *	kpin-owner 1
 *	pid <pid>
 *	start <start time of the process, /proc/<pid>/stat field 22>
 *	lock <path of the lock file>
 *	file <device> <inode> <mtime seconds> <mtime nanoseconds>
 *
 * Proving a lock ours by its inode alone would not do: a lock removed by
 * hand frees its inode, and the next git process to lock may get it
 * again. The modification time kpin sets on its lock (one second after
 * the epoch, the pid in the nanoseconds) is one no other lock has, and,
 * since kpin never writes into its lock, one it keeps.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kpin/error.h"
#include "kpin/file.h"
#include "kpin/xalloc.h"
#include "lock.h"

#define RECORD_MAX 8192

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Field 22 of /proc/<pid>/stat (start time in clock ticks), 0 if gone. */
static unsigned long long process_start(pid_t pid)
{
	char path[64], text[1024];
	unsigned long long start = 0;
	const char *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	/* the command name (field 2) may hold spaces and parentheses */
	p = strrchr(text, ')');
	if (!p)
		return 0;
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

bool kpin_lock_process_dead(pid_t pid, unsigned long long start)
{
	unsigned long long now;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	if (!start)
		return false;
	now = process_start(pid);
	return now && now != start;
}

/* "<dir>/<prefix>.<name>.<pid>" for the target's directory and name. */
static char *private_name(const char *target, const char *prefix, pid_t pid)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	const char *slash = strrchr(target, '/');
	size_t dirlen = slash ? (size_t)(slash - target) + 1 : 0;

	kpin_buf_addf(&b, "%.*s%s.%s.%ld", (int)dirlen, target, prefix,
		      target + dirlen, (long)pid);
	return kpin_buf_detach(&b, NULL);
}

static int lock_fail(const char *what, const char *path)
{
	return kpin_error_set(KPIN_ERROR, "cannot %s '%s': %s", what, path,
			      strerror(errno));
}

/* The message git gives for a lock someone else holds. */
static int held_by_other(const char *path)
{
	return kpin_error_set(KPIN_ELOCKED, "Unable to create '%s': File "
			      "exists. Another git process seems to be "
			      "running in this repository; make sure all "
			      "processes are terminated, then try again (if "
			      "it still fails, a git process may have crashed "
			      "in this repository earlier: remove the file "
			      "manually to continue); nothing changed", path);
}

/* Write the owner record of a lock whose private file is @st. */
static int write_record(const struct kpin_lock *lk, const struct stat *st)
{
	struct kpin_buf text = KPIN_BUF_INIT;
	int fd, rc = 0;

	kpin_buf_addf(&text, "kpin-owner 1\npid %ld\nstart %llu\nlock %s\n"
		      "file %llu %llu %lld %ld\n", (long)getpid(),
		      process_start(getpid()), lk->path,
		      (unsigned long long)st->st_dev,
		      (unsigned long long)st->st_ino,
		      (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	fd = open(lk->record, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text.ptr, text.len) != (ssize_t)text.len)
		rc = lock_fail("write", lk->record);
	if (fd >= 0 && close(fd) < 0 && !rc)
		rc = lock_fail("write", lk->record);
	kpin_buf_release(&text);
	return rc;
}

/*
 * Create @file as the lock's private file with its marking modification
 * time; @st receives what the record will name.
 */
static int create_marked(const char *file, struct stat *st)
{
	struct timespec times[2];
	int fd;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return lock_fail("create", file);
	times[0].tv_sec = 1;
	times[0].tv_nsec = 0;
	times[1].tv_sec = 1;
	times[1].tv_nsec = getpid() % 1000000000L;
	if (futimens(fd, times) < 0 || fstat(fd, st) < 0) {
		int rc = lock_fail("create", file);

		close(fd);
		unlink(file);
		return rc;
	}
	close(fd);
	return 0;
}

int kpin_lock_take(struct kpin_lock *lk, const char *target, long wait_ms)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	char *mine;
	struct stat st;
	long waited = 0;
	int rc;

	lk->fd = -1;
	lk->held = false;
	lk->target = xstrdup(target);
	kpin_buf_addf(&b, "%s.lock", target);
	lk->path = kpin_buf_detach(&b, NULL);
	lk->record = private_name(target, "kpin-owner", getpid());
	lk->stage = private_name(target, "kpin-new", getpid());
	mine = private_name(target, "kpin-lock", getpid());
	rc = create_marked(mine, &st);
	if (!rc)
		rc = write_record(lk, &st);
	while (!rc && link(mine, lk->path) < 0) {
		if (errno != EEXIST)
			rc = lock_fail("create", lk->path);
		else if (waited >= wait_ms)
			rc = held_by_other(lk->path);
		else {
			sleep_ms(10);
			waited += 10;
		}
	}
	unlink(mine);
	free(mine);
	if (!rc)
		lk->held = true;
	else
		kpin_lock_release(lk);
	return rc;
}

int kpin_lock_fd(struct kpin_lock *lk)
{
	if (lk->fd >= 0)
		return lk->fd;
	lk->fd = open(lk->stage, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0666);
	if (lk->fd < 0)
		return lock_fail("create", lk->stage);
	return lk->fd;
}

int kpin_lock_publish(struct kpin_lock *lk)
{
	int fd = lk->fd;

	lk->fd = -1;
	if (fd < 0 || close(fd) < 0)
		return lock_fail("write", lk->stage);
	if (rename(lk->stage, lk->target) < 0)
		return lock_fail("rename", lk->stage);
	return 0;
}

int kpin_lock_commit(struct kpin_lock *lk)
{
	int rc = kpin_lock_publish(lk);

	if (!rc)
		kpin_lock_release(lk);
	return rc;
}

void kpin_lock_release(struct kpin_lock *lk)
{
	if (lk->fd >= 0)
		close(lk->fd);
	if (lk->stage)
		unlink(lk->stage);
	if (lk->held)
		unlink(lk->path);
	if (lk->record)
		unlink(lk->record);
	free(lk->target);
	free(lk->path);
	free(lk->record);
	free(lk->stage);
	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
}

/* An owner record as read back. */
struct record {
	long pid;
	unsigned long long start, dev, ino;
	long long sec;
	long nsec;
	char lock[4096];
};

static int parse_record(struct record *r, const char *text)
{
	memset(r, 0, sizeof(*r));
	return sscanf(text, "kpin-owner 1\npid %ld\nstart %llu\nlock %4095[^\n]\n"
		      "file %llu %llu %lld %ld\n", &r->pid, &r->start, r->lock,
		      &r->dev, &r->ino, &r->sec, &r->nsec) == 7 ? 0 : -1;
}

/* Does @path exist as the very file @r names? */
static bool is_recorded(const char *path, const struct record *r)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       (unsigned long long)st.st_dev == r->dev &&
	       (unsigned long long)st.st_ino == r->ino &&
	       (long long)st.st_mtim.tv_sec == r->sec &&
	       st.st_mtim.tv_nsec == r->nsec;
}

/* Remove "<dir>/<prefix>.<rest>" (rest: "<name>.<pid>"). */
static void remove_private(const char *dir, const char *prefix,
			   const char *rest)
{
	struct kpin_buf b = KPIN_BUF_INIT;

	kpin_buf_addf(&b, "%s%s%s.%s", dir, *dir && dir[strlen(dir) - 1] ==
		      '/' ? "" : "/", prefix, rest);
	unlink(b.ptr);
	kpin_buf_release(&b);
}

int kpin_lock_repair(const char *dir, struct kpin_buf *notes)
{
	static const char prefix[] = "kpin-owner.";
	struct kpin_buf path = KPIN_BUF_INIT, text = KPIN_BUF_INIT;
	DIR *d = opendir(dir);
	struct dirent *de;
	int removed = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		const char *rest, *dot;
		struct record r;
		long pid;
		bool parsed;

		if (strncmp(de->d_name, prefix, sizeof(prefix) - 1))
			continue;
		rest = de->d_name + sizeof(prefix) - 1;
		dot = strrchr(rest, '.');
		if (!dot || !dot[1])
			continue;
		pid = strtol(dot + 1, NULL, 10);
		kpin_buf_reset(&path);
		kpin_buf_addf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/'
			      ? "" : "/", de->d_name);
		parsed = kpin_file_read(&text, path.ptr, RECORD_MAX, NULL) == 0 &&
			 parse_record(&r, text.ptr) == 0 && r.pid == pid;
		kpin_error_clear();
		if (!kpin_lock_process_dead((pid_t)pid, parsed ? r.start : 0))
			continue;
		/* a record cut off in writing: its lock was never taken */
		if (parsed && is_recorded(r.lock, &r) && unlink(r.lock) == 0) {
			kpin_buf_addf(notes, "removed the stale '%s' of kpin "
				      "process %ld, which is gone\n", r.lock,
				      pid);
			removed++;
		}
		remove_private(dir, "kpin-lock", rest);
		remove_private(dir, "kpin-new", rest);
		unlink(path.ptr);
	}
	closedir(d);
	kpin_buf_release(&path);
	kpin_buf_release(&text);
	return removed;
}

int kpin_lock_repo(int *fd, const char *gitdir, long wait_ms)
{
	struct kpin_buf path = KPIN_BUF_INIT;
	long waited = 0;

	*fd = -1;
	kpin_buf_addf(&path, "%skpin.lock", gitdir);
	*fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0) {
		int rc = lock_fail("open", path.ptr);

		kpin_buf_release(&path);
		return rc;
	}
	kpin_buf_release(&path);
	while (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		int rc = 0;

		if (errno != EWOULDBLOCK && errno != EINTR)
			rc = kpin_error_set(KPIN_ERROR, "cannot lock the "
					    "repository: %s", strerror(errno));
		else if (waited >= wait_ms)
			rc = kpin_error_set(KPIN_ELOCKED, "another kpin has "
					    "held the repository for %ld s; "
					    "nothing changed", waited / 1000);
		if (rc) {
			close(*fd);
			*fd = -1;
			return rc;
		}
		sleep_ms(5 + random() % 20);
		waited += 15;
	}
	return 0;
}

void kpin_unlock_repo(int *fd)
{
	if (*fd >= 0) {
		flock(*fd, LOCK_UN);
		close(*fd);
		*fd = -1;
	}
}
