/*
 * Line-based unified diff. Common leading and trailing lines are trimmed
 * first; what is left is aligned with Myers' O(ND) algorithm, which is
 * cheap here because kpin's edits change a handful of lines. Should the
 * remaining difference be huge, it falls back to "all of it changed".
 */
#include <stdlib.h>
#include <string.h>

#include "kpin/diff.h"
#include "kpin/xalloc.h"

#define CONTEXT 3
#define MAX_TRACE (64u * 1024 * 1024)	/* ints kept for the backtrack */

struct line {
	const char *p;
	size_t len;	/* line break included */
};

struct lines {
	struct line *v;
	size_t n;
};

static void split(struct lines *out, const char *s, size_t len)
{
	size_t i = 0, cap = 16;

	out->v = xmalloc(cap * sizeof(*out->v));
	out->n = 0;
	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - s) + 1 : len;

		if (out->n == cap) {
			cap *= 2;
			out->v = xreallocarray(out->v, cap, sizeof(*out->v));
		}
		out->v[out->n].p = s + i;
		out->v[out->n].len = end - i;
		out->n++;
		i = end;
	}
}

static int eq(const struct line *a, const struct line *b)
{
	return a->len == b->len && !memcmp(a->p, b->p, a->len);
}

/* One aligned step: ' ' both, '-' only in a, '+' only in b. */
struct op {
	char kind;
	size_t ai;
	size_t bi;
};

struct script {
	struct op *v;
	size_t n;
	size_t cap;
};

static void push(struct script *s, char kind, size_t ai, size_t bi)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n].kind = kind;
	s->v[s->n].ai = ai;
	s->v[s->n].bi = bi;
	s->n++;
}

/*
 * Myers' greedy algorithm over a[lo_a..hi_a) and b[lo_b..hi_b), keeping
 * each round's frontier for the backtrack. Returns 0, or -1 when the
 * trace would be too large (the caller then treats all lines as changed).
 */
static int myers(struct script *s, const struct lines *a, size_t lo_a,
		 size_t hi_a, const struct lines *b, size_t lo_b, size_t hi_b)
{
	long n = (long)(hi_a - lo_a), m = (long)(hi_b - lo_b);
	long max = n + m, off = max + 1, d, k, x, y;
	long width = 2 * max + 3;
	long *trace = NULL, *v;
	size_t cap = 0, depth = 0;
	struct op *rev = NULL;
	size_t nrev = 0;

	for (d = 0; d <= max; d++) {
		if ((size_t)(depth + 1) * (size_t)width > MAX_TRACE) {
			free(trace);
			return -1;
		}
		if (depth + 1 > cap) {
			cap = cap ? cap * 2 : 8;
			trace = xreallocarray(trace, cap * (size_t)width,
					      sizeof(*trace));
		}
		v = trace + depth * (size_t)width;
		if (d == 0)
			memset(v, 0, (size_t)width * sizeof(*v));
		else
			memcpy(v, v - width, (size_t)width * sizeof(*v));
		depth++;
		for (k = -d; k <= d; k += 2) {
			long *prev = d ? v - width : v;

			if (k == -d || (k != d && prev[off + k - 1] <
					 prev[off + k + 1]))
				x = prev[off + k + 1];
			else
				x = prev[off + k - 1] + 1;
			y = x - k;
			while (x < n && y < m &&
			       eq(&a->v[lo_a + (size_t)x], &b->v[lo_b + (size_t)y])) {
				x++;
				y++;
			}
			v[off + k] = x;
			if (x >= n && y >= m)
				goto found;
		}
	}
found:
	/* backtrack from (n, m) through the saved frontiers */
	x = n;
	y = m;
	rev = xmalloc((size_t)(n + m + 1) * sizeof(*rev));
	for (; d > 0; d--) {
		long *prev = trace + (size_t)(d - 1) * (size_t)width;
		long pk, px, py;

		k = x - y;
		if (k == -d || (k != d && prev[off + k - 1] < prev[off + k + 1]))
			pk = k + 1;
		else
			pk = k - 1;
		px = prev[off + pk];
		py = px - pk;
		while (x > px && y > py) {
			x--;
			y--;
			rev[nrev++] = (struct op){ ' ', lo_a + (size_t)x,
						   lo_b + (size_t)y };
		}
		if (pk == k + 1) {
			y--;
			rev[nrev++] = (struct op){ '+', lo_a + (size_t)x,
						   lo_b + (size_t)y };
		} else {
			x--;
			rev[nrev++] = (struct op){ '-', lo_a + (size_t)x,
						   lo_b + (size_t)y };
		}
	}
	while (x > 0 && y > 0) {
		x--;
		y--;
		rev[nrev++] = (struct op){ ' ', lo_a + (size_t)x,
					   lo_b + (size_t)y };
	}
	while (nrev) {
		nrev--;
		push(s, rev[nrev].kind, rev[nrev].ai, rev[nrev].bi);
	}
	free(rev);
	free(trace);
	return 0;
}

