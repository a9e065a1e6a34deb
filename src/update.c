/*
 * One update (or one batch): read the tip, edit every file at it, write
 * blob -> tree (git_tree_create_updated) -> commit, and move the branch
 * only by compare-and-swap against the tip that was read. Losing a race
 * means re-reading and re-editing, not rebasing. kpin processes serialise
 * on an flock()ed file in the git directory (released by the kernel if a
 * process dies), so they never lose races to each other; the CAS protects
 * against every other writer. In a checkout of the branch, the edited
 * files' index entries and worktree copies follow (worktree.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpin/diff.h"
#include "kpin/error.h"
#include "kpin/file.h"
#include "kpin/xalloc.h"
#include "gitindex.h"
#include "journal.h"
#include "lock.h"
#include "remote.h"
#include "repo-internal.h"
#include "sign-commit.h"

#define LOCK_WAIT_MS 120000	/* how long to wait for another kpin */

void kpin_target_release(struct kpin_target *t)
{
	size_t i;

	if (t->old)
		for (i = 0; i < t->nchanges; i++)
			kpin_pin_release(&t->old[i]);
	free(t->old);
	free(t->file);
	t->old = NULL;
	t->file = NULL;
}

void kpin_repo_result_release(struct kpin_repo_result *res)
{
	free(res->branch);
	kpin_buf_release(&res->message);
	kpin_buf_release(&res->diff);
	kpin_buf_release(&res->notes);
	memset(res, 0, sizeof(*res));
}

static void edit_set_release(struct edit_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->f[i].path);
		free(s->f[i].changes);
		kpin_buf_release(&s->f[i].old);
		kpin_buf_release(&s->f[i].new);
	}
	free(s->f);
	s->f = NULL;
	s->n = 0;
}

/*
 * Resolve every target to its file at @tree, group changes per file,
 * edit each file and record the old pins. Returns 0 when at least one
 * file changed, KPIN_EUNCHANGED when none did.
 */
static int edit_at(struct edit_set *set, struct kpin_repo *repo,
		   git_tree *tree, struct kpin_target *t, size_t n,
		   const struct kpin_repo_opts *o)
{
	struct kpin_buf dir = KPIN_BUF_INIT, path = KPIN_BUF_INIT;
	size_t max = o->max_size ? o->max_size : KPIN_MAX_SIZE_DEFAULT;
	const char *root = o->root ? o->root : KPIN_ROOT_DEFAULT;
	size_t i, j, c;
	bool any = false;
	int rc = 0;

	edit_set_release(set);
	for (i = 0; i < n && !rc; i++) {
		git_filemode_t mode;

		rc = repo_overlay_dir(&dir, root, t[i].app, t[i].env);
		if (!rc)
			rc = repo_find_kust_file(&path, &mode, repo, tree, dir.ptr);
		if (rc)
			break;
		free(t[i].file);
		t[i].file = xstrdup(path.ptr);
		for (j = 0; j < set->n; j++)
			if (!strcmp(set->f[j].path, path.ptr))
				break;
		if (j == set->n) {
			set->f = xreallocarray(set->f, set->n + 1,
					       sizeof(*set->f));
			memset(&set->f[j], 0, sizeof(set->f[j]));
			set->f[j].path = xstrdup(path.ptr);
			set->f[j].mode = mode;
			set->n++;
		}
		set->f[j].changes = xreallocarray(set->f[j].changes,
			set->f[j].nchanges + t[i].nchanges,
			sizeof(*set->f[j].changes));
		for (c = 0; c < t[i].nchanges; c++)
			set->f[j].changes[set->f[j].nchanges++] =
				t[i].changes[c];
		set->f[j].flags |= t[i].flags;
	}
	for (j = 0; j < set->n && !rc; j++) {
		struct file_edit *f = &set->f[j];
		struct kpin_kust *k = NULL;

		rc = repo_read_blob(&f->old, &f->old_id, repo, tree, f->path, max);
		if (!rc)
			rc = kpin_kust_open(&k, f->old.ptr, f->old.len, 0);
		/* record what each target's entries pinned before */
		for (i = 0; i < n && !rc; i++) {
			if (strcmp(t[i].file, f->path))
				continue;
			if (!t[i].old)
				t[i].old = xcalloc(t[i].nchanges + 1,
						   sizeof(*t[i].old));
			for (c = 0; c < t[i].nchanges; c++) {
				const struct kpin_image *img = NULL;

				kpin_pin_release(&t[i].old[c]);
				if (kpin_kust_find(&img, k, t[i].changes[c].image)
				    == KPIN_EAMBIGUOUS)
					rc = KPIN_EAMBIGUOUS;
				kpin_pin_of(&t[i].old[c], img);
			}
		}
		if (!rc) {
			rc = kpin_kust_edit(&f->new, k, f->changes, f->nchanges,
					    f->flags);
			if (rc == KPIN_EUNCHANGED)
				rc = 0;
			else if (!rc)
				any = true;
		}
		if (rc && kpin_error_last()->line)
			kpin_error_prefix("%s:%d:%d", f->path,
					  kpin_error_last()->line,
					  kpin_error_last()->col);
		else if (rc)
			kpin_error_prefix("%s", f->path);
		kpin_kust_free(k);
	}
	for (i = 0; i < n && !rc; i++) {
		t[i].changed = false;
		for (j = 0; j < set->n; j++)
			if (!strcmp(set->f[j].path, t[i].file))
				t[i].changed = set->f[j].new.len > 0;
	}
	kpin_buf_release(&dir);
	kpin_buf_release(&path);
	if (rc)
		return rc;
	return any ? 0 : KPIN_EUNCHANGED;
}

