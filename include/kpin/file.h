/*
 * Whole-file reads with a size cap and atomic replacement. Included by the
 * CLI and by modules that touch the worktree.
 */
#ifndef KPIN_FILE_H
#define KPIN_FILE_H

#include <stddef.h>
#include <sys/stat.h>
#include "buf.h"

#define KPIN_MAX_SIZE_DEFAULT (4u * 1024 * 1024)

/* The names kustomize looks for in a directory, in its order. */
extern const char *const kpin_kust_names[3];

/*
 * kpin_file_kustomization() - The kustomization file @path names
 * @out: receives @path itself when it is not a directory, else the one
 *       kustomization file in it ("DIR/kustomization.yaml"...), as
 *       "kustomize build DIR" finds it
 * @path: a file or a directory
 *
 * Returns: 0, KPIN_ENOTFOUND (a directory without one) or KPIN_EINVALID
 * (a directory with more than one).
 */
int kpin_file_kustomization(struct kpin_buf *out, const char *path);

/*
 * kpin_file_read() - Read a whole regular file
 * @out: receives the bytes (NUL-terminated)
 * @path: the file; symlinks are followed
 * @max: refuse files larger than this many bytes
 * @st: out, the file's stat (may be NULL)
 *
 * Returns: 0, KPIN_ENOTFOUND, KPIN_EINVALID (not a regular file, too
 * large) or KPIN_ERROR.
 */
int kpin_file_read(struct kpin_buf *out, const char *path, size_t max,
		   struct stat *st);

/*
 * kpin_file_replace() - Replace a file's contents atomically
 * @path: the file; when it is a symlink its final target is replaced and
 *        the link stays a link
 * @data: new contents
 * @len: their length
 * @expect: when not NULL, the stat taken when the old contents were read:
 *          the replace is refused (KPIN_EMODIFIED) if the file changed since
 *
 * Writes a temporary file in the target's directory, copies the old mode
 * (and owner, where permitted), fsyncs, renames it over the target and
 * fsyncs the directory. On any failure the target is untouched and the
 * temporary file removed. Temporary files left by a killed process are
 * named ".<name>.kpin-<pid>-XXXXXX"; the next replace of the same file
 * removes those whose process is gone.
 *
 * Returns: 0, KPIN_EMODIFIED or KPIN_ERROR.
 */
int kpin_file_replace(const char *path, const void *data, size_t len,
		      const struct stat *expect);

/*
 * kpin_file_clean_temps() - Remove what killed replaces of @path left
 *
 * The ".<name>.kpin-<pid>-XXXXXX" files beside @path whose process is
 * gone, as kpin_file_replace() does before it writes.
 */
void kpin_file_clean_temps(const char *path);

/*
 * kpin_file_remove_tree() - Remove @path and everything below it, without
 * following symlinks
 *
 * Returns: 0, or -1 with errno set when something stayed.
 */
int kpin_file_remove_tree(const char *path);

/*
 * kpin_file_resolve() - The final target of @path after following symlinks
 *
 * Returns: a malloc'd absolute path, or NULL with the error set.
 */
char *kpin_file_resolve(const char *path);

#endif
