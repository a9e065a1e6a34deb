/*
 * Real-world files. For every kustomization under ../shared/corpus/files,
 * every images entry in turn is set to a fresh digest with the kpin
 * binary: it must succeed, the file must differ from the original in one
 * line only (the value replaced, an empty value filled, or one inserted
 * "digest:" line), the final-newline state must be kept, and "kpin get"
 * must read the digest back. Files and entries kpin refuses are listed in
 * testdata/corpus/refusals.tsv and asserted to be refused.
 *
 * For every tree under ../shared/corpus/trees, all images entries are set
 * and the overlays listed in testdata/corpus/render-overlays.txt are
 * rendered with "kubectl kustomize" before and after: the renders may
 * differ only in image references, which must now end in "@<digest>".
 * Missing corpus or kubectl: the test says so and is skipped.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

struct refusal {
	char *path;	/* under the corpus root */
	char *image;	/* "*" for the whole file */
	int status;
	char *words;
};

static struct refusal *refusals;
static size_t nrefusals;
static unsigned seed = 1000;

static void load_refusals(void)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	char path[4096], *line, *save = NULL;

	snprintf(path, sizeof(path), "%s/corpus/refusals.tsv", h_testdata());
	assert_int_equal(h_read(&b, path), 0);
	for (line = strtok_r(b.ptr, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4], *s2 = NULL;
		int i;

		if (line[0] == '#')
			continue;
		f[0] = strtok_r(line, "\t", &s2);
		for (i = 1; i < 4; i++)
			f[i] = strtok_r(NULL, "\t", &s2);
		assert_non_null(f[3]);
		refusals = realloc(refusals, (nrefusals + 1) *
				   sizeof(*refusals));
		refusals[nrefusals].path = strdup(f[0]);
		refusals[nrefusals].image = strdup(f[1]);
		refusals[nrefusals].status = atoi(f[2]);
		refusals[nrefusals].words = strdup(f[3]);
		nrefusals++;
	}
	kpin_buf_release(&b);
}

static const struct refusal *refused(const char *rel, const char *image)
{
	size_t i;

	for (i = 0; i < nrefusals; i++)
		if (!strcmp(refusals[i].path, rel) &&
		    (!strcmp(refusals[i].image, "*") ||
		     (image && !strcmp(refusals[i].image, image))))
			return &refusals[i];
	return NULL;
}

/* Lines split on '\n', each keeping its '\r' if any. */
struct lines {
	struct kpin_span *v;
	size_t n;
};

static void split_lines(struct lines *l, const char *s, size_t len)
{
	size_t start = 0, i;

	l->v = NULL;
	l->n = 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n].ptr = s + start;
		l->v[l->n].len = i - start;
		l->n++;
		start = i + 1;
	}
}

static bool span_eq(const struct kpin_span *a, const struct kpin_span *b)
{
	return a->len == b->len && !memcmp(a->ptr, b->ptr, a->len);
}

/*
 * Is @after @before with exactly one line changed to carry @digest (the
 * old value replaced, or an empty value filled in) or one "digest:" line
 * inserted? Returns NULL when so, else what is wrong.
 */
static const char *one_line_edit(const struct kpin_buf *before,
				 const struct kpin_buf *after,
				 const char *digest, const char *old)
{
	struct lines a, b;
	size_t pre = 0, suf = 0, dlen = strlen(digest);
	const char *why = NULL;

	if ((before->len && before->ptr[before->len - 1] == '\n') !=
	    (after->len && after->ptr[after->len - 1] == '\n'))
		return "the final newline changed";
	split_lines(&a, before->ptr, before->len);
	split_lines(&b, after->ptr, after->len);
	while (pre < a.n && pre < b.n && span_eq(&a.v[pre], &b.v[pre]))
		pre++;
	while (suf < a.n - pre && suf < b.n - pre &&
	       span_eq(&a.v[a.n - 1 - suf], &b.v[b.n - 1 - suf]))
		suf++;
	if (a.n - pre - suf == 0 && b.n - pre - suf == 1) {
		const struct kpin_span *l = &b.v[pre];
		size_t sp = 0;

		while (sp < l->len && l->ptr[sp] == ' ')
			sp++;
		if (l->len - sp < 8 + dlen || memcmp(l->ptr + sp, "digest: ", 8) ||
		    memcmp(l->ptr + sp + 8, digest, dlen) ||
		    (l->len != sp + 8 + dlen &&
		     !(l->len == sp + 9 + dlen && l->ptr[l->len - 1] == '\r')))
			why = "the inserted line is not \"digest: <digest>\"";
	} else if (a.n - pre - suf == 1 && b.n - pre - suf == 1) {
		const struct kpin_span *o = &a.v[pre], *n = &b.v[pre];
		const char *at = memmem(n->ptr, n->len, digest, dlen);
		struct kpin_buf rebuilt = KPIN_BUF_INIT;
		size_t off;

		if (!at) {
			why = "the changed line lacks the new digest";
			goto out;
		}
		/* put the old value back (or drop the filled-in one) */
		off = (size_t)(at - n->ptr);
		if (old) {
			kpin_buf_add(&rebuilt, n->ptr, off);
			kpin_buf_adds(&rebuilt, old);
		} else {
			kpin_buf_add(&rebuilt, n->ptr, off ? off - 1 : 0);
		}
		kpin_buf_add(&rebuilt, at + dlen, n->len - off - dlen);
		if (rebuilt.len != o->len || memcmp(rebuilt.ptr, o->ptr, o->len))
			why = "the changed line differs beyond the value";
		kpin_buf_release(&rebuilt);
	} else {
		why = "more than one line changed";
	}
out:
	free(a.v);
	free(b.v);
	return why;
}

