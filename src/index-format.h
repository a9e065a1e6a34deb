/*
 * The git index as bytes (git's Documentation/gitformat-index.txt):
 * parse versions 2 to 4, walk and find entries, read and patch an
 * entry's stat data and object id in place, tell and smudge racily clean
 * entries, invalidate the cache tree above changed paths and serialise
 * with a fresh trailer. Pure: no file system, no libgit2, no locks; the
 * index session (gitindex.c) does the I/O around it, the tests and the
 * fuzz target feed it buffers. SHA-1 object ids only (20 bytes).
 * Included by gitindex, tests/test-index-format.c and tests/fuzz.
 */
#ifndef KPIN_INDEX_FORMAT_H
#define KPIN_INDEX_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpin/buf.h"

#define KPIN_IXF_ID 20		/* bytes of an object id */
#define KPIN_ENOTSUP (-38)	/* index code only: use the general path */

/* An entry's flags (the extended ones from version 3 on) */
enum kpin_ixf_flags {
	KPIN_IXF_ASSUME_VALID = 1 << 0,
	KPIN_IXF_SKIP_WORKTREE = 1 << 1,
	KPIN_IXF_INTENT_TO_ADD = 1 << 2
};

/* The stat data git keeps per entry: the low 32 bits of each field. */
struct kpin_ixf_stat {
	uint32_t ctime_sec;
	uint32_t ctime_nsec;
	uint32_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t dev;
	uint32_t ino;
	uint32_t mode;		/* 0100644, 0100755, 0120000, 0160000, 040000 */
	uint32_t uid;
	uint32_t gid;
	uint32_t size;
};

/*
 * struct kpin_ixf_entry - One entry as read
 * @st: its stat data
 * @id: its object id
 * @stage: 0, or 1 to 3 in a conflict
 * @flags: enum kpin_ixf_flags
 */
struct kpin_ixf_entry {
	struct kpin_ixf_stat st;
	unsigned char id[KPIN_IXF_ID];
	unsigned stage;
	unsigned flags;
};

/*
 * struct kpin_ixf - A parsed index over a caller's buffer
 * @buf: the index file's bytes (borrowed; entries are patched in place)
 * @len: their length
 * @version: 2, 3 or 4
 * @count: the number of entries
 * @ext: offset of the first extension (the end of the entries)
 * @tree: offset of the TREE extension's data, 0 when there is none
 * @tree_len: its length
 * @mandatory: offset of the first mandatory extension (a lowercase
 *             signature: "link" split index, "sdir" sparse index...), 0
 *             when there is none
 */
struct kpin_ixf {
	unsigned char *buf;
	size_t len;
	uint32_t version;
	uint32_t count;
	size_t ext;
	size_t tree;
	size_t tree_len;
	size_t mandatory;
};

/*
 * kpin_ixf_visit_fn - Called for each entry, in index order
 * @arg: the caller's
 * @ix: the index being parsed (version, count and buf are set)
 * @off: the entry's offset, for kpin_ixf_entry_read() and friends
 * @path: its path, NUL-terminated (valid during the call only)
 * @plen: the path's length
 */
typedef void (*kpin_ixf_visit_fn)(void *arg, const struct kpin_ixf *ix,
				  size_t off, const char *path, size_t plen);

/*
 * kpin_ixf_parse() - Check an index file's structure, walking each entry
 * @ix: receives the layout
 * @buf: the whole file, trailer included
 * @len: its length
 * @visit: called once per entry, or NULL
 * @arg: for @visit
 *
 * Every offset is bounds-checked: header, entries (path lengths, version
 * 4 prefix compression, padding), extension sizes and the TREE
 * extension's nodes (of any depth). The trailing checksum is not checked,
 * as git checks it only in fsck.
 *
 * Returns: 0, KPIN_ENOTSUP (a version other than 2, 3, 4) or KPIN_ERROR
 * ("the index looks corrupt (...)").
 */
int kpin_ixf_parse(struct kpin_ixf *ix, unsigned char *buf, size_t len,
		   kpin_ixf_visit_fn visit, void *arg);

/*
 * kpin_ixf_find() - Where are these paths' entries?
 * @ix: a parsed index
 * @paths: the paths
 * @n: how many
 * @off: receives each path's first entry offset (the lowest stage), or -1
 *
 * One walk over the index, whatever @n.
 */
void kpin_ixf_find(const struct kpin_ixf *ix, const char *const *paths,
		   size_t n, long *off);

/* kpin_ixf_entry_read() - The entry at @off (an offset from a walk). */
void kpin_ixf_entry_read(const struct kpin_ixf *ix, size_t off,
			 struct kpin_ixf_entry *out);

/*
 * kpin_ixf_entry_update() - Give the entry at @off new stat data and id
 * @st: the new stat data, or NULL for none (zeros, the mode kept), as git
 *      records an entry it did not check out (skip-worktree)
 * @id: the new object id
 *
 * The path and the flags are kept. The cache tree is left to
 * kpin_ixf_serialise().
 */
void kpin_ixf_entry_update(struct kpin_ixf *ix, size_t off,
			   const struct kpin_ixf_stat *st,
			   const unsigned char id[KPIN_IXF_ID]);

/*
 * kpin_ixf_is_racy() - Could the entry's stat data hide a change?
 * @e: the entry
 * @index_mtime_sec: the mtime (seconds) of the index file it was read from
 *
 * True when the entry's file was modified in the second the index was
 * written, or later (git's is_racy_timestamp() as built without
 * USE_NSEC, Debian's git among them; a superset of the nanosecond rule).
 * Gitlinks are never racy.
 */
bool kpin_ixf_is_racy(const struct kpin_ixf_entry *e,
		      uint32_t index_mtime_sec);

/*
 * kpin_ixf_stat_differs() - Would git see a change from stat data alone?
 * @e: the entry
 * @st: the worktree file's stat data
 *
 * The least git compares whatever core.checkStat and core.trustCtime
 * say: file type, mtime seconds and size. False means the content must
 * be compared.
 */
bool kpin_ixf_stat_differs(const struct kpin_ixf_entry *e,
			   const struct kpin_ixf_stat *st);

/*
 * kpin_ixf_smudge() - Mark the entry at @off as needing a content check
 *
 * Its size becomes 0, as git's ce_smudge_racily_clean_entry() does: git
 * then compares the content of a racily clean entry instead of trusting
 * its stat data, whatever the new index file's mtime.
 */
void kpin_ixf_smudge(struct kpin_ixf *ix, size_t off);

/*
 * kpin_ixf_serialise() - The extensions and trailer of the index to write
 * @ext: receives the extensions: TREE with every cached tree above one
 *       of @paths invalidated, EOIE and IEOT (offsets that patching may
 *       not keep) dropped, the others copied
 * @sum: receives the SHA-1 of the header and entries (ix->buf up to
 *       ix->ext, patches included) followed by @ext
 * @ix: a parsed index
 * @paths: the paths whose entries changed
 * @n: how many
 *
 * The index file to write is ix->buf[0..ix->ext), @ext, then @sum.
 *
 * Returns: 0 or KPIN_ERROR (a TREE extension kpin_ixf_parse() would
 * have refused).
 */
int kpin_ixf_serialise(struct kpin_buf *ext, unsigned char sum[KPIN_IXF_ID],
		       const struct kpin_ixf *ix, const char *const *paths,
		       size_t n);

#endif
