/*
 * Direct index updates (see src/gitindex.h): the I/O and git's rules
 * around the pure index format code of src/index-format.c. The index is
 * read once, mapped copy-on-write, while index.lock is held; what the
 * walk over its entries notes (the entries asked about, the
 * .gitattributes files on their way, the racy entries) drives the
 * checks and the write.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kpin/buf.h"
#include "kpin/error.h"
#include "kpin/file.h"
#include "gitindex.h"
#include "index-format.h"
#include "lock.h"
#include "kpin/xalloc.h"
#include "git-lazy.h"


/* An entry that may be racily clean, to check before writing. */
struct racy {
	char *path;
	size_t off;
};

struct kpin_gitindex {
	git_repository *repo;
	char *path;		/* .git/index */
	struct kpin_lock *lock;	/* index.lock, held by the caller */
	unsigned char *buf;	/* the index file, mapped copy-on-write */
	size_t len;
	struct stat st;		/* of the index file when read */
	struct kpin_ixf ixf;	/* its layout */
	const char **want;	/* the paths asked about, and attribute files */
	long *found;		/* their entries' offsets, -1 when absent */
	size_t *wlen;		/* their lengths */
	size_t nwant;
	struct racy *racy;	/* entries modified in the index's second */
	size_t nracy, racy_alloc;
	int may_filter;		/* -1 unknown, else: any attribute source */
};

/*
 * Note the entry at @off if its path is one of those asked about, and if
 * its file was modified in the second the index was written or later:
 * its stat data may then hide a change (git's racy git problem).
 */
static void visit(void *arg, const struct kpin_ixf *ixf, size_t off,
		  const char *path, size_t plen)
{
	struct kpin_gitindex *ix = arg;
	struct kpin_ixf_entry e;
	size_t k;

	for (k = 0; k < ix->nwant; k++)
		if (ix->found[k] < 0 && ix->wlen[k] == plen &&
		    !memcmp(ix->want[k], path, plen))
			ix->found[k] = (long)off;
	kpin_ixf_entry_read(ixf, off, &e);
	if (!kpin_ixf_is_racy(&e, (uint32_t)ix->st.st_mtim.tv_sec))
		return;
	ALLOC_GROW(ix->racy, ix->nracy + 1, ix->racy_alloc);
	ix->racy[ix->nracy].path = xstrdup(path);
	ix->racy[ix->nracy++].off = off;
}

/* Refuse the mandatory extensions: neither kpin nor libgit2 has them. */
static int check_extensions(const struct kpin_gitindex *ix)
{
	const unsigned char *sig = ix->buf + ix->ixf.mandatory;

	if (!ix->ixf.mandatory)
		return 0;
	/* libgit2 1.5.1 reads neither "link" nor "sdir": no fallback */
	return kpin_error_set(KPIN_EINVALID, "the index uses git's '%.4s' "
			      "extension (%s), which kpin cannot update; "
			      "nothing changed", sig,
			      !memcmp(sig, "link", 4) ? "split index: git "
			      "update-index --no-split-index turns it off" :
			      !memcmp(sig, "sdir", 4) ? "sparse index: git "
			      "sparse-checkout init --no-sparse-index turns "
			      "it off" : "unknown");
}

static void want(struct kpin_gitindex *ix, char *path)
{
	size_t k;

	for (k = 0; k < ix->nwant; k++)
		if (!strcmp(ix->want[k], path)) {
			free(path);
			return;
		}
	ix->want = xreallocarray(ix->want, ix->nwant + 1, sizeof(*ix->want));
	ix->found = xreallocarray(ix->found, ix->nwant + 1,
				  sizeof(*ix->found));
	ix->wlen = xreallocarray(ix->wlen, ix->nwant + 1, sizeof(*ix->wlen));
	ix->wlen[ix->nwant] = strlen(path);
	ix->want[ix->nwant] = path;
	ix->found[ix->nwant++] = -1;
}

/*
 * Look for the paths asked about and for every .gitattributes file that
 * could apply to them, so that attributes can be checked without
 * libgit2 reading the whole index.
 */
