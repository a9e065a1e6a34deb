/*
 * Updating a handful of entries of a checkout's index without parsing it
 * into objects: the index file is read once under index.lock (the lock
 * git itself takes), the entries found by path, and their stat data and
 * blob ids patched in place; the cache-tree entries above them are
 * invalidated. As in git, the trailing checksum is written, not checked.
 * On a 100,000-file repository this costs a read, one SHA-1 pass and a
 * write, instead of libgit2's full
 * index parse (about 90 ms there) and a path-limited status and
 * checkout. Anything this module does not understand (split index,
 * sparse directories, conflicts, skip-worktree entries, unknown
 * mandatory extensions) makes it step aside with KPIN_ENOTSUP before it
 * writes anything, and the caller uses libgit2's checkout instead.
 * Included by repo only.
 */
#ifndef KPIN_GITINDEX_H
#define KPIN_GITINDEX_H

#include <git2.h>
#include <stddef.h>

#define KPIN_ENOTSUP (-38)	/* gitindex only: use the general path */

/*
 * struct kpin_index_edit - One path moving from one blob to another
 * @path: repository-relative path
 * @old_id: the blob at the tip kpin read (what a clean index holds)
 * @new_id: the blob kpin committed
 */
struct kpin_index_edit {
	const char *path;
	git_oid old_id;
	git_oid new_id;
};

struct kpin_gitindex;

/*
 * kpin_gitindex_open() - Lock and read the repository's index
 * @out: receives the session; the lock is held until it is freed
 * @repo: a non-bare repository
 * @paths: the paths that will be checked and updated (borrowed)
 * @npaths: how many
 *
 * Returns: 0, KPIN_ENOTSUP (index features this module leaves to
 * libgit2), KPIN_EINVALID (a split or sparse index, which libgit2 cannot
 * update either), KPIN_ELOCKED (index.lock stayed held for 2 s) or
 * KPIN_ERROR.
 */
int kpin_gitindex_open(struct kpin_gitindex **out, git_repository *repo,
		       const char *const *paths, size_t npaths);

/*
 * kpin_gitindex_check() - Are these paths clean in index and worktree?
 *
 * The index entry must hold @old_id at stage 0, and the worktree file
 * must match it (stat data, else its content hashed with filters).
 *
 * Returns: 0, KPIN_EINVALID naming the first path with staged or
 * unstaged changes, KPIN_ENOTSUP or KPIN_ERROR.
 */
int kpin_gitindex_check(struct kpin_gitindex *ix,
			const struct kpin_index_edit *e, size_t n);

/*
 * kpin_gitindex_commit() - Write the new blobs to the worktree and the
 * index
 *
 * Each worktree file is replaced atomically with its blob's content as
 * checked out (filters applied); each index entry gets the new id and the
 * new file's stat data; the index is written to index.lock and renamed
 * over the index, which releases the lock.
 *
 * Returns: 0 or KPIN_ERROR.
 */
int kpin_gitindex_commit(struct kpin_gitindex *ix,
			 const struct kpin_index_edit *e, size_t n);

/* kpin_gitindex_free() - Release the lock (if still held) and memory. */
void kpin_gitindex_free(struct kpin_gitindex *ix);

#endif