/* Write the edited blobs, the updated tree and the commit. */
static int write_commit(git_oid *out, git_tree **tree_out,
			struct kpin_repo *repo, git_commit *parent, git_tree *tree,
			struct edit_set *set, const char *message,
			const struct kpin_repo_opts *o)
{
	git_tree_update *up = xcalloc(set->n + 1, sizeof(*up));
	git_signature *sig = NULL;
	git_tree *newtree = NULL;
	git_oid tree_id;
	size_t i, nup = 0;
	int rc;

	for (i = 0; i < set->n; i++) {
		if (!set->f[i].new.len)
			continue;
		rc = git_blob_create_from_buffer(&up[nup].id, repo->git,
						 set->f[i].new.ptr,
						 set->f[i].new.len);
		if (rc) {
			rc = kpin_git_fail(rc, "cannot write a blob");
			goto out;
		}
		git_oid_cpy(&set->f[i].new_id, &up[nup].id);
		up[nup].action = GIT_TREE_UPDATE_UPSERT;
		up[nup].filemode = set->f[i].mode;
		up[nup].path = set->f[i].path;
		nup++;
	}
	rc = git_tree_create_updated(&tree_id, repo->git, tree, nup, up);
	if (!rc)
		rc = git_tree_lookup(&newtree, repo->git, &tree_id);
	if (rc) {
		rc = kpin_git_fail(rc, "cannot write the tree");
		goto out;
	}
	rc = git_signature_now(&sig, o->author_name, o->author_email);
	if (rc) {
		rc = kpin_git_fail(rc, "invalid identity '%s <%s>'", o->author_name,
			      o->author_email);
		goto out;
	}
	rc = kpin_sign_commit_create(out, repo->git, o->signer, sig, message,
				     newtree, parent);
	if (!rc) {
		*tree_out = newtree;
		newtree = NULL;
	}
out:
	git_signature_free(sig);
	git_tree_free(newtree);
	free(up);
	return rc;
}

static int make_diff(struct kpin_buf *out, const struct edit_set *set)
{
	struct kpin_buf a = KPIN_BUF_INIT, b = KPIN_BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < set->n; i++) {
		if (!set->f[i].new.len)
			continue;
		kpin_buf_reset(&a);
		kpin_buf_reset(&b);
		kpin_buf_addf(&a, "a/%s", set->f[i].path);
		kpin_buf_addf(&b, "b/%s", set->f[i].path);
		rc = kpin_diff_unified(out, set->f[i].old.ptr,
				       set->f[i].old.len, set->f[i].new.ptr,
				       set->f[i].new.len, a.ptr, b.ptr);
	}
	kpin_buf_release(&a);
	kpin_buf_release(&b);
	return rc;
}

