/*
 * The repository engine: opening a repository, naming its branches and
 * reading overlays from a branch tip's tree (never the worktree), and
 * the backoff shared by every retry loop. An update is update.c; a
 * checkout that follows the branch, worktree.c; the history walk,
 * history.c; the promotion order, order.c. src/repo-internal.h is what
 * they share.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <git2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kpin/error.h"
#include "kpin/grammar.h"
#include "kpin/kust.h"
#include "kpin/xalloc.h"
#include "remote.h"
#include "repo-internal.h"


/* Convert a libgit2 failure into a kpin error; returns the kpin code. */
int kpin_git_fail(int rc, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char what[512];
	va_list ap;
	int code;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	switch (rc) {
	case GIT_ENOTFOUND:
	case GIT_EUNBORNBRANCH:
		code = KPIN_ENOTFOUND;
		break;
	case GIT_EMODIFIED:
		code = KPIN_EMODIFIED;
		break;
	case GIT_ELOCKED:
		code = KPIN_ELOCKED;
		break;
	case GIT_EINVALIDSPEC:
		code = KPIN_EINVALID;
		break;
	default:
		code = KPIN_ERROR;
	}
	return kpin_error_set(code, "%s: %s", what,
			      e && e->message ? e->message : "libgit2 error");
}

/*
 * libgit2 1.5 refuses a repository with an extension it does not know,
 * naming only the extension: say what it is, in git's terms, and that
 * kpin cannot work there (exit 3, nothing changed). 0 when neither
 * applies.
 */
static int unsupported_extension(const char *path)
{
	git_buf gitdir = GIT_BUF_INIT, val = GIT_BUF_INIT;
	struct kpin_buf cfg = KPIN_BUF_INIT;
	git_config *c = NULL;
	int rc = 0, on = 0;

	if (git_repository_discover(&gitdir, path, 0, NULL))
		return 0;
	kpin_buf_addf(&cfg, "%sconfig", gitdir.ptr);
	if (git_config_open_ondisk(&c, cfg.ptr))
		goto out;
	if (!git_config_get_string_buf(&val, c, "extensions.objectformat") &&
	    strcmp(val.ptr, "sha1"))
		rc = kpin_error_set(KPIN_EINVALID, "the repository at '%s' "
				    "uses the %s object format "
				    "(extensions.objectFormat), which kpin "
				    "cannot read: libgit2 1.5 knows only sha1; "
				    "nothing changed", path, val.ptr);
	else if (!git_config_get_bool(&on, c, "extensions.worktreeconfig") &&
		 on)
		rc = kpin_error_set(KPIN_EINVALID, "the repository at '%s' "
				    "uses extensions.worktreeConfig "
				    "(per-worktree configuration, as git "
				    "sparse-checkout sets), which libgit2 1.5 "
				    "cannot read; nothing changed", path);
out:
	git_error_clear();
	git_config_free(c);
	git_buf_dispose(&val);
	git_buf_dispose(&gitdir);
	kpin_buf_release(&cfg);
	return rc;
}

int kpin_repo_open(struct kpin_repo **out, const char *path)
{
	struct kpin_repo *repo;
	git_repository *git = NULL;
	int rc;

	*out = NULL;
	rc = kpin_git_load();
	if (rc)
		return rc;
	git_libgit2_init();
	rc = git_repository_open_ext(&git, path, 0, NULL);
	if (rc) {
		int code = unsupported_extension(path);

		if (!code)
			code = rc == GIT_ENOTFOUND ?
			kpin_error_set(KPIN_ENOTFOUND, "not a git repository: "
				       "'%s' (or any parent)", path) :
			rc == GIT_EOWNER ?
			kpin_git_fail(rc, "cannot open the repository (add it to "
				 "safe.directory: git config --global --add "
				 "safe.directory DIR)") :
			kpin_git_fail(rc, "cannot open the repository at '%s'",
				 path);
		git_libgit2_shutdown();
		return code;
	}
	repo = xcalloc(1, sizeof(*repo));
	repo->git = git;
	repo->bare = git_repository_is_bare(git);
	repo->lock_fd = -1;
	*out = repo;
	return 0;
}

void kpin_repo_free(struct kpin_repo *repo)
{
	if (!repo)
		return;
	if (repo->lock_fd >= 0)
		close(repo->lock_fd);
	free(repo->view_ref);
	git_repository_free(repo->git);
	free(repo);
	git_libgit2_shutdown();
}

