/*
 * Direct index updates (see src/gitindex.h). The format is git's
 * Documentation/gitformat-index.txt: a 12-byte header ("DIRC", version 2,
 * 3 or 4, entry count), entries sorted by path, extensions, and a SHA-1
 * of everything before it. An entry is 40 bytes of stat data, a 20-byte
 * object id, 16 bits of flags (stage in bits 12-13, extended in bit 14),
 * 16 more flag bits in version 3 and later when extended, then the path:
 * NUL-padded to a multiple of 8 bytes in versions 2 and 3, or prefix
 * compressed (a varint of bytes to drop from the previous path, then a
 * NUL-terminated suffix) in version 4. Changing an entry's stat data and
 * id never changes its length, so entries are patched in place; only the
 * TREE extension (the cache of tree ids) changes size, which is why the
 * optional EOIE and IEOT extensions, which hold offsets, are dropped.
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
#include "lock.h"
#include "sha1.h"
#include "kpin/xalloc.h"
#include "git-lazy.h"

#define ENTRY_FIXED 62		/* stat data, id and flags */
#define FLAG_EXTENDED 0x4000
#define FLAG_STAGE 0x3000
#define XFLAG_SKIP_WORKTREE 0x4000
#define XFLAG_INTENT_TO_ADD 0x2000
#define LOCK_WAIT_MS 2000

struct kpin_gitindex {
	git_repository *repo;
	char *path;		/* .git/index */
	struct kpin_lock lock;	/* index.lock, while we hold it */
	unsigned char *buf;	/* the index file, mapped copy-on-write */
	size_t len;
	struct stat st;		/* of the index file when read */
	uint32_t version;
	uint32_t count;
	size_t ext;		/* offset of the first extension */
	const char **want;	/* the paths asked about, and attribute files */
	long *found;		/* their entries' offsets, -1 when absent */
	size_t nwant;
};

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static int corrupt(const char *what)
{
	return kpin_error_set(KPIN_ERROR, "the index looks corrupt (%s); run "
			      "'git status' to see what git makes of it", what);
}

/* Note entry @off if its path is one of those asked about. */
static void match(struct kpin_gitindex *ix, const char *path, size_t plen,
		  size_t off)
{
	size_t k;

	for (k = 0; k < ix->nwant; k++)
		if (ix->found[k] < 0 && strlen(ix->want[k]) == plen &&
		    !memcmp(ix->want[k], path, plen))
			ix->found[k] = (long)off;
}

/*
 * Walk the index's entries once, noting where the asked-about paths are.
 * Like git, which checks the trailing checksum only in fsck, this does
 * not hash the file on reading: on a 100k-file index that hash was a
 * fifth of kpin's time. Every offset is still bounds-checked, and the
 * index written back gets a fresh checksum. Paths are compared in place
 * (versions 2 and 3) or rebuilt in a scratch buffer (version 4's prefix
 * compression).
 */
static int parse(struct kpin_gitindex *ix)
{
	const unsigned char *b = ix->buf;
	struct kpin_buf prev = KPIN_BUF_INIT;
	size_t off = 12, i, end = ix->len - 20;
	int rc = 0;

	if (ix->len < 32 || memcmp(b, "DIRC", 4))
		return corrupt("no DIRC header");
	ix->version = get32(b + 4);
	ix->count = get32(b + 8);
	if (ix->version < 2 || ix->version > 4)
		return kpin_error_set(KPIN_ENOTSUP, "index version %u",
				      ix->version);
	if (ix->count > ix->len / ENTRY_FIXED)
		return corrupt("entry count");
	for (i = 0; i < ix->count; i++) {
		size_t hdr = ENTRY_FIXED, plen;
		unsigned flags;
		const unsigned char *p, *s;

		if (off + hdr > end) {
			rc = corrupt("entries run past the end");
			break;
		}
		flags = (unsigned)(b[off + 60] << 8 | b[off + 61]);
		if (flags & FLAG_EXTENDED) {
			if (ix->version < 3) {
				rc = corrupt("extended flag in version 2");
				break;
			}
			hdr += 2;
		}
		p = b + off + hdr;
		if (ix->version == 4) {
			size_t strip;
			int shift = 0;

			/* git's offset varint: 7 bits a byte, +1 per extra */
			strip = *p & 0x7f;
			while (*p++ & 0x80) {
				if (p >= b + end || ++shift > 8) {
					rc = corrupt("bad path prefix");
					goto out;
				}
				strip = ((strip + 1) << 7) | (*p & 0x7f);
			}
			s = memchr(p, 0, (size_t)(b + end - p));
			if (!s || strip > prev.len) {
				rc = corrupt("bad path");
				goto out;
			}
			prev.len -= strip;
			kpin_buf_add(&prev, p, (size_t)(s - p));
			match(ix, prev.ptr, prev.len, off);
			off = (size_t)(s + 1 - b);
		} else {
			s = memchr(p, 0, (size_t)(b + end - p));
			if (!s) {
				rc = corrupt("unterminated path");
				break;
			}
			plen = (size_t)(s - p);
			match(ix, (const char *)p, plen, off);
			off += (hdr + plen + 8) & ~(size_t)7;
		}
	}
	if (!rc && off > end)
		rc = corrupt("entries run past the end");
	ix->ext = off;
out:
	kpin_buf_release(&prev);
	return rc;
}

