/*
 * The board behind "kpin status": every overlay of every application at
 * a branch tip, the commit that set each image's pin, and the drift
 * between adjacent environments of the policy.
 *
 * The history of all overlays comes from ONE first-parent walk. Each
 * step compares a commit's tree with the newer commit's, level by level:
 * the root directory's tree id, then each application's (a merge-join of
 * two sorted tree listings), its overlays/ tree, each environment's tree
 * and the kustomization blob; only where an id differs does it read
 * further. Each blob is parsed once (a cache keyed by blob id).
 */
#define _GNU_SOURCE
#include <git2.h>
#include <stdlib.h>
#include <string.h>

#include "kpin/error.h"
#include "kpin/status.h"
#include "kpin/xalloc.h"
#include "repo-internal.h"

static const char *const drift_names[] = {
	[KPIN_DRIFT_FIRST] = "first",
	[KPIN_DRIFT_SYNC] = "in-sync",
	[KPIN_DRIFT_BEHIND] = "behind",
	[KPIN_DRIFT_UNPROMOTED] = "unpromoted",
	[KPIN_DRIFT_TAG_ONLY] = "tag-only",
	[KPIN_DRIFT_MISMATCH] = "mismatch",
	[KPIN_DRIFT_MISSING] = "missing",
};

const char *kpin_drift_name(enum kpin_drift d)
{
	return drift_names[d];
}

bool kpin_drift_anomaly(enum kpin_drift d)
{
	return d >= KPIN_DRIFT_UNPROMOTED;
}

/* ---- parsed overlay versions, once per blob ---------------------------- */

struct vcache {
	struct overlay_version **v;	/* open addressing on the blob id */
	size_t cap, n;
};

static size_t vcache_slot(const struct vcache *c, const git_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));
	for (h &= c->cap - 1; c->v[h] && !git_oid_equal(&c->v[h]->blob, id);
	     h = (h + 1) & (c->cap - 1))
		;
	return h;
}

static const struct overlay_version *vcache_get(struct vcache *c,
						struct kpin_repo *repo,
						const git_oid *id)
{
	size_t i;

	if (2 * (c->n + 1) > c->cap) {
		struct vcache big = { NULL, c->cap ? 2 * c->cap : 256, c->n };

		big.v = xcalloc(big.cap, sizeof(*big.v));
		for (i = 0; i < c->cap; i++)
			if (c->v[i])
				big.v[vcache_slot(&big, &c->v[i]->blob)] =
					c->v[i];
		free(c->v);
		*c = big;
	}
	i = vcache_slot(c, id);
	if (!c->v[i]) {
		c->v[i] = xcalloc(1, sizeof(**c->v));
		history_read_version(c->v[i], repo, id);
		c->n++;
	}
	return c->v[i];
}

static void vcache_release(struct vcache *c)
{
	size_t i;

	for (i = 0; i < c->cap; i++)
		if (c->v[i]) {
			history_version_release(c->v[i]);
			free(c->v[i]);
		}
	free(c->v);
}

/* ---- the walk's state ------------------------------------------------- */

/* An image's pin changed at a commit. */
struct event {
	git_oid commit;
	long long time;
	char *digest;
	char *tag;
};

struct image_events {
	char *image;
	struct event *v;	/* newest first */
	size_t n;
};

/* One overlay (app, env): what the newer commit of the walk had. */
struct overlay {
	bool has_env_tree;
	git_oid env_tree;
	bool has;			/* a single kustomization file */
	git_oid blob;
	const struct overlay_version *ver;
	const struct overlay_version *tip;	/* at the tip, or NULL */
	char *file;			/* its path at the tip */
	struct image_events *imgs;
	size_t nimgs;
};

struct app {
	char *name;
	bool has_tree;
	git_oid tree;
	bool has_overlays;
	git_oid overlays;
	struct overlay *ov;	/* one per environment of the policy */
};

