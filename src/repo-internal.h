/*
 * What the parts of the repository engine share (repo.c, update.c,
 * worktree.c, history.c, order.c). Internal: not installed, and nothing
 * outside src/ may include it.
 *
 *   repo.c      opening, branches, reading overlays from a tree, retries
 *   update.c    one update: attempt (tip, edit, commit, CAS), retry, follow
 *   worktree.c  a checkout that follows the branch (index and files)
 *   history.c   the first-parent walk over an overlay's versions
 *   order.c     the "promotion: ordered" rule
 *   status.c    the board: one walk over every overlay
 */
#ifndef KPIN_REPO_INTERNAL_H
#define KPIN_REPO_INTERNAL_H

#include <git2.h>
#include <stdbool.h>

#include "kpin/buf.h"
#include "kpin/file.h"
#include "kpin/repo.h"
#include "git-lazy.h"
#include "lock.h"

struct kpin_gitindex;
struct kpin_index_edit;

struct kpin_repo {
	git_repository *git;
	bool bare;
	int lock_fd;		/* the flock()ed kpin.lock, -1 when not held */
	char *view_ref;		/* read this branch at view_tip instead */
	git_oid view_tip;
};

/* A distinct file to edit, with every change aimed at it. */
struct file_edit {
	char *path;
	git_filemode_t mode;
	struct kpin_change *changes;
	size_t nchanges;
	unsigned flags;
	struct kpin_buf old;	/* bytes at the tip */
	struct kpin_buf new;	/* edited bytes, empty when unchanged */
	git_oid old_id;		/* blob at the tip */
	git_oid new_id;		/* blob written, when changed */
};

struct edit_set {
	struct file_edit *f;
	size_t n;
};


/*
 * How a checked-out branch's index and worktree follow its commits: the
 * direct index session (gitindex.c) when the index allows it, else
 * libgit2's status and path-limited checkout.
 */
struct checkout {
	bool active;			/* the branch is checked out */
	bool fallback;			/* use libgit2's status and checkout */
	struct kpin_gitindex *ix;	/* the direct session, or NULL */
	struct kpin_lock lock;		/* index.lock */
	struct kpin_index_edit *e;	/* what checkout_prepare() wrote */
	size_t ne;
	/*
	 * What an attempt published before its CAS was lost: the checkout
	 * may still hold kpin's versions of these files (paths owned).
	 */
	struct kpin_index_edit *held;
	size_t nheld;
	git_tree *held_tree;		/* the tree published */
};

#define INDEX_LOCK_WAIT_MS 2000	/* how long to wait for another git */

/* The pins of an overlay version, per image name (parsed once per blob). */
struct overlay_version {
	git_oid blob;
	size_t n;
	char **names;
	struct kpin_pin *pins;
	size_t depth;		/* of the commit given with it, from the start */
};

/*
 * Walk first-parent history from @start; for each commit whose version
 * of the overlay differs from its parent's for some image of interest,
 * call @fn. Stops when @fn returns non-zero.
 */
typedef int (*overlay_version_fn)(git_commit *c, const struct overlay_version *now,
			  const struct overlay_version *before, void *arg);

/* repo.c */
/* The names kustomize looks for in a directory (kpin/file.h). */
#define repo_kust_names kpin_kust_names
int kpin_git_fail(int rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int repo_view_tip(git_oid *tip, struct kpin_repo *repo, const char *refname);
int repo_read_tip(git_oid *tip, git_commit **commit, git_tree **tree,
		  struct kpin_repo *repo, const char *refname, bool view);
int repo_find_kust_file(struct kpin_buf *out, git_filemode_t *mode,
			struct kpin_repo *repo, git_tree *root, const char *dir);
int repo_overlay_dir(struct kpin_buf *out, const char *root,
		     const char *app, const char *env);
int repo_read_blob(struct kpin_buf *out, git_oid *id, struct kpin_repo *repo,
		   git_tree *tree, const char *path, size_t max);
int repo_commit_and_tree(git_commit **c, git_tree **t, struct kpin_repo *repo,
			 const git_oid *id);
void repo_sleep_ms(long ms);
long repo_now_ms(void);
void repo_backoff(int attempt, int why, long took_ms);
int repo_give_up(int rc, int attempts, const char *outcome);

/* worktree.c */
bool repo_checked_out(struct kpin_repo *repo, const char *refname);
int repo_check_worktree_path(struct kpin_repo *repo, const char *path);
/*
 * Refuse a branch kpin must not move: checked out in another worktree, or
 * in the middle of a merge, rebase, cherry-pick, revert, am or bisect.
 */
int worktree_check_branch(struct kpin_repo *repo, const char *refname);
void checkout_begin(struct checkout *co, struct kpin_repo *repo,
		    const char *refname);
void checkout_end(struct checkout *co);
/* Take index.lock (before the tip is read); a no-op unless checked out. */
int checkout_lock(struct checkout *co, struct kpin_repo *repo);
int checkout_check(struct checkout *co, struct kpin_repo *repo,
		   const struct edit_set *set);
/*
 * Before the branch moves: write the edited files and stage the new index
 * (direct session only; restores the files itself when it fails).
 */
int checkout_prepare(struct checkout *co, const struct edit_set *set,
		     struct kpin_buf *notes);
/* The branch did not move: put the files back, release index.lock. */
void checkout_undo(struct checkout *co);
/*
 * Before the branch moves from @from to @to: publish the staged index, or
 * check the files out with libgit2; releases index.lock.
 */
int checkout_publish(struct checkout *co, struct kpin_repo *repo,
		     git_tree *from, git_tree *to, const struct edit_set *set);
/*
 * The CAS of an attempt that published the files in @set (@published, the
 * tree it built) was lost: remember them, for checkout_settle() and the
 * next attempt, which overwrites them where they are still kpin's.
 */
void checkout_hold(struct checkout *co, const struct edit_set *set,
		   git_tree *published);
/*
 * Bring each file held from a lost CAS that @keep does not write again
 * (all, when @keep is NULL) where @tip has it, when its entry and
 * worktree copy are still kpin's versions (notes for what is left
 * alone), and forget it. Under index.lock, taken if need be and kept.
 */
void checkout_settle(struct checkout *co, struct kpin_repo *repo,
		     git_tree *tip, const struct edit_set *keep,
		     struct kpin_buf *notes);
/* A line in @notes for each file still held (the run ends without). */
void checkout_left_held(const struct checkout *co, struct kpin_buf *notes);
/* Forget the held files (the branch holds them now, or the run ends). */
void checkout_forget(struct checkout *co);
int checkout_full(struct kpin_repo *repo, git_tree *from, git_tree *to,
		  bool dry_run);

/* history.c */
bool history_reachable(struct kpin_repo *repo, const git_oid *tip,
		       const git_oid *anc);
const struct kpin_pin *history_pin_in(const struct overlay_version *v,
				      const char *image);
int history_walk_versions(struct kpin_repo *repo, const git_oid *start,
			  const char *dir, overlay_version_fn fn, void *arg);
/* Parse the blob's images entries into @v (none when it does not parse). */
void history_read_version(struct overlay_version *v, struct kpin_repo *repo,
			  const git_oid *blob_id);
void history_version_release(struct overlay_version *v);
bool history_same_pin(const struct kpin_pin *a, const struct kpin_pin *b);
/* Turn libgit2's object cache and hash checks off for a walk, and back on. */
void history_walk_settings(bool walking);

/* order.c */
int order_check(struct kpin_repo *repo, const git_oid *base,
		const struct kpin_target *t, size_t n,
		const struct kpin_repo_opts *o, struct kpin_buf *override);

#endif
