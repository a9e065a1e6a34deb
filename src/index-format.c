/*
 * The git index as bytes (see src/index-format.h). The format is git's
 * Documentation/gitformat-index.txt: a 12-byte header ("DIRC", version 2,
 * 3 or 4, entry count), entries sorted by path, extensions, and a SHA-1
 * of everything before it. An entry is 40 bytes of stat data, a 20-byte
 * object id, 16 bits of flags (assume-valid in bit 15, extended in bit
 * 14, stage in bits 12-13, the path length in bits 0-11), 16 more flag
 * bits in version 3 and later when extended (skip-worktree in bit 14,
 * intent-to-add in bit 13), then the path: NUL-padded to a multiple of 8
 * bytes in versions 2 and 3, or prefix compressed (a varint of bytes to
 * drop from the previous path, then a NUL-terminated suffix) in version
 * 4. Changing an entry's stat data and id never changes its length, so
 * entries are patched in place; only the TREE extension (the cache of
 * tree ids) changes size, which is why the optional EOIE and IEOT
 * extensions, which hold offsets, are dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "kpin/error.h"
#include "kpin/xalloc.h"
#include "index-format.h"
#include "sha1.h"

#define HEADER 12
#define TRAILER KPIN_IXF_ID
#define ENTRY_FIXED 62		/* stat data, id and flags */
#define FLAG_ASSUME_VALID 0x8000
#define FLAG_EXTENDED 0x4000
#define FLAG_STAGE 0x3000
#define FLAG_NAMEMASK 0x0fff
#define XFLAG_SKIP_WORKTREE 0x4000
#define XFLAG_INTENT_TO_ADD 0x2000
#define S_IFMT_ 0170000
#define S_IFGITLINK 0160000

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

/*
 * git's offset varint (varint.c): 7 bits a byte, most significant group
 * first, each continuation adding one. Returns the offset past it, or 0
 * when it runs past @end or overflows.
 */
static size_t varint(const unsigned char *b, size_t p, size_t end,
		     size_t *out)
{
	size_t v;

	if (p >= end)
		return 0;
	v = b[p] & 0x7f;
	while (b[p++] & 0x80) {
		if (p >= end || v >= ((size_t)1 << (sizeof(v) * 8 - 8)))
			return 0;
		v = ((v + 1) << 7) | (b[p] & 0x7f);
	}
	*out = v;
	return p;
}

/* ---- the cache tree -------------------------------------------------- */

/* One node of the TREE extension, as read by tree_node(). */
struct tree_node {
	const unsigned char *name;
	size_t nlen;
	long entries;		/* -1: invalid, no id follows */
	long subtrees;
	const unsigned char *id;	/* NULL when invalid */
};

/* A decimal that git's "%d" wrote, ending at @stop; 0 or -1. */
static int decimal(long *out, const unsigned char **p,
		   const unsigned char *end, int stop)
{
	const unsigned char *q = *p;
	bool neg = q < end && *q == '-';
	long v = 0;

	q += neg;
	if (q >= end || *q < '0' || *q > '9')
		return -1;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (v > 100000000L)
			return -1;	/* more entries than an index holds */
		v = v * 10 + (*q - '0');
	}
	if (q >= end || *q != stop)
		return -1;
	*out = neg ? -v : v;
	*p = q + 1;
	return 0;
}

/* Read the node at @d[*p]; returns 0 or -1 (corrupt). */
static int tree_node(struct tree_node *t, const unsigned char *d, size_t len,
		     size_t *p)
{
	const unsigned char *q = d + *p, *end = d + len, *nul;

	nul = memchr(q, 0, (size_t)(end - q));
	if (!nul)
		return -1;
	t->name = q;
	t->nlen = (size_t)(nul - q);
	q = nul + 1;
	if (decimal(&t->entries, &q, end, ' ') ||
	    decimal(&t->subtrees, &q, end, '\n') ||
	    t->entries < -1 || t->subtrees < 0)
		return -1;
	t->id = NULL;
	if (t->entries >= 0) {
		if ((size_t)(end - q) < KPIN_IXF_ID)
			return -1;
		t->id = q;
		q += KPIN_IXF_ID;
	}
	*p = (size_t)(q - d);
	return 0;
}