struct walk {
	const char *root;	/* corpus root */
	char *tmp;
	size_t files;
	size_t entries;
	size_t edited;
	size_t refused;
};

static struct walk *walker;

static void edit_every_entry(struct walk *w, const char *path,
			     const char *rel)
{
	struct kpin_buf orig = KPIN_BUF_INIT, got = KPIN_BUF_INIT;
	struct kpin_kust *k = NULL;
	const char *base = strrchr(path, '/') + 1;
	const char *file = h_path(w->tmp, base);
	const struct refusal *rf;
	struct h_result r;
	size_t i;

	assert_int_equal(h_read(&orig, path), 0);
	w->files++;
	if (kpin_kust_open(&k, orig.ptr, orig.len, 0)) {
		rf = refused(rel, NULL);
		if (!rf)
			fail_msg("%s: kpin refuses it: %s", rel,
				 kpin_error_last()->message);
		h_write(file, orig.ptr, orig.len);
		h_kpin_run(&r, w->tmp, "set", "-f", base, "--image", "x",
			   "--digest", h_digest(1), NULL);
		assert_int_equal(r.status, rf->status);
		h_assert_contains(r.err.ptr, rf->words);
		h_result_release(&r);
		w->refused++;
		goto out;
	}
	for (i = 0; i < kpin_kust_image_count(k); i++) {
		const struct kpin_image *img = kpin_kust_image(k, i);
		const char *name = img->name.value;
		const char *digest = h_digest(seed++);
		char *old = NULL, want[128];
		size_t len;
		const char *d = kpin_kust_effective_digest(img, &len);
		const char *why;

		w->entries++;
		if (d)
			old = strndup(d, len);
		h_write(file, orig.ptr, orig.len);
		h_kpin_run(&r, w->tmp, "set", "-f", base, "--image", name,
			   "--digest", digest, NULL);
		rf = refused(rel, name);
		if (rf) {
			assert_int_equal(r.status, rf->status);
			h_assert_contains(r.err.ptr, rf->words);
			w->refused++;
			h_result_release(&r);
			free(old);
			continue;
		}
		if (r.status != 0)
			fail_msg("%s: set '%s' exit %d: %s", rel, name, r.status,
				 r.err.ptr);
		h_result_release(&r);
		assert_int_equal(h_read(&got, file), 0);
		why = one_line_edit(&orig, &got, digest, old);
		if (why)
			fail_msg("%s: image '%s': %s", rel, name, why);
		h_kpin_run(&r, w->tmp, "get", "-f", base, "--image", name,
			   NULL);
		snprintf(want, sizeof(want), "%s\n", digest);
		assert_int_equal(r.status, 0);
		assert_string_equal(r.out.ptr, want);
		h_result_release(&r);
		w->edited++;
		free(old);
	}
out:
	kpin_kust_free(k);
	kpin_buf_release(&orig);
	kpin_buf_release(&got);
}

static bool is_kustomization(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strcmp(base, "kustomization.yaml") ||
	       !strcmp(base, "kustomization.yml") ||
	       !strcmp(base, "Kustomization");
}

static int visit_file(const char *path, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_F && is_kustomization(path))
		edit_every_entry(walker, path,
				 path + strlen(walker->root) + 1);
	return 0;
}