struct board {
	struct kpin_repo *repo;
	const struct kpin_policy *policy;
	const char *root;
	char **parts;		/* the root's path components */
	size_t nparts;
	git_oid level[32];	/* tree ids down to the root, newer commit */
	size_t known;		/* valid levels of level[] */
	struct app *apps;	/* in the root tree's order */
	size_t napps;
	struct vcache cache;
	struct overlay_version none;
	git_commit *newer;	/* where a difference is recorded */
	bool truncated;		/* a parent was missing */
};

static void add_event(struct overlay *ov, const char *image,
		      const struct kpin_pin *pin, git_commit *c)
{
	struct image_events *ie = NULL;
	struct event *e;
	size_t i;

	for (i = 0; i < ov->nimgs; i++)
		if (!strcmp(ov->imgs[i].image, image))
			ie = &ov->imgs[i];
	if (!ie) {
		ov->imgs = xreallocarray(ov->imgs, ov->nimgs + 1,
					 sizeof(*ov->imgs));
		ie = &ov->imgs[ov->nimgs++];
		memset(ie, 0, sizeof(*ie));
		ie->image = xstrdup(image);
	}
	ie->v = xreallocarray(ie->v, ie->n + 1, sizeof(*ie->v));
	e = &ie->v[ie->n++];
	git_oid_cpy(&e->commit, git_commit_id(c));
	e->time = (long long)git_commit_time(c);
	e->digest = pin->digest ? xstrdup(pin->digest) : NULL;
	e->tag = pin->tag ? xstrdup(pin->tag) : NULL;
}

/*
 * The overlay's blob is @blob (NULL: none) at the commit being read;
 * when that differs from the newer commit's, the newer commit changed
 * the images whose pins differ.
 */
static void overlay_becomes(struct board *b, struct overlay *ov,
			    const git_oid *blob)
{
	const struct overlay_version *v;
	size_t i;

	if (blob ? ov->has && git_oid_equal(&ov->blob, blob) : !ov->has)
		return;
	v = blob ? vcache_get(&b->cache, b->repo, blob) : &b->none;
	if (b->newer && ov->ver)
		for (i = 0; i < ov->ver->n; i++)
			if (!history_same_pin(&ov->ver->pins[i],
					      history_pin_in(v,
						ov->ver->names[i])))
				add_event(ov, ov->ver->names[i],
					  &ov->ver->pins[i], b->newer);
	ov->ver = v;
	ov->has = blob != NULL;
	if (blob)
		git_oid_cpy(&ov->blob, blob);
}

/* A subtree's id by name, when it is a tree. */
static bool subtree(git_oid *out, git_tree *t, const char *name)
{
	const git_tree_entry *e = t ? git_tree_entry_byname(t, name) : NULL;

	if (!e || git_tree_entry_filemode(e) != GIT_FILEMODE_TREE)
		return false;
	git_oid_cpy(out, git_tree_entry_id(e));
	return true;
}

/* The single kustomization file's blob in @t, as kustomize finds it. */
static bool kust_blob(git_oid *out, const char **name, git_tree *t)
{
	size_t i, found = 0;

	for (i = 0; i < 3; i++) {
		const git_tree_entry *e = git_tree_entry_byname(t,
							repo_kust_names[i]);

		if (e && (git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB ||
			  git_tree_entry_filemode(e) ==
			  GIT_FILEMODE_BLOB_EXECUTABLE)) {
			git_oid_cpy(out, git_tree_entry_id(e));
			*name = repo_kust_names[i];
			found++;
		}
	}
	return found == 1;
}

static git_tree *lookup_tree(struct board *b, const git_oid *id)
{
	git_tree *t = NULL;

	if (git_tree_lookup(&t, b->repo->git, id))
		git_error_clear();
	return t;
}

