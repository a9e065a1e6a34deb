/*
 * The index format code (src/index-format.c) on byte buffers: index
 * files that git itself writes (versions 2, 3 and 4; the TREE, REUC,
 * UNTR, EOIE, IEOT, link and sdir extensions; a cache tree deeper than
 * 128 levels), read, patched, serialised and handed back to git, which
 * must read them as it would its own (git ls-files, write-tree, fsck);
 * every truncation of a real index refused without a crash; and the two
 * SHA-1 implementations agreeing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "../src/index-format.h"
#include "../src/sha1.h"

struct ctx {
	char *dir;
	struct kpin_buf idx;	/* the index file's bytes */
	struct kpin_ixf ixf;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct h_result r;

	c->dir = h_tmpdir();
	assert_int_equal(h_git(&r, c->dir, "init -q -b main && mkdir -p a/b "
			       "c && echo one >a/b/f && echo two >a/g && echo "
			       "three >c/h && echo top >t && git add . && git "
			       "-c user.name=x -c user.email=x@x commit -qm one"),
			 0);
	h_result_release(&r);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	h_rmrf(c->dir);
	free(c->dir);
	kpin_buf_release(&c->idx);
	free(c);
	return 0;
}

/* Run a git command line in the repository; fail on an error. */
static void git(const struct ctx *c, const char *cmd)
{
	struct h_result r;

	if (h_git(&r, c->dir, "%s", cmd))
		fail_msg("git %s: %s", cmd, r.err.ptr);
	h_result_release(&r);
}

/* Read .git/index and parse it. */
static void load(struct ctx *c)
{
	assert_int_equal(h_read(&c->idx, h_path(c->dir, ".git/index")), 0);
	if (kpin_ixf_parse(&c->ixf, (unsigned char *)c->idx.ptr, c->idx.len,
			   NULL, NULL))
		fail_msg("%s", kpin_error_last()->message);
}

/* Serialise with @paths changed and write it back as .git/index. */
static void store(struct ctx *c, const char *const *paths, size_t n)
{
	struct kpin_buf out = KPIN_BUF_INIT, ext = KPIN_BUF_INIT;
	unsigned char sum[KPIN_IXF_ID];

	assert_int_equal(kpin_ixf_serialise(&ext, sum, &c->ixf, paths, n), 0);
	kpin_buf_add(&out, c->idx.ptr, c->ixf.ext);
	kpin_buf_add(&out, ext.ptr ? ext.ptr : "", ext.len);
	kpin_buf_add(&out, sum, sizeof(sum));
	h_write(h_path(c->dir, ".git/index"), out.ptr, out.len);
	kpin_buf_release(&out);
	kpin_buf_release(&ext);
}

/* The offset of @path's entry. */
static size_t find(const struct ctx *c, const char *path)
{
	long off;

	kpin_ixf_find(&c->ixf, &path, 1, &off);
	if (off < 0)
		fail_msg("'%s' not found", path);
	return (size_t)off;
}

/* The extension signatures of the parsed index, in order. */
static const char *signatures(const struct ctx *c)
{
	static char sigs[128];
	size_t off = c->ixf.ext, n = 0;

	while (off < c->ixf.len - 20 && n + 5 < sizeof(sigs)) {
		const unsigned char *p = c->ixf.buf + off;

		memcpy(sigs + n, p, 4);
		sigs[n + 4] = ' ';
		n += 5;
		off += 8 + ((size_t)p[4] << 24 | (size_t)p[5] << 16 |
			    (size_t)p[6] << 8 | p[7]);
	}
	sigs[n] = '\0';
	return sigs;
}

/* git reads the index as HEAD's tree: entries, cache tree, checksum. */
static void assert_git_agrees(const struct ctx *c)
{
	git(c, "fsck --strict --no-dangling");
	assert_string_equal(h_git_out(c->dir, "status --porcelain"), "");
	assert_string_equal(h_git_out(c->dir, "write-tree"),
			    h_git_out(c->dir, "rev-parse HEAD^{tree}"));
}

/* Unchanged, each version serialises to the very bytes git wrote. */
static void test_index_format_round_trip(void **state)
{
	struct ctx *c = *state;
	static const char *const versions[] = { "2", "3", "4" };
	size_t v;

	for (v = 0; v < 3; v++) {
		struct kpin_buf before = KPIN_BUF_INIT;
		char cmd[64];

		/* git writes version 3 only with an extended flag to keep */
		snprintf(cmd, sizeof(cmd), "update-index --index-version %s%s",
			 versions[v], v == 1 ? " --skip-worktree t" : "");
		git(c, cmd);
		git(c, "write-tree");	/* a full cache tree */
		load(c);
		assert_int_equal(c->ixf.version, (uint32_t)atoi(versions[v]));
		assert_int_equal(c->ixf.count, 4);
		assert_string_equal(signatures(c), "TREE ");
		kpin_buf_add(&before, c->idx.ptr, c->idx.len);
		store(c, NULL, 0);
		assert_int_equal(h_read(&c->idx, h_path(c->dir, ".git/index")),
				 0);
		h_assert_same(c->idx.ptr, c->idx.len, before.ptr, before.len);
		kpin_buf_release(&before);
		assert_git_agrees(c);
	}
}

