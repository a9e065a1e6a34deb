/*
 * Line-based unified diff for --dry-run, computed by libgit2's xdiff
 * (git_patch_from_buffers) and printed here: git's hunk headers carry a
 * "function" line that git guesses from the text (for YAML, the nearest
 * line that starts with a letter), so the headers are written from the
 * hunk's numbers instead, as "diff -u" writes them. libgit2 is loaded on
 * first use (src/git-lazy.h): "kpin set -f" without --dry-run never
 * loads it.
 */
#include <string.h>

#include <git2.h>

#include "kpin/diff.h"
#include "kpin/error.h"
#include "git-lazy.h"

#define CONTEXT 3

/* Appends "start,count" as diff -u writes it (",1" left out). */
static void range(struct kpin_buf *out, int start, size_t count)
{
	if (count == 1)
		kpin_buf_addf(out, "%d", start);
	else
		kpin_buf_addf(out, "%d,%zu", start, count);
}

/* Appends one hunk: its header, then its lines with their markers. */
static int emit_hunk(struct kpin_buf *out, git_patch *patch, size_t h)
{
	const git_diff_hunk *hunk;
	const git_diff_line *line;
	size_t i, n;

	if (git_patch_get_hunk(&hunk, &n, patch, h) < 0)
		return -1;
	kpin_buf_adds(out, "@@ -");
	range(out, hunk->old_start, (size_t)hunk->old_lines);
	kpin_buf_adds(out, " +");
	range(out, hunk->new_start, (size_t)hunk->new_lines);
	kpin_buf_adds(out, " @@\n");
	for (i = 0; i < n; i++) {
		if (git_patch_get_line_in_hunk(&line, patch, h, i) < 0)
			return -1;
		switch (line->origin) {
		case GIT_DIFF_LINE_CONTEXT:
		case GIT_DIFF_LINE_ADDITION:
		case GIT_DIFF_LINE_DELETION:
			kpin_buf_addch(out, line->origin);
			kpin_buf_add(out, line->content, line->content_len);
			break;
		default:	/* the *_EOFNL markers */
			if (out->len && out->ptr[out->len - 1] != '\n')
				kpin_buf_addch(out, '\n');
			kpin_buf_adds(out, "\\ No newline at end of file\n");
			break;
		}
	}
	return 0;
}

int kpin_diff_unified(struct kpin_buf *out, const char *a, size_t alen,
		      const char *b, size_t blen, const char *label_a,
		      const char *label_b)
{
	git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
	git_patch *patch = NULL;
	struct kpin_buf tmp = KPIN_BUF_INIT;
	size_t h, nhunks;
	int error = KPIN_ERROR;

	if (alen == blen && !memcmp(a, b, alen))
		return 0;
	if (kpin_git_load())
		return KPIN_ERROR;
	git_libgit2_init();
	opts.flags = GIT_DIFF_FORCE_TEXT;
	opts.context_lines = CONTEXT;
	if (git_patch_from_buffers(&patch, a, alen, NULL, b, blen, NULL,
				   &opts) < 0)
		goto git_err;
	kpin_buf_addf(&tmp, "--- %s\n+++ %s\n", label_a, label_b);
	nhunks = git_patch_num_hunks(patch);
	for (h = 0; h < nhunks; h++)
		if (emit_hunk(&tmp, patch, h) < 0)
			goto git_err;
	kpin_buf_add(out, tmp.ptr, tmp.len);
	error = 0;
	goto out;
git_err:
	kpin_error_set(KPIN_ERROR, "cannot diff '%s': %s", label_b,
		       git_error_last() ? git_error_last()->message :
		       "libgit2 error");
out:
	kpin_buf_release(&tmp);
	git_patch_free(patch);
	git_libgit2_shutdown();
	return error;
}