/*
 * The commit to build on when pushing: the remote's tip @remote, when the
 * local tip @local is that commit or behind it. A local branch with
 * commits the remote lacks is refused: kpin would have to push them too.
 */
static int push_base(struct kpin_repo *repo, const git_oid *local,
		     const git_oid *remote, const char *branch,
		     const char *url)
{
	int rc;

	if (git_oid_equal(local, remote))
		return 0;
	rc = git_graph_descendant_of(repo->git, remote, local);
	if (rc == 1 || (rc < 0 && history_reachable(repo, remote, local)))
		return 0;
	return kpin_error_set(KPIN_EINVALID, "the local branch '%s' has "
			      "commits that %s does not (push or drop them "
			      "first); nothing changed", branch, url);
}

static void journal_release(struct kpin_journal *j)
{
	size_t i;

	if (j->owned)
		for (i = 0; i < j->npaths; i++)
			free((void *)j->paths[i]);
	free((void *)j->paths);
	memset(j, 0, sizeof(*j));
}

/*
 * The journal of an attempt (see journal.h): the branch, the tip it was
 * read at, and the files of the checkout that are to follow.
 */
static void journal_begin(struct kpin_journal *j, const char *ref,
			  const git_oid *tip, const struct edit_set *set)
{
	const char **paths;
	size_t i;

	journal_release(j);
	j->ref = ref;
	git_oid_cpy(&j->old, tip);
	paths = xcalloc(set->n + 1, sizeof(*paths));
	for (i = 0; i < set->n; i++)
		if (set->f[i].new.len)
			paths[j->npaths++] = set->f[i].path;
	j->paths = paths;
}

/*
 * A stale checkout follows over other commits too: every file that
 * differs between the local tip's tree and the new commit's.
 */
static int journal_stale_paths(struct kpin_journal *j, struct kpin_repo *repo,
			       git_tree *oldtree, const git_oid *commit)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_diff *diff = NULL;
	const char **paths;
	size_t i, n;
	int rc = repo_commit_and_tree(&c, &t, repo, commit);

	if (!rc && git_diff_tree_to_tree(&diff, repo->git, oldtree, t, NULL))
		rc = kpin_git_fail(-1, "cannot compare the checkout's commit with "
			      "%.12s", git_oid_tostr_s(commit));
	if (!rc) {
		n = git_diff_num_deltas(diff);
		paths = xcalloc(n + 1, sizeof(*paths));
		for (i = 0; i < n; i++)
			paths[i] = git_diff_get_delta(diff, i)->new_file.path;
		/* the strings belong to the diff: keep copies */
		for (i = 0; i < n; i++)
			paths[i] = xstrdup(paths[i]);
		free((void *)j->paths);	/* the edited files are among them */
		j->paths = paths;
		j->npaths = n;
		j->owned = true;
	}
	git_diff_free(diff);
	git_tree_free(t);
	git_commit_free(c);
	return rc;
}

/*
 * Did this attempt lose a race worth another try? A git lock held past
 * the wait (KPIN_ELOCKED) is not: git does not wait at all, and a lock
 * that outlived two seconds is a stuck process or a crash's leftover.
 */
static bool retryable(int rc)
{
	return rc == KPIN_EMODIFIED || rc == KPIN_EREJECTED ||
	       rc == KPIN_ENETWORK;
}

/* What one attempt came to. */
enum outcome {
	ATTEMPT_DONE,		/* committed (a dry run: built) */
	ATTEMPT_LOST_RACE,	/* someone else moved first: read again, retry */
	ATTEMPT_FAILED		/* no point in retrying: u->rc says why */
};

