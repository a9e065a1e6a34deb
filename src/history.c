/*
 * History: a first-parent walk over the versions of one overlay, reading
 * each version's images entries once per blob, and what reachability
 * questions a shallow clone can still answer.
 */
#define _GNU_SOURCE
#include <git2.h>
#include <stdlib.h>
#include <string.h>

#include "kpin/error.h"
#include "kpin/file.h"
#include "kpin/kust.h"
#include "kpin/xalloc.h"
#include "repo-internal.h"

/* A set of commit ids: open addressing on the ids' first bytes. */
struct oidset {
	git_oid *v;
	size_t cap, n;
};

static size_t oidset_slot(const struct oidset *s, const git_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));
	for (h &= s->cap - 1; !git_oid_is_zero(&s->v[h]) &&
	     !git_oid_equal(&s->v[h], id); h = (h + 1) & (s->cap - 1))
		;
	return h;
}

/* Add @id; false when it was there already. */
static bool oidset_add(struct oidset *s, const git_oid *id)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct oidset big = { NULL, s->cap ? 2 * s->cap : 64, 0 };

		big.v = xcalloc(big.cap, sizeof(*big.v));
		for (i = 0; i < s->cap; i++)
			if (!git_oid_is_zero(&s->v[i]))
				git_oid_cpy(&big.v[oidset_slot(&big, &s->v[i])],
					    &s->v[i]);
		big.n = s->n;
		free(s->v);
		*s = big;
	}
	i = oidset_slot(s, id);
	if (!git_oid_is_zero(&s->v[i]))
		return false;
	git_oid_cpy(&s->v[i], id);
	s->n++;
	return true;
}

/*
 * Is @anc history_reachable from @tip? A breadth-first walk of @tip's ancestry
 * where a missing parent ends that line instead of failing the walk: in
 * a shallow clone (what CI checkouts are) the history stops at the
 * boundary, which libgit2 1.5 reports as an error. Every commit from the
 * fetched @tip down to @anc is present, since the fetch sent them.
 */
bool history_reachable(struct kpin_repo *repo, const git_oid *tip,
		      const git_oid *anc)
{
	struct oidset seen = { NULL, 0, 0 };
	git_oid *queue = xmalloc(sizeof(*queue));
	size_t head = 0, tail = 0, cap = 1;
	bool found = false;

	git_oid_cpy(&queue[tail++], tip);
	oidset_add(&seen, tip);
	while (head < tail && !found) {
		git_commit *c = NULL;
		unsigned i, np;

		if (git_oid_equal(&queue[head], anc)) {
			found = true;
			break;
		}
		if (git_commit_lookup(&c, repo->git, &queue[head++]))
			continue;	/* beyond a shallow boundary */
		np = git_commit_parentcount(c);
		for (i = 0; i < np; i++) {
			const git_oid *p = git_commit_parent_id(c, i);

			if (!oidset_add(&seen, p))
				continue;
			if (tail == cap)
				queue = xrealloc(queue, (cap *= 2) *
						 sizeof(*queue));
			git_oid_cpy(&queue[tail++], p);
		}
		git_commit_free(c);
	}
	free(queue);
	free(seen.v);
	return found;
}

/* ---- history --------------------------------------------------------- */

/*
 * Finding an overlay's blob commit after commit cheaply: the tree ids on
 * the way to the overlay directory are remembered, and a commit whose
 * tree has the same id at some level has the same blob below it.
 */
struct path_cache {
	char **parts;		/* the directory's path components */
	size_t nparts;
	git_oid ids[32];	/* tree id per level, for the last commit */
	size_t known;		/* levels of ids[] that are valid */
	git_oid blob;		/* the overlay's blob there */
	bool have_blob;
};

static void path_cache_init(struct path_cache *pc, const char *dir)
{
	const char *p = dir;

	memset(pc, 0, sizeof(*pc));
	while (*p && pc->nparts < 31) {
		size_t len = strcspn(p, "/");

		pc->parts = xreallocarray(pc->parts, pc->nparts + 1,
					  sizeof(*pc->parts));
		pc->parts[pc->nparts++] = xstrndup(p, len);
		p += len + (p[len] == '/');
	}
}