/* Entries read as git lists them; one patched, as git would stage it. */
static void patch_one(struct ctx *c)
{
	struct kpin_ixf_entry e;
	struct kpin_ixf_stat st;
	const char *path = "a/b/f";
	unsigned char id[KPIN_IXF_ID];
	char want[128], hex[41];
	size_t i;

	load(c);
	kpin_ixf_entry_read(&c->ixf, find(c, path), &e);
	for (i = 0; i < KPIN_IXF_ID; i++)
		sprintf(hex + 2 * i, "%02x", e.id[i]);
	assert_string_equal(hex, h_git_out(c->dir, "rev-parse :%s", path));
	assert_int_equal(e.st.mode, 0100644);
	assert_int_equal(e.stage, 0);
	assert_int_equal(e.st.size, 4);
	/* the new content, staged by kpin's code rather than git add */
	h_writes(h_path(c->dir, path), "uno\n");
	snprintf(hex, sizeof(hex), "%s", h_git_out(c->dir, "hash-object -w %s",
						   path));
	for (i = 0; i < KPIN_IXF_ID; i++)
		sscanf(hex + 2 * i, "%2hhx", &id[i]);
	st = e.st;
	st.mtime_nsec++;
	kpin_ixf_entry_update(&c->ixf, find(c, path), &st, id);
	store(c, &path, 1);
	snprintf(want, sizeof(want), "100644 %s 0\t%s", hex, path);
	assert_string_equal(h_git_out(c->dir, "ls-files -s %s", path), want);
	git(c, "fsck --strict --no-dangling");
	/* the cache tree above a/b/f is invalid: write-tree rebuilds it */
	git(c, "-c user.name=x -c user.email=x@x commit -qm two");
	assert_git_agrees(c);
	assert_string_equal(h_git_out(c->dir, "show HEAD:a/b/f"), "uno");
}

static void test_index_format_patch_v2(void **state)
{
	struct ctx *c = *state;

	git(*state, "update-index --index-version 2 && git write-tree");
	patch_one(c);
}

static void test_index_format_patch_v4(void **state)
{
	struct ctx *c = *state;

	git(*state, "update-index --index-version 4 && git write-tree");
	patch_one(c);
}

/* Extended flags (version 3): skip-worktree and intent-to-add read. */
static void test_index_format_flags(void **state)
{
	struct ctx *c = *state;
	struct kpin_ixf_entry e;

	git(c, "update-index --skip-worktree c/h && echo n >n && git add -N "
	    "n");
	load(c);
	assert_int_equal(c->ixf.version, 3);
	kpin_ixf_entry_read(&c->ixf, find(c, "c/h"), &e);
	assert_int_equal(e.flags, KPIN_IXF_SKIP_WORKTREE);
	kpin_ixf_entry_read(&c->ixf, find(c, "n"), &e);
	assert_int_equal(e.flags, KPIN_IXF_INTENT_TO_ADD);
	kpin_ixf_entry_read(&c->ixf, find(c, "t"), &e);
	assert_int_equal(e.flags, 0);
	/* an entry updated without stat data keeps its path and flags */
	kpin_ixf_entry_update(&c->ixf, find(c, "c/h"), NULL, e.id);
	store(c, NULL, 0);
	h_assert_contains(h_git_out(c->dir, "ls-files -v c/h"), "S c/h");
	h_assert_contains(h_git_out(c->dir, "ls-files --debug c/h"),
			  "size: 0\tflags: 40004000");
}

/* Offsets dropped (EOIE, IEOT), the others (REUC, UNTR) carried. */
static void test_index_format_extensions(void **state)
{
	struct ctx *c = *state;
	const char *path = "t";

	git(c, "-c index.recordEndOfIndexEntries=true -c "
	    "index.recordOffsetTable=true -c index.threads=2 "
	    "update-index --untracked-cache && git -c "
	    "index.recordEndOfIndexEntries=true -c index.recordOffsetTable=true "
	    "-c core.untrackedCache=true status --porcelain >/dev/null");
	load(c);
	h_assert_contains(signatures(c), "UNTR");
	h_assert_contains(signatures(c), "EOIE");
	store(c, &path, 1);
	load(c);
	assert_null(strstr(signatures(c), "EOIE"));
	assert_null(strstr(signatures(c), "IEOT"));
	h_assert_contains(signatures(c), "UNTR");
	assert_int_equal(c->ixf.mandatory, 0);
	assert_git_agrees(c);
}

/* A split index and a sparse index are noted, not misread. */
static void test_index_format_mandatory(void **state)
{
	struct ctx *c = *state;

	git(c, "update-index --split-index");
	load(c);
	assert_true(c->ixf.mandatory > 0);
	assert_memory_equal(c->ixf.buf + c->ixf.mandatory, "link", 4);
	git(c, "update-index --no-split-index && git sparse-checkout set "
	    "--cone --sparse-index a");
	load(c);
	assert_true(c->ixf.mandatory > 0);
	assert_memory_equal(c->ixf.buf + c->ixf.mandatory, "sdir", 4);
}