static void test_corpus_files(void **state)
{
	char root[4096], files[4200];
	struct walk w;

	(void)state;
	snprintf(root, sizeof(root), "%s/corpus", h_shared());
	snprintf(files, sizeof(files), "%s/files", root);
	if (access(files, R_OK)) {
		printf("# skip: no corpus at %s\n", files);
		skip();
	}
	memset(&w, 0, sizeof(w));
	w.root = root;
	w.tmp = h_tmpdir();
	walker = &w;
	load_refusals();
	assert_int_equal(nftw(files, visit_file, 16, FTW_PHYS), 0);
	printf("# corpus: %zu files, %zu entries, %zu edited with a one-line "
	       "diff, %zu refused as listed\n", w.files, w.entries, w.edited,
	       w.refused);
	assert_true(w.files >= 200);
	assert_true(w.edited >= 500);
	h_rmrf(w.tmp);
	free(w.tmp);
}

/* ---- rendering -------------------------------------------------------- */

struct tree_edit {
	const char *rel;		/* "trees/<tree>" */
	char *copy;			/* temporary copy of the tree */
	char **digests;
	size_t ndigests;
};

static struct tree_edit *tree_walker;
static const char *trees_root;

static int visit_tree_file(const char *path, const struct stat *sb,
			   int flag, struct FTW *ftw)
{
	struct tree_edit *t = tree_walker;
	struct kpin_buf orig = KPIN_BUF_INIT;
	struct kpin_kust *k = NULL;
	size_t i;
	char rel[4096];

	(void)sb;
	(void)ftw;
	if (flag != FTW_F || !is_kustomization(path))
		return 0;
	snprintf(rel, sizeof(rel), "trees/%s",
		 path + strlen(trees_root) + 1);
	assert_int_equal(h_read(&orig, path), 0);
	if (kpin_kust_open(&k, orig.ptr, orig.len, 0) == 0) {
		for (i = 0; i < kpin_kust_image_count(k); i++) {
			const char *name = kpin_kust_image(k, i)->name.value;
			const char *d = h_digest(seed++);
			struct h_result r;

			h_kpin_run(&r, NULL, "set", "-f", path, "--image", name,
				   "--digest", d, NULL);
			if (refused(rel, name)) {
				assert_int_equal(r.status,
						 refused(rel, name)->status);
			} else if (r.status) {
				fail_msg("%s: set '%s': %s", rel, name,
					 r.err.ptr);
			} else {
				t->digests = realloc(t->digests,
					(t->ndigests + 1) * sizeof(char *));
				t->digests[t->ndigests++] = strdup(d);
			}
			h_result_release(&r);
		}
	}
	kpin_kust_free(k);
	kpin_buf_release(&orig);
	return 0;
}

static int render(struct kpin_buf *out, const char *dir)
{
	struct h_result r;
	int status = h_sh(&r, NULL, "kubectl kustomize '%s'", dir);

	if (status)
		fail_msg("kubectl kustomize %s: %s", dir, r.err.ptr);
	kpin_buf_reset(out);
	kpin_buf_add(out, r.out.ptr, r.out.len);
	h_result_release(&r);
	return status;
}

/*
 * Compare two renders: equal line counts, and every differing line an
 * "image:" line whose new value ends in "@" plus one of @t's digests.
 * Returns the number of changed lines.
 */
static size_t compare_renders(const struct tree_edit *t, const char *what,
			      const struct kpin_buf *before,
			      const struct kpin_buf *after)
{
	struct lines a, b;
	size_t i, j, changed = 0;

	split_lines(&a, before->ptr, before->len);
	split_lines(&b, after->ptr, after->len);
	if (a.n != b.n)
		fail_msg("%s: render has %zu lines, had %zu", what, b.n, a.n);
	for (i = 0; i < a.n; i++) {
		const struct kpin_span *o = &a.v[i], *n = &b.v[i];
		const char *ia = memmem(o->ptr, o->len, "image: ", 7);
		const char *ib = memmem(n->ptr, n->len, "image: ", 7);
		bool ok = false;

		if (span_eq(o, n))
			continue;
		changed++;
		if (!ia || !ib || ia - o->ptr != ib - n->ptr ||
		    memcmp(o->ptr, n->ptr, (size_t)(ia - o->ptr)))
			fail_msg("%s: line %zu changed beyond an image:\n"
				 "%.*s\n%.*s", what, i + 1, (int)o->len,
				 o->ptr, (int)n->len, n->ptr);
		for (j = 0; j < t->ndigests && !ok; j++) {
			size_t dl = strlen(t->digests[j]);

			ok = n->len > dl + 1 &&
			     n->ptr[n->len - dl - 1] == '@' &&
			     !memcmp(n->ptr + n->len - dl, t->digests[j], dl);
		}
		if (!ok)
			fail_msg("%s: line %zu does not end in @<digest>: %.*s",
				 what, i + 1, (int)n->len, n->ptr);
	}
	free(a.v);
	free(b.v);
	return changed;
}