static void path_cache_release(struct path_cache *pc)
{
	size_t i;

	for (i = 0; i < pc->nparts; i++)
		free(pc->parts[i]);
	free(pc->parts);
}

/*
 * The overlay's blob in @tree: false when the directory or a single
 * kustomization file is not there.
 */
static bool overlay_blob(struct path_cache *pc, struct kpin_repo *repo,
			 git_tree *root, git_oid *blob)
{
	git_tree *t = root, *next;
	const git_tree_entry *e;
	git_oid id;
	size_t level, i, found = 0;

	git_oid_cpy(&id, git_tree_id(root));
	for (level = 0; ; level++) {
		if (level < pc->known && git_oid_equal(&id, &pc->ids[level])) {
			/* same tree as the newer commit from here down */
			if (t != root)
				git_tree_free(t);
			if (pc->have_blob)
				git_oid_cpy(blob, &pc->blob);
			return pc->have_blob;
		}
		git_oid_cpy(&pc->ids[level], &id);
		pc->known = level + 1;
		if (level == pc->nparts)
			break;
		e = git_tree_entry_byname(t, pc->parts[level]);
		if (!e || git_tree_entry_filemode(e) != GIT_FILEMODE_TREE ||
		    git_tree_lookup(&next, repo->git, git_tree_entry_id(e))) {
			if (t != root)
				git_tree_free(t);
			pc->have_blob = false;
			return false;
		}
		git_oid_cpy(&id, git_tree_entry_id(e));
		if (t != root)
			git_tree_free(t);
		t = next;
	}
	pc->have_blob = false;
	for (i = 0; i < 3; i++) {
		e = git_tree_entry_byname(t, repo_kust_names[i]);
		if (e && (git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB ||
			  git_tree_entry_filemode(e) ==
			  GIT_FILEMODE_BLOB_EXECUTABLE)) {
			git_oid_cpy(&pc->blob, git_tree_entry_id(e));
			found++;
		}
	}
	pc->have_blob = found == 1;
	if (t != root)
		git_tree_free(t);
	if (pc->have_blob)
		git_oid_cpy(blob, &pc->blob);
	return pc->have_blob;
}


void history_version_release(struct overlay_version *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		free(v->names[i]);
		kpin_pin_release(&v->pins[i]);
	}
	free(v->names);
	free(v->pins);
	memset(v, 0, sizeof(*v));
}

void history_read_version(struct overlay_version *v, struct kpin_repo *repo,
			  const git_oid *blob_id)
{
	git_blob *blob = NULL;
	struct kpin_kust *k = NULL;
	size_t i;

	history_version_release(v);
	git_oid_cpy(&v->blob, blob_id);
	if (git_blob_lookup(&blob, repo->git, blob_id))
		return;
	if (git_blob_rawsize(blob) <= KPIN_MAX_SIZE_DEFAULT &&
	    kpin_kust_open(&k, git_blob_rawcontent(blob),
			   (size_t)git_blob_rawsize(blob),
			   KPIN_KUST_LENIENT) == 0) {
		v->n = kpin_kust_image_count(k);
		v->names = xcalloc(v->n + 1, sizeof(*v->names));
		v->pins = xcalloc(v->n + 1, sizeof(*v->pins));
		for (i = 0; i < v->n; i++) {
			const struct kpin_image *img = kpin_kust_image(k, i);

			v->names[i] = xstrdup(img->name.value ?
					      img->name.value : "");
			kpin_pin_of(&v->pins[i], img);
		}
	}
	kpin_kust_free(k);
	git_blob_free(blob);
}

const struct kpin_pin *history_pin_in(const struct overlay_version *v,
				     const char *image)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->names[i], image))
			return &v->pins[i];
	return NULL;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool history_same_pin(const struct kpin_pin *a, const struct kpin_pin *b)
{
	if (!a || !b)
		return a == b;
	return same_str(a->digest, b->digest) && same_str(a->tag, b->tag);
}