/* A cache tree 150 directories deep is data, not corruption. */
static void test_index_format_deep_tree(void **state)
{
	struct ctx *c = *state;
	struct kpin_buf p = KPIN_BUF_INIT, cmd = KPIN_BUF_INIT;
	const char *path;
	int i;

	for (i = 0; i < 150; i++)
		kpin_buf_adds(&p, "d/");
	kpin_buf_adds(&p, "f");
	kpin_buf_addf(&cmd, "version && mkdir -p %.*s && echo deep >%s && git "
		      "add . && git -c user.name=x -c user.email=x@x commit "
		      "-qm deep", (int)p.len - 2, p.ptr, p.ptr);
	git(c, cmd.ptr);
	load(c);
	path = p.ptr;
	store(c, &path, 1);
	assert_git_agrees(c);
	kpin_buf_release(&p);
	kpin_buf_release(&cmd);
}

static void test_index_format_racy(void **state)
{
	struct ctx *c = *state;
	struct kpin_ixf_entry e;
	struct kpin_ixf_stat st;
	const char *path = "a/g";

	load(c);
	kpin_ixf_entry_read(&c->ixf, find(c, path), &e);
	assert_true(kpin_ixf_is_racy(&e, e.st.mtime_sec));
	assert_true(kpin_ixf_is_racy(&e, e.st.mtime_sec - 1));
	assert_false(kpin_ixf_is_racy(&e, e.st.mtime_sec + 1));
	assert_false(kpin_ixf_is_racy(&e, 0));
	st = e.st;
	assert_false(kpin_ixf_stat_differs(&e, &st));
	st.mtime_nsec++;
	st.ctime_sec++;
	assert_false(kpin_ixf_stat_differs(&e, &st));
	st.size++;
	assert_true(kpin_ixf_stat_differs(&e, &st));
	st = e.st;
	st.mode = 0120000;
	assert_true(kpin_ixf_stat_differs(&e, &st));
	e.st.mode = 0160000;
	assert_false(kpin_ixf_is_racy(&e, 1));
	/* a smudged entry: size 0, which git checks by content */
	kpin_ixf_smudge(&c->ixf, find(c, path));
	store(c, NULL, 0);
	h_assert_contains(h_git_out(c->dir, "ls-files --debug %s", path),
			  "size: 0\t");
	assert_git_agrees(c);
}

/* Every prefix of a real index, and a few bit flips, refused cleanly. */
static void test_index_format_corrupt(void **state)
{
	struct ctx *c = *state;
	struct kpin_ixf ixf;
	unsigned char *copy;
	size_t len, i;
	long off;
	const char *path = "a/g";

	git(c, "update-index --index-version 4 && git write-tree");
	load(c);
	len = c->idx.len;
	copy = malloc(len);
	for (i = 0; i < len - 20; i++) {
		/* cut before the trailer: a shorter, broken file */
		memcpy(copy, c->idx.ptr, i);
		memcpy(copy + i, c->idx.ptr + len - 20, 20);
		if (kpin_ixf_parse(&ixf, copy, i + 20, NULL, NULL) == 0 &&
		    i < c->ixf.ext)
			fail_msg("a cut at %zu parsed", i);
	}
	for (i = 0; i < len - 20; i++) {
		int rc;

		memcpy(copy, c->idx.ptr, len);
		copy[i] ^= 0xff;
		rc = kpin_ixf_parse(&ixf, copy, len, NULL, NULL);
		if (rc == 0)
			kpin_ixf_find(&ixf, &path, 1, &off);
		assert_true(rc == 0 || rc == KPIN_ERROR || rc == KPIN_ENOTSUP);
	}
	free(copy);
	h_assert_contains(kpin_error_last()->message, "");
}

static void test_index_format_sha1(void **state)
{
	static const char *const in[] = {
		"", "abc",
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	};
	static const char *const want[] = {
		"da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"a9993e364706816aba3e25717850c26c9cd0d89d",
		"84983e441c3bd26ebaae4aa1f95129e5e54670f1",
	};
	size_t i, j, k;

	for (i = 0; i < 3; i++)
		for (k = 0; k < 2; k++) {
			struct kpin_sha1 s;
			unsigned char out[20];
			char hex[41];

			kpin_sha1_init(&s, k == 0);
			/* libcrypto is a build dependency: it loads */
			if (k == 1)
				assert_non_null(s.evp);
			/* one byte at a time, across block boundaries */
			for (j = 0; in[i][j]; j++)
				kpin_sha1_update(&s, in[i] + j, 1);
			kpin_sha1_final(out, &s);
			for (j = 0; j < 20; j++)
				sprintf(hex + 2 * j, "%02x", out[j]);
			assert_string_equal(hex, want[i]);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_index_format_round_trip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_format_patch_v2,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_format_patch_v4,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_format_flags,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_format_extensions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_format_mandatory,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_format_deep_tree,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_format_racy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_format_corrupt,
						setup, teardown),
		cmocka_unit_test(test_index_format_sha1),
	};

	return cmocka_run_group_tests_name("index-format", tests, NULL, NULL);
}
