/*
 * Unified diffs of two byte buffers, for --dry-run. Included by the CLI.
 */
#ifndef KPIN_DIFF_H
#define KPIN_DIFF_H

#include <stddef.h>
#include "buf.h"

/*
 * kpin_diff_unified() - Append a unified diff of @a against @b to @out
 * @out: receives "--- label_a", "+++ label_b" and the hunks, nothing when
 *       the buffers are equal
 * @a: old bytes
 * @alen: their length
 * @b: new bytes
 * @blen: their length
 * @label_a: name shown for the old side
 * @label_b: name shown for the new side
 *
 * Lines keep their own endings (a CR before LF is shown as part of the
 * line); a last line without a newline is followed by
 * "\ No newline at end of file". Three lines of context. The hunks are
 * libgit2's (xdiff): libgit2 is loaded on the first call.
 *
 * Returns: 0, or KPIN_ERROR when libgit2 cannot be loaded or fails; @out
 * is then unchanged.
 */
int kpin_diff_unified(struct kpin_buf *out, const char *a, size_t alen,
		      const char *b, size_t blen, const char *label_a,
		      const char *label_b);

#endif