/* Is directory @dir (a cache-tree path, "" for the root) above @file? */
static bool above(const char *dir, size_t dlen, const char *file)
{
	return dlen == 0 || (!strncmp(file, dir, dlen) && file[dlen] == '/');
}

/*
 * Walk the TREE extension, in pre-order: each node's name, entry count
 * (-1 when invalid) and subtree count, then its id when valid. With @out,
 * copy it there, invalidating every node above one of @paths. The stack
 * of directories grows as deep as the data asks: a path has no depth
 * limit in git.
 */
static int tree_walk(struct kpin_buf *out, const unsigned char *d,
		     size_t len, const char *const *paths, size_t n)
{
	struct level { size_t plen; long left; } *stack = NULL;
	struct kpin_buf dir = KPIN_BUF_INIT;
	size_t p = 0, depth = 0, cap = 0, k;
	int rc = 0;

	kpin_buf_grow(&dir, 0);
	dir.ptr[0] = '\0';
	do {
		struct tree_node t;
		bool invalid;

		if (tree_node(&t, d, len, &p)) {
			rc = corrupt("cache tree");
			break;
		}
		if (depth > 0)
			stack[depth - 1].left--;
		dir.len = depth > 0 ? stack[depth - 1].plen : 0;
		if (depth > 0) {
			if (dir.len)
				kpin_buf_addch(&dir, '/');
			kpin_buf_add(&dir, t.name, t.nlen);
		}
		dir.ptr[dir.len] = '\0';
		invalid = t.entries < 0;
		for (k = 0; k < n && !invalid; k++)
			invalid = above(dir.ptr, dir.len, paths[k]);
		if (out) {
			kpin_buf_add(out, t.name, t.nlen + 1);
			if (invalid) {
				kpin_buf_addf(out, "-1 %ld\n", t.subtrees);
			} else {
				kpin_buf_addf(out, "%ld %ld\n", t.entries,
					      t.subtrees);
				kpin_buf_add(out, t.id, KPIN_IXF_ID);
			}
		}
		if (depth == cap) {
			cap = cap ? 2 * cap : 16;
			stack = xreallocarray(stack, cap, sizeof(*stack));
		}
		stack[depth].plen = dir.len;
		stack[depth].left = t.subtrees;
		depth++;
		while (depth > 0 && stack[depth - 1].left == 0)
			depth--;
	} while (depth > 0 && p < len);
	if (!rc && (depth > 0 || p != len))
		rc = corrupt(depth > 0 ? "cache tree truncated" :
			     "data after the cache tree");
	free(stack);
	kpin_buf_release(&dir);
	return rc;
}

/* ---- entries --------------------------------------------------------- */

/*
 * Walk the entries from offset 12, calling @visit on each; sets ix->ext.
 * Paths are passed in place (versions 2 and 3) or rebuilt in a scratch
 * buffer (version 4's prefix compression).
 */