/* One update, as its steps share it. */
struct update {
	struct kpin_repo *repo;
	struct kpin_target *targets;
	size_t n;
	const struct kpin_repo_opts *o;
	struct kpin_repo_result *res;
	const char *ref;		/* the branch's full name */
	struct kpin_remote *remote;	/* with --push, else NULL */
	struct checkout co;		/* the branch's checkout, if any */
	struct kpin_journal j;
	struct edit_set set;
	struct kpin_buf override;	/* the order policy's note */
	git_commit *local, *base;	/* the local tip; what kpin builds on */
	git_tree *local_tree, *base_tree;
	git_oid tip;			/* the local tip as read */
	git_oid commit;			/* kpin's commit */
	git_tree *commit_tree;		/* its tree */
	bool push_unknown;		/* a push cut off may have landed */
	int attempt;
	int rc;				/* why an attempt failed */
};

static enum outcome outcome(struct update *u, int rc)
{
	u->rc = rc;
	if (!rc)
		return ATTEMPT_DONE;
	return retryable(rc) ? ATTEMPT_LOST_RACE : ATTEMPT_FAILED;
}

static void drop_tips(struct update *u)
{
	git_tree_free(u->local_tree);
	git_commit_free(u->local);
	git_tree_free(u->base_tree);
	git_commit_free(u->base);
	git_tree_free(u->commit_tree);
	u->local_tree = u->base_tree = u->commit_tree = NULL;
	u->local = u->base = NULL;
}

/* Read the local tip, for a new attempt. */
static int read_local(struct update *u)
{
	drop_tips(u);
	return repo_read_tip(&u->tip, &u->local, &u->local_tree, u->repo,
			     u->ref, false);
}

/* The commit to build on: @id. */
static int read_base(struct update *u, const git_oid *id)
{
	return repo_commit_and_tree(&u->base, &u->base_tree, u->repo, id);
}

/* Edit every target at the base; the message; for a dry run, the diff. */
static int build(struct update *u)
{
	struct kpin_repo_result *res = u->res;
	int rc = order_check(u->repo, git_commit_id(u->base), u->targets,
			     u->n, u->o, &u->override);

	if (!rc)
		rc = edit_at(&u->set, u->repo, u->base_tree, u->targets, u->n,
			     u->o);
	if (rc)
		return rc;
	git_oid_tostr(res->parent, sizeof(res->parent),
		      git_commit_id(u->base));
	kpin_buf_reset(&res->message);
	kpin_message_build(&res->message, u->targets, u->n, u->o->meta);
	kpin_buf_add(&res->message, u->override.ptr, u->override.len);
	return u->o->dry_run ? make_diff(&res->diff, &u->set) : 0;
}

/* Move the branch from @from to @to, only if it is still at @from. */
static int move_branch(struct update *u, const git_oid *to,
		       const git_oid *from, const char *why)
{
	struct kpin_buf reflog = KPIN_BUF_INIT;
	git_reference *moved = NULL;
	int rc;

	if (why)
		kpin_buf_adds(&reflog, why);
	else
		kpin_buf_addf(&reflog, "kpin: %.*s",
			      (int)strcspn(u->res->message.ptr, "\n"),
			      u->res->message.ptr);
	rc = git_reference_create_matching(&moved, u->repo->git, u->ref, to, 1,
					   from, reflog.ptr);
	git_reference_free(moved);
	kpin_buf_release(&reflog);
	return rc;
}

/* The CAS of the local branch lost: say so in kpin's terms. */
static int cas_lost(struct update *u, int rc)
{
	if (rc != GIT_EMODIFIED && rc != GIT_ELOCKED)
		return kpin_git_fail(rc, "cannot move '%s'", u->ref);
	return kpin_error_set(KPIN_EMODIFIED, "'%s' moved", u->ref + 11);
}

/*
 * Record the attempt in the journal and refuse a checkout with changes
 * to the edited files (@stale: the checkout is behind the commit built
 * on; checkout_full() checks it instead).
 */
static int check_checkout(struct update *u, bool stale)
{
	int rc;

	journal_begin(&u->j, u->ref, &u->tip, &u->set);
	if (!u->co.active)
		return 0;
	rc = kpin_journal_write(u->repo->git, &u->j);
	if (!rc && !stale)
		rc = checkout_check(&u->co, u->repo, &u->set);
	return rc;
}

