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
static int write_commit(git_oid *out, struct kpin_repo *repo,
			git_commit *parent, git_tree *tree,
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

/* Did this attempt lose a race worth another try? */
static bool retryable(int rc)
{
	return rc == KPIN_EMODIFIED || rc == KPIN_ELOCKED ||
	       rc == KPIN_EREJECTED || rc == KPIN_ENETWORK;
}

int kpin_repo_update(struct kpin_repo *repo, struct kpin_target *targets,
		     size_t n, const struct kpin_repo_opts *o,
		     struct kpin_repo_result *res)
{
	struct kpin_buf ref = KPIN_BUF_INIT, reflog = KPIN_BUF_INIT;
	struct kpin_buf override = KPIN_BUF_INIT;
	struct edit_set set = { NULL, 0 };
	struct kpin_remote *remote = NULL;
	git_commit *local = NULL, *base = NULL;
	git_tree *local_tree = NULL, *base_tree = NULL;
	git_reference *moved = NULL;
	struct checkout co = { false, false, NULL };
	struct kpin_journal j;
	git_oid tip, remote_tip, commit;
	bool stale = false, push_unknown = false;
	long started;
	int rc, attempt;

	memset(res, 0, sizeof(*res));
	memset(&j, 0, sizeof(j));
	rc = kpin_repo_branch_ref(&ref, repo, o->branch);
	if (rc)
		goto out;
	res->branch = xstrdup(ref.ptr);
	if (!o->dry_run) {
		rc = kpin_lock_repo(&repo->lock_fd,
				    git_repository_path(repo->git), LOCK_WAIT_MS);
		if (!rc)
			rc = kpin_journal_recover(repo->git, &res->notes);
		if (rc)
			goto out;
		checkout_begin(&co, repo, ref.ptr);
	}
	if (o->push_remote) {
		rc = kpin_remote_open(&remote, repo->git, o->push_remote,
				      o->token_env);
		if (rc)
			goto out;
		kpin_remote_set_timeout(remote, o->timeout);
		snprintf(res->remote_url, sizeof(res->remote_url), "%s",
			 kpin_remote_url(remote));
	}
	for (attempt = 0; ; attempt++) {
		res->attempts = attempt + 1;
		started = repo_now_ms();
		git_tree_free(local_tree);
		git_commit_free(local);
		git_tree_free(base_tree);
		git_commit_free(base);
		local_tree = base_tree = NULL;
		local = base = NULL;
		rc = repo_read_tip(&tip, &local, &local_tree, repo, ref.ptr, false);
		if (rc)
			goto out;
		stale = false;
		if (remote) {
			/* build on what the remote has now */
			rc = kpin_remote_fetch(remote, ref.ptr + 11,
					       &remote_tip, !o->dry_run);
			if (!rc)
				push_unknown = false;	/* what landed is seen */
			if (!rc)
				rc = push_base(repo, &tip, &remote_tip,
					       ref.ptr + 11,
					       kpin_remote_url(remote));
			if (!rc)
				rc = repo_commit_and_tree(&base, &base_tree, repo,
						     &remote_tip);
			stale = !rc && !git_oid_equal(&tip, &remote_tip);
		} else {
			rc = repo_commit_and_tree(&base, &base_tree, repo, &tip);
		}
		if (!rc)
			rc = order_check(repo, git_commit_id(base), targets, n,
					 o, &override);
		if (!rc)
			rc = edit_at(&set, repo, base_tree, targets, n, o);
		if (rc)
			goto lost;
		git_oid_tostr(res->parent, sizeof(res->parent),
			      git_commit_id(base));
		kpin_buf_reset(&res->message);
		kpin_message_build(&res->message, targets, n, o->meta);
		kpin_buf_add(&res->message, override.ptr, override.len);
		if (o->dry_run) {
			rc = make_diff(&res->diff, &set);
			goto out;
		}
		journal_begin(&j, ref.ptr, &tip, &set);
		if (!stale && co.active) {
			rc = kpin_journal_write(repo->git, &j);
			if (!rc)
				rc = checkout_check(&co, repo, &set);
			if (rc)
				goto out;
		}
		rc = write_commit(&commit, repo, base, base_tree, &set,
				  res->message.ptr, o);
		if (rc)
			goto out;
		if (stale && co.active) {
			checkout_end(&co);
			co.fallback = true;
			rc = checkout_full(repo, local_tree, &commit, true);
			if (!rc)
				rc = journal_stale_paths(&j, repo, local_tree,
							 &commit);
			if (rc)
				goto out;
		}
		/* the next step moves the branch: record where to */
		git_oid_cpy(&j.new, &commit);
		rc = kpin_journal_write(repo->git, &j);
		if (rc)
			goto out;
		if (o->before_cas)
			o->before_cas(repo, attempt, o->hook_arg);
		if (remote) {
			rc = kpin_remote_push(remote, &commit, ref.ptr + 11);
			if (rc) {
				push_unknown = rc == KPIN_ENETWORK;
				goto lost;
			}
		}
		kpin_buf_reset(&reflog);
		kpin_buf_addf(&reflog, "kpin: %.*s",
			      (int)strcspn(res->message.ptr, "\n"),
			      res->message.ptr);
		rc = git_reference_create_matching(&moved, repo->git, ref.ptr,
						   &commit, 1, &tip,
						   reflog.ptr);
		git_reference_free(moved);
		moved = NULL;
		if (!rc)
			break;
		if (rc != GIT_EMODIFIED && rc != GIT_ELOCKED) {
			rc = kpin_git_fail(rc, "cannot move '%s'", ref.ptr);
			goto out;
		}
		if (remote) {
			/*
			 * Pushed: the job is done. Someone (not a kpin: we
			 * hold the lock) moved the local branch meanwhile;
			 * leave it and its checkout alone.
			 */
			res->local_moved = true;
			git_oid_tostr(res->commit, sizeof(res->commit),
				      &commit);
			rc = 0;
			goto out;
		}
		rc = kpin_error_set(KPIN_EMODIFIED, "'%s' moved", ref.ptr + 11);
lost:
		if (!retryable(rc))
			goto out;
		if (attempt >= o->retries) {
			rc = repo_give_up(rc, attempt + 1, !remote ?
				     "nothing changed" : push_unknown ?
				     "and a push cut off by the network may "
				     "have landed (fetch to see)" :
				     "nothing pushed");
			goto out;
		}
		repo_backoff(attempt, rc, repo_now_ms() - started);
	}
	if (co.active) {
		rc = stale ? checkout_full(repo, local_tree, &commit, false) :
		     checkout_follow(&co, repo, local_tree, &commit, &set,
				     &res->notes);
		if (rc) {
			/*
			 * The checkout could not follow (a file was changed or
			 * the index stayed locked): put the branch back where
			 * it was, unless someone has built on it already. A
			 * pushed commit stays pushed; the local branch is then
			 * simply behind the remote.
			 */
			int back = git_reference_create_matching(&moved,
				repo->git, ref.ptr, &tip, 1, &commit,
				"kpin: undo, the checkout could not follow");

			git_reference_free(moved);
			if (!back) {
				struct kpin_buf m = KPIN_BUF_INIT;

				kpin_buf_addf(&m, "%s; the local branch was put "
					      "back%s", kpin_error_last()->message,
					      remote ? " (the remote has the "
					      "commit)" : ", nothing changed");
				kpin_error_set(remote ? KPIN_ERROR :
					       KPIN_EMODIFIED, "%s", m.ptr);
				kpin_buf_release(&m);
			}
			rc = kpin_error_last()->code;
			goto out;
		}
		res->synced = true;
	}
	git_oid_tostr(res->commit, sizeof(res->commit), &commit);
out:
	checkout_end(&co);
	if (repo->lock_fd >= 0)
		kpin_journal_clear(repo->git);
	journal_release(&j);
	kpin_remote_free(remote);
	kpin_unlock_repo(&repo->lock_fd);
	edit_set_release(&set);
	git_tree_free(local_tree);
	git_commit_free(local);
	git_tree_free(base_tree);
	git_commit_free(base);
	kpin_buf_release(&ref);
	kpin_buf_release(&reflog);
	kpin_buf_release(&override);
	return rc;
}
