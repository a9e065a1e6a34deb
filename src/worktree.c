/*
 * A checkout that follows its branch: the edited files' index entries and
 * worktree copies are brought to kpin's commit, through the direct index
 * session (gitindex.c) when the index allows it, else libgit2's status and
 * path-limited checkout.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpin/error.h"
#include "kpin/file.h"
#include "kpin/xalloc.h"
#include "gitindex.h"
#include "lock.h"
#include "repo-internal.h"

/* Is @refname the branch HEAD names, in a repository with a worktree? */
bool repo_checked_out(struct kpin_repo *repo, const char *refname)
{
	git_reference *head = NULL;
	bool yes;

	if (repo->bare || git_reference_lookup(&head, repo->git, "HEAD"))
		return false;
	yes = git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	      !strcmp(git_reference_symbolic_target(head), refname);
	git_reference_free(head);
	return yes;
}

/* Does "<dir><file>" hold "refs/heads/..." naming @refname? */
static bool names_branch(const char *dir, const char *file,
			 const char *refname)
{
	struct kpin_buf path = KPIN_BUF_INIT, text = KPIN_BUF_INIT;
	bool yes = false;

	kpin_buf_addf(&path, "%s%s", dir, file);
	if (kpin_file_read(&text, path.ptr, 4096, NULL) == 0) {
		size_t n = strcspn(text.ptr, "\r\n");

		yes = n == strlen(refname) && !strncmp(text.ptr, refname, n);
		/* BISECT_START holds the branch's short name */
		yes = yes || (n == strlen(refname + 11) &&
			      !strncmp(text.ptr, refname + 11, n));
	}
	kpin_error_clear();
	kpin_buf_release(&path);
	kpin_buf_release(&text);
	return yes;
}

/*
 * The operation under way on @refname in the worktree whose git
 * directory is @dir ("" for none): a rebase (either backend) or bisect
 * started from the branch, even on a detached HEAD, as git's
 * wt_status_check_rebase() and _bisect() see it.
 */
static const char *operation_on(const char *dir, const char *refname)
{
	if (names_branch(dir, "rebase-merge/head-name", refname) ||
	    names_branch(dir, "rebase-apply/head-name", refname))
		return "a rebase";
	if (names_branch(dir, "BISECT_START", refname))
		return "a bisect";
	return NULL;
}

/* The operation git_repository_state() reports, in git's words. */
static const char *state_name(int state)
{
	switch (state) {
	case GIT_REPOSITORY_STATE_NONE:
		return NULL;
	case GIT_REPOSITORY_STATE_MERGE:
		return "a merge";
	case GIT_REPOSITORY_STATE_REVERT:
	case GIT_REPOSITORY_STATE_REVERT_SEQUENCE:
		return "a revert";
	case GIT_REPOSITORY_STATE_CHERRYPICK:
	case GIT_REPOSITORY_STATE_CHERRYPICK_SEQUENCE:
		return "a cherry-pick";
	case GIT_REPOSITORY_STATE_BISECT:
		return "a bisect";
	case GIT_REPOSITORY_STATE_APPLY_MAILBOX:
		return "an am";
	case GIT_REPOSITORY_STATE_APPLY_MAILBOX_OR_REBASE:
		return "an am or rebase";
	default:
		return "a rebase";
	}
}