/* The environment directory of @ov is @id (NULL: none) at this commit. */
static void env_becomes(struct board *b, struct app *a, size_t e,
			const git_oid *id)
{
	struct overlay *ov = &a->ov[e];
	git_tree *t;
	git_oid blob;
	const char *name = NULL;
	bool has = false;

	if (id ? ov->has_env_tree && git_oid_equal(&ov->env_tree, id) :
	    !ov->has_env_tree)
		return;
	ov->has_env_tree = id != NULL;
	if (id)
		git_oid_cpy(&ov->env_tree, id);
	t = id ? lookup_tree(b, id) : NULL;
	if (t)
		has = kust_blob(&blob, &name, t);
	if (!b->newer && has) {
		/* the tip: remember where the overlay is */
		struct kpin_buf f = KPIN_BUF_INIT;

		kpin_buf_addf(&f, "%s/%s/overlays/%s/%s", b->root, a->name,
			      b->policy->envs[e], name);
		ov->file = kpin_buf_detach(&f, NULL);
	}
	overlay_becomes(b, ov, has ? &blob : NULL);
	git_tree_free(t);
}

/* The application's directory is @id (NULL: none) at this commit. */
static void app_becomes(struct board *b, struct app *a, const git_oid *id)
{
	git_tree *t = NULL, *ovt = NULL;
	git_oid ovid, eid;
	bool has_ov = false;
	size_t e;

	if (id ? a->has_tree && git_oid_equal(&a->tree, id) : !a->has_tree)
		return;
	a->has_tree = id != NULL;
	if (id)
		git_oid_cpy(&a->tree, id);
	t = id ? lookup_tree(b, id) : NULL;
	has_ov = t && subtree(&ovid, t, "overlays");
	git_tree_free(t);
	if (has_ov ? a->has_overlays && git_oid_equal(&a->overlays, &ovid) :
	    !a->has_overlays)
		return;
	a->has_overlays = has_ov;
	if (has_ov) {
		git_oid_cpy(&a->overlays, &ovid);
		ovt = lookup_tree(b, &ovid);
	}
	for (e = 0; e < b->policy->nenvs; e++)
		env_becomes(b, a, e, ovt && subtree(&eid, ovt,
						    b->policy->envs[e]) ?
			    &eid : NULL);
	git_tree_free(ovt);
}

/*
 * Git's tree order: names compare bytewise, a tree's name as if it ended
 * in '/'.
 */
static int tree_order(const char *a, bool a_tree, const char *b, bool b_tree)
{
	unsigned char ca, cb;

	while (*a && *a == *b) {
		a++;
		b++;
	}
	ca = *a ? (unsigned char)*a : a_tree ? '/' : 0;
	cb = *b ? (unsigned char)*b : b_tree ? '/' : 0;
	return (int)ca - (int)cb;
}

/*
 * Read @root_tree (NULL: a commit before the first) as the next, older
 * commit of the walk.
 */
static void step(struct board *b, git_tree *root_tree)
{
	git_tree *t = NULL;
	git_oid id;
	size_t level, i, j;
	bool has = root_tree != NULL;

	if (has)
		git_oid_cpy(&id, git_tree_id(root_tree));
	for (level = 0; has; level++) {
		if (level < b->known && git_oid_equal(&id, &b->level[level]))
			return;	/* the same root directory below */
		git_oid_cpy(&b->level[level], &id);
		b->known = level + 1;
		if (level == b->nparts)
			break;
		if (level) {
			git_tree *cur = lookup_tree(b, &id);

			has = cur && subtree(&id, cur, b->parts[level]);
			git_tree_free(cur);
		} else {
			has = subtree(&id, root_tree, b->parts[0]);
		}
	}
	if (!has) {
		b->known = 0;
		for (j = 0; j < b->napps; j++)
			app_becomes(b, &b->apps[j], NULL);
		goto out;
	}
	t = lookup_tree(b, &id);
	/* merge-join the directory's entries with the applications */
	for (i = 0, j = 0; j < b->napps; ) {
		const git_tree_entry *e = t && i < git_tree_entrycount(t) ?
					  git_tree_entry_byindex(t, i) : NULL;
		bool is_tree = e && git_tree_entry_filemode(e) ==
			       GIT_FILEMODE_TREE;
		int c = e ? tree_order(git_tree_entry_name(e), is_tree,
				       b->apps[j].name, true) : 1;

		if (c < 0) {
			i++;
		} else if (c > 0) {
			app_becomes(b, &b->apps[j++], NULL);
		} else {
			app_becomes(b, &b->apps[j++], git_tree_entry_id(e));
			i++;
		}
	}
out:
	git_tree_free(t);
}

