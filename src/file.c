/*
 * Whole-file reads with a size cap, and atomic replacement: a temporary
 * file in the same directory, fsync, rename over the target, fsync the
 * directory (git lockfile.c). A reader sees the old bytes or the new bytes,
 * never a mix, and a crash leaves at most a temporary file that the next
 * run removes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpin/error.h"
#include "kpin/file.h"
#include "kpin/xalloc.h"

const char *const kpin_kust_names[3] = {
	"kustomization.yaml", "kustomization.yml", "Kustomization"
};

int kpin_file_kustomization(struct kpin_buf *out, const char *path)
{
	struct kpin_buf f = KPIN_BUF_INIT;
	struct stat sb;
	size_t i, n = 0;
	int rc = 0;

	kpin_buf_reset(out);
	if (stat(path, &sb) || !S_ISDIR(sb.st_mode)) {
		kpin_buf_adds(out, path);
		return 0;
	}
	for (i = 0; i < 3; i++) {
		kpin_buf_reset(&f);
		kpin_buf_addf(&f, "%s%s%s", path,
			      path[strlen(path) - 1] == '/' ? "" : "/",
			      kpin_kust_names[i]);
		if (lstat(f.ptr, &sb) == 0 && !n++)
			kpin_buf_adds(out, f.ptr);
	}
	if (!n)
		rc = kpin_error_set(KPIN_ENOTFOUND, "no kustomization file "
				    "(kustomization.yaml, kustomization.yml or "
				    "Kustomization) in directory '%s'", path);
	else if (n > 1)
		rc = kpin_error_set(KPIN_EINVALID, "more than one "
				    "kustomization file in directory '%s'; "
				    "kustomize refuses that too", path);
	kpin_buf_release(&f);
	return rc;
}

int kpin_file_read(struct kpin_buf *out, const char *path, size_t max,
		   struct stat *st)
{
	struct stat sb;
	int fd, error = KPIN_ERROR;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kpin_error_set(errno == ENOENT ? KPIN_ENOTFOUND :
				      KPIN_ERROR, "cannot open: %s",
				      strerror(errno));
	if (fstat(fd, &sb) < 0) {
		kpin_error_set(KPIN_ERROR, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		error = kpin_error_set(KPIN_EINVALID, "not a regular file");
		goto out;
	}
	if ((unsigned long long)sb.st_size > max) {
		error = kpin_error_set(KPIN_EINVALID,
				       "file is %lld bytes, over the limit of "
				       "%zu",
				       (long long)sb.st_size, max);
		goto out;
	}
	kpin_buf_reset(out);
	kpin_buf_grow(out, (size_t)sb.st_size + 1);
	for (;;) {
		if (out->len > max) {
			error = kpin_error_set(KPIN_EINVALID,
					       "file is over the limit of %zu "
					       "bytes", max);
			goto out;
		}
		kpin_buf_grow(out, 4096);
		n = read(fd, out->ptr + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			kpin_error_set(KPIN_ERROR, "cannot read: %s",
				       strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	out->ptr[out->len] = '\0';
	if (st)
		*st = sb;
	error = 0;
out:
	close(fd);
	return error;
}

char *kpin_file_resolve(const char *path)
{
	char *real = realpath(path, NULL);

	if (!real)
		kpin_error_set(errno == ENOENT ? KPIN_ENOTFOUND : KPIN_ERROR,
			       "cannot resolve the path: %s", strerror(errno));
	return real;
}

/* Has the file at @path changed since @expect was taken? */
static bool changed_since(const char *path, const struct stat *expect)
{
	struct stat now;

	if (stat(path, &now) < 0)
		return true;
	return now.st_dev != expect->st_dev || now.st_ino != expect->st_ino ||
	       now.st_size != expect->st_size ||
	       now.st_mtim.tv_sec != expect->st_mtim.tv_sec ||
	       now.st_mtim.tv_nsec != expect->st_mtim.tv_nsec;
}

/*
 * Remove ".<base>.kpin-<pid>-XXXXXX" files in @dir whose process no longer
 * exists: what a killed kpin left behind. Files of live processes (a
 * concurrent kpin) are left alone.
 */
static void remove_stale_temps(const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t blen = strlen(base);
	char path[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *p = de->d_name;
		char *end;
		long pid;

		if (p[0] != '.' || strncmp(p + 1, base, blen) ||
		    strncmp(p + 1 + blen, ".kpin-", 6))
			continue;
		pid = strtol(p + 1 + blen + 6, &end, 10);
		if (end == p + 1 + blen + 6 || *end != '-' || pid <= 0)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, p) <
		    sizeof(path))
			unlink(path);
	}
	closedir(d);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

void kpin_file_clean_temps(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 :
				     (size_t)(slash - path)) : xstrdup(".");

	remove_stale_temps(dir, slash ? slash + 1 : path);
	free(dir);
}

int kpin_file_replace(const char *path, const void *data, size_t len,
		      const struct stat *expect)
{
	char *target = NULL, *dir = NULL, *tmp = NULL, *slash;
	const char *base;
	struct stat st;
	int fd = -1, dfd, error = KPIN_ERROR;
	size_t tmplen;

	target = kpin_file_resolve(path);
	if (!target)
		return kpin_error_last()->code;
	slash = strrchr(target, '/');
	dir = xstrndup(target, slash == target ? 1 : (size_t)(slash - target));
	base = slash + 1;
	remove_stale_temps(dir, base);

	if (stat(target, &st) < 0) {
		kpin_error_set(KPIN_ERROR, "cannot stat '%s': %s", target,
			       strerror(errno));
		goto out;
	}
	if (expect && changed_since(target, expect)) {
		error = kpin_error_set(KPIN_EMODIFIED, "the file changed while "
				       "kpin was editing it; nothing written");
		goto out;
	}
	tmplen = strlen(dir) + strlen(base) + 64;
	tmp = xmalloc(tmplen);
	snprintf(tmp, tmplen, "%s/.%s.kpin-%ld-XXXXXX", dir, base,
		 (long)getpid());
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		kpin_error_set(KPIN_ERROR, "cannot create a temporary file in "
			       "'%s': %s", dir, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (write_all(fd, data, len) < 0 ||
	    fchmod(fd, st.st_mode & 07777) < 0) {
		kpin_error_set(KPIN_ERROR, "cannot write '%s': %s", tmp,
			       strerror(errno));
		goto out;
	}
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM) {
		kpin_error_set(KPIN_ERROR, "cannot chown '%s': %s", tmp,
			       strerror(errno));
		goto out;
	}
	if (fsync(fd) < 0) {
		kpin_error_set(KPIN_ERROR, "cannot fsync '%s': %s", tmp,
			       strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (expect && changed_since(target, expect)) {
		error = kpin_error_set(KPIN_EMODIFIED, "the file changed while "
				       "kpin was editing it; nothing written");
		goto out;
	}
	if (rename(tmp, target) < 0) {
		kpin_error_set(KPIN_ERROR, "cannot rename '%s' to '%s': %s",
			       tmp, target, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	error = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(dir);
	free(target);
	return error;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int kpin_file_remove_tree(const char *path)
{
	return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