int worktree_check_branch(struct kpin_repo *repo, const char *refname)
{
	struct kpin_buf wt = KPIN_BUF_INIT;
	const char *common = git_repository_commondir(repo->git);
	const char *op = NULL, *where = "this checkout";
	git_reference *ref = NULL;
	struct dirent *de;
	bool other;
	DIR *d;

	/* in another worktree: git branch -f and git push refuse too */
	other = !git_reference_lookup(&ref, repo->git, refname) &&
		git_branch_is_checked_out(ref) == 1 &&
		!repo_checked_out(repo, refname);
	git_reference_free(ref);
	git_error_clear();
	if (other)
		return kpin_error_set(KPIN_EINVALID, "'%s' is checked out in "
				      "another worktree (git worktree list): "
				      "moving it would leave that checkout "
				      "with a staged revert; run kpin there, "
				      "or use another branch (nothing changed)",
				      refname + 11);
	if (repo_checked_out(repo, refname))
		op = state_name(git_repository_state(repo->git));
	if (!op)
		op = operation_on(git_repository_path(repo->git), refname);
	if (!op && strcmp(common, git_repository_path(repo->git))) {
		where = "the main worktree";
		op = operation_on(common, refname);
	}
	kpin_buf_addf(&wt, "%sworktrees", common);
	d = op ? NULL : opendir(wt.ptr);
	while (d && !op && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		kpin_buf_reset(&wt);
		kpin_buf_addf(&wt, "%sworktrees/%s/", common, de->d_name);
		if (strcmp(wt.ptr, git_repository_path(repo->git))) {
			op = operation_on(wt.ptr, refname);
			where = "another worktree";
		}
	}
	if (d)
		closedir(d);
	kpin_buf_release(&wt);
	if (op)
		return kpin_error_set(KPIN_EINVALID, "%s is in progress on '%s' "
				      "in %s: finish it or abort it first "
				      "(git status says how); nothing changed",
				      op, refname + 11, where);
	return 0;
}

/* Refuse a worktree path with a symlink (or non-directory) on the way. */
int repo_check_worktree_path(struct kpin_repo *repo, const char *path)
{
	const char *wd = git_repository_workdir(repo->git);
	struct kpin_buf p = KPIN_BUF_INIT;
	const char *s;
	struct stat st;
	int rc = 0;

	if (!wd)
		return 0;
	for (s = path; ; s++) {
		if (*s && *s != '/')
			continue;
		kpin_buf_reset(&p);
		kpin_buf_addf(&p, "%s%.*s", wd, (int)(s - path), path);
		if (lstat(p.ptr, &st) == 0 && S_ISLNK(st.st_mode)) {
			rc = kpin_error_set(KPIN_EINVALID, "'%.*s' is a symlink "
					    "in the checkout; refusing to write "
					    "through it", (int)(s - path), path);
			break;
		}
		if (!*s)
			break;
	}
	kpin_buf_release(&p);
	return rc;
}


/* Is @refname checked out (so that its index and worktree must follow)? */
void checkout_begin(struct checkout *co, struct kpin_repo *repo,
			   const char *refname)
{
	memset(co, 0, sizeof(*co));
	co->lock = (struct kpin_lock)KPIN_LOCK_INIT;
	co->active = repo_checked_out(repo, refname);
}

/* Close the direct index session, keeping index.lock. */
static void session_end(struct checkout *co)
{
	kpin_gitindex_free(co->ix);
	co->ix = NULL;
}

void checkout_end(struct checkout *co)
{
	session_end(co);
	kpin_lock_release(&co->lock);
	free(co->e);
	co->e = NULL;
	co->ne = 0;
}

int checkout_lock(struct checkout *co, struct kpin_repo *repo)
{
	struct kpin_buf index = KPIN_BUF_INIT;
	int rc;

	if (!co->active || co->lock.held)
		return 0;
	kpin_buf_addf(&index, "%sindex", git_repository_path(repo->git));
	rc = kpin_lock_take(&co->lock, index.ptr, INDEX_LOCK_WAIT_MS);
	kpin_buf_release(&index);
	return rc;
}

/* The held edit of @path, or NULL. */
static const struct kpin_index_edit *held_edit(const struct checkout *co,
					       const char *path)
{
	size_t i;

	for (i = 0; i < co->nheld; i++)
		if (!strcmp(co->held[i].path, path))
			return &co->held[i];
	return NULL;
}

/*
 * The changed files as index edits, with what an attempt before published
 * of them (co->held); returns how many.
 */