/* ---- the board -------------------------------------------------------- */

/* The applications at the tip: directories with an overlays/ directory. */
static int list_apps(struct board *b, git_tree *tip_tree, const char *only)
{
	git_tree *t = tip_tree, *next = NULL;
	git_oid id;
	size_t i, n;

	for (i = 0; i < b->nparts; i++) {
		if (!subtree(&id, t, b->parts[i])) {
			t = NULL;
			break;
		}
		next = lookup_tree(b, &id);
		if (t != tip_tree)
			git_tree_free(t);
		t = next;
	}
	n = t ? git_tree_entrycount(t) : 0;
	for (i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		const char *name = git_tree_entry_name(e);
		git_tree *at;
		git_oid ov;
		bool is_app;

		if (git_tree_entry_filemode(e) != GIT_FILEMODE_TREE ||
		    (only && strcmp(only, name)))
			continue;
		at = lookup_tree(b, git_tree_entry_id(e));
		is_app = at && subtree(&ov, at, "overlays");
		git_tree_free(at);
		if (!is_app)
			continue;
		b->apps = xreallocarray(b->apps, b->napps + 1,
					sizeof(*b->apps));
		memset(&b->apps[b->napps], 0, sizeof(*b->apps));
		b->apps[b->napps].name = xstrdup(name);
		b->apps[b->napps].ov = xcalloc(b->policy->nenvs,
					       sizeof(struct overlay));
		b->napps++;
	}
	if (t != tip_tree)
		git_tree_free(t);
	if (only && !b->napps)
		return kpin_error_set(KPIN_ENOTFOUND, "no application '%s' "
				      "under '%s' (a directory with an "
				      "overlays/ directory)", only, b->root);
	return 0;
}

static int walk(struct board *b, const git_oid *tip)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	size_t a, e;
	int rc;

	history_walk_settings(true);
	rc = git_commit_lookup(&c, b->repo->git, tip);
	if (!rc)
		rc = git_commit_tree(&t, c);
	if (rc) {
		rc = kpin_git_fail(rc, "cannot read the tip");
		goto out;
	}
	step(b, t);
	git_tree_free(t);
	t = NULL;
	for (a = 0; a < b->napps; a++)
		for (e = 0; e < b->policy->nenvs; e++)
			b->apps[a].ov[e].tip = b->apps[a].ov[e].has ?
					       b->apps[a].ov[e].ver : NULL;
	/* newest first along first parents; a missing parent ends it */
	while (c) {
		git_commit *parent = NULL;

		b->newer = c;
		if (git_commit_parentcount(c) &&
		    git_commit_parent(&parent, c, 0)) {
			git_error_clear();
			b->truncated = true;
		}
		if (parent && git_commit_tree(&t, parent)) {
			git_error_clear();
			git_commit_free(parent);
			parent = NULL;
			b->truncated = true;
		}
		step(b, parent ? t : NULL);
		git_tree_free(t);
		t = NULL;
		git_commit_free(c);
		c = parent;
	}
	b->newer = NULL;
	rc = 0;
out:
	history_walk_settings(false);
	git_commit_free(c);
	return rc;
}