/*
 * Write the commit, record where the branch is going, and stage the
 * checkout (files written, new index staged under index.lock).
 */
static int write_and_stage(struct update *u, bool stage)
{
	int rc = write_commit(&u->commit, &u->commit_tree, u->repo, u->base,
			      u->base_tree, &u->set, u->res->message.ptr, u->o);

	if (!rc) {
		git_oid_cpy(&u->j.new, &u->commit);
		rc = kpin_journal_write(u->repo->git, &u->j);
	}
	if (!rc && stage)
		rc = checkout_prepare(&u->co, &u->set, &u->res->notes);
	return rc;
}

/*
 * Files an attempt before published and then lost the branch with (they
 * may be in the checkout still) go where the tip this attempt read has
 * them, but for those it writes again (@keep, NULL for none): those it
 * overwrites where they are still kpin's. Never earlier, and never while
 * the attempt goes on: a git commit that reads HEAD and then the index
 * without its lock may have read kpin's version on the tip as it is, and
 * carry it there; a checkout taken back behind it would then revert that
 * commit with the next one.
 */
static void settle(struct update *u, const struct edit_set *keep)
{
	if (!u->o->dry_run)
		checkout_settle(&u->co, u->repo, u->local_tree, keep,
				&u->res->notes);
}

/*
 * An attempt without --push, in git's order for a fast-forward of a
 * checked-out branch: take index.lock, then read the tip, edit, check the
 * checkout, write the commit, the worktree files and the new index, put
 * the index in place (index.lock still held), move the branch by CAS,
 * and only then let go of index.lock. A git command that reads the new
 * tip reads the new index too, and none writes an index in between (git
 * takes index.lock first). When the CAS is lost (a commit made without
 * the lock), the checkout keeps kpin's version: the next attempt writes
 * the files again on the tip it reads, or takes them back when it has
 * nothing to write. The index never goes back to a version a commit
 * that read it may have replaced. No git command can commit the old index on
 * kpin's commit, which is how a promotion used to be reverted.
 */
static enum outcome attempt_local(struct update *u)
{
	int rc = u->o->dry_run ? 0 : checkout_lock(&u->co, u->repo);

	if (!rc)
		rc = read_local(u);
	if (rc)
		return outcome(u, rc);	/* what it holds stays for later */
	if (u->o->after_read)
		u->o->after_read(u->repo, u->attempt, u->o->hook_arg);
	if (u->co.fallback)
		settle(u, NULL);	/* libgit2 checks against the tip */
	rc = read_base(u, &u->tip);
	if (!rc)
		rc = build(u);
	if (rc || u->o->dry_run) {
		settle(u, NULL);
		return outcome(u, rc);
	}
	settle(u, &u->set);
	rc = check_checkout(u, false);
	if (!rc)
		rc = write_and_stage(u, true);
	if (!rc)
		rc = checkout_publish(&u->co, u->repo, u->local_tree,
				      u->commit_tree, &u->set);
	if (rc) {
		settle(u, NULL);
		return outcome(u, rc);
	}
	if (u->o->before_cas)
		u->o->before_cas(u->repo, u->attempt, u->o->hook_arg);
	rc = move_branch(u, &u->commit, &u->tip, NULL);
	if (!rc) {
		checkout_end(&u->co);
		checkout_forget(&u->co);
		u->res->synced = u->co.active;
		return ATTEMPT_DONE;
	}
	checkout_hold(&u->co, &u->set, u->commit_tree);
	return outcome(u, cas_lost(u, rc));
}

/*
 * An attempt with --push: fetch, build on the remote's tip, push. No
 * lock of git's is held over the network; a checkout with changes to the
 * files is refused before anything is pushed (checked under index.lock,
 * then released), and checked again when the local branch follows.
 */
static enum outcome attempt_push(struct update *u)
{
	git_oid remote_tip;
	int rc = read_local(u);