static size_t index_edits(struct kpin_index_edit **out,
			  const struct edit_set *set,
			  const struct checkout *co)
{
	size_t i, n = 0;

	*out = xcalloc(set->n + 1, sizeof(**out));
	for (i = 0; i < set->n; i++) {
		const struct kpin_index_edit *h;

		if (!set->f[i].new.len)
			continue;
		(*out)[n].path = set->f[i].path;
		git_oid_cpy(&(*out)[n].old_id, &set->f[i].old_id);
		git_oid_cpy(&(*out)[n].new_id, &set->f[i].new_id);
		(*out)[n].mode = (unsigned)set->f[i].mode;
		h = held_edit(co, set->f[i].path);
		if (h) {
			(*out)[n].held = true;
			git_oid_cpy(&(*out)[n].held_old, &h->held_old);
			git_oid_cpy(&(*out)[n].held_new, &h->held_new);
		}
		n++;
	}
	return n;
}

/* Refuse overlays with staged or unstaged changes in a checkout. */
int checkout_check(struct checkout *co, struct kpin_repo *repo,
			  const struct edit_set *set)
{
	struct kpin_index_edit *e;
	size_t i, n;
	int rc = 0;

	if (!co->active)
		return 0;
	for (i = 0; i < set->n && !rc; i++)
		if (set->f[i].new.len)
			rc = repo_check_worktree_path(repo, set->f[i].path);
	if (rc)
		return rc;
	if (!co->fallback) {
		const char **paths;

		/*
		 * Open (or, after a retry that resolved other files, reopen)
		 * the direct index session for the changed files, under the
		 * index.lock taken before the tip was read.
		 */
		n = index_edits(&e, set, co);
		paths = xcalloc(n + 1, sizeof(*paths));
		for (i = 0; i < n; i++)
			paths[i] = e[i].path;
		session_end(co);
		rc = kpin_gitindex_open(&co->ix, repo->git, &co->lock, paths,
					n);
		if (!rc)
			rc = kpin_gitindex_check(co->ix, e, n);
		free(paths);
		free(e);
		if (rc != KPIN_ENOTSUP)
			return rc;
		/*
		 * Something it leaves to libgit2, whose checkout takes
		 * index.lock itself: kpin keeps it until the branch moves.
		 */
		kpin_error_clear();
		session_end(co);
		co->fallback = true;
	}
	for (i = 0; i < set->n; i++) {
		unsigned int flags = 0;
		const char *path = set->f[i].path;

		if (!set->f[i].new.len)
			continue;
		/* libgit2's checkout runs no filter drivers either */
		rc = kpin_gitindex_check_filters(repo->git, &path, 1);
		if (rc)
			return rc;
		rc = git_status_file(&flags, repo->git, set->f[i].path);
		if (rc && rc != GIT_ENOTFOUND)
			return kpin_git_fail(rc, "cannot check '%s'",
					set->f[i].path);
		if (flags & ~(unsigned)GIT_STATUS_IGNORED)
			return kpin_error_set(KPIN_EINVALID, "'%s' has %s "
					      "changes in the checkout; commit "
					      "or discard them first (nothing "
					      "changed)", set->f[i].path,
					      flags & (GIT_STATUS_INDEX_NEW |
						       GIT_STATUS_INDEX_MODIFIED |
						       GIT_STATUS_INDEX_DELETED) ?
					      "staged" : "unstaged");
	}
	return 0;
}

/* libgit2's way: a path-limited safe checkout of @to, from @from. */
static int checkout_paths(struct kpin_repo *repo, git_tree *from,
			  git_tree *to, char **paths, size_t np)
{
	git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
	int rc = 0, tries;

	co.checkout_strategy = GIT_CHECKOUT_SAFE |
			       GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
	co.paths.strings = paths;
	co.paths.count = np;
	co.baseline = from;
	/* the index may be locked for a moment by another git process */
	for (tries = 0; np && tries < 50; tries++) {
		rc = git_checkout_tree(repo->git, (git_object *)to, &co);
		if (rc != GIT_ELOCKED)
			break;
		usleep(20000);
	}
	if (rc)
		rc = kpin_git_fail(rc, "the checkout of the edited files could not "
			      "follow the branch");
	return rc;
}