static void emit_line(struct kpin_buf *out, char kind, const struct line *l)
{
	kpin_buf_addch(out, kind);
	kpin_buf_add(out, l->p, l->len);
	if (!l->len || l->p[l->len - 1] != '\n')
		kpin_buf_adds(out, "\n\\ No newline at end of file\n");
}

static void range(struct kpin_buf *out, size_t start, size_t count)
{
	if (count == 1)
		kpin_buf_addf(out, "%zu", start + 1);
	else
		kpin_buf_addf(out, "%zu,%zu", count ? start + 1 : start, count);
}

/* Print the script as hunks of changes with CONTEXT lines around them. */
static void emit_hunks(struct kpin_buf *out, const struct script *s,
		       const struct lines *a, const struct lines *b)
{
	size_t i = 0, j, end, h;

	while (i < s->n) {
		size_t start, na = 0, nb = 0, a0, b0;

		while (i < s->n && s->v[i].kind == ' ')
			i++;
		if (i == s->n)
			break;
		start = i > CONTEXT ? i - CONTEXT : 0;
		/* extend while the next change is within 2*CONTEXT lines */
		end = i;
		for (j = i; j < s->n; j++) {
			if (s->v[j].kind != ' ')
				end = j;
			else if (j - end > 2 * CONTEXT)
				break;
		}
		end = end + CONTEXT + 1 < s->n ? end + CONTEXT + 1 : s->n;
		a0 = s->v[start].ai;
		b0 = s->v[start].bi;
		for (h = start; h < end; h++) {
			na += s->v[h].kind != '+';
			nb += s->v[h].kind != '-';
		}
		kpin_buf_adds(out, "@@ -");
		range(out, a0, na);
		kpin_buf_adds(out, " +");
		range(out, b0, nb);
		kpin_buf_adds(out, " @@\n");
		for (h = start; h < end; h++) {
			const struct op *o = &s->v[h];

			emit_line(out, o->kind, o->kind == '+' ? &b->v[o->bi] :
				  &a->v[o->ai]);
		}
		i = end;
	}
}

void kpin_diff_unified(struct kpin_buf *out, const char *a, size_t alen,
		       const char *b, size_t blen, const char *label_a,
		       const char *label_b)
{
	struct lines la, lb;
	struct script s = { NULL, 0, 0 };
	size_t pre = 0, suf = 0, i;

	if (alen == blen && !memcmp(a, b, alen))
		return;
	split(&la, a, alen);
	split(&lb, b, blen);
	while (pre < la.n && pre < lb.n && eq(&la.v[pre], &lb.v[pre]))
		pre++;
	while (suf < la.n - pre && suf < lb.n - pre &&
	       eq(&la.v[la.n - 1 - suf], &lb.v[lb.n - 1 - suf]))
		suf++;
	for (i = 0; i < pre; i++)
		push(&s, ' ', i, i);
	if (myers(&s, &la, pre, la.n - suf, &lb, pre, lb.n - suf) < 0) {
		for (i = pre; i < la.n - suf; i++)
			push(&s, '-', i, pre);
		for (i = pre; i < lb.n - suf; i++)
			push(&s, '+', la.n - suf, i);
	}
	for (i = 0; i < suf; i++)
		push(&s, ' ', la.n - suf + i, lb.n - suf + i);
	kpin_buf_addf(out, "--- %s\n+++ %s\n", label_a, label_b);
	emit_hunks(out, &s, &la, &lb);
	free(s.v);
	free(la.v);
	free(lb.v);
}