	if (!rc)
		rc = kpin_remote_fetch(u->remote, u->ref + 11, &remote_tip,
				       !u->o->dry_run);
	if (!rc)
		u->push_unknown = false;	/* what landed is seen */
	if (!rc)
		rc = push_base(u->repo, &u->tip, &remote_tip, u->ref + 11,
			       kpin_remote_url(u->remote));
	if (!rc)
		rc = read_base(u, &remote_tip);
	if (!rc)
		rc = build(u);
	if (rc || u->o->dry_run)
		return outcome(u, rc);
	if (git_oid_equal(&u->tip, &remote_tip) && u->co.active) {
		rc = checkout_lock(&u->co, u->repo);
		if (!rc)
			rc = checkout_check(&u->co, u->repo, &u->set);
		checkout_end(&u->co);
		if (rc)
			return outcome(u, rc);
	}
	rc = write_commit(&u->commit, &u->commit_tree, u->repo, u->base,
			  u->base_tree, &u->set, u->res->message.ptr, u->o);
	if (rc)
		return outcome(u, rc);
	if (u->o->before_cas)
		u->o->before_cas(u->repo, u->attempt, u->o->hook_arg);
	rc = kpin_remote_push(u->remote, &u->commit, u->ref + 11);
	if (rc)
		u->push_unknown = rc == KPIN_ENETWORK;
	return outcome(u, rc);
}

/*
 * Pushed, but the local branch cannot follow (@rc): it moved meanwhile,
 * its index stayed locked, or the checkout has changes to the files now.
 * It is left alone, with its checkout; the push stands. Other errors are
 * returned.
 */
static int left_alone(struct update *u, int rc)
{
	if (rc == KPIN_EINVALID)
		kpin_buf_addf(&u->res->notes, "warning: pushed, but the local "
			      "branch '%s' and its checkout were left alone, "
			      "behind the remote: %s\n", u->ref + 11,
			      kpin_error_last()->message);
	else if (rc == KPIN_EMODIFIED || rc == KPIN_ELOCKED)
		u->res->local_moved = true;
	else
		return rc;
	checkout_undo(&u->co);
	kpin_error_clear();
	return 1;
}

/*
 * Pushed: now bring the local branch and its checkout along, under
 * index.lock, from the tip the attempt read, the checkout first (as in
 * attempt_local()). A local branch that moved meanwhile (not a kpin:
 * kpin.lock is held) is left alone, with its checkout; the push stands.
 */
static int follow_push(struct update *u)
{
	bool stale = !git_oid_equal(&u->tip, git_commit_id(u->base));
	bool full = stale && u->co.active;
	git_commit *c = NULL;
	git_tree *tip = NULL;
	git_oid now;
	int rc = checkout_lock(&u->co, u->repo);

	if (!rc && (git_reference_name_to_id(&now, u->repo->git, u->ref) ||
		    !git_oid_equal(&now, &u->tip)))
		rc = KPIN_EMODIFIED;
	if (!rc)
		rc = check_checkout(u, stale);
	/* the checkout follows over the remote's commits too */
	if (!rc && full)
		rc = checkout_full(u->repo, u->local_tree, u->commit_tree,
				   true);
	if (!rc && full)
		rc = journal_stale_paths(&u->j, u->repo, u->local_tree,
					 &u->commit);
	if (!rc) {
		git_oid_cpy(&u->j.new, &u->commit);
		rc = kpin_journal_write(u->repo->git, &u->j);
	}
	if (!rc && !stale)
		rc = checkout_prepare(&u->co, &u->set, &u->res->notes);
	if (!rc && full) {
		checkout_end(&u->co);	/* libgit2 takes index.lock itself */
		rc = checkout_full(u->repo, u->local_tree, u->commit_tree,
				   false);
	} else if (!rc) {
		rc = checkout_publish(&u->co, u->repo, u->local_tree,
				      u->commit_tree, &u->set);
	}
	if (rc)
		return left_alone(u, rc);
	if (!move_branch(u, &u->commit, &u->tip, NULL)) {
		checkout_end(&u->co);
		u->res->synced = u->co.active;
		return 0;
	}
	if (full && checkout_full(u->repo, u->commit_tree, u->local_tree,
				  false))
		kpin_buf_addf(&u->res->notes, "could not put the checkout back "
			      "where '%s' was (%s): git status shows the "
			      "difference\n", u->ref + 11,
			      kpin_error_last()->message);
	else if (!full && !repo_read_tip(&now, &c, &tip, u->repo, u->ref,
					 false)) {
		checkout_hold(&u->co, &u->set, u->commit_tree);
		checkout_settle(&u->co, u->repo, tip, NULL, &u->res->notes);
	}
	git_tree_free(tip);
	git_commit_free(c);
	return left_alone(u, KPIN_EMODIFIED);
}