static int walk(struct kpin_ixf *ix, kpin_ixf_visit_fn visit, void *arg)
{
	const unsigned char *b = ix->buf;
	struct kpin_buf prev = KPIN_BUF_INIT;
	size_t off = HEADER, end = ix->len - TRAILER;
	uint32_t i;
	int rc = 0;

	kpin_buf_grow(&prev, 0);
	prev.ptr[0] = '\0';
	for (i = 0; i < ix->count && !rc; i++) {
		size_t hdr = ENTRY_FIXED, plen, p, next;
		unsigned flags;
		const unsigned char *s;
		const char *path;

		if (end - off < hdr + 1) {
			rc = corrupt("entries run past the end");
			break;
		}
		flags = (unsigned)(b[off + 60] << 8 | b[off + 61]);
		if (flags & FLAG_EXTENDED) {
			if (ix->version < 3) {
				rc = corrupt("extended flags in version 2");
				break;
			}
			hdr += 2;
			if (end - off < hdr + 1) {
				rc = corrupt("entries run past the end");
				break;
			}
		}
		p = off + hdr;
		if (ix->version == 4) {
			size_t strip;

			p = varint(b, p, end, &strip);
			s = p ? memchr(b + p, 0, end - p) : NULL;
			if (!s || strip > prev.len) {
				rc = corrupt("bad path");
				break;
			}
			prev.len -= strip;
			kpin_buf_add(&prev, b + p, (size_t)(s - b - p));
			prev.ptr[prev.len] = '\0';
			path = prev.ptr;
			plen = prev.len;
			next = (size_t)(s + 1 - b);
		} else {
			s = memchr(b + p, 0, end - p);
			if (!s) {
				rc = corrupt("bad path");
				break;
			}
			path = (const char *)b + p;
			plen = (size_t)(s - b - p);
			if ((hdr + plen + 8) / 8 * 8 > end - off) {
				rc = corrupt("entries run past the end");
				break;
			}
			next = off + ((hdr + plen + 8) & ~(size_t)7);
		}
		/* git reads the path length from the flags when under 4095 */
		if ((flags & FLAG_NAMEMASK) != FLAG_NAMEMASK &&
		    (flags & FLAG_NAMEMASK) != plen) {
			rc = corrupt("path length");
			break;
		}
		if (visit)
			visit(arg, ix, off, path, plen);
		off = next;
	}
	ix->ext = off;
	kpin_buf_release(&prev);
	return rc;
}

/* Check the extensions' sizes; note TREE and the first mandatory one. */
static int extensions(struct kpin_ixf *ix)
{
	size_t off = ix->ext, end = ix->len - TRAILER;

	while (off < end) {
		const unsigned char *sig = ix->buf + off;
		uint32_t size;

		if (end - off < 8)
			return corrupt("truncated extension");
		size = get32(sig + 4);
		if (size > end - off - 8)
			return corrupt("extension size");
		if (!memcmp(sig, "TREE", 4) && !ix->tree) {
			ix->tree = off + 8;
			ix->tree_len = size;
			if (size && tree_walk(NULL, sig + 8, size, NULL, 0))
				return kpin_error_last()->code;
		}
		if ((sig[0] < 'A' || sig[0] > 'Z') && !ix->mandatory)
			ix->mandatory = off;
		off += 8 + size;
	}
	return 0;
}

int kpin_ixf_parse(struct kpin_ixf *ix, unsigned char *buf, size_t len,
		   kpin_ixf_visit_fn visit, void *arg)
{
	int rc;

	memset(ix, 0, sizeof(*ix));
	ix->buf = buf;
	ix->len = len;
	if (len < HEADER + TRAILER || memcmp(buf, "DIRC", 4))
		return corrupt("no DIRC header");
	ix->version = get32(buf + 4);
	ix->count = get32(buf + 8);
	if (ix->version < 2 || ix->version > 4)
		return kpin_error_set(KPIN_ENOTSUP, "index version %u",
				      ix->version);
	if (ix->count > (len - HEADER - TRAILER) / (ENTRY_FIXED + 1))
		return corrupt("entry count");
	rc = walk(ix, visit, arg);
	if (!rc)
		rc = extensions(ix);
	return rc;
}

struct find {
	const char *const *paths;
	size_t n;
	long *off;
};

static void find_one(void *arg, const struct kpin_ixf *ix, size_t off,
		     const char *path, size_t plen)
{
	struct find *f = arg;
	size_t k;

	for (k = 0; k < f->n; k++)
		if (f->off[k] < 0 && !strncmp(f->paths[k], path, plen) &&
		    !f->paths[k][plen])
			f->off[k] = (long)off;
}

void kpin_ixf_find(const struct kpin_ixf *ix, const char *const *paths,
		   size_t n, long *off)
{
	struct kpin_ixf copy = *ix;
	struct find f = { paths, n, off };
	size_t k;

	for (k = 0; k < n; k++)
		off[k] = -1;
	/* parsed already: the walk cannot fail */
	walk(&copy, find_one, &f);
}

void kpin_ixf_entry_read(const struct kpin_ixf *ix, size_t off,
			 struct kpin_ixf_entry *out)
{
	const unsigned char *p = ix->buf + off;
	unsigned flags = (unsigned)(p[60] << 8 | p[61]), x = 0;