static void add_wanted(struct kpin_gitindex *ix, const char *const *paths,
		       size_t npaths)
{
	size_t k;

	for (k = 0; k < npaths; k++) {
		const char *p = paths[k], *slash;

		want(ix, xstrdup(p));
		want(ix, xstrdup(".gitattributes"));
		for (slash = strchr(p, '/'); slash; slash = strchr(slash + 1,
								 '/')) {
			struct kpin_buf b = KPIN_BUF_INIT;

			kpin_buf_addf(&b, "%.*s/.gitattributes",
				      (int)(slash - p), p);
			want(ix, kpin_buf_detach(&b, NULL));
		}
	}
}

int kpin_gitindex_open(struct kpin_gitindex **out, git_repository *repo,
		       struct kpin_lock *lock, const char *const *paths,
		       size_t npaths)
{
	struct kpin_gitindex *ix;
	struct kpin_buf b = KPIN_BUF_INIT;
	const char *gitdir = git_repository_path(repo);
	int fd, rc;

	*out = NULL;
	if (git_repository_is_bare(repo))
		return kpin_error_set(KPIN_ENOTSUP, "bare repository");
	ix = xcalloc(1, sizeof(*ix));
	ix->repo = repo;
	ix->lock = lock;
	ix->buf = MAP_FAILED;
	ix->may_filter = -1;
	add_wanted(ix, paths, npaths);
	kpin_buf_addf(&b, "%sindex", gitdir);
	ix->path = kpin_buf_detach(&b, NULL);
	fd = open(ix->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ?
			kpin_error_set(KPIN_ENOTSUP, "no index yet") :
			kpin_error_set(KPIN_ERROR, "cannot open '%s': %s",
				       ix->path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &ix->st) < 0) {
		rc = kpin_error_set(KPIN_ERROR, "cannot stat '%s': %s",
				    ix->path, strerror(errno));
		close(fd);
		goto fail;
	}
	if (ix->st.st_size < 32) {
		close(fd);
		/* the parser says what is wrong with it */
		rc = kpin_ixf_parse(&ix->ixf, NULL, 0, NULL, NULL);
		goto fail;
	}
	ix->len = (size_t)ix->st.st_size;
	/* private: patches never reach the file, only index.lock */
	ix->buf = mmap(NULL, ix->len, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		       fd, 0);
	close(fd);
	if (ix->buf == MAP_FAILED) {
		rc = kpin_error_set(KPIN_ERROR, "cannot map '%s': %s",
				    ix->path, strerror(errno));
		goto fail;
	}
	rc = kpin_ixf_parse(&ix->ixf, ix->buf, ix->len, visit, ix);
	if (!rc)
		rc = check_extensions(ix);
	if (rc)
		goto fail;
	*out = ix;
	return 0;
fail:
	kpin_buf_release(&b);
	kpin_gitindex_free(ix);
	return rc;
}

void kpin_gitindex_free(struct kpin_gitindex *ix)
{
	if (!ix)
		return;
	if (ix->buf != MAP_FAILED)
		munmap(ix->buf, ix->len);
	while (ix->nwant)
		free((char *)ix->want[--ix->nwant]);
	while (ix->nracy)
		free(ix->racy[--ix->nracy].path);
	free(ix->racy);
	free(ix->want);
	free(ix->found);
	free(ix->wlen);
	free(ix->path);
	free(ix);
}

/* The offset of @path's entry, as found when the index was read, or -1. */
static long find(const struct kpin_gitindex *ix, const char *path)
{
	size_t k;

	for (k = 0; k < ix->nwant; k++)
		if (!strcmp(ix->want[k], path))
			return ix->found[k];
	return -1;
}

static void stat_data(struct kpin_ixf_stat *out, const struct stat *st)
{
	out->ctime_sec = (uint32_t)st->st_ctim.tv_sec;
	out->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
	out->mtime_sec = (uint32_t)st->st_mtim.tv_sec;
	out->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	out->dev = (uint32_t)st->st_dev;
	out->ino = (uint32_t)st->st_ino;
	out->mode = S_ISLNK(st->st_mode) ? 0120000 :
		    (st->st_mode & 0100) ? 0100755 : 0100644;
	out->uid = (uint32_t)st->st_uid;
	out->gid = (uint32_t)st->st_gid;
	out->size = (uint32_t)st->st_size;
}