static void add_entry_for(struct kpin_history_entry **out, size_t *n,
			  git_commit *c, size_t depth, const char *app,
			  const char *env, const char *image,
			  const struct kpin_pin *pin)
{
	struct kpin_history_entry *e;
	const git_signature *a = git_commit_author(c);
	const char *msg = git_commit_message(c);
	struct kpin_buf b = KPIN_BUF_INIT;

	*out = xreallocarray(*out, *n + 1, sizeof(**out));
	e = &(*out)[(*n)++];
	memset(e, 0, sizeof(*e));
	git_oid_tostr(e->commit, sizeof(e->commit), git_commit_id(c));
	e->time = (long long)git_commit_time(c);
	e->depth = depth;
	kpin_buf_addf(&b, "%s <%s>", a->name, a->email);
	e->author = kpin_buf_detach(&b, NULL);
	e->subject = xstrndup(msg ? msg : "", msg ? strcspn(msg, "\n") : 0);
	e->app = xstrdup(app);
	e->env = xstrdup(env);
	e->image = xstrdup(image);
	e->pin.digest = pin && pin->digest ? xstrdup(pin->digest) : NULL;
	e->pin.tag = pin && pin->tag ? xstrdup(pin->tag) : NULL;
	kpin_message_read(e, msg);
}

static void free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void kpin_history_free(struct kpin_history_entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].author);
		free(v[i].subject);
		free(v[i].app);
		free(v[i].env);
		free(v[i].image);
		kpin_pin_release(&v[i].pin);
		free(v[i].promoted_by);
		free(v[i].source_repository);
		free(v[i].release);
		free(v[i].promoted_from);
		free(v[i].rollback_from);
		free(v[i].rollback_to);
		free(v[i].reason);
		free(v[i].run);
		free_list(v[i].overrides, v[i].noverrides);
		free_list(v[i].trailers, v[i].ntrailers);
	}
	free(v);
}


/*
 * A history walk reads thousands of commits and trees once each: keeping
 * them in libgit2's object cache only costs (10,000 commits: 1.0 s and
 * 130 MB with it, 0.46 s and 35 MB without), and so does re-hashing each
 * object read from a local, trusted object database. Both are process
 * settings; this turns them off for the walk and back on after it.
 */
void history_walk_settings(bool walking)
{
	git_libgit2_opts(GIT_OPT_ENABLE_CACHING, walking ? 0 : 1);
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION,
			 walking ? 0 : 1);
}

/*
 * The error for a walk that reached @c but not its first parent. In a
 * shallow clone (actions/checkout makes one by default) that is the
 * boundary: what @c changed, and everything before it, is unknown, and
 * crediting @c with the overlay as it stands would be a wrong answer.
 */
static int history_cut(struct kpin_repo *repo, git_commit *c)
{
	char id[13];

	git_oid_tostr(id, sizeof(id), git_commit_id(c));
	if (git_repository_is_shallow(repo->git) != 1)
		return kpin_git_fail(-1, "cannot read the parent of %s", id);
	git_error_clear();
	return kpin_error_set(KPIN_ERROR, "this is a shallow clone: its "
			      "history stops at %s, before the answer; run "
			      "'git fetch --unshallow' first (actions/checkout: "
			      "fetch-depth: 0); with --push, kpin completes it "
			      "from the remote itself", id);
}