/*
 * Before the branch moves: write the edited files and stage the new
 * index; a line in @notes for each file left out of the worktree
 * (skip-worktree), so that the user knows the file on disk did not
 * change. The edits are kept for checkout_undo().
 */
int checkout_prepare(struct checkout *co, const struct edit_set *set,
		     struct kpin_buf *notes)
{
	size_t i;
	int rc;

	if (!co->ix)
		return 0;
	free(co->e);
	co->ne = index_edits(&co->e, set, co);
	rc = kpin_gitindex_commit(co->ix, co->e, co->ne);
	for (i = 0; i < co->ne && !rc; i++)
		if (co->e[i].skipped)
			kpin_buf_addf(notes, "'%s' is outside the sparse "
				      "checkout (skip-worktree): committed and "
				      "staged, the worktree left alone, as git "
				      "does\n", co->e[i].path);
	if (rc)
		kpin_gitindex_restore(co->ix, co->e, co->ne);
	return rc;
}

void checkout_undo(struct checkout *co)
{
	if (co->ix && co->e)
		kpin_gitindex_restore(co->ix, co->e, co->ne);
	checkout_end(co);
}

/*
 * Before the branch moves, as git does for a fast-forward (the index is
 * written, then the ref): put the staged index in place and keep
 * index.lock until the branch has moved, so that a git command that reads
 * the new tip reads the new index too, and no git command writes an index
 * in between (they take index.lock first). The fallback checks the files
 * out through libgit2, which takes index.lock itself.
 */
int checkout_publish(struct checkout *co, struct kpin_repo *repo,
		     git_tree *from, git_tree *to, const struct edit_set *set)
{
	int rc;

	if (!co->active)
		return 0;
	if (!co->ix) {
		char **paths = xcalloc(set->n + 1, sizeof(*paths));
		size_t i, np = 0;

		checkout_end(co);
		for (i = 0; i < set->n; i++)
			if (set->f[i].new.len)
				paths[np++] = set->f[i].path;
		rc = checkout_paths(repo, from, to, paths, np);
		free(paths);
		return rc;
	}
	rc = kpin_lock_publish(&co->lock);
	if (rc)
		checkout_undo(co);
	else
		session_end(co);
	return rc;
}

void checkout_hold(struct checkout *co, const struct edit_set *set,
		   git_tree *published)
{
	struct kpin_index_edit *e;
	size_t i, n;

	checkout_forget(co);
	if (!co->active)
		return;
	n = index_edits(&e, set, co);
	for (i = 0; i < n; i++) {
		e[i].path = xstrdup(e[i].path);
		e[i].held = true;
		git_oid_cpy(&e[i].held_old, &e[i].old_id);
		git_oid_cpy(&e[i].held_new, &e[i].new_id);
	}
	co->held = e;
	co->nheld = n;
	if (!published || git_tree_dup(&co->held_tree, published))
		co->held_tree = NULL;
}

void checkout_left_held(const struct checkout *co, struct kpin_buf *notes)
{
	size_t i;

	for (i = 0; i < co->nheld; i++)
		kpin_buf_addf(notes, "'%s' in the checkout still holds the "
			      "version kpin staged, which the branch does not: "
			      "git status shows it as a staged change\n",
			      co->held[i].path);
}

void checkout_forget(struct checkout *co)
{
	size_t i;

	for (i = 0; i < co->nheld; i++)
		free((char *)co->held[i].path);
	free(co->held);
	co->held = NULL;
	co->nheld = 0;
	git_tree_free(co->held_tree);
	co->held_tree = NULL;
}

/* Does @set write @path (again)? */
static bool writes(const struct edit_set *set, const char *path)
{
	size_t i;

	for (i = 0; set && i < set->n; i++)
		if (set->f[i].new.len && !strcmp(set->f[i].path, path))
			return true;
	return false;
}