static bool exists(const char *path)
{
	struct stat st;

	return path && lstat(path, &st) == 0;
}

/* A configuration value as a string, or NULL (the caller frees it). */
static char *config_string(git_repository *repo, const char *name)
{
	git_config *cfg = NULL;
	git_buf v = GIT_BUF_INIT;
	char *s = NULL;

	if (git_repository_config_snapshot(&cfg, repo))
		return NULL;
	if (!git_config_get_string_buf(&v, cfg, name))
		s = xstrdup(v.ptr);
	git_buf_dispose(&v);
	git_config_free(cfg);
	return s;
}

static bool config_set(git_repository *repo, const char *name)
{
	char *v = config_string(repo, name);

	free(v);
	return v != NULL;
}

/* A boolean configuration value, @dflt when unset or unreadable. */
static bool config_bool(git_repository *repo, const char *name, bool dflt)
{
	git_config *cfg = NULL;
	int v;

	if (git_repository_config_snapshot(&cfg, repo))
		return dflt;
	if (git_config_get_bool(&v, cfg, name))
		v = dflt;
	git_config_free(cfg);
	return v != 0;
}

/*
 * Is there any source of attributes or end-of-line conversion outside
 * the worktree's .gitattributes files: core.autocrlf, core.eol, an
 * attributes file of the repository (info/attributes), the user
 * (core.attributesFile, XDG) or the system?
 */
static bool global_filters(git_repository *repo)
{
	const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
	struct kpin_buf f = KPIN_BUF_INIT;
	char *crlf = config_string(repo, "core.autocrlf");
	bool yes = (crlf && strcmp(crlf, "false")) ||
		   config_set(repo, "core.eol") ||
		   config_set(repo, "core.attributesfile");

	free(crlf);
	kpin_buf_addf(&f, "%sinfo/attributes", git_repository_path(repo));
	yes = yes || exists(f.ptr) || exists("/etc/gitattributes");
	kpin_buf_reset(&f);
	if (xdg && *xdg)
		kpin_buf_addf(&f, "%s/git/attributes", xdg);
	else if (home)
		kpin_buf_addf(&f, "%s/.config/git/attributes", home);
	yes = yes || exists(f.ptr);
	kpin_buf_release(&f);
	return yes;
}

/*
 * Could a filter (end-of-line conversion, ident, a driver, an encoding)
 * change @path's content between the index and the worktree? Only with a
 * global source (above) or a .gitattributes on the way to @path, in the
 * worktree or in the index (@ix, when given, knows the index's for the
 * paths it was opened for).
 */
static bool may_filter(struct kpin_gitindex *ix, git_repository *repo,
		       int *global, const char *path)
{
	const char *wd = git_repository_workdir(repo), *slash;
	struct kpin_buf f = KPIN_BUF_INIT;
	bool yes;

	if (*global < 0)
		*global = global_filters(repo);
	yes = *global;
	for (slash = path; !yes && slash; slash = strchr(slash + 1, '/')) {
		size_t dlen = slash == path ? 0 : (size_t)(slash - path);
		long at;

		kpin_buf_reset(&f);
		kpin_buf_addf(&f, "%.*s%s.gitattributes", (int)dlen, path,
			      dlen ? "/" : "");
		at = ix ? find(ix, f.ptr) : -1;
		kpin_buf_reset(&f);
		kpin_buf_addf(&f, "%s%.*s%s.gitattributes", wd, (int)dlen,
			      path, dlen ? "/" : "");
		yes = at >= 0 || exists(f.ptr);
	}
	kpin_buf_release(&f);
	return yes;
}

/*
 * The blob id git would compute for the worktree file at @full (@path in
 * the repository): a symlink's target, or the content cleaned by the
 * filters that apply, when any may.
 */