int history_walk_versions(struct kpin_repo *repo, const git_oid *start,
			 const char *dir, overlay_version_fn fn, void *arg)
{
	struct path_cache pc;
	struct overlay_version cur, here, none;
	git_commit *newer = NULL, *c = NULL;
	bool newer_has = false;
	git_oid blob;
	size_t depth = 0;	/* of c; newer's is depth - 1 */
	int rc, stop = 0;

	memset(&cur, 0, sizeof(cur));
	memset(&here, 0, sizeof(here));
	memset(&none, 0, sizeof(none));
	path_cache_init(&pc, dir);
	history_walk_settings(true);
	rc = git_commit_lookup(&c, repo->git, start);
	if (rc) {
		rc = kpin_git_fail(rc, "cannot read commit %.12s",
			      git_oid_tostr_s(start));
		goto out;
	}
	/*
	 * Newest first, along first parents, reading each commit once.
	 * "newer" is the previous commit of the walk (a child of this one)
	 * and "cur" its version of the overlay: newer changed the overlay
	 * when this commit's version differs from cur. A parent that is
	 * missing (a shallow clone's boundary) fails the walk, unless @fn
	 * had its answer already.
	 */
	while (!stop && c) {
		git_tree *t = NULL;
		git_commit *parent = NULL;
		bool has, same;

		rc = git_commit_tree(&t, c);
		if (rc) {
			rc = kpin_git_fail(rc, "cannot read the tree of %.12s",
				      git_oid_tostr_s(git_commit_id(c)));
			goto out;
		}
		has = overlay_blob(&pc, repo, t, &blob);
		git_tree_free(t);
		same = has && newer_has && git_oid_equal(&cur.blob, &blob);
		if (has && !same)
			history_read_version(&here, repo, &blob);
		if (newer && newer_has && !same) {
			cur.depth = depth - 1;
			stop = fn(newer, &cur, has ? &here : &none, arg);
		}
		if (!stop && git_commit_parentcount(c) &&
		    git_commit_parent(&parent, c, 0)) {
			rc = history_cut(repo, c);
			goto out;
		}
		git_commit_free(newer);
		newer = c;
		c = parent;
		if (!same) {
			history_version_release(&cur);
			cur = here;
			memset(&here, 0, sizeof(here));
		}
		newer_has = has;
		depth++;
	}
	/* the oldest commit that has the overlay introduced its entries */
	if (!stop && newer && newer_has) {
		cur.depth = depth - 1;
		fn(newer, &cur, &none, arg);
	}
	rc = 0;
out:
	history_walk_settings(false);
	git_commit_free(newer);
	git_commit_free(c);
	history_version_release(&cur);
	history_version_release(&here);
	path_cache_release(&pc);
	return rc;
}

struct history_walk {
	const char *app;
	const char *env;
	const char *image;
	size_t max;
	struct kpin_history_entry *out;
	size_t n;
};

static int collect_history(git_commit *c, const struct overlay_version *now,
			   const struct overlay_version *before, void *arg)
{
	struct history_walk *h = arg;
	size_t i;

	for (i = 0; i < now->n; i++) {
		const char *name = now->names[i];

		if (h->image && strcmp(name, h->image))
			continue;
		if (history_same_pin(&now->pins[i], history_pin_in(before, name)))
			continue;
		add_entry_for(&h->out, &h->n, c, now->depth, h->app, h->env,
			      name, &now->pins[i]);
		if (h->max && h->n >= h->max)
			return 1;
	}
	return 0;
}

int kpin_repo_history(struct kpin_history_entry **out, size_t *n,
		      struct kpin_repo *repo, const char *branch,
		      const char *root, const char *app, const char *env,
		      const char *image, size_t max)
{
	struct kpin_buf ref = KPIN_BUF_INIT, dir = KPIN_BUF_INIT;
	struct history_walk h = { app, env, image, max, NULL, 0 };
	git_oid tip;
	int rc;

	*out = NULL;
	*n = 0;
	rc = repo_overlay_dir(&dir, root ? root : KPIN_ROOT_DEFAULT, app, env);
	if (!rc)
		rc = kpin_repo_branch_ref(&ref, repo, branch);
	if (!rc) {
		rc = repo_view_tip(&tip, repo, ref.ptr);
		if (rc)
			rc = kpin_error_set(KPIN_ENOTFOUND, "branch '%s' does "
					    "not exist", ref.ptr + 11);
	}
	if (!rc)
		rc = history_walk_versions(repo, &tip, dir.ptr, collect_history, &h);
	if (rc)
		kpin_history_free(h.out, h.n);
	else {
		*out = h.out;
		*n = h.n;
	}
	kpin_buf_release(&ref);
	kpin_buf_release(&dir);
	return rc;
}