struct overlay {
	char *tree;
	char *dir;
};

/* The (tree, overlay) pairs of testdata/corpus/render-overlays.txt. */
static size_t load_overlays(struct overlay **out)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	char path[4096], *line, *save = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/corpus/render-overlays.txt",
		 h_testdata());
	assert_int_equal(h_read(&b, path), 0);
	*out = NULL;
	for (line = strtok_r(b.ptr, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (line[0] == '#' || !sp)
			continue;
		*out = realloc(*out, (n + 1) * sizeof(**out));
		(*out)[n].tree = strndup(line, (size_t)(sp - line));
		(*out)[n].dir = strdup(sp + 1);
		n++;
	}
	kpin_buf_release(&b);
	return n;
}

/*
 * Copy one tree, render its overlays, set every images entry in the copy,
 * render again and compare. Returns the number of changed image lines.
 */
static size_t render_tree(const char *trees, const char *tmp,
			  const struct overlay *ov, size_t n)
{
	struct kpin_buf *before = calloc(n, sizeof(*before));
	struct kpin_buf after = KPIN_BUF_INIT;
	struct tree_edit t;
	struct h_result r;
	size_t i, changed = 0;
	char dir[8192];

	memset(&t, 0, sizeof(t));
	t.copy = strdup(h_path(tmp, ov[0].tree));
	assert_int_equal(h_sh(&r, NULL, "cp -R '%s/%s' '%s'", trees,
			      ov[0].tree, t.copy), 0);
	h_result_release(&r);
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", t.copy, ov[i].dir);
		render(&before[i], dir);
	}
	tree_walker = &t;
	trees_root = tmp;
	assert_int_equal(nftw(t.copy, visit_tree_file, 16, FTW_PHYS), 0);
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", t.copy, ov[i].dir);
		render(&after, dir);
		changed += compare_renders(&t, dir + strlen(tmp) + 1,
					   &before[i], &after);
		kpin_buf_release(&before[i]);
	}
	if (t.ndigests && !changed)
		fail_msg("%s: setting %zu digests changed no rendered image",
			 ov[0].tree, t.ndigests);
	for (i = 0; i < t.ndigests; i++)
		free(t.digests[i]);
	free(t.digests);
	free(t.copy);
	free(before);
	kpin_buf_release(&after);
	return changed;
}

static void test_corpus_render(void **state)
{
	char trees[4096];
	struct overlay *ov;
	struct h_result r;
	size_t n, i, j, lines = 0, changed_trees = 0, renders = 0;
	char *tmp;

	(void)state;
	snprintf(trees, sizeof(trees), "%s/corpus/trees", h_shared());
	if (access(trees, R_OK)) {
		printf("# skip: no corpus trees at %s\n", trees);
		skip();
	}
	if (h_sh(&r, NULL, "command -v kubectl >/dev/null") != 0) {
		h_result_release(&r);
		printf("# skip: kubectl is not installed\n");
		skip();
	}
	h_result_release(&r);
	if (!refusals)
		load_refusals();
	n = load_overlays(&ov);
	tmp = h_tmpdir();
	for (i = 0; i < n; i = j) {
		size_t c;

		for (j = i; j < n && !strcmp(ov[j].tree, ov[i].tree); j++)
			;
		c = render_tree(trees, tmp, ov + i, j - i);
		lines += c;
		changed_trees += c > 0;
		renders += 2 * (j - i);
	}
	printf("# render: %zu renders, %zu image lines changed in %zu trees, "
	       "nothing else changed\n", renders, lines, changed_trees);
	assert_true(changed_trees >= 10);
	for (i = 0; i < n; i++) {
		free(ov[i].tree);
		free(ov[i].dir);
	}
	free(ov);
	h_rmrf(tmp);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_files),
		cmocka_unit_test(test_corpus_render),
	};

	return cmocka_run_group_tests_name("corpus", tests, NULL, NULL);
}