bool kpin_repo_is_bare(const struct kpin_repo *repo)
{
	return repo->bare;
}

struct git_repository *kpin_repo_git(struct kpin_repo *repo)
{
	return repo->git;
}

int kpin_repo_parse_ident(struct kpin_buf *name, struct kpin_buf *email,
			  const char *ident)
{
	const char *lt = strchr(ident, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	size_t nlen;

	if (!lt || !gt || gt[1] || gt == lt + 1 || strchr(lt + 1, '<'))
		return kpin_error_set(KPIN_EINVALID, "invalid identity '%s': "
				      "expected \"Name <email>\"", ident);
	nlen = (size_t)(lt - ident);
	while (nlen && ident[nlen - 1] == ' ')
		nlen--;
	if (!nlen)
		return kpin_error_set(KPIN_EINVALID, "invalid identity '%s': "
				      "the name is empty", ident);
	kpin_buf_reset(name);
	kpin_buf_reset(email);
	kpin_buf_add(name, ident, nlen);
	kpin_buf_add(email, lt + 1, (size_t)(gt - lt - 1));
	return 0;
}

int kpin_repo_default_identity(struct kpin_buf *name, struct kpin_buf *email,
			       struct kpin_repo *repo, const char *actor,
			       const char *actor_id)
{
	git_signature *sig = NULL;

	kpin_buf_reset(name);
	kpin_buf_reset(email);
	if (git_signature_default(&sig, repo->git) == 0) {
		kpin_buf_adds(name, sig->name);
		kpin_buf_adds(email, sig->email);
		git_signature_free(sig);
		return 0;
	}
	if (actor && *actor && !strpbrk(actor, "<>\n")) {
		kpin_buf_adds(name, actor);
		if (actor_id && *actor_id &&
		    strspn(actor_id, "0123456789") == strlen(actor_id))
			kpin_buf_addf(email, "%s+", actor_id);
		kpin_buf_addf(email, "%s@users.noreply.github.com", actor);
		return 0;
	}
	return kpin_error_set(KPIN_ENOTFOUND, "no committer identity: pass "
			      "--author \"Name <email>\", set git config "
			      "user.name and user.email, or set GITHUB_ACTOR");
}

int kpin_repo_branch_ref(struct kpin_buf *out, struct kpin_repo *repo,
			 const char *branch)
{
	git_reference *head = NULL;
	const char *target;
	int rc;

	kpin_buf_reset(out);
	if (branch) {
		/* "refs/heads/main" means the branch main, as in git */
		if (!strncmp(branch, "refs/heads/", 11))
			branch += 11;
		kpin_buf_addf(out, "refs/heads/%s", branch);
		if (!git_reference_is_valid_name(out->ptr))
			return kpin_error_set(KPIN_EINVALID, "invalid branch "
					      "name '%s'", branch);
		return 0;
	}
	rc = git_reference_lookup(&head, repo->git, "HEAD");
	if (rc)
		return kpin_git_fail(rc, "cannot read HEAD");
	if (git_reference_type(head) != GIT_REFERENCE_SYMBOLIC) {
		git_reference_free(head);
		return kpin_error_set(KPIN_EINVALID, "HEAD is detached: pass "
				      "--branch");
	}
	target = git_reference_symbolic_target(head);
	if (strncmp(target, "refs/heads/", 11)) {
		rc = kpin_error_set(KPIN_EINVALID, "HEAD points at '%s', not a "
				    "branch: pass --branch", target);
		git_reference_free(head);
		return rc;
	}
	kpin_buf_adds(out, target);
	git_reference_free(head);
	return 0;
}

/* The commit and tree at the tip of @refname. */
/* The commit that readers see for @refname: its tip, or the fetched view. */
int repo_view_tip(git_oid *tip, struct kpin_repo *repo, const char *refname)
{
	if (repo->view_ref && !strcmp(repo->view_ref, refname)) {
		git_oid_cpy(tip, &repo->view_tip);
		return 0;
	}
	return git_reference_name_to_id(tip, repo->git, refname);
}

/*
 * Read branch @refname's tip, its commit and tree; with @view, what
 * kpin_repo_fetch_view() made readers see instead.
 */
int repo_read_tip(git_oid *tip, git_commit **commit, git_tree **tree,
		    struct kpin_repo *repo, const char *refname, bool view)
{
	int rc = view ? repo_view_tip(tip, repo, refname) :
		 git_reference_name_to_id(tip, repo->git, refname);

	if (rc == GIT_ENOTFOUND)
		return kpin_error_set(KPIN_ENOTFOUND, "branch '%s' does not "
				      "exist (or has no commits)",
				      refname + 11);
	if (rc)
		return kpin_git_fail(rc, "cannot read '%s'", refname);
	rc = git_commit_lookup(commit, repo->git, tip);
	if (!rc)
		rc = git_commit_tree(tree, *commit);
	if (rc) {
		git_commit_free(*commit);
		*commit = NULL;
		return kpin_git_fail(rc, "cannot read the tip of '%s'", refname);
	}
	return 0;
}

/*
 * KPIN_ENOTFOUND for the first @len bytes of @dir, missing from tree
 * @parent (the first @plen bytes of @dir): the message lists the directories @parent has (the apps, or
 * an app's environments), so a typo shows at once.
 */
static int dir_not_found(git_tree *parent, const char *dir, size_t len,
			 size_t plen)
{
	struct kpin_buf list = KPIN_BUF_INIT;
	size_t i, n = git_tree_entrycount(parent), shown = 0;
	int rc;

	for (i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(parent, i);

		if (git_tree_entry_filemode(e) != GIT_FILEMODE_TREE)
			continue;
		if (shown++ == 20) {
			kpin_buf_adds(&list, ", ...");
			break;
		}
		kpin_buf_addf(&list, "%s'%s'", shown > 1 ? ", " : "",
			      git_tree_entry_name(e));
	}
	if (shown && plen)
		rc = kpin_error_set(KPIN_ENOTFOUND, "no directory '%.*s' at the "
				    "branch tip ('%.*s' has %s)", (int)len, dir,
				    (int)plen, dir, list.ptr);
	else if (shown)
		rc = kpin_error_set(KPIN_ENOTFOUND, "no directory '%.*s' at the "
				    "branch tip (the top has %s)", (int)len,
				    dir, list.ptr);
	else
		rc = kpin_error_set(KPIN_ENOTFOUND, "no directory '%.*s' at the "
				    "branch tip", (int)len, dir);
	kpin_buf_release(&list);
	return rc;
}

/*
 * Walk @dir down from @root, requiring a real tree at every step: a
 * symlink or submodule on the way is refused, a missing part is
 * KPIN_ENOTFOUND.
 */
static int walk_dir(git_tree **out, struct kpin_repo *repo, git_tree *root,
		    const char *dir)
{
	git_tree *cur = NULL, *next;
	const char *p = dir;
	int rc;

	rc = git_tree_dup(&cur, root);
	if (rc)
		return kpin_git_fail(rc, "cannot read tree");
	while (*p) {
		size_t len = strcspn(p, "/");
		char *part = xstrndup(p, len);
		const git_tree_entry *e = git_tree_entry_byname(cur, part);
		int mode = e ? (int)git_tree_entry_filemode(e) : 0;

		free(part);
		if (!e) {
			rc = dir_not_found(cur, dir, (size_t)(p - dir) + len,
					   p > dir ? (size_t)(p - dir) - 1 : 0);
			goto fail;
		}
		if (mode != GIT_FILEMODE_TREE) {
			rc = kpin_error_set(KPIN_EINVALID, "'%.*s' is %s in the "
					    "branch, not a directory; refusing",
					    (int)(p - dir + len), dir,
					    mode == GIT_FILEMODE_LINK ?
					    "a symlink" :
					    mode == GIT_FILEMODE_COMMIT ?
					    "a submodule" : "a file");
			goto fail;
		}
		rc = git_tree_lookup(&next, repo->git, git_tree_entry_id(e));
		if (rc) {
			rc = kpin_git_fail(rc, "cannot read tree '%s'", dir);
			goto fail;
		}
		git_tree_free(cur);
		cur = next;
		p += len;
		if (*p == '/')
			p++;
	}
	*out = cur;
	return 0;
fail:
	git_tree_free(cur);
	return rc;
}

/*
 * The kustomization file in directory @dir of @root: exactly one of the
 * three names kustomize accepts, and a regular file.
 */
int repo_find_kust_file(struct kpin_buf *out, git_filemode_t *mode,
			  struct kpin_repo *repo, git_tree *root,
			  const char *dir)
{
	git_tree *t = NULL;
	const git_tree_entry *found = NULL;
	const char *names[3];
	size_t i, n = 0;
	int rc;

	rc = walk_dir(&t, repo, root, dir);
	if (rc)
		return rc;
	for (i = 0; i < 3; i++) {
		const git_tree_entry *e = git_tree_entry_byname(t, repo_kust_names[i]);

		if (e) {
			names[n++] = repo_kust_names[i];
			found = found ? found : e;
		}
	}
	if (n > 1) {
		rc = kpin_error_set(KPIN_EINVALID, "more than one kustomization "
				    "file in '%s' (%s and %s); kustomize refuses "
				    "that too", dir, names[0], names[1]);
		goto out;
	}
	if (!n) {
		rc = kpin_error_set(KPIN_ENOTFOUND, "no kustomization file in "
				    "'%s' at the branch tip", dir);
		goto out;
	}
	*mode = git_tree_entry_filemode(found);
	if (*mode != GIT_FILEMODE_BLOB && *mode != GIT_FILEMODE_BLOB_EXECUTABLE) {
		rc = kpin_error_set(KPIN_EINVALID, "'%s/%s' is %s, not a regular "
				    "file; refusing", dir,
				    git_tree_entry_name(found),
				    *mode == GIT_FILEMODE_LINK ? "a symlink" :
				    "not a file");
		goto out;
	}
	kpin_buf_reset(out);
	kpin_buf_addf(out, "%s/%s", dir, git_tree_entry_name(found));
	rc = 0;
out:
	git_tree_free(t);
	return rc;
}

/* "<root>/<app>/overlays/<env>", after validating each piece. */
int repo_overlay_dir(struct kpin_buf *out, const char *root,
		       const char *app, const char *env)
{
	int rc;

	rc = kpin_grammar_check_path("root", root);
	if (!rc && (!app || !*app))
		rc = kpin_error_set(KPIN_EINVALID, "no directory name (app) "
				    "given");
	if (!rc && (!env || !*env))
		rc = kpin_error_set(KPIN_EINVALID, "no environment given");
	if (!rc)
		rc = kpin_grammar_check(KPIN_GRAMMAR_SEGMENT, "directory name",
					app);
	if (!rc)
		rc = kpin_grammar_check(KPIN_GRAMMAR_SEGMENT, "environment",
					env);
	if (rc)
		return rc;
	kpin_buf_reset(out);
	kpin_buf_addf(out, "%s/%s/overlays/%s", root, app, env);
	return 0;
}

int kpin_repo_overlay_path(struct kpin_buf *out, struct kpin_repo *repo,
			   const char *branch, const char *root,
			   const char *app, const char *env)
{
	struct kpin_buf ref = KPIN_BUF_INIT, dir = KPIN_BUF_INIT;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_filemode_t mode;
	git_oid tip;
	int rc;

	rc = repo_overlay_dir(&dir, root ? root : KPIN_ROOT_DEFAULT, app, env);
	if (!rc)
		rc = kpin_repo_branch_ref(&ref, repo, branch);
	if (!rc)
		rc = repo_read_tip(&tip, &commit, &tree, repo, ref.ptr, true);
	if (!rc)
		rc = repo_find_kust_file(out, &mode, repo, tree, dir.ptr);
	git_tree_free(tree);
	git_commit_free(commit);
	kpin_buf_release(&ref);
	kpin_buf_release(&dir);
	return rc;
}

/* Read blob @path of @tree into @out, with a size cap; @id may be NULL. */
int repo_read_blob(struct kpin_buf *out, git_oid *id, struct kpin_repo *repo,
		     git_tree *tree, const char *path, size_t max)
{
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	git_filemode_t mode;
	int rc;

	rc = git_tree_entry_bypath(&e, tree, path);
	if (rc == GIT_ENOTFOUND)
		return kpin_error_set(KPIN_ENOTFOUND, "no file '%s' at the "
				      "branch tip", path);
	if (rc)
		return kpin_git_fail(rc, "cannot read '%s'", path);
	mode = git_tree_entry_filemode(e);
	if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) {
		git_tree_entry_free(e);
		return kpin_error_set(KPIN_EINVALID, "'%s' is not a regular "
				      "file in the branch; refusing", path);
	}
	if (id)
		git_oid_cpy(id, git_tree_entry_id(e));
	rc = git_blob_lookup(&blob, repo->git, git_tree_entry_id(e));
	git_tree_entry_free(e);
	if (rc)
		return kpin_git_fail(rc, "cannot read '%s'", path);
	if (git_blob_rawsize(blob) > max) {
		rc = kpin_error_set(KPIN_EINVALID, "'%s' is %llu bytes, over "
				    "the limit of %zu", path,
				    (unsigned long long)git_blob_rawsize(blob),
				    max);
	} else {
		kpin_buf_reset(out);
		kpin_buf_add(out, git_blob_rawcontent(blob),
			     (size_t)git_blob_rawsize(blob));
	}
	git_blob_free(blob);
	return rc;
}