/* Attempt until done, failed, or out of retries, with backoff between. */
static int retry(struct update *u)
{
	const char *what;
	long started;

	for (u->attempt = 0; ; u->attempt++) {
		enum outcome how;

		u->res->attempts = u->attempt + 1;
		started = repo_now_ms();
		how = u->remote ? attempt_push(u) : attempt_local(u);
		if (how == ATTEMPT_DONE)
			return 0;
		/* never wait with git's lock held */
		checkout_end(&u->co);
		if (how == ATTEMPT_FAILED)
			return u->rc;
		if (u->attempt >= u->o->retries) {
			/* the checkout follows the branch it could not move */
			if (u->co.nheld && !checkout_lock(&u->co, u->repo) &&
			    !read_local(u))
				settle(u, NULL);
			checkout_end(&u->co);
			break;
		}
		repo_backoff(u->attempt, u->rc, repo_now_ms() - started);
	}
	what = !u->remote ? "nothing changed" : u->push_unknown ?
	       "and a push cut off by the network may have landed (fetch "
	       "to see)" : "nothing pushed";
	return repo_give_up(u->rc, u->attempt + 1, what);
}

int kpin_repo_update(struct kpin_repo *repo, struct kpin_target *targets,
		     size_t n, const struct kpin_repo_opts *o,
		     struct kpin_repo_result *res)
{
	struct kpin_buf ref = KPIN_BUF_INIT;
	struct update u;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&u, 0, sizeof(u));
	u.repo = repo;
	u.targets = targets;
	u.n = n;
	u.o = o;
	u.res = res;
	checkout_begin(&u.co, repo, "");
	rc = kpin_repo_branch_ref(&ref, repo, o->branch);
	if (rc)
		goto out;
	u.ref = ref.ptr;
	res->branch = xstrdup(ref.ptr);
	rc = worktree_check_branch(repo, ref.ptr);
	if (rc)
		goto out;
	if (!o->dry_run) {
		rc = kpin_lock_repo(&repo->lock_fd,
				    git_repository_path(repo->git),
				    LOCK_WAIT_MS);
		if (!rc)
			rc = kpin_journal_recover(repo->git, &res->notes);
		if (rc)
			goto out;
		checkout_begin(&u.co, repo, ref.ptr);
	}
	if (o->push_remote) {
		rc = kpin_remote_open(&u.remote, repo->git, o->push_remote,
				      o->token_env);
		if (rc)
			goto out;
		kpin_remote_set_timeout(u.remote, o->timeout);
		snprintf(res->remote_url, sizeof(res->remote_url), "%s",
			 kpin_remote_url(u.remote));
	}
	rc = retry(&u);
	if (!rc && !o->dry_run && u.remote)
		rc = follow_push(&u);
	if (rc == 1)
		rc = 0;		/* pushed; the local branch was left alone */
	if (!rc && !o->dry_run)
		git_oid_tostr(res->commit, sizeof(res->commit), &u.commit);
out:
	checkout_end(&u.co);
	checkout_left_held(&u.co, &res->notes);
	checkout_forget(&u.co);
	if (repo->lock_fd >= 0)
		kpin_journal_clear(repo->git);
	journal_release(&u.j);
	kpin_remote_free(u.remote);
	kpin_unlock_repo(&repo->lock_fd);
	edit_set_release(&u.set);
	drop_tips(&u);
	kpin_buf_release(&ref);
	kpin_buf_release(&u.override);
	return rc;
}