	out->st.ctime_sec = get32(p);
	out->st.ctime_nsec = get32(p + 4);
	out->st.mtime_sec = get32(p + 8);
	out->st.mtime_nsec = get32(p + 12);
	out->st.dev = get32(p + 16);
	out->st.ino = get32(p + 20);
	out->st.mode = get32(p + 24);
	out->st.uid = get32(p + 28);
	out->st.gid = get32(p + 32);
	out->st.size = get32(p + 36);
	memcpy(out->id, p + 40, KPIN_IXF_ID);
	out->stage = (flags & FLAG_STAGE) >> 12;
	if (flags & FLAG_EXTENDED)
		x = (unsigned)(p[62] << 8 | p[63]);
	out->flags = (flags & FLAG_ASSUME_VALID ? KPIN_IXF_ASSUME_VALID : 0) |
		     (x & XFLAG_SKIP_WORKTREE ? KPIN_IXF_SKIP_WORKTREE : 0) |
		     (x & XFLAG_INTENT_TO_ADD ? KPIN_IXF_INTENT_TO_ADD : 0);
}

void kpin_ixf_entry_update(struct kpin_ixf *ix, size_t off,
			   const struct kpin_ixf_stat *st,
			   const unsigned char id[KPIN_IXF_ID])
{
	unsigned char *p = ix->buf + off;
	struct kpin_ixf_stat none;

	if (!st) {
		memset(&none, 0, sizeof(none));
		none.mode = get32(p + 24);
		st = &none;
	}
	put32(p, st->ctime_sec);
	put32(p + 4, st->ctime_nsec);
	put32(p + 8, st->mtime_sec);
	put32(p + 12, st->mtime_nsec);
	put32(p + 16, st->dev);
	put32(p + 20, st->ino);
	put32(p + 24, st->mode);
	put32(p + 28, st->uid);
	put32(p + 32, st->gid);
	put32(p + 36, st->size);
	memcpy(p + 40, id, KPIN_IXF_ID);
}

bool kpin_ixf_is_racy(const struct kpin_ixf_entry *e,
		      uint32_t index_mtime_sec)
{
	return (e->st.mode & S_IFMT_) != S_IFGITLINK && index_mtime_sec &&
	       e->st.mtime_sec >= index_mtime_sec;
}

bool kpin_ixf_stat_differs(const struct kpin_ixf_entry *e,
			   const struct kpin_ixf_stat *st)
{
	return (e->st.mode & S_IFMT_) != (st->mode & S_IFMT_) ||
	       e->st.mtime_sec != st->mtime_sec || e->st.size != st->size;
}

void kpin_ixf_smudge(struct kpin_ixf *ix, size_t off)
{
	put32(ix->buf + off + 36, 0);
}

int kpin_ixf_serialise(struct kpin_buf *ext, unsigned char sum[KPIN_IXF_ID],
		       const struct kpin_ixf *ix, const char *const *paths,
		       size_t n)
{
	struct kpin_sha1 c;
	size_t off, end = ix->len - TRAILER;

	kpin_buf_reset(ext);
	for (off = ix->ext; off < end;) {
		const unsigned char *sig = ix->buf + off;
		uint32_t size = get32(sig + 4);

		if (ix->tree && off + 8 == ix->tree && size) {
			size_t at = ext->len;

			kpin_buf_add(ext, sig, 8);
			if (tree_walk(ext, sig + 8, size, paths, n))
				return kpin_error_last()->code;
			put32((unsigned char *)ext->ptr + at + 4,
			      (uint32_t)(ext->len - at - 8));
		} else if (memcmp(sig, "EOIE", 4) && memcmp(sig, "IEOT", 4)) {
			kpin_buf_add(ext, sig, 8 + size);
		}
		off += 8 + size;
	}
	kpin_sha1_init(&c, false);
	kpin_sha1_update(&c, ix->buf, ix->ext);
	kpin_sha1_update(&c, ext->ptr ? ext->ptr : "", ext->len);
	kpin_sha1_final(sum, &c);
	return 0;
}