static int hash_worktree(git_oid *out, struct kpin_gitindex *ix,
			 const char *full, const char *path,
			 const struct stat *st)
{
	char target[4096];
	ssize_t n;
	int rc;

	if (S_ISLNK(st->st_mode)) {
		n = readlink(full, target, sizeof(target));
		rc = n < 0 ? -1 : git_odb_hash(out, target, (size_t)n,
					       GIT_OBJECT_BLOB);
	} else if (may_filter(ix, ix->repo, &ix->may_filter, path)) {
		rc = git_repository_hashfile(out, ix->repo, full,
					     GIT_OBJECT_BLOB, path);
	} else {
		rc = git_odb_hashfile(out, full, GIT_OBJECT_BLOB);
	}
	return rc ? kpin_error_set(KPIN_ERROR, "cannot hash '%s'", path) : 0;
}

/* The filter driver named by @path's attributes that git would run. */
static int check_driver(git_repository *repo, const char *path,
			const char *driver)
{
	static const char *const keys[] = { "smudge", "process" };
	struct kpin_buf k = KPIN_BUF_INIT;
	size_t i;
	char *v = NULL;
	int rc = 0;

	for (i = 0; i < 2 && !v; i++) {
		kpin_buf_reset(&k);
		kpin_buf_addf(&k, "filter.%s.%s", driver, keys[i]);
		v = config_string(repo, k.ptr);
	}
	if (v)
		rc = kpin_error_set(KPIN_EINVALID, "'%s' is checked out "
				    "through the filter driver '%s' (%s = %s), "
				    "which kpin cannot run: the worktree would "
				    "not hold what git checkout writes; update "
				    "a clone without a checkout, or commit by "
				    "hand (nothing changed)", path, driver,
				    k.ptr, v);
	kpin_buf_reset(&k);
	kpin_buf_addf(&k, "filter.%s.required", driver);
	if (!rc && config_bool(repo, k.ptr, false))
		rc = kpin_error_set(KPIN_EINVALID, "'%s' needs the filter "
				    "driver '%s' (filter.%s.required), which "
				    "has no command: git checkout would fail "
				    "too (nothing changed)", path, driver,
				    driver);
	free(v);
	kpin_buf_release(&k);
	return rc;
}

/* git's is_encoding_utf8(): "UTF-8" or "UTF8", in any case. */
static bool is_utf8(const char *enc)
{
	return !strcasecmp(enc, "utf-8") || !strcasecmp(enc, "utf8");
}

static int check_filters(struct kpin_gitindex *ix, git_repository *repo,
			 int *global, const char *const *paths, size_t n)
{
	static const char *names[] = { "filter", "working-tree-encoding" };
	size_t k;
	int rc = 0;

	for (k = 0; k < n && !rc; k++) {
		const char *v[2] = { NULL, NULL };

		if (!may_filter(ix, repo, global, paths[k]))
			continue;
		/* git checkout reads the index's .gitattributes first */
		if (git_attr_get_many(v, repo, GIT_ATTR_CHECK_INDEX_THEN_FILE,
				      paths[k], 2, names))
			return kpin_error_set(KPIN_ERROR, "cannot read the "
					      "attributes of '%s': %s",
					      paths[k],
					      git_error_last() ?
					      git_error_last()->message : "?");
		if (GIT_ATTR_HAS_VALUE(v[0]))
			rc = check_driver(repo, paths[k], v[0]);
		if (!rc && (GIT_ATTR_IS_TRUE(v[1]) || GIT_ATTR_IS_FALSE(v[1])))
			rc = kpin_error_set(KPIN_EINVALID, "'%s' has a "
					    "working-tree-encoding attribute "
					    "without a value, which git refuses "
					    "too (nothing changed)", paths[k]);
		if (!rc && GIT_ATTR_HAS_VALUE(v[1]) && *v[1] &&
		    !is_utf8(v[1]))
			rc = kpin_error_set(KPIN_EINVALID, "'%s' is checked out "
					    "as %s (working-tree-encoding), "
					    "which kpin cannot convert to: "
					    "update a clone without a checkout, "
					    "or commit by hand (nothing "
					    "changed)", paths[k], v[1]);
	}
	return rc;
}

int kpin_gitindex_check_filters(git_repository *repo,
				const char *const *paths, size_t n)
{
	int global = -1;

	return check_filters(NULL, repo, &global, paths, n);
}