/* Which extensions can we carry: refuse the mandatory ones we don't know. */
static int check_extensions(const struct kpin_gitindex *ix)
{
	size_t off = ix->ext, end = ix->len - 20;

	while (off < end) {
		uint32_t size;

		if (off + 8 > end)
			return corrupt("truncated extension");
		size = get32(ix->buf + off + 4);
		if (size > end - off - 8)
			return corrupt("extension size");
		/*
		 * A mandatory extension (lowercase) we cannot carry; libgit2
		 * 1.5.1 reads neither "link" (split index) nor "sdir"
		 * (sparse index) either, so there is nowhere to fall back.
		 */
		if (ix->buf[off] < 'A' || ix->buf[off] > 'Z')
			return kpin_error_set(KPIN_EINVALID, "the index uses "
					      "git's '%.4s' extension (%s), which "
					      "kpin cannot update; nothing "
					      "changed", ix->buf + off,
					      !memcmp(ix->buf + off, "link", 4) ?
					      "split index: git update-index "
					      "--no-split-index turns it off" :
					      !memcmp(ix->buf + off, "sdir", 4) ?
					      "sparse index" : "unknown");
		off += 8 + size;
	}
	return 0;
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
		       const char *const *paths, size_t npaths)
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
	ix->lock = (struct kpin_lock)KPIN_LOCK_INIT;
	ix->buf = MAP_FAILED;
	add_wanted(ix, paths, npaths);
	kpin_buf_addf(&b, "%sindex", gitdir);
	ix->path = kpin_buf_detach(&b, NULL);
	rc = kpin_lock_take(&ix->lock, ix->path, LOCK_WAIT_MS);
	if (rc)
		goto fail;
	fd = open(ix->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ?
			kpin_error_set(KPIN_ENOTSUP, "no index yet") :
			kpin_error_set(KPIN_ERROR, "cannot open '%s': %s",
				       ix->path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &ix->st) < 0 || ix->st.st_size < 32) {
		close(fd);
		rc = corrupt("too short");
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
	rc = parse(ix);
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
	kpin_lock_release(&ix->lock);
	if (ix->buf != MAP_FAILED)
		munmap(ix->buf, ix->len);
	while (ix->nwant)
		free((char *)ix->want[--ix->nwant]);
	free(ix->want);
	free(ix->found);
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

static unsigned entry_flags(const struct kpin_gitindex *ix, long i)
{
	const unsigned char *p = ix->buf + i;

	return (unsigned)(p[60] << 8 | p[61]);
}

static unsigned entry_xflags(const struct kpin_gitindex *ix, long i)
{
	const unsigned char *p = ix->buf + i;

	return (entry_flags(ix, i) & FLAG_EXTENDED) ?
	       (unsigned)(p[62] << 8 | p[63]) : 0;
}

/* Does the worktree file's stat data match the entry (git's checkStat)? */
static bool stat_matches(const struct kpin_gitindex *ix, long i,
			 const struct stat *st)
{
	const unsigned char *p = ix->buf + i;

	return get32(p + 0) == (uint32_t)st->st_ctim.tv_sec &&
	       get32(p + 4) == (uint32_t)st->st_ctim.tv_nsec &&
	       get32(p + 8) == (uint32_t)st->st_mtim.tv_sec &&
	       get32(p + 12) == (uint32_t)st->st_mtim.tv_nsec &&
	       get32(p + 20) == (uint32_t)st->st_ino &&
	       get32(p + 36) == (uint32_t)st->st_size &&
	       /* racily clean: written in the same instant as the index */
	       (st->st_mtim.tv_sec < ix->st.st_mtim.tv_sec ||
		(st->st_mtim.tv_sec == ix->st.st_mtim.tv_sec &&
		 st->st_mtim.tv_nsec < ix->st.st_mtim.tv_nsec));
}

int kpin_gitindex_check(struct kpin_gitindex *ix,
			const struct kpin_index_edit *e, size_t n)
{
	const char *wd = git_repository_workdir(ix->repo);
	struct kpin_buf path = KPIN_BUF_INIT;
	size_t k;
	int rc = 0;

	for (k = 0; k < n && !rc; k++) {
		long i = find(ix, e[k].path);
		struct stat st;
		git_oid id;

		if (i < 0 || (entry_flags(ix, i) & FLAG_STAGE) ||
		    (entry_xflags(ix, i) & XFLAG_INTENT_TO_ADD) ||
		    memcmp(ix->buf + i + 40, e[k].old_id.id, 20)) {
			rc = kpin_error_set(KPIN_EINVALID, "'%s' has staged "
					    "changes in the checkout; commit or "
					    "discard them first (nothing "
					    "changed)", e[k].path);
			break;
		}
		if (entry_xflags(ix, i) & XFLAG_SKIP_WORKTREE) {
			rc = kpin_error_set(KPIN_ENOTSUP, "skip-worktree entry");
			break;
		}
		kpin_buf_reset(&path);
		kpin_buf_addf(&path, "%s%s", wd, e[k].path);
		if (lstat(path.ptr, &st) < 0 || !S_ISREG(st.st_mode)) {
			rc = kpin_error_set(KPIN_EINVALID, "'%s' has unstaged "
					    "changes in the checkout (%s); "
					    "restore it first (nothing "
					    "changed)", e[k].path,
					    errno == ENOENT ? "deleted" :
					    "not a regular file");
			break;
		}
		if (stat_matches(ix, i, &st))
			continue;
		if (git_repository_hashfile(&id, ix->repo, path.ptr,
					    GIT_OBJECT_BLOB, e[k].path)) {
			rc = kpin_error_set(KPIN_ERROR, "cannot hash '%s'",
					    e[k].path);
			break;
		}
		if (memcmp(id.id, ix->buf + i + 40, 20))
			rc = kpin_error_set(KPIN_EINVALID, "'%s' has unstaged "
					    "changes in the checkout; commit or "
					    "discard them first (nothing "
					    "changed)", e[k].path);
	}
	kpin_buf_release(&path);
	return rc;
}

/* Is directory @dir (a cache-tree path, "" for the root) above @file? */
static bool above(const char *dir, size_t dlen, const char *file)
{
	return dlen == 0 || (!strncmp(file, dir, dlen) && file[dlen] == '/');
}

/*
 * Copy the TREE extension, invalidating (entry count -1, no id) every
 * cached tree that contains one of the edited paths. Nodes are in
 * pre-order: name, NUL, "entries subtrees\n", then the id when valid.
 */
static int rewrite_tree(struct kpin_buf *out, const unsigned char *d,
			size_t len, const struct kpin_index_edit *e, size_t n)
{
	struct { size_t plen; long left; } stack[128];
	struct kpin_buf path = KPIN_BUF_INIT;
	size_t p = 0, k;
	int depth = 0, rc = 0;

	while (p < len) {
		const unsigned char *name = d + p, *nl, *sp;
		size_t nlen = strnlen((const char *)name, len - p);
		long entries, subtrees;
		bool invalid;
		char *end;

		if (nlen == len - p)
			return corrupt("cache tree name");
		p += nlen + 1;
		nl = memchr(d + p, '\n', len - p);
		sp = nl ? memchr(d + p, ' ', (size_t)(nl - d - p)) : NULL;
		if (!sp)
			return corrupt("cache tree counts");
		entries = strtol((const char *)d + p, &end, 10);
		subtrees = strtol((const char *)sp + 1, &end, 10);
		if (subtrees < 0 || (const unsigned char *)end != nl)
			return corrupt("cache tree counts");
		p = (size_t)(nl + 1 - d);
		if (entries >= 0) {
			if (p + 20 > len)
				return corrupt("cache tree id");
			p += 20;
		}
		while (depth > 0 && stack[depth - 1].left == 0)
			depth--;
		if (depth > 0)
			stack[depth - 1].left--;
		path.len = depth > 0 ? stack[depth - 1].plen : 0;
		if (nlen) {
			if (path.len)
				kpin_buf_addch(&path, '/');
			kpin_buf_add(&path, name, nlen);
		} else {
			kpin_buf_grow(&path, 0);
			path.ptr[path.len] = '\0';
		}
		invalid = entries < 0;
		for (k = 0; k < n && !invalid; k++)
			invalid = above(path.ptr, path.len, e[k].path);
		kpin_buf_add(out, name, nlen + 1);
		if (invalid) {
			kpin_buf_addf(out, "-1 %ld\n", subtrees);
		} else {
			kpin_buf_addf(out, "%ld %ld\n", entries, subtrees);
			kpin_buf_add(out, d + p - 20, 20);
		}
		if (depth == (int)(sizeof(stack) / sizeof(stack[0]))) {
			rc = corrupt("cache tree too deep");
			break;
		}
		stack[depth].plen = path.len;
		stack[depth].left = subtrees;
		depth++;
	}
	kpin_buf_release(&path);
	return rc;
}

static bool exists(const char *path)
{
	struct stat st;

	return path && lstat(path, &st) == 0;
}

/*
 * Could a filter (end-of-line conversion, ident) change @path's content
 * on checkout? Only with core.autocrlf or an attributes file somewhere:
 * the repository's info/attributes, a global or system one, or a
 * .gitattributes on the way to @path in the worktree or the index.
 */
static bool may_filter(struct kpin_gitindex *ix, const char *path)
{
	git_config *cfg = NULL;
	git_buf v = GIT_BUF_INIT;
	struct kpin_buf f = KPIN_BUF_INIT;
	const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *wd = git_repository_workdir(ix->repo);
	bool yes = false;
	size_t k;

	if (git_repository_config_snapshot(&cfg, ix->repo))
		return true;
	if (!git_config_get_string_buf(&v, cfg, "core.autocrlf"))
		yes = strcmp(v.ptr, "false") != 0;
	git_buf_dispose(&v);
	if (!git_config_get_string_buf(&v, cfg, "core.attributesfile"))
		yes = true;
	git_buf_dispose(&v);
	git_config_free(cfg);
	kpin_buf_addf(&f, "%sinfo/attributes", git_repository_path(ix->repo));
	yes = yes || exists(f.ptr) || exists("/etc/gitattributes");
	kpin_buf_reset(&f);
	if (xdg && *xdg)
		kpin_buf_addf(&f, "%s/git/attributes", xdg);
	else if (home)
		kpin_buf_addf(&f, "%s/.config/git/attributes", home);
	yes = yes || exists(f.ptr);
	for (k = 0; k < ix->nwant && !yes; k++) {
		const char *a = ix->want[k];
		size_t dlen = strlen(a) - strlen(".gitattributes");

		if (strcmp(a + dlen, ".gitattributes") ||
		    (dlen && strncmp(a, path, dlen)))
			continue;
		kpin_buf_reset(&f);
		kpin_buf_addf(&f, "%s%s", wd, a);
		yes = ix->found[k] >= 0 || exists(f.ptr);
	}
	kpin_buf_release(&f);
	return yes;
}

/* Write @blob's checked-out content over the worktree file at @path. */
static int write_worktree(struct kpin_gitindex *ix, const char *path,
			  const git_oid *blob_id, struct stat *st)
{
	git_blob_filter_options fo = GIT_BLOB_FILTER_OPTIONS_INIT;
	git_buf content = GIT_BUF_INIT;
	git_blob *blob = NULL;
	struct kpin_buf full = KPIN_BUF_INIT;
	int rc;

	kpin_buf_addf(&full, "%s%s", git_repository_workdir(ix->repo), path);
	rc = git_blob_lookup(&blob, ix->repo, blob_id);
	if (!rc && may_filter(ix, path))
		rc = git_blob_filter(&content, blob, path, &fo);
	if (rc) {
		rc = kpin_error_set(KPIN_ERROR, "cannot check out '%s'", path);
		goto out;
	}
	if (content.ptr)
		rc = kpin_file_replace(full.ptr, content.ptr, content.size,
				       NULL);
	else
		rc = kpin_file_replace(full.ptr, git_blob_rawcontent(blob),
				       (size_t)git_blob_rawsize(blob), NULL);
	if (rc) {
		kpin_error_prefix("%s", path);
		goto out;
	}
	if (lstat(full.ptr, st) < 0)
		rc = kpin_error_set(KPIN_ERROR, "cannot stat '%s': %s", path,
				    strerror(errno));
out:
	git_buf_dispose(&content);
	git_blob_free(blob);
	kpin_buf_release(&full);
	return rc;
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

int kpin_gitindex_commit(struct kpin_gitindex *ix,
			 const struct kpin_index_edit *e, size_t n)
{
	struct kpin_buf ext = KPIN_BUF_INIT;
	struct kpin_sha1 c;
	unsigned char sum[20];
	size_t off, k;
	int fd, rc = 0;

	/* worktree files first, so that their stat data goes in the index */
	for (k = 0; k < n && !rc; k++) {
		long i = find(ix, e[k].path);
		unsigned char *p;
		struct stat st;

		if (i < 0)
			return kpin_error_set(KPIN_ERROR, "'%s' is not in the "
					      "index", e[k].path);
		rc = write_worktree(ix, e[k].path, &e[k].new_id, &st);
		if (rc)
			break;
		p = ix->buf + i;
		put32(p + 0, (uint32_t)st.st_ctim.tv_sec);
		put32(p + 4, (uint32_t)st.st_ctim.tv_nsec);
		put32(p + 8, (uint32_t)st.st_mtim.tv_sec);
		put32(p + 12, (uint32_t)st.st_mtim.tv_nsec);
		put32(p + 16, (uint32_t)st.st_dev);
		put32(p + 20, (uint32_t)st.st_ino);
		put32(p + 28, (uint32_t)st.st_uid);
		put32(p + 32, (uint32_t)st.st_gid);
		put32(p + 36, (uint32_t)st.st_size);
		memcpy(p + 40, e[k].new_id.id, 20);
	}
	if (rc)
		return rc;
	/* extensions: TREE rewritten, EOIE and IEOT (offsets) dropped */
	for (off = ix->ext; off < ix->len - 20;) {
		uint32_t size = get32(ix->buf + off + 4);
		const unsigned char *d = ix->buf + off + 8;

		if (!memcmp(ix->buf + off, "TREE", 4)) {
			struct kpin_buf t = KPIN_BUF_INIT;

			rc = rewrite_tree(&t, d, size, e, n);
			if (!rc && t.len) {
				unsigned char hdr[8];

				memcpy(hdr, "TREE", 4);
				put32(hdr + 4, (uint32_t)t.len);
				kpin_buf_add(&ext, hdr, 8);
				kpin_buf_add(&ext, t.ptr, t.len);
			}
			kpin_buf_release(&t);
			if (rc)
				goto out;
		} else if (memcmp(ix->buf + off, "EOIE", 4) &&
			   memcmp(ix->buf + off, "IEOT", 4)) {
			kpin_buf_add(&ext, ix->buf + off, 8 + size);
		}
		off += 8 + size;
	}
	kpin_sha1_init(&c);
	kpin_sha1_update(&c, ix->buf, ix->ext);
	kpin_sha1_update(&c, ext.ptr ? ext.ptr : "", ext.len);
	kpin_sha1_final(sum, &c);
	fd = kpin_lock_fd(&ix->lock);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if (write_all(fd, ix->buf, ix->ext) < 0 ||
	    write_all(fd, ext.ptr ? ext.ptr : "", ext.len) < 0 ||
	    write_all(fd, sum, 20) < 0) {
		rc = kpin_error_set(KPIN_ERROR, "cannot write the new index "
				    "'%s': %s", ix->lock.stage, strerror(errno));
		goto out;
	}
	rc = kpin_lock_commit(&ix->lock);
out:
	kpin_buf_release(&ext);
	return rc;
}
