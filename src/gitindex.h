/*
 * Updating a handful of entries of a checkout's index without parsing it
 * into objects: the index file is read once under index.lock (the lock
 * git itself takes), the entries found by path, and their stat data and
 * blob ids patched in place (src/index-format.h does the bytes); the
 * cache-tree entries above them are invalidated and racily clean entries
 * smudged, as git does whenever it writes the index. As in git, the
 * trailing checksum is written, not checked. On a 100,000-file
 * repository this costs a read, one SHA-1 pass and a write, instead of
 * libgit2's full index parse (about 90 ms there) and a path-limited
 * status and checkout.
 *
 * It keeps git's invariants: a skip-worktree entry (sparse checkout) is
 * committed without touching the worktree, as git does; the worktree
 * bytes are those git checkout writes (end-of-line conversion and ident
 * through libgit2), and a filter driver or working-tree-encoding that
 * kpin cannot apply is refused before anything changes. An index it
 * cannot update (split or sparse index, unknown mandatory extensions) is
 * refused; one in a form it leaves to libgit2 (no index yet, another
 * version) makes it step aside with KPIN_ENOTSUP before it writes
 * anything. Included by the checkout code only.
 */
#ifndef KPIN_GITINDEX_H
#define KPIN_GITINDEX_H

#include <git2.h>
#include <stdbool.h>
#include <stddef.h>

#include "index-format.h"
#include "kpin/buf.h"
#include "lock.h"


/*
 * struct kpin_index_edit - One path moving from one blob to another
 * @path: repository-relative path
 * @old_id: the blob at the tip kpin read (what a clean index holds)
 * @new_id: the blob kpin committed
 * @mode: its file mode in both trees (0100644 or 0100755), 0: unknown
 * @skipped: set by kpin_gitindex_commit() when the entry is skip-worktree
 *           (sparse checkout): the index follows, the worktree is left
 *           alone, as git does
 * @held: kpin published @held_old -> @held_new here in an attempt whose
 *        CAS was lost, and the checkout may still hold either: an entry
 *        and worktree copy each at one of them (or at @old_id) are
 *        kpin's own, to overwrite
 * @held_old: see @held
 * @held_new: see @held
 * @was_id: set by kpin_gitindex_commit(): the worktree copy's version
 *          before, which kpin_gitindex_restore() puts back
 */
struct kpin_index_edit {
	const char *path;
	git_oid old_id;
	git_oid new_id;
	unsigned mode;
	bool skipped;
	bool held;
	git_oid held_old;
	git_oid held_new;
	git_oid was_id;
};

struct kpin_gitindex;

/*
 * kpin_gitindex_open() - Read the repository's index under index.lock
 * @out: receives the session
 * @repo: a non-bare repository
 * @lock: index.lock, taken by the caller with kpin_lock_take() (lock.h)
 *        before it read the branch tip, held until after the session is
 *        freed (borrowed)
 * @paths: the paths that will be checked and updated (borrowed)
 * @npaths: how many
 *
 * Returns: 0, KPIN_ENOTSUP (index features this module leaves to
 * libgit2), KPIN_EINVALID (a split or sparse index, which libgit2 cannot
 * update either) or KPIN_ERROR.
 */
int kpin_gitindex_open(struct kpin_gitindex **out, git_repository *repo,
		       struct kpin_lock *lock, const char *const *paths,
		       size_t npaths);

/*
 * kpin_gitindex_check() - Are these paths clean in index and worktree?
 *
 * The index entry must hold @old_id and the tree's mode at stage 0, and,
 * unless the entry is skip-worktree, the worktree file must match it:
 * type, executable bit (when core.fileMode), then stat data or, when they
 * differ or are racy, its content hashed with the filters git would use.
 * For a @held edit it is enough that the entry and the file each hold
 * one of kpin's versions or @old_id. kpin_gitindex_check_filters() runs
 * first.
 *
 * Returns: 0, KPIN_EINVALID naming the first path with staged or
 * unstaged changes or a filter kpin cannot apply, KPIN_ENOTSUP or
 * KPIN_ERROR.
 */
int kpin_gitindex_check(struct kpin_gitindex *ix,
			const struct kpin_index_edit *e, size_t n);

/*
 * kpin_gitindex_check_filters() - Can kpin write these paths as git would?
 * @repo: a non-bare repository
 * @paths: repository-relative paths
 * @n: how many
 *
 * The attributes git checkout would apply (read as libgit2 reads them)
 * must be ones libgit2 applies: text, eol, crlf, ident. A filter driver
 * with a smudge or process command (or marked required), and a
 * working-tree-encoding other than UTF-8, are refused: kpin runs no
 * commands and libgit2 converts no encodings. Costs nothing when no
 * attributes file or core.autocrlf exists.
 *
 * Returns: 0, KPIN_EINVALID (message names the path, the attribute and
 * the way out) or KPIN_ERROR.
 */
int kpin_gitindex_check_filters(git_repository *repo,
				const char *const *paths, size_t n);

/*
 * kpin_gitindex_commit() - Write the new blobs to the worktree and the
 * index
 *
 * Everything that can fail short of I/O (blob reads, filters, the cache
 * tree) is done first. Then each worktree file is replaced atomically
 * with its blob's content as checked out (filters applied) and its entry
 * gets the new id and the new file's stat data; a skip-worktree entry
 * gets the new id and no stat data, its worktree untouched (@e[].skipped
 * says so). Racily clean entries are smudged; the new index is staged
 * through the lock (kpin_lock_fd()). It takes effect when the caller,
 * having moved the branch, calls kpin_lock_commit(): git's order for a
 * fast-forward of a checked-out branch, with the lock held from before
 * the tip was read.
 *
 * Returns: 0 or KPIN_ERROR.
 */
int kpin_gitindex_commit(struct kpin_gitindex *ix,
			 struct kpin_index_edit *e, size_t n);

/*
 * kpin_gitindex_restore() - The branch did not move after all: put back
 * the versions (@was_id) of the worktree files kpin_gitindex_commit()
 * wrote (the index was never changed; the caller releases the lock)
 *
 * Returns: 0 or the first error (the others are still tried).
 */
int kpin_gitindex_restore(struct kpin_gitindex *ix,
			  const struct kpin_index_edit *e, size_t n);

/*
 * kpin_gitindex_settle() - Bring kpin's published versions where the
 * branch is, after its CAS went to someone else
 * @ix: a session opened (under index.lock) on the paths of @e
 * @e: @held edits: what kpin published (@held_old -> @held_new)
 * @n: how many
 * @target: for each edit, the version the branch now holds
 * @staged: set when a new index was written to index.lock (the caller
 *          publishes it), clear when everything was where it belongs
 * @notes: a line for each file left alone
 *
 * Only a file whose entry and worktree copy each hold one of kpin's
 * versions or the target is changed (entry and file, to the target); a
 * file someone changed otherwise since is left alone and named in
 * @notes.
 *
 * Returns: 0, or an error from writing the files or the new index.
 */
int kpin_gitindex_settle(struct kpin_gitindex *ix,
			 const struct kpin_index_edit *e, size_t n,
			 const git_oid *target, bool *staged,
			 struct kpin_buf *notes);

/* kpin_gitindex_free() - Release the memory (not the lock). */
void kpin_gitindex_free(struct kpin_gitindex *ix);

#endif
