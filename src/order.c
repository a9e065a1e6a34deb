/*
 * "promotion: ordered" (.kpin.yaml): a digest reaches environment N only
 * after environment N-1 of the same app has held it.
 */
#define _GNU_SOURCE
#include <git2.h>
#include <stdio.h>
#include <string.h>

#include "kpin/error.h"
#include "kpin/policy.h"
#include "repo-internal.h"

/* ---- promotion order ------------------------------------------------- */

struct held_walk {
	const char *image;
	const char *digest;
	bool found;
};

static int find_held(git_commit *c, const struct overlay_version *now,
		     const struct overlay_version *before, void *arg)
{
	struct held_walk *h = arg;
	const struct kpin_pin *p = history_pin_in(now, h->image);

	(void)c;
	(void)before;
	if (p && p->digest && !strcmp(p->digest, h->digest)) {
		h->found = true;
		return 1;
	}
	return 0;
}

/*
 * The environment before @idx that @app has an overlay directory for at
 * @base, into @dir (its path): an app need not exist in every
 * environment of the policy (dev and prd only). -1 when there is none,
 * so the app's first environment takes any digest.
 */
static int previous_env(struct kpin_buf *dir, struct kpin_repo *repo,
			const git_oid *base, const struct kpin_policy *p,
			const char *root, const char *app, int idx)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	int j, found = -1;

	if (idx <= 0 || repo_commit_and_tree(&c, &tree, repo, base))
		return idx - 1;		/* as before: the one listed first */
	for (j = idx - 1; j >= 0 && found < 0; j--) {
		if (repo_overlay_dir(dir, root, app, p->envs[j]))
			break;
		if (!git_tree_entry_bypath(&e, tree, dir->ptr)) {
			if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
				found = j;
			git_tree_entry_free(e);
		}
	}
	kpin_error_clear();
	git_tree_free(tree);
	git_commit_free(c);
	return found;
}

/*
 * "promotion: ordered": every digest set in environment N must be held,
 * at @base or earlier on its first-parent line, by the same app's overlay
 * for environment N-1. With @o->force the request passes and
 * @override gets a Policy-Override trailer.
 */
int order_check(struct kpin_repo *repo, const git_oid *base,
		       const struct kpin_target *t, size_t n,
		       const struct kpin_repo_opts *o, struct kpin_buf *override)
{
	const struct kpin_policy *p = o->policy;
	struct kpin_buf dir = KPIN_BUF_INIT;
	size_t i, c;
	int rc = 0, idx;

	kpin_buf_reset(override);
	if (!p || !p->ordered)
		return 0;
	for (i = 0; i < n && !rc; i++) {
		idx = previous_env(&dir, repo, base, p, o->root ? o->root :
				   p->root, t[i].app,
				   kpin_policy_env_index(p, t[i].env)) + 1;
		if (idx <= 0)
			continue;
		rc = repo_overlay_dir(&dir, o->root ? o->root : p->root, t[i].app,
				 p->envs[idx - 1]);
		for (c = 0; c < t[i].nchanges && !rc; c++) {
			struct held_walk h = { t[i].changes[c].image,
					       t[i].changes[c].digest, false };

			if (!h.digest)
				continue;
			rc = history_walk_versions(repo, base, dir.ptr, find_held, &h);
			if (rc || h.found)
				continue;
			if (o->force) {
				kpin_buf_addf(override, "Policy-Override: %s "
					      "<%s> forced %s@%.19s into %s "
					      "without %s", o->author_name,
					      o->author_email, h.image, h.digest,
					      t[i].env, p->envs[idx - 1]);
				if (o->meta && o->meta->reason)
					kpin_buf_addf(override, "; reason: %s",
						      o->meta->reason);
				kpin_buf_addch(override, '\n');
				continue;
			}
			rc = kpin_error_set(KPIN_EPOLICY, "image '%s' digest "
					    "%.19s has not passed through %s: "
					    "%s/%s never held it (promotion: "
					    "ordered); promote it there first, "
					    "or pass --force", h.image, h.digest,
					    p->envs[idx - 1], t[i].app,
					    p->envs[idx - 1]);
		}
	}
	kpin_buf_release(&dir);
	return rc;
}