static const struct image_events *events_of(const struct overlay *ov,
					    const char *image)
{
	size_t i;

	for (i = 0; i < ov->nimgs; i++)
		if (!strcmp(ov->imgs[i].image, image))
			return &ov->imgs[i];
	return NULL;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Fill @r's drift against the nearest earlier overlay with the image. */
static void drift(struct kpin_status_row *r, const struct board *b,
		  const struct app *a, size_t env)
{
	const struct kpin_pin *prev = NULL;
	const struct image_events *ev;
	size_t p, i, k;

	if (!r->pin.digest) {
		r->drift = KPIN_DRIFT_TAG_ONLY;
		return;
	}
	for (p = env; p-- > 0; )
		if (a->ov[p].tip &&
		    (prev = history_pin_in(a->ov[p].tip, r->image)) != NULL)
			break;
	if (!prev) {
		r->drift = KPIN_DRIFT_FIRST;
		return;
	}
	r->against = xstrdup(b->policy->envs[p]);
	if (same_str(prev->digest, r->pin.digest)) {
		r->drift = same_str(prev->tag, r->pin.tag) ? KPIN_DRIFT_SYNC :
			   KPIN_DRIFT_MISMATCH;
		return;
	}
	if (prev->tag && same_str(prev->tag, r->pin.tag)) {
		r->drift = KPIN_DRIFT_MISMATCH;
		return;
	}
	ev = events_of(&a->ov[p], r->image);
	for (k = 0; ev && k < ev->n; k++)
		if (same_str(ev->v[k].digest, r->pin.digest))
			break;
	if (!ev || k == ev->n) {
		r->drift = KPIN_DRIFT_UNPROMOTED;
		return;
	}
	/* the releases the previous environment took after this one */
	r->drift = KPIN_DRIFT_BEHIND;
	for (i = 0; i < k; i++) {
		size_t j;

		if (!ev->v[i].digest)
			continue;
		for (j = 0; j < i; j++)
			if (same_str(ev->v[j].digest, ev->v[i].digest))
				break;
		r->behind += j == i;
	}
	r->pending_since = k ? ev->v[k - 1].time : 0;
}

/* The commit that set the row's pin: when, who, promoted by whom. */
static void since(struct kpin_status_row *r, struct kpin_repo *repo,
		  const struct image_events *ev)
{
	struct kpin_history_entry *h;
	struct kpin_buf who = KPIN_BUF_INIT;
	const git_signature *sig;
	git_commit *c = NULL;

	if (!ev || !ev->n)
		return;
	git_oid_tostr(r->since_commit, sizeof(r->since_commit),
		      &ev->v[0].commit);
	r->since_time = ev->v[0].time;
	if (git_commit_lookup(&c, repo->git, &ev->v[0].commit)) {
		git_error_clear();
		return;
	}
	sig = git_commit_author(c);
	kpin_buf_addf(&who, "%s <%s>", sig->name, sig->email);
	r->since_author = kpin_buf_detach(&who, NULL);
	h = xcalloc(1, sizeof(*h));
	h->app = xstrdup(r->app);
	h->env = xstrdup(r->env);
	h->image = xstrdup(r->image);
	kpin_message_read(h, git_commit_message(c));
	r->since_by = xstrdup(h->promoted_by ? h->promoted_by : sig->name);
	kpin_history_free(h, 1);
	git_commit_free(c);
}

static struct kpin_status_row *add_row(struct kpin_status *s,
				       const char *app, const char *env)
{
	struct kpin_status_row *r;

	s->rows = xreallocarray(s->rows, s->n + 1, sizeof(*s->rows));
	r = &s->rows[s->n++];
	memset(r, 0, sizeof(*r));
	r->app = xstrdup(app);
	r->env = xstrdup(env);
	return r;
}

static void make_rows(struct kpin_status *s, struct board *b,
		      const char *only_env)
{
	size_t a, e, i;

	for (a = 0; a < b->napps; a++) {
		const struct app *ap = &b->apps[a];

		for (e = 0; e < b->policy->nenvs && !ap->ov[e].tip; e++)
			;
		if (e == b->policy->nenvs)
			continue;	/* not an application */
		for (e = 0; e < b->policy->nenvs; e++) {
			const struct overlay *ov = &ap->ov[e];
			const char *env = b->policy->envs[e];
			struct kpin_status_row *r;

			if (only_env && strcmp(only_env, env))
				continue;
			if (!ov->tip) {
				r = add_row(s, ap->name, env);
				r->drift = KPIN_DRIFT_MISSING;
				s->anomalies++;
				continue;
			}
			for (i = 0; i < ov->tip->n; i++) {
				r = add_row(s, ap->name, env);
				r->image = xstrdup(ov->tip->names[i]);
				r->file = xstrdup(ov->file);
				r->pin.digest = ov->tip->pins[i].digest ?
					xstrdup(ov->tip->pins[i].digest) : NULL;
				r->pin.tag = ov->tip->pins[i].tag ?
					xstrdup(ov->tip->pins[i].tag) : NULL;
				drift(r, b, ap, e);
				since(r, b->repo, events_of(ov, r->image));
				s->anomalies += kpin_drift_anomaly(r->drift);
			}
		}
	}
}

static void board_release(struct board *b)
{
	size_t a, e, i, k;

	for (a = 0; a < b->napps; a++) {
		for (e = 0; e < b->policy->nenvs; e++) {
			struct overlay *ov = &b->apps[a].ov[e];

			for (i = 0; i < ov->nimgs; i++) {
				for (k = 0; k < ov->imgs[i].n; k++) {
					free(ov->imgs[i].v[k].digest);
					free(ov->imgs[i].v[k].tag);
				}
				free(ov->imgs[i].v);
				free(ov->imgs[i].image);
			}
			free(ov->imgs);
			free(ov->file);
		}
		free(b->apps[a].ov);
		free(b->apps[a].name);
	}
	free(b->apps);
	for (i = 0; i < b->nparts; i++)
		free(b->parts[i]);
	free(b->parts);
	vcache_release(&b->cache);
}

int kpin_repo_status(struct kpin_status *out, struct kpin_repo *repo,
		     const char *branch, const struct kpin_policy *policy,
		     const char *root, const char *app, const char *env)
{
	struct kpin_buf ref = KPIN_BUF_INIT, dir = KPIN_BUF_INIT;
	struct board b;
	git_commit *tipc = NULL;
	git_tree *tree = NULL;
	git_oid tip;
	const char *p;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&b, 0, sizeof(b));
	b.repo = repo;
	b.policy = policy;
	b.root = root ? root : policy->root;
	/* the names are checked as the other commands check them */
	rc = repo_overlay_dir(&dir, b.root, app ? app : "a",
			      env ? env : policy->envs[0]);
	if (!rc && env)
		rc = kpin_policy_check_env(policy, env);
	if (!rc)
		rc = kpin_repo_branch_ref(&ref, repo, branch);
	if (!rc)
		rc = repo_read_tip(&tip, &tipc, &tree, repo, ref.ptr, true);
	if (rc)
		goto out;
	out->branch = xstrdup(ref.ptr);
	git_oid_tostr(out->tip, sizeof(out->tip), &tip);
	for (p = b.root; *p; ) {
		size_t len = strcspn(p, "/");

		if (len && b.nparts < 31) {
			b.parts = xreallocarray(b.parts, b.nparts + 1,
						sizeof(*b.parts));
			b.parts[b.nparts++] = xstrndup(p, len);
		}
		p += len + (p[len] == '/');
	}
	rc = list_apps(&b, tree, app);
	if (!rc)
		rc = walk(&b, &tip);
	if (!rc)
		make_rows(out, &b, env);
	out->truncated = b.truncated;
out:
	board_release(&b);
	git_tree_free(tree);
	git_commit_free(tipc);
	kpin_buf_release(&ref);
	kpin_buf_release(&dir);
	return rc;
}

int kpin_status_verify(struct kpin_status *s, struct kpin_repo *repo,
		       const char *allowed_signers)
{
	const char **ids = xcalloc(s->n + 1, sizeof(*ids));
	struct kpin_sig_check *c = xcalloc(s->n + 1, sizeof(*c));
	size_t i;
	int rc;

	for (i = 0; i < s->n; i++)
		ids[i] = s->rows[i].since_commit;
	rc = kpin_verify_commits(c, repo, ids, s->n, allowed_signers);
	for (i = 0; !rc && i < s->n; i++) {
		kpin_sig_check_release(&s->rows[i].sig);
		s->rows[i].sig = c[i];
	}
	s->verified = !rc;
	free(c);
	free(ids);
	return rc;
}

void kpin_status_release(struct kpin_status *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct kpin_status_row *r = &s->rows[i];

		free(r->app);
		free(r->env);
		free(r->image);
		free(r->file);
		kpin_pin_release(&r->pin);
		free(r->since_author);
		free(r->since_by);
		free(r->against);
		kpin_sig_check_release(&r->sig);
	}
	free(s->rows);
	free(s->branch);
	memset(s, 0, sizeof(*s));
}