/* @path's blob in @tree, or zeros (no such file). */
static void blob_in(git_oid *out, git_tree *tree, const char *path)
{
	git_tree_entry *e = NULL;

	memset(out, 0, sizeof(*out));
	if (!git_tree_entry_bypath(&e, tree, path) &&
	    git_tree_entry_type(e) == GIT_OBJECT_BLOB)
		git_oid_cpy(out, git_tree_entry_id(e));
	git_tree_entry_free(e);
	git_error_clear();
}

static void settle_failed(struct kpin_buf *notes)
{
	kpin_buf_addf(notes, "could not bring the files in the checkout where "
		      "the branch is (%s): git status shows the difference\n",
		      kpin_error_last()->message);
	kpin_error_clear();
}

void checkout_settle(struct checkout *co, struct kpin_repo *repo,
		     git_tree *tip, const struct edit_set *keep,
		     struct kpin_buf *notes)
{
	struct kpin_index_edit *e;
	git_oid *target;
	char **paths;
	size_t i, n = 0, kept = 0, left = 0;
	bool staged = false;
	int rc;

	if (!co->nheld || !tip)
		return;
	/* under index.lock (still held, or taken again), then read the index */
	session_end(co);
	rc = co->fallback ? 0 : checkout_lock(co, repo);
	if (rc) {
		settle_failed(notes);
		return;		/* still held: another attempt may */
	}
	e = xcalloc(co->nheld + 1, sizeof(*e));
	target = xcalloc(co->nheld + 1, sizeof(*target));
	paths = xcalloc(co->nheld + 1, sizeof(*paths));
	/* those written again stay held; the others are settled here */
	for (i = 0; i < co->nheld; i++) {
		if (writes(keep, co->held[i].path)) {
			co->held[left++] = co->held[i];
			continue;
		}
		e[n] = co->held[i];
		blob_in(&target[n], tip, e[n].path);
		kept += git_oid_equal(&target[n], &e[n].held_new);
		paths[n] = (char *)e[n].path;
		n++;
	}
	co->nheld = left;
	if (!n)
		goto out;
	if (kept == n)
		kpin_buf_addf(notes, "the branch moved to a commit that "
			      "already holds kpin's version of the files "
			      "(someone committed them from the index)\n");
	if (co->fallback) {
		/* libgit2 takes index.lock itself: let go of it meanwhile */
		bool held = co->lock.held;

		kpin_lock_release(&co->lock);
		rc = co->held_tree ? checkout_paths(repo, co->held_tree, tip,
						    paths, n) : 0;
		if (held && !rc)
			rc = checkout_lock(co, repo);
		goto done;
	}
	rc = kpin_gitindex_open(&co->ix, repo->git, &co->lock,
				(const char *const *)paths, n);
	if (!rc)
		rc = kpin_gitindex_settle(co->ix, e, n, target, &staged,
					  notes);
	if (staged && !rc)
		rc = kpin_lock_publish(&co->lock);
	session_end(co);
done:
	if (rc)
		settle_failed(notes);
out:
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	free(target);
	free(e);
}

/*
 * A stale checkout fast-forwards from @from to @to, with files others
 * changed (or, a dry run, checks that a safe checkout would not meet
 * local changes).
 */
int checkout_full(struct kpin_repo *repo, git_tree *from, git_tree *to,
		  bool dry_run)
{
	git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
	int rc;

	/* a dry run writes no index either: kpin may hold index.lock */
	co.checkout_strategy = GIT_CHECKOUT_SAFE |
			       (dry_run ? GIT_CHECKOUT_DRY_RUN |
				GIT_CHECKOUT_DONT_WRITE_INDEX : 0);
	co.baseline = from;
	rc = git_checkout_tree(repo->git, (git_object *)to, &co);
	if (rc == GIT_ECONFLICT)
		rc = kpin_error_set(KPIN_EINVALID, "local changes in the "
				    "checkout would be overwritten by the "
				    "remote's commits; commit or discard them "
				    "first (nothing changed)");
	else if (rc)
		rc = kpin_git_fail(rc, "cannot update the checkout");
	return rc;
}