/*
 * Is the worktree file at @full as the entry @e records it? Its type and
 * executable bit (when core.fileMode) first; then its stat data, unless
 * racy (modified in the second the index was written); else its content.
 */
static int worktree_clean(struct kpin_gitindex *ix,
			  const struct kpin_ixf_entry *e, const char *full,
			  const char *path, bool filemode, const char **why)
{
	struct kpin_ixf_stat now;
	struct stat st;
	git_oid id;

	if (lstat(full, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why = errno == ENOENT ? " (deleted)" :
		       " (not a regular file)";
		return 1;
	}
	stat_data(&now, &st);
	if (filemode && (now.mode ^ e->st.mode) & 0100) {
		*why = " (its executable bit)";
		return 1;
	}
	now.mode = e->st.mode;
	if (!memcmp(&now, &e->st, sizeof(now)) &&
	    !kpin_ixf_is_racy(e, (uint32_t)ix->st.st_mtim.tv_sec))
		return 0;
	if (hash_worktree(&id, ix, full, path, &st))
		return -1;
	*why = "";
	return memcmp(id.id, e->id, KPIN_IXF_ID) != 0;
}

static bool one_of(const git_oid *id, const git_oid *const *ids, size_t n)
{
	while (n--)
		if (git_oid_equal(id, ids[n]))
			return true;
	return false;
}

/*
 * Are @path's entry (at stage 0) and worktree copy each at one of @ids,
 * versions kpin wrote or the branch holds? 0 when they are, with the
 * entry's and the worktree copy's versions in @ent_id and @wt_id (the
 * entry's, for a skip-worktree entry), -1 when someone changed the file,
 * its executable bit or its entry since.
 */
static int kpins(struct kpin_gitindex *ix, const char *path,
		 const git_oid *const *ids, size_t nids, git_oid *ent_id,
		 git_oid *wt_id)
{
	struct kpin_buf full = KPIN_BUF_INIT;
	struct kpin_ixf_entry ent;
	long off = find(ix, path);
	struct stat st;
	int rc = -1;

	if (off < 0)
		return -1;
	kpin_ixf_entry_read(&ix->ixf, (size_t)off, &ent);
	memcpy(ent_id->id, ent.id, KPIN_IXF_ID);
	git_oid_cpy(wt_id, ent_id);
	if (ent.stage || !one_of(ent_id, ids, nids))
		return -1;
	if (ent.flags & KPIN_IXF_SKIP_WORKTREE)
		return 0;
	kpin_buf_addf(&full, "%s%s", git_repository_workdir(ix->repo), path);
	if (lstat(full.ptr, &st) == 0 && S_ISREG(st.st_mode) &&
	    (!config_bool(ix->repo, "core.filemode", true) ||
	     !((st.st_mode ^ ent.st.mode) & 0100)) &&
	    !hash_worktree(wt_id, ix, full.ptr, path, &st) &&
	    one_of(wt_id, ids, nids))
		rc = 0;
	kpin_error_clear();
	kpin_buf_release(&full);
	return rc;
}

/* A @held edit whose entry and file are still kpin's, or the tip's? */
static bool held_by_kpin(struct kpin_gitindex *ix,
			 const struct kpin_index_edit *e)
{
	const git_oid *ids[] = { &e->held_old, &e->held_new, &e->old_id };
	git_oid ent, wt;

	return e->held && !kpins(ix, e->path, ids, 3, &ent, &wt);
}

int kpin_gitindex_check(struct kpin_gitindex *ix,
			const struct kpin_index_edit *e, size_t n)
{
	const char *wd = git_repository_workdir(ix->repo);
	struct kpin_buf path = KPIN_BUF_INIT;
	bool filemode = config_bool(ix->repo, "core.filemode", true);
	size_t k;
	int rc = 0;

	for (k = 0; k < n && !rc; k++) {
		long i = find(ix, e[k].path);
		struct kpin_ixf_entry ent;
		const char *why = "";
		int dirty;

		if (held_by_kpin(ix, &e[k]))
			continue;	/* kpin's version from the attempt before */
		if (i >= 0)
			kpin_ixf_entry_read(&ix->ixf, (size_t)i, &ent);
		if (i < 0 || ent.stage ||
		    (ent.flags & KPIN_IXF_INTENT_TO_ADD) ||
		    memcmp(ent.id, e[k].old_id.id, KPIN_IXF_ID) ||
		    (e[k].mode && ent.st.mode != e[k].mode)) {
			rc = kpin_error_set(KPIN_EINVALID, "'%s' has staged "
					    "changes in the checkout; commit or "
					    "discard them first (nothing "
					    "changed)", e[k].path);
			break;
		}
		if (ent.flags & KPIN_IXF_SKIP_WORKTREE)
			continue;	/* git leaves its worktree alone too */
		rc = check_filters(ix, ix->repo, &ix->may_filter, &e[k].path,
				   1);
		if (rc)
			break;
		kpin_buf_reset(&path);
		kpin_buf_addf(&path, "%s%s", wd, e[k].path);
		dirty = worktree_clean(ix, &ent, path.ptr, e[k].path, filemode,
				       &why);
		if (dirty < 0)
			rc = kpin_error_last()->code;
		else if (dirty && (ent.flags & KPIN_IXF_ASSUME_VALID))
			/* git status trusts the entry: it shows nothing */
			rc = kpin_error_set(KPIN_EINVALID, "'%s' is marked "
					    "assume-unchanged and its worktree "
					    "copy differs%s, which kpin would "
					    "overwrite; 'git update-index "
					    "--no-assume-unchanged' shows the "
					    "change (nothing changed)",
					    e[k].path, why);
		else if (dirty)
			rc = kpin_error_set(KPIN_EINVALID, "'%s' has unstaged "
					    "changes in the checkout%s; commit "
					    "or discard them first (nothing "
					    "changed)", e[k].path, why);
	}
	kpin_buf_release(&path);
	return rc;
}

/*
 * @blob's content as git checkout writes it to @path: through libgit2's
 * filters (end-of-line conversion, ident) when any attribute may apply.
 * The caller frees @blob and disposes of @out; when @out stays empty, the
 * blob's own bytes are the content.
 */
static int checkout_bytes(git_buf *out, git_blob **blob,
			  struct kpin_gitindex *ix, const char *path,
			  const git_oid *blob_id)
{
	git_blob_filter_options fo = GIT_BLOB_FILTER_OPTIONS_INIT;
	int rc = git_blob_lookup(blob, ix->repo, blob_id);

	if (!rc && may_filter(ix, ix->repo, &ix->may_filter, path))
		rc = git_blob_filter(out, *blob, path, &fo);
	if (rc)
		return kpin_error_set(KPIN_ERROR, "cannot check out '%s'",
				      path);
	return 0;
}

/* Replace the worktree file @path with @data, and stat it. */
static int write_worktree(struct kpin_gitindex *ix, const char *path,
			  const void *data, size_t len, struct stat *st)
{
	struct kpin_buf full = KPIN_BUF_INIT;
	int rc;

	kpin_buf_addf(&full, "%s%s", git_repository_workdir(ix->repo), path);
	rc = kpin_file_replace(full.ptr, data, len, NULL);
	if (rc)
		kpin_error_prefix("%s", path);
	else if (lstat(full.ptr, st) < 0)
		rc = kpin_error_set(KPIN_ERROR, "cannot stat '%s': %s", path,
				    strerror(errno));
	kpin_buf_release(&full);
	return rc;
}

/*
 * Smudge every racily clean entry but the edited ones (@skip): an entry
 * whose file was modified in the second the old index was written, whose
 * stat data still match, but whose content differs. Once the index is
 * rewritten its mtime is later, and git would trust those stat data: the
 * change would vanish from git status (git's ce_smudge_racily_clean_entry
 * and libgit2's truncate_racily_clean do this too).
 */
static void smudge_racy(struct kpin_gitindex *ix, const char *const *skip,
			size_t nskip)
{
	const char *wd = git_repository_workdir(ix->repo);
	struct kpin_buf full = KPIN_BUF_INIT;
	size_t r, k;

	for (r = 0; r < ix->nracy; r++) {
		const struct racy *c = &ix->racy[r];
		struct kpin_ixf_entry e;
		struct kpin_ixf_stat now;
		struct stat st;
		git_oid id;

		for (k = 0; k < nskip && strcmp(skip[k], c->path); k++)
			;
		kpin_ixf_entry_read(&ix->ixf, c->off, &e);
		if (k < nskip || (e.flags & (KPIN_IXF_SKIP_WORKTREE |
					     KPIN_IXF_ASSUME_VALID)))
			continue;
		kpin_buf_reset(&full);
		kpin_buf_addf(&full, "%s%s", wd, c->path);
		if (lstat(full.ptr, &st) < 0)
			continue;	/* git sees a deleted file */
		stat_data(&now, &st);
		if (kpin_ixf_stat_differs(&e, &now))
			continue;	/* git sees the change anyway */
		if ((!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) ||
		    hash_worktree(&id, ix, full.ptr, c->path, &st) ||
		    memcmp(id.id, e.id, KPIN_IXF_ID))
			kpin_ixf_smudge(&ix->ixf, c->off);
	}
	kpin_error_clear();
	kpin_buf_release(&full);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Stage the patched index through index.lock; the caller puts it in
 * place (kpin_lock_commit()) once the branch has moved.
 */
static int write_index(struct kpin_gitindex *ix, const struct kpin_buf *ext,
		       const unsigned char sum[KPIN_IXF_ID])
{
	int fd = kpin_lock_fd(ix->lock);

	if (fd < 0)
		return fd;
	if (write_all(fd, ix->buf, ix->ixf.ext) < 0 ||
	    write_all(fd, ext->ptr ? ext->ptr : "", ext->len) < 0 ||
	    write_all(fd, sum, KPIN_IXF_ID) < 0)
		return kpin_error_set(KPIN_ERROR, "cannot write the new index "
				      "'%s': %s", ix->lock->stage,
				      strerror(errno));
	return 0;
}

/* The version of the worktree file @path, as git would hash it. */
static int worktree_id(git_oid *out, struct kpin_gitindex *ix,
		       const char *path)
{
	struct kpin_buf full = KPIN_BUF_INIT;
	struct stat st;
	int rc;

	kpin_buf_addf(&full, "%s%s", git_repository_workdir(ix->repo), path);
	rc = lstat(full.ptr, &st) < 0 ?
	     kpin_error_set(KPIN_ERROR, "cannot stat '%s': %s", path,
			    strerror(errno)) :
	     hash_worktree(out, ix, full.ptr, path, &st);
	kpin_buf_release(&full);
	return rc;
}

int kpin_gitindex_restore(struct kpin_gitindex *ix,
			  const struct kpin_index_edit *e, size_t n)
{
	size_t k;
	int rc = 0;

	for (k = 0; k < n; k++) {
		git_buf filtered = GIT_BUF_INIT;
		git_blob *blob = NULL;
		struct stat st;
		int one;

		if (e[k].skipped)
			continue;	/* its worktree was never written */
		one = checkout_bytes(&filtered, &blob, ix, e[k].path,
				     &e[k].was_id);
		if (!one)
			one = filtered.ptr ?
			      write_worktree(ix, e[k].path, filtered.ptr,
					     filtered.size, &st) :
			      write_worktree(ix, e[k].path,
					     git_blob_rawcontent(blob),
					     (size_t)git_blob_rawsize(blob), &st);
		if (one && !rc)
			rc = one;
		git_buf_dispose(&filtered);
		git_blob_free(blob);
	}
	return rc;
}

/* What one edited path needs: its entry and its checked-out bytes. */
struct pending {
	long off;
	bool skip;
	git_blob *blob;
	git_buf filtered;
};

int kpin_gitindex_commit(struct kpin_gitindex *ix,
			 struct kpin_index_edit *e, size_t n)
{
	struct pending *pend = xcalloc(n + 1, sizeof(*pend));
	const char **paths = xcalloc(n + 1, sizeof(*paths));
	struct kpin_buf ext = KPIN_BUF_INIT;
	unsigned char sum[KPIN_IXF_ID];
	size_t k;
	int rc = 0;

	/* first everything that can fail without having changed a thing */
	for (k = 0; k < n && !rc; k++) {
		struct kpin_ixf_entry ent;

		paths[k] = e[k].path;
		pend[k].off = find(ix, e[k].path);
		if (pend[k].off < 0) {
			rc = kpin_error_set(KPIN_ERROR, "'%s' is not in the "
					    "index", e[k].path);
			break;
		}
		kpin_ixf_entry_read(&ix->ixf, (size_t)pend[k].off, &ent);
		pend[k].skip = e[k].skipped =
			(ent.flags & KPIN_IXF_SKIP_WORKTREE) != 0;
		git_oid_cpy(&e[k].was_id, &e[k].old_id);
		if (!pend[k].skip && e[k].held)
			rc = worktree_id(&e[k].was_id, ix, e[k].path);
		if (!pend[k].skip && !rc)
			rc = checkout_bytes(&pend[k].filtered, &pend[k].blob,
					    ix, e[k].path, &e[k].new_id);
	}
	if (!rc)
		smudge_racy(ix, paths, n);
	/* then the worktree files, whose stat data go in the index */
	for (k = 0; k < n && !rc; k++) {
		struct kpin_ixf_entry ent;
		struct kpin_ixf_stat sd;
		struct stat st;
		const struct pending *p = &pend[k];

		if (p->skip) {
			kpin_ixf_entry_update(&ix->ixf, (size_t)p->off, NULL,
					      e[k].new_id.id);
			continue;
		}
		rc = p->filtered.ptr ?
		     write_worktree(ix, e[k].path, p->filtered.ptr,
				    p->filtered.size, &st) :
		     write_worktree(ix, e[k].path, git_blob_rawcontent(p->blob),
				    (size_t)git_blob_rawsize(p->blob), &st);
		if (rc)
			break;
		stat_data(&sd, &st);
		/* the mode stays the index's (core.fileMode may be false) */
		kpin_ixf_entry_read(&ix->ixf, (size_t)p->off, &ent);
		sd.mode = ent.st.mode;
		kpin_ixf_entry_update(&ix->ixf, (size_t)p->off, &sd,
				      e[k].new_id.id);
	}
	if (!rc)
		rc = kpin_ixf_serialise(&ext, sum, &ix->ixf, paths, n);
	if (!rc)
		rc = write_index(ix, &ext, sum);
	for (k = 0; k < n; k++) {
		git_buf_dispose(&pend[k].filtered);
		git_blob_free(pend[k].blob);
	}
	free(pend);
	free(paths);
	kpin_buf_release(&ext);
	return rc;
}

int kpin_gitindex_settle(struct kpin_gitindex *ix,
			 const struct kpin_index_edit *e, size_t n,
			 const git_oid *target, bool *staged,
			 struct kpin_buf *notes)
{
	struct kpin_index_edit *to = xcalloc(n + 1, sizeof(*to));
	size_t k, nt = 0;
	int rc = 0;

	for (k = 0; k < n; k++) {
		const git_oid *ids[] = { &e[k].held_old, &e[k].held_new,
					 &target[k] };
		git_oid ent, wt;

		if (git_oid_is_zero(&target[k])) {
			kpin_buf_addf(notes, "left '%s' in the checkout "
				      "alone: the branch no longer has it\n",
				      e[k].path);
			continue;
		}
		if (kpins(ix, e[k].path, ids, 3, &ent, &wt)) {
			kpin_buf_addf(notes, "left '%s' in the checkout "
				      "alone: it changed while kpin's "
				      "version was staged\n", e[k].path);
			continue;
		}
		if (git_oid_equal(&ent, &target[k]) &&
		    git_oid_equal(&wt, &target[k]))
			continue;	/* where the branch is already */
		to[nt] = e[k];
		to[nt].held = true;
		git_oid_cpy(&to[nt].old_id, &ent);
		git_oid_cpy(&to[nt].new_id, &target[k]);
		nt++;
	}
	*staged = nt > 0;
	if (nt)
		rc = kpin_gitindex_commit(ix, to, nt);
	free(to);
	return rc;
}
