/*
 * libFuzzer target for the index format code (src/index-format.c): any
 * bytes as an index file. What parses is walked, read, patched, smudged
 * and serialised, and the serialised index must parse again with the
 * same entries; nothing may crash, leak or read out of bounds. Seeds:
 * testdata/index/, index files git wrote (tests/fuzz/run.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kpin.h"
#include "../../src/index-format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every entry; patch and smudge the first, remember two paths. */
static void visit(void *arg, const struct kpin_ixf *ix, size_t off,
		  const char *path, size_t plen)
{
	char **paths = arg;
	struct kpin_ixf_entry e;

	kpin_ixf_entry_read(ix, off, &e);
	if (e.stage > 3 || strlen(path) != plen)
		abort();
	(void)kpin_ixf_is_racy(&e, e.st.mtime_sec);
	(void)kpin_ixf_stat_differs(&e, &e.st);
	if (!paths[0]) {
		kpin_ixf_entry_update((struct kpin_ixf *)ix, off, NULL, e.id);
		kpin_ixf_smudge((struct kpin_ixf *)ix, off);
		paths[0] = strdup(path);
	} else if (!paths[1]) {
		paths[1] = strdup(path);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(size ? size : 1), *again;
	struct kpin_buf ext = KPIN_BUF_INIT;
	struct kpin_ixf ix, ix2;
	unsigned char sum[KPIN_IXF_ID];
	char *paths[2] = { NULL, NULL };
	long off[2];
	size_t n;

	memcpy(buf, data, size);
	if (kpin_ixf_parse(&ix, buf, size, visit, paths))
		goto out;
	n = paths[1] ? 2 : paths[0] ? 1 : 0;
	kpin_ixf_find(&ix, (const char *const *)paths, n, off);
	if (n && off[0] < 0)
		abort();
	if (kpin_ixf_serialise(&ext, sum, &ix, (const char *const *)paths, n))
		abort();	/* parse checked the cache tree */
	again = malloc(ix.ext + ext.len + KPIN_IXF_ID);
	memcpy(again, buf, ix.ext);
	if (ext.len)
		memcpy(again + ix.ext, ext.ptr, ext.len);
	memcpy(again + ix.ext + ext.len, sum, KPIN_IXF_ID);
	if (kpin_ixf_parse(&ix2, again, ix.ext + ext.len + KPIN_IXF_ID, NULL,
			   NULL) || ix2.count != ix.count || ix2.ext != ix.ext)
		abort();
	free(again);
out:
	free(paths[0]);
	free(paths[1]);
	kpin_buf_release(&ext);
	free(buf);
	return 0;
}