int kpin_repo_read_file(struct kpin_buf *out, struct kpin_repo *repo,
			const char *branch, const char *path, size_t max)
{
	struct kpin_buf ref = KPIN_BUF_INIT;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_oid tip;
	int rc;

	rc = kpin_repo_branch_ref(&ref, repo, branch);
	if (!rc)
		rc = repo_read_tip(&tip, &commit, &tree, repo, ref.ptr, true);
	if (!rc)
		rc = repo_read_blob(out, NULL, repo, tree, path, max);
	git_tree_free(tree);
	git_commit_free(commit);
	kpin_buf_release(&ref);
	return rc;
}

int kpin_repo_fetch_view(struct kpin_repo *repo, const char *branch,
			 const char *remote, const char *token_env, bool track,
			 int retries, int timeout)
{
	struct kpin_buf ref = KPIN_BUF_INIT;
	struct kpin_remote *r = NULL;
	git_oid tip;
	int rc = kpin_repo_branch_ref(&ref, repo, branch), attempt;

	if (!rc)
		rc = kpin_remote_open(&r, repo->git, remote, token_env);
	if (!rc)
		kpin_remote_set_timeout(r, timeout);
	for (attempt = 0; !rc; attempt++) {
		long started = repo_now_ms();

		rc = kpin_remote_fetch(r, ref.ptr + 11, &tip, track);
		if (rc != KPIN_ENETWORK)
			break;
		if (attempt >= retries) {
			rc = repo_give_up(rc, attempt + 1, "nothing pushed");
			break;
		}
		repo_backoff(attempt, rc, repo_now_ms() - started);
		rc = 0;
	}
	if (!rc) {
		free(repo->view_ref);
		repo->view_ref = kpin_buf_detach(&ref, NULL);
		git_oid_cpy(&repo->view_tip, &tip);
	}
	kpin_remote_free(r);
	kpin_buf_release(&ref);
	return rc;
}

/* ---- locking and the CAS loop ---------------------------------------- */

void repo_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The error after the last attempt: what went wrong, and the outcome. */
int repo_give_up(int rc, int attempts, const char *outcome)
{
	struct kpin_buf m = KPIN_BUF_INIT;

	kpin_buf_addf(&m, "%s; gave up after %d attempt%s, %s",
		      kpin_error_last()->message, attempts,
		      attempts > 1 ? "s" : "", outcome);
	rc = kpin_error_set(rc == KPIN_ENETWORK ? KPIN_ENETWORK :
			    KPIN_EMODIFIED, "%s", m.ptr);
	kpin_buf_release(&m);
	return rc;
}

long repo_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Backoff after a lost race or a network error: a random wait ("full
 * jitter") up to a window that starts at the length of the attempt just
 * lost (at least 10 ms; 100 ms after a network error, a server needs
 * longer to come back) and doubles each time, at most 4 s. Scaling by
 * the attempt's length spreads the losers over the time one winner
 * needs: with fixed 10 ms steps, eight pushers whose attempts took a
 * second each kept colliding until their retries ran out.
 */
void repo_backoff(int attempt, int why, long took_ms)
{
	static bool seeded;
	long base = why == KPIN_ENETWORK ? 100 : 10;

	if (!seeded) {
		/* processes racing each other must not wait in step */
		srandom((unsigned)getpid() ^ (unsigned)repo_now_ms());
		seeded = true;
	}
	if (took_ms > base)
		base = took_ms;
	base <<= attempt < 8 ? attempt : 8;
	if (base > 4000)
		base = 4000;
	repo_sleep_ms(base / 4 + (long)(random() % (base + 1)));
}

/* Look up a commit and its tree. */
int repo_commit_and_tree(git_commit **c, git_tree **t, struct kpin_repo *repo,
			   const git_oid *id)
{
	int rc = git_commit_lookup(c, repo->git, id);

	if (!rc)
		rc = git_commit_tree(t, *c);
	if (rc) {
		git_commit_free(*c);
		*c = NULL;
		return kpin_git_fail(rc, "cannot read commit %.12s",
				git_oid_tostr_s(id));
	}
	return 0;
}
