/*
 * The edit core. A kustomization file is parsed once with libfyaml's event
 * parser into a flat, pre-order tree of nodes that remember the byte span
 * of their tokens (token marks exclude quotes, so the closing quote is
 * added back for the node's outer end). Edits are planned as byte splices
 * on the original buffer: replace a value's text, fill an empty value after
 * its ':', or insert a key line after an entry's last line. Nothing is ever
 * re-emitted. The spliced copy is parsed again and compared with the
 * original tree: every scalar must have identical raw bytes and style,
 * every collection the same shape, except the values the plan said it
 * would change or add.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kpin/error.h"
#include "kpin/grammar.h"
#include "kpin/image.h"
#include "kpin/kust.h"
#include "kpin/xalloc.h"
#include "yaml.h"

#define NONE UINT32_MAX
#define TEXT_MAX 4096	/* values longer than this keep no processed text */
#define KPIN_KUST_MAX_LEN (1u << 30)	/* inputs past 1 GiB are refused */

enum knode_type { KN_SCALAR, KN_SEQ, KN_MAP, KN_ALIAS };

enum knode_flags {
	KNF_ANCHOR = 1 << 0,	/* carries &anchor */
	KNF_TAG = 1 << 1,	/* carries !tag */
	KNF_NULL = 1 << 2,	/* empty scalar: no token, no marks */
	KNF_FLOW = 1 << 3,	/* flow collection */
	KNF_RAW = 1 << 4,	/* processed text equals the raw span */
	KNF_TEXT = 1 << 5,	/* processed text is available */
	KNF_COLON = 1 << 6	/* empty value: start is just after its ':' */
};

/*
 * One node, 60 bytes: offsets are 32-bit because inputs are capped far
 * below 4 GiB (KPIN_KUST_MAX_LEN), and a 4 MiB file can hold 200,000
 * nodes.
 */
struct knode {
	unsigned char type;	/* enum knode_type */
	unsigned char flags;	/* enum knode_flags */
	signed char style;	/* enum fy_node_style */
	int line;		/* 0-based line of the first token */
	int col;		/* 0-based column (characters) */
	uint32_t start;		/* scalar: first byte of the text, quotes excluded */
	uint32_t end;		/* scalar: byte after the text */
	uint32_t oend;		/* byte after the node, closing quote/bracket included */
	uint32_t text;		/* processed text: offset in buf (RAW) or in kust->text */
	uint32_t tlen;		/* its length */
	uint32_t meta;		/* "anchor\0tag" texts, offset in kust->text */
	uint32_t metalen;
	uint32_t parent;	/* enclosing collection, NONE for the root */
	uint32_t next;		/* next sibling */
	uint32_t first;		/* first child */
	uint32_t last;		/* last child */
	uint32_t count;		/* children; a mapping has key, value, key, ... */
};

/* Field slots of an entry, in kustomize's key order. */
enum { F_NAME, F_NEW_NAME, F_NEW_TAG, F_DIGEST, F__COUNT };
static const char *const field_keys[F__COUNT] = {
	"name", "newName", "newTag", "digest"
};

struct entry_nodes {
	uint32_t map;			/* the entry's mapping */
	uint32_t key[F__COUNT];		/* key node per field, NONE if absent */
	uint32_t val[F__COUNT];		/* value node per field */
	uint32_t voff[F__COUNT];	/* value text in kust->vals, NONE if none */
};

struct kpin_kust {
	const char *buf;		/* borrowed input */
	size_t len;
	struct knode *nodes;
	uint32_t nnodes;
	uint32_t cap;
	struct kpin_buf text;		/* processed texts that are not raw */
	struct kpin_buf vals;		/* NUL-terminated texts of entry fields */
	uint32_t root;
	uint32_t images_key;		/* key node "images", NONE if absent */
	uint32_t images;		/* its value */
	uint32_t image_tags;		/* value of the deprecated imageTags */
	struct kpin_image *imgs;
	struct entry_nodes *ents;
	size_t nimgs;
	struct kpin_key *keys;
	size_t nkeys;
	size_t keys_alloc;
	struct kpin_diag *diags;
	size_t ndiags;
	size_t diags_alloc;
	unsigned flags;
	char eol[3];			/* the file's first line ending */
};

#define N(k, i) (&(k)->nodes[(i)])

/* ---- small helpers ------------------------------------------------- */

/* The processed text of node @i, or NULL when it was not kept. */
static const char *node_text(const struct kpin_kust *k, uint32_t i,
			     size_t *len)
{
	const struct knode *n = N(k, i);

	if (!(n->flags & KNF_TEXT))
		return NULL;
	*len = n->tlen;
	if (n->flags & KNF_RAW)
		return k->buf + n->text;
	return k->text.ptr + n->text;
}

static bool text_is(const struct kpin_kust *k, uint32_t i, const char *s)
{
	size_t len;
	const char *t;

	if (i == NONE || N(k, i)->type != KN_SCALAR)
		return false;
	t = node_text(k, i, &len);
	return t && len == strlen(s) && !memcmp(t, s, len);
}

/* Store @len bytes in the text arena; returns their offset. */
static size_t arena_add(struct kpin_kust *k, const char *s, size_t len)
{
	size_t off = k->text.len;

	kpin_buf_add(&k->text, s, len);
	kpin_buf_addch(&k->text, '\0');
	return off;
}

/*
 * Store the text of scalar token @tok (quotes and escapes resolved) in
 * the arena: its offset in @off, its length in @len; false if libfyaml
 * cannot produce it.
 */
static bool arena_add_token(struct kpin_kust *k, struct fy_token *tok,
			    size_t *off, size_t *len)
{
	size_t start = k->text.len;

	if (!kpin_yaml_token_text(&k->text, tok))
		return false;
	*off = start;
	*len = k->text.len - start;
	kpin_buf_addch(&k->text, '\0');
	return true;
}

/* 1-based line and column of byte @pos, counting UTF-8 characters. */
static void pos_of(const char *buf, size_t pos, int *line, int *col)
{
	size_t i;
	int l = 1, c = 1;

	for (i = 0; i < pos; i++) {
		if (buf[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

/*
 * Record a structural problem. Strict opens fail with it; lenient opens
 * keep it and carry on.
 */
static int problem(struct kpin_kust *k, uint32_t at, const char *rule,
		   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int problem(struct kpin_kust *k, uint32_t at, const char *rule,
		   const char *fmt, ...)
{
	struct kpin_buf msg = KPIN_BUF_INIT;
	struct kpin_diag *d;
	va_list ap;
	int line = 1, col = 1;

	if (at != NONE) {
		line = N(k, at)->line + 1;
		col = N(k, at)->col + 1;
	}
	va_start(ap, fmt);
	kpin_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	if (!(k->flags & KPIN_KUST_LENIENT)) {
		kpin_error_set_at(KPIN_EINVALID, line, col, "%s", msg.ptr);
		kpin_buf_release(&msg);
		return KPIN_EINVALID;
	}
	ALLOC_GROW(k->diags, k->ndiags + 1, k->diags_alloc);
	d = &k->diags[k->ndiags++];
	d->line = line;
	d->col = col;
	d->rule = rule;
	d->message = kpin_buf_detach(&msg, NULL);
	return 0;
}

/* ---- input checks --------------------------------------------------- */

/*
 * Refuse NUL bytes, invalid UTF-8 (overlong forms, surrogates, code
 * points past U+10FFFF) and carriage returns without a line feed (YAML
 * reads one as a line break; kpin finds lines by "\n"), with the
 * position of the first bad byte.
 */
static int check_encoding(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;
	int line, col;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, j;
		uint32_t cp;

		/* fast path: eight ASCII bytes without NUL or CR at a time */
		while (i + 8 <= len) {
			uint64_t w, r;

			memcpy(&w, s + i, 8);
			r = w ^ 0x0d0d0d0d0d0d0d0dull;
			if ((w & 0x8080808080808080ull) ||
			    ((w - 0x0101010101010101ull) & ~w &
			     0x8080808080808080ull) ||
			    ((r - 0x0101010101010101ull) & ~r &
			     0x8080808080808080ull))
				break;
			i += 8;
		}
		if (i == len)
			break;
		c = s[i];
		if (c == 0) {
			pos_of(buf, i, &line, &col);
			return kpin_error_set_at(KPIN_EINVALID, line, col,
						 "NUL byte in input: not a "
						 "text file");
		}
		if (c == '\r' && (i + 1 == len || s[i + 1] != '\n')) {
			pos_of(buf, i, &line, &col);
			return kpin_error_set_at(KPIN_EINVALID, line, col,
						 "carriage return without a line "
						 "feed: kpin reads LF and CRLF "
						 "line endings only");
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			goto bad;
		}
		for (j = 1; j <= n; j++) {
			if (i + j >= len || (s[i + j] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += n + 1;
		continue;
bad:
		pos_of(buf, i, &line, &col);
		return kpin_error_set_at(KPIN_EINVALID, line, col,
					 "invalid UTF-8 byte 0x%02x", c);
	}
	return 0;
}

/* ---- building the tree from parser events ---------------------------- */

struct builder {
	struct kpin_kust *k;
	uint32_t *stack;
	size_t depth;
	size_t cap;
	int docs;
	uint32_t long_key;	/* an implicit key over lines, or NONE */
	uint32_t prev;		/* the sibling before the last node added */
};

static uint32_t new_node(struct builder *b, unsigned type)
{
	struct kpin_kust *k = b->k;
	struct knode *n;
	uint32_t i, parent = b->depth ? b->stack[b->depth - 1] : NONE;

	if (k->nnodes == k->cap) {
		/* about one node per 20 bytes of YAML, then doubling */
		k->cap = k->cap ? k->cap * 2 : (uint32_t)(k->len / 16 + 64);
		k->nodes = xreallocarray(k->nodes, k->cap, sizeof(*k->nodes));
	}
	i = k->nnodes++;
	n = N(k, i);
	memset(n, 0, sizeof(*n));
	b->prev = NONE;
	n->type = (unsigned char)type;
	n->parent = parent;
	n->next = n->first = n->last = NONE;
	if (parent == NONE) {
		k->root = i;
	} else {
		struct knode *p = N(k, parent);

		b->prev = p->last;
		if (p->last == NONE)
			p->first = i;
		else
			N(k, p->last)->next = i;
		p->last = i;
		p->count++;
	}
	return i;
}

/* Is node @i a mapping key (an even child of a mapping)? */
static bool is_key(const struct kpin_kust *k, uint32_t i)
{
	const struct knode *n = N(k, i);

	return n->parent != NONE && N(k, n->parent)->type == KN_MAP &&
	       (N(k, n->parent)->count % 2) == 1;
}

/* Is @i a key of its block mapping, once the tree is built? */
static bool is_key_of(const struct kpin_kust *k, uint32_t i)
{
	uint32_t c;
	bool key = true;

	for (c = N(k, N(k, i)->parent)->first; c != i; c = N(k, c)->next)
		key = !key;
	return key;
}

/* The key node that owns value @i (the previous sibling). */
static uint32_t key_of(const struct kpin_kust *k, uint32_t i)
{
	const struct knode *p = N(k, N(k, i)->parent);
	uint32_t c, prev = NONE;

	for (c = p->first; c != NONE && c != i; c = N(k, c)->next)
		prev = c;
	return prev;
}

/*
 * The error for a node at 1-based @line and @col inside block collection
 * @p; @block says it is a block scalar's first line, which YAML would read
 * as the next key or item instead, a different file from libfyaml's.
 */
static int indent_error(const struct knode *p, int line, int col,
			bool block)
{
	return kpin_error_set_at(KPIN_EINVALID, line, col, "%s YAML: %s is "
				 "not indented more than its %s",
				 block ? "unsupported" : "invalid",
				 block ? "the first line of a block scalar" :
				 p->type == KN_MAP ? "a mapping value" :
				 "a sequence item",
				 p->type == KN_MAP ? "key" : "'-'");
}

/* First byte of node @n, opening quote included. */
static size_t outer_start(const struct knode *n)
{
	bool quoted = n->type == KN_SCALAR && !(n->flags & KNF_NULL) &&
		      (n->style == FYNS_SINGLE_QUOTED ||
		       n->style == FYNS_DOUBLE_QUOTED);

	return n->start - (quoted && n->start > 0);
}

/*
 * libfyaml also accepts the key of a "?" written on a later line at the
 * mapping's own column ("?\nkey"), which YAML reads as a key without a
 * ':'. Scalar key @i is one when it starts at or left of that column and
 * only blanks and line breaks separate it from a "?" at the column.
 */
static int check_explicit_key(const struct kpin_kust *k, uint32_t i,
			      const struct fy_mark *prop)
{
	const struct knode *n = N(k, i), *p = N(k, n->parent);
	size_t q = 0, ls;
	bool nl = false;
	int col = 0, line = 0;

	if (n->type != KN_SCALAR || (p->flags & KNF_FLOW) ||
	    ((n->flags & KNF_NULL) && !prop))
		return 0;
	if (!(n->flags & KNF_NULL)) {
		q = outer_start(n);
		col = n->col - (q != n->start);
		/*
		 * An implicit key has its anchor or tag on its own line: one
		 * on an earlier line makes it the key of a "?", content at
		 * its column.
		 */
		if (prop && prop->line < n->line && col <= p->col)
			return kpin_error_set_at(KPIN_EINVALID, n->line + 1,
						 col + 1, "invalid YAML: the "
						 "key of a '?' is not indented "
						 "more than the '?'");
		line = n->line;
	}
	if (prop) {
		/* the key starts at its first property */
		q = prop->input_pos;
		col = prop->column;
		line = prop->line;
	}
	if (col > p->col)
		return 0;
	for (;;) {
		size_t c;

		while (q > 0 && strchr(" \t\r\n", k->buf[q - 1])) {
			nl = nl || k->buf[q - 1] == '\n';
			q--;
		}
		if (!nl || q == 0)
			return 0;
		/* back over a comment that ends the line: "? # note" */
		for (ls = q - 1; ls > 0 && k->buf[ls - 1] != '\n'; ls--)
			;
		for (c = ls; c < q; c++)
			if (k->buf[c] == '#' && (c == ls || k->buf[c - 1] == ' ' ||
						 k->buf[c - 1] == '\t'))
				break;
		if (c == q)
			break;
		q = c;
	}
	if (k->buf[q - 1] != '?')
		return 0;
	for (ls = q - 1; ls > 0 && k->buf[ls - 1] != '\n'; ls--)
		;
	if (q - 1 - ls != (size_t)p->col)
		return 0;
	return kpin_error_set_at(KPIN_EINVALID, line + 1, col + 1,
				 "invalid YAML: the key of a '?' is not "
				 "indented more than the '?'");
}

/*
 * The first content line of block scalar @n must lie right of its block
 * collection @p's column; libfyaml takes a line at that column as content.
 */
static int check_block_indent(const struct kpin_kust *k,
			      const struct knode *n, const struct knode *p)
{
	size_t c = n->start, ls;
	int line, col;

	while (c < n->end && strchr(" \r\n", k->buf[c]))
		c++;
	for (ls = c; ls > 0 && k->buf[ls - 1] != '\n'; ls--)
		;
	if (c >= n->end || c - ls > (size_t)p->col)
		return 0;
	pos_of(k->buf, c, &line, &col);
	return indent_error(p, line, col, true);
}

/*
 * libfyaml accepts the last value of a block mapping, or an item of a
 * block sequence, written on a later line at the collection's own column
 * ("key:\nvalue", "-\nitem"), and block scalar lines at that column as
 * content ("  key: |\n  other: x"), which YAML, kustomize and the re-parse
 * of an edit that adds a line after them all read differently or refuse.
 * Refuse them here too: each token of node @i (content, anchor, tag) and
 * a block scalar's first line must lie right of its block collection's
 * column, except a block sequence that is a mapping's value ("key:\n-
 * item").
 */
static int check_indent(const struct kpin_kust *k, uint32_t i,
			struct fy_event *ev)
{
	const struct knode *n = N(k, i), *p;
	struct fy_token *anchor = NULL, *tag = NULL;
	const struct fy_mark *m[3];
	int back[3];	/* indicator columns a mark leaves out: '&', '*', quote */
	size_t j;

	if (n->parent == NONE)
		return 0;
	p = N(k, n->parent);
	if ((p->flags & KNF_FLOW) || (p->type == KN_MAP && n->type == KN_SEQ &&
				     !(n->flags & KNF_FLOW)))
		return 0;
	if (ev->type == FYET_SCALAR) {
		anchor = ev->scalar.anchor;
		tag = ev->scalar.tag;
	} else if (ev->type == FYET_SEQUENCE_START) {
		anchor = ev->sequence_start.anchor;
		tag = ev->sequence_start.tag;
	} else if (ev->type == FYET_MAPPING_START) {
		anchor = ev->mapping_start.anchor;
		tag = ev->mapping_start.tag;
	}
	if (is_key(k, i)) {
		/* the first property, an anchor's '&' included */
		if ((n->style == FYNS_LITERAL || n->style == FYNS_FOLDED) &&
		    check_block_indent(k, n, p))
			return KPIN_EINVALID;
		const struct fy_mark *a = anchor ?
			fy_token_start_mark(anchor) : NULL;
		const struct fy_mark *t = tag ? fy_token_start_mark(tag) : NULL;
		struct fy_mark pm;

		if (a) {
			pm = *a;
			pm.input_pos--;
			pm.column--;
		}
		if (t && (!a || t->input_pos < pm.input_pos))
			pm = *t;
		/* a property on a later line than the first: indented too */
		if (t && a && t->line != a->line) {
			const struct fy_mark *later = t->line > a->line ? t : a;
			int col = later->column - (later == a);

			if (col <= p->col)
				return kpin_error_set_at(KPIN_EINVALID,
							 later->line + 1, col + 1,
							 "invalid YAML: the key "
							 "of a '?' is not indented "
							 "more than the '?'");
		}
		return check_explicit_key(k, i, a || t ? &pm : NULL);
	}
	m[0] = fy_event_start_mark(ev);
	back[0] = n->style == FYNS_ALIAS || n->style == FYNS_SINGLE_QUOTED ||
		  n->style == FYNS_DOUBLE_QUOTED;
	m[1] = anchor ? fy_token_start_mark(anchor) : NULL;
	back[1] = 1;
	m[2] = tag ? fy_token_start_mark(tag) : NULL;
	back[2] = 0;
	if (n->style == FYNS_LITERAL || n->style == FYNS_FOLDED) {
		m[0] = NULL;	/* its mark is the line after the header */
		if (check_block_indent(k, n, p))
			return KPIN_EINVALID;
	}
	for (j = 0; j < 3; j++)
		if (m[j] && m[j]->column - back[j] <= p->col)
			return indent_error(p, m[j]->line + 1,
					    m[j]->column - back[j] + 1, false);
	return 0;
}

/*
 * libfyaml reads a ':' before a flow indicator ("{:}", "[a, :]") as a
 * plain scalar; YAML reads an empty key or value there, and kustomize
 * refuses it ("did not find expected node content").
 */
static int check_flow_colon(const struct kpin_kust *k, uint32_t i)
{
	const struct knode *n = N(k, i);

	if (n->parent == NONE || !(N(k, n->parent)->flags & KNF_FLOW) ||
	    n->style != FYNS_PLAIN || (n->flags & KNF_NULL) ||
	    n->start >= k->len || k->buf[n->start] != ':' ||
	    (n->start + 1 < k->len && !strchr(",[]{}", k->buf[n->start + 1])))
		return 0;
	return kpin_error_set_at(KPIN_EINVALID, n->line + 1, n->col + 1,
				 "invalid YAML: a ':' before a flow "
				 "indicator starts no scalar");
}

/*
 * An implicit key is one line in YAML ("a b\n c: x" is no key); libfyaml
 * reads one over several lines in a flow collection, where kustomize
 * refuses it ("did not find expected ',' or '}'"). A key after '?'
 * (explicit) may span lines. The first is kept in @b, and refused once
 * the stream parsed (an unclosed bracket is the likelier cause).
 */
static void note_long_key(struct builder *b, uint32_t i, struct fy_event *ev)
{
	const struct kpin_kust *k = b->k;
	const struct knode *n = N(k, i);
	const struct fy_mark *em = fy_event_end_mark(ev);
	size_t at = n->start;

	if (b->long_key != NONE || !is_key(k, i) || (n->flags & KNF_NULL) ||
	    !em || em->line <= n->line)
		return;
	if (n->style == FYNS_SINGLE_QUOTED || n->style == FYNS_DOUBLE_QUOTED)
		at--;
	while (at > 0 && strchr(" \t\r\n", k->buf[at - 1]))
		at--;
	if (at == 0 || k->buf[at - 1] != '?')
		b->long_key = i;
}

static void set_start(struct knode *n, const struct fy_mark *m)
{
	if (!m)
		return;
	n->start = n->end = n->oend = m->input_pos;
	n->line = m->line;
	n->col = m->column;
}

/* Keep anchor and tag texts so that the verifier can compare them. */
static void set_meta(struct kpin_kust *k, uint32_t i, struct fy_token *anchor,
		     struct fy_token *tag)
{
	const char *a = "", *t = "";
	size_t alen = 0, tlen = 0;

	if (!anchor && !tag)
		return;
	if (anchor) {
		N(k, i)->flags |= KNF_ANCHOR;
		a = fy_token_get_text(anchor, &alen);
	}
	if (tag) {
		N(k, i)->flags |= KNF_TAG;
		t = fy_token_get_text(tag, &tlen);
	}
	N(k, i)->meta = k->text.len;
	kpin_buf_add(&k->text, a ? a : "", a ? alen : 0);
	kpin_buf_addch(&k->text, '\0');
	kpin_buf_add(&k->text, t ? t : "", t ? tlen : 0);
	kpin_buf_addch(&k->text, '\0');
	N(k, i)->metalen = k->text.len - N(k, i)->meta;
}

/* Can the processed text of a scalar be read straight from its bytes? */
static bool raw_is_text(const char *s, size_t len, int style)
{
	if (memchr(s, '\n', len) || memchr(s, '\r', len))
		return false;
	if (style == FYNS_PLAIN)
		return true;
	if (style == FYNS_SINGLE_QUOTED)
		return !memchr(s, '\'', len);
	if (style == FYNS_DOUBLE_QUOTED)
		return !memchr(s, '\\', len);
	return false;
}

/* 0-based column (characters) of byte @p. */
static int column_of(const struct kpin_kust *k, size_t p)
{
	int col = 0;

	while (p > 0 && k->buf[p - 1] != '\n')
		if (((unsigned char)k->buf[--p] & 0xc0) != 0x80)
			col++;
	return col;
}

/*
 * The first byte at or after @p that is not a blank, a line break or in a
 * comment: after a node, where the next indicator is. Empty nodes have
 * no token; placing them after their own "-" or ":" (which may be on a
 * later line) makes their collection end where they do.
 */
static size_t next_token(const struct kpin_kust *k, size_t p)
{
	while (p < k->len && strchr(" \t\r\n#", k->buf[p])) {
		if (k->buf[p] == '#')
			while (p < k->len && k->buf[p] != '\n')
				p++;
		else
			p++;
	}
	return p;
}

/*
 * In a block mapping the ':' before a value takes a blank or a line break
 * after it ("? a\n:b" holds no value: kustomize reads ":b" as a key);
 * libfyaml reads one after an explicit key without.
 */
static int check_block_colon(const struct builder *b, uint32_t i)
{
	const struct kpin_kust *k = b->k;
	const struct knode *n = N(k, i);
	uint32_t key = b->prev;		/* a value's key */
	size_t c, q;
	int line = 1;

	if (n->parent == NONE || N(k, n->parent)->type != KN_MAP ||
	    (N(k, n->parent)->flags & KNF_FLOW) || is_key(k, i) ||
	    key == NONE)
		return 0;
	c = next_token(k, N(k, key)->oend);
	if (c + 1 >= k->len || k->buf[c] != ':' ||
	    strchr(" \t\r\n", k->buf[c + 1]))
		return 0;
	for (q = 0; q < c; q++)
		line += k->buf[q] == '\n';
	return kpin_error_set_at(KPIN_EINVALID, line, column_of(k, c) + 1,
				 "invalid YAML: a ':' that starts a value "
				 "takes a blank or a line break after it");
}

/*
 * Place an empty value: just after its key's ':' when there is one, so
 * that filling it in is an insertion on the key's line. @prev: the
 * sibling before it (its key, for a value), or NONE.
 */
static void place_null(struct kpin_kust *k, uint32_t i, uint32_t prev)
{
	struct knode *n = N(k, i);
	uint32_t key = prev;
	size_t p;

	if (n->parent == NONE || N(k, n->parent)->type != KN_MAP ||
	    !(N(k, n->parent)->count % 2 == 0)) {
		/* a null sequence item, key or root: after the previous node */
		const struct knode *ref = prev != NONE ? N(k, prev) :
			n->parent != NONE ? N(k, n->parent) : NULL;

		if (!ref)
			return;
		n->start = n->end = n->oend = ref->oend;
		n->line = ref->line;
		n->col = ref->col;
		/* an empty block sequence item: just after its "-" */
		p = next_token(k, ref->oend);
		if (N(k, n->parent)->type == KN_SEQ &&
		    !(N(k, n->parent)->flags & KNF_FLOW) && p < k->len &&
		    k->buf[p] == '-')
			n->start = n->end = n->oend = p + 1;
		return;
	}
	n->line = N(k, key)->line;
	n->col = N(k, key)->col;
	/*
	 * The ':' follows the key, or in a block mapping starts a later line
	 * after "? key" at the mapping's column; a ':' elsewhere starts
	 * another node.
	 */
	p = next_token(k, N(k, key)->oend);
	if (p < k->len && k->buf[p] == ':' &&
	    ((N(k, n->parent)->flags & KNF_FLOW) ||
	     !memchr(k->buf + N(k, key)->oend, '\n', p - N(k, key)->oend) ||
	     column_of(k, p) == N(k, n->parent)->col)) {
		n->start = n->end = n->oend = p + 1;
		n->flags |= KNF_COLON;
	} else {
		n->start = n->end = n->oend = N(k, key)->oend;
	}
}

static void add_scalar(struct builder *b, struct fy_event *ev)
{
	struct kpin_kust *k = b->k;
	struct fy_token *tok = ev->scalar.value;
	const struct fy_mark *sm = tok ? fy_token_start_mark(tok) : NULL;
	const struct fy_mark *em = tok ? fy_token_end_mark(tok) : NULL;
	uint32_t i = new_node(b, KN_SCALAR);
	struct knode *n = N(k, i);
	int style = fy_event_get_node_style(ev);
	struct fy_token *props[2] = { ev->scalar.anchor, ev->scalar.tag };
	size_t j;
	bool key;

	set_meta(k, i, ev->scalar.anchor, ev->scalar.tag);
	n = N(k, i);
	if (!sm || !em) {
		n->flags |= KNF_NULL | KNF_TEXT | KNF_RAW;
		n->style = FYNS_PLAIN;
		place_null(k, i, b->prev);
		/* an empty value with an anchor or tag ends after them */
		for (j = 0; j < 2; j++) {
			const struct fy_mark *pm = props[j] ?
				fy_token_end_mark(props[j]) : NULL;

			if (pm && pm->input_pos > n->oend) {
				n->start = n->end = n->oend = pm->input_pos;
				n->flags &= ~KNF_COLON;
			}
		}
		return;
	}
	n->style = (signed char)style;
	set_start(n, sm);
	n->end = em->input_pos;
	if (style == FYNS_LITERAL || style == FYNS_FOLDED) {
		/*
		 * A block scalar's end mark lies past the next line's
		 * indentation; end it after its own last line break instead,
		 * so that its span does not depend on what follows.
		 */
		size_t p = n->end;

		while (p > n->start && (k->buf[p - 1] == ' ' ||
					k->buf[p - 1] == '\t'))
			p--;
		if (p > n->start && k->buf[p - 1] == '\n')
			n->end = p;
	}
	n->oend = n->end + (style == FYNS_SINGLE_QUOTED ||
			    style == FYNS_DOUBLE_QUOTED);
	key = is_key(k, i);
	if (raw_is_text(k->buf + n->start, n->end - n->start, style)) {
		n->flags |= KNF_TEXT | KNF_RAW;
		n->text = n->start;
		n->tlen = n->end - n->start;
	} else if (key || n->end - n->start <= TEXT_MAX) {
		size_t off, len;

		if (arena_add_token(k, tok, &off, &len)) {
			n->flags |= KNF_TEXT;
			n->text = (uint32_t)off;
			n->tlen = (uint32_t)len;
		}
	}
}

static void add_alias(struct builder *b, struct fy_event *ev)
{
	struct kpin_kust *k = b->k;
	struct fy_token *tok = ev->alias.anchor;
	uint32_t i = new_node(b, KN_ALIAS);
	struct knode *n = N(k, i);
	size_t len = 0;
	const char *t;

	n->style = FYNS_ALIAS;
	set_start(n, tok ? fy_token_start_mark(tok) : NULL);
	if (tok && fy_token_end_mark(tok))
		n->end = n->oend = fy_token_end_mark(tok)->input_pos;
	t = tok ? fy_token_get_text(tok, &len) : NULL;
	n->flags |= KNF_TEXT;
	n->text = arena_add(k, t ? t : "", t ? len : 0);
	n->tlen = t ? len : 0;
}

static void push(struct builder *b, uint32_t i)
{
	if (b->depth == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 32;
		b->stack = xreallocarray(b->stack, b->cap, sizeof(*b->stack));
	}
	b->stack[b->depth++] = i;
}

static void start_collection(struct builder *b, struct fy_event *ev,
			     unsigned type)
{
	struct kpin_kust *k = b->k;
	uint32_t i = new_node(b, type);
	struct fy_token *anchor, *tag;

	if (type == KN_SEQ) {
		anchor = ev->sequence_start.anchor;
		tag = ev->sequence_start.tag;
	} else {
		anchor = ev->mapping_start.anchor;
		tag = ev->mapping_start.tag;
	}
	set_meta(k, i, anchor, tag);
	N(k, i)->style = (signed char)fy_event_get_node_style(ev);
	if (N(k, i)->style == FYNS_FLOW)
		N(k, i)->flags |= KNF_FLOW;
	set_start(N(k, i), fy_event_start_mark(ev));
	push(b, i);
}

/* qsort has no context argument: the file whose keys are being sorted. */
static const struct kpin_kust *sort_kust;

/* Order key nodes by text, then by position, for duplicate detection. */
static int cmp_key_nodes(const void *a, const void *b)
{
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	size_t la = 0, lb = 0;
	const char *ta = node_text(sort_kust, ia, &la);
	const char *tb = node_text(sort_kust, ib, &lb);
	int c = la && lb ? memcmp(ta, tb, la < lb ? la : lb) : 0;

	if (c)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static bool same_key(const struct kpin_kust *k, uint32_t a, uint32_t b)
{
	size_t la = 0, lb = 0;
	const char *ta = node_text(k, a, &la), *tb = node_text(k, b, &lb);

	return la == lb && (la == 0 || !memcmp(ta, tb, la));
}

/*
 * Refuse empty, non-scalar and alias keys (kustomize cannot load them)
 * and keys that appear twice in one mapping: YAML forbids it and
 * kustomize would silently keep one of them.
 */
static int check_keys(struct kpin_kust *k, uint32_t map)
{
	uint32_t c, *keys, nk = 0, i, j;
	int error = 0;

	keys = xmalloc((N(k, map)->count / 2 + 1) * sizeof(*keys));
	for (c = N(k, map)->first, i = 0; c != NONE; c = N(k, c)->next, i++) {
		if (i % 2)
			continue;
		if (N(k, c)->type != KN_SCALAR) {
			error = problem(k, c, "unsupported-key",
					"mapping key is %s; kpin supports "
					"scalar keys only",
					N(k, c)->type == KN_ALIAS ?
					"an alias" : "a collection");
			if (error)
				goto out;
			continue;
		}
		if (N(k, c)->flags & KNF_NULL) {
			/* no token to point at: the value's, when it has one */
			uint32_t v = N(k, c)->next;

			error = problem(k, N(k, v)->flags & KNF_NULL ? c : v,
					"unsupported-key", "mapping key is "
					"empty; kustomize cannot load it");
			if (error)
				goto out;
			continue;
		}
		keys[nk++] = c;
	}
	if (nk <= 16) {
		for (i = 1; i < nk; i++)
			for (j = 0; j < i; j++)
				if (same_key(k, keys[i], keys[j])) {
					error = problem(k, keys[i],
						"duplicate-key",
						"duplicate key '%.*s' (first at "
						"%d:%d)", (int)N(k, keys[i])->tlen,
						node_text(k, keys[i],
						  &(size_t){0}),
						N(k, keys[j])->line + 1,
						N(k, keys[j])->col + 1);
					if (error)
						goto out;
					break;
				}
		goto out;
	}
	sort_kust = k;
	qsort(keys, nk, sizeof(*keys), cmp_key_nodes);
	for (i = 1; i < nk; i++) {
		if (!same_key(k, keys[i], keys[i - 1]))
			continue;
		error = problem(k, keys[i], "duplicate-key",
				"duplicate key '%.*s' (first at %d:%d)",
				(int)N(k, keys[i])->tlen,
				node_text(k, keys[i], &(size_t){0}),
				N(k, keys[i - 1])->line + 1,
				N(k, keys[i - 1])->col + 1);
		if (error)
			goto out;
	}
out:
	free(keys);
	return error;
}

static int end_collection(struct builder *b, struct fy_event *ev)
{
	struct kpin_kust *k = b->k;
	uint32_t i = b->stack[--b->depth];
	struct knode *n = N(k, i);
	const struct fy_mark *em = fy_event_end_mark(ev);

	if ((n->flags & KNF_FLOW) && em) {
		n->end = n->oend = em->input_pos;
	} else if (n->last != NONE) {
		n->end = n->oend = N(k, n->last)->oend;
	}
	if (n->type == KN_MAP)
		return check_keys(k, i);
	return 0;
}

static int build(struct kpin_kust *k)
{
	struct builder b = { .k = k, .long_key = NONE };
	struct kpin_yaml *y = NULL;
	struct fy_parser *fyp;
	struct fy_event *ev;
	int error = KPIN_ERROR;

	if (kpin_yaml_open(&y, k->buf, k->len, 0))
		return KPIN_ERROR;
	fyp = kpin_yaml_parser(y);
	while ((ev = fy_parser_parse(fyp)) != NULL) {
		int rc = 0;

		switch (ev->type) {
		case FYET_DOCUMENT_START:
			if (++b.docs > 1) {
				const struct fy_mark *m =
					fy_event_start_mark(ev);

				rc = kpin_error_set_at(KPIN_EINVALID,
					m ? m->line + 1 : 1,
					m ? m->column + 1 : 1,
					"more than one YAML document; a "
					"kustomization file holds one");
			}
			break;
		case FYET_SCALAR:
			add_scalar(&b, ev);
			rc = check_indent(k, k->nnodes - 1, ev);
			if (!rc)
				rc = check_block_colon(&b, k->nnodes - 1);
			if (!rc)
				rc = check_flow_colon(k, k->nnodes - 1);
			note_long_key(&b, k->nnodes - 1, ev);
			break;
		case FYET_ALIAS:
			add_alias(&b, ev);
			rc = check_indent(k, k->nnodes - 1, ev);
			if (!rc)
				rc = check_block_colon(&b, k->nnodes - 1);
			break;
		case FYET_SEQUENCE_START:
			start_collection(&b, ev, KN_SEQ);
			rc = check_indent(k, k->nnodes - 1, ev);
			if (!rc)
				rc = check_block_colon(&b, k->nnodes - 1);
			break;
		case FYET_MAPPING_START:
			start_collection(&b, ev, KN_MAP);
			rc = check_indent(k, k->nnodes - 1, ev);
			if (!rc)
				rc = check_block_colon(&b, k->nnodes - 1);
			break;
		case FYET_SEQUENCE_END:
		case FYET_MAPPING_END:
			rc = end_collection(&b, ev);
			break;
		default:
			break;
		}
		fy_parser_event_free(fyp, ev);
		if (rc) {
			error = rc;
			goto out;
		}
	}
	if (fy_parser_get_stream_error(fyp)) {
		error = kpin_yaml_error(y);
		goto out;
	}
	error = 0;
	if (b.long_key != NONE)
		error = kpin_error_set_at(KPIN_EINVALID,
					  N(k, b.long_key)->line + 1,
					  N(k, b.long_key)->col + 1,
					  "invalid YAML: an implicit mapping "
					  "key spans lines (write it on one "
					  "line, or after '? ')");
out:
	free(b.stack);
	kpin_yaml_close(y);
	return error;
}

/* ---- the kustomization's structure ----------------------------------- */

static struct kpin_field *field_slot(struct kpin_image *img, int f)
{
	switch (f) {
	case F_NAME:
		return &img->name;
	case F_NEW_NAME:
		return &img->new_name;
	case F_NEW_TAG:
		return &img->new_tag;
	default:
		return &img->digest;
	}
}

/*
 * Describe field @f from its key and value nodes. The value's text goes
 * into kust->vals; *@voff receives its offset (pointers are set once the
 * arena stops growing, in link_values()).
 */
static void fill_field(struct kpin_kust *k, struct kpin_field *f, uint32_t key,
		       uint32_t val, uint32_t *voff)
{
	const struct knode *n = N(k, val);
	size_t len = 0;
	const char *t;

	f->line = n->line + 1;
	f->col = n->col + 1;
	f->flags = ((n->flags & KNF_ANCHOR) ? KPIN_FIELD_ANCHOR : 0) |
		   ((n->flags & KNF_TAG) ? KPIN_FIELD_TAG : 0);
	if (n->type == KN_ALIAS) {
		f->style = KPIN_STYLE_ALIAS;
		return;
	}
	if (n->type != KN_SCALAR) {
		f->style = KPIN_STYLE_COLLECTION;
		return;
	}
	if (n->flags & KNF_NULL) {
		f->style = KPIN_STYLE_NULL;
		f->line = N(k, key)->line + 1;
		f->col = N(k, key)->col + 1;
	} else if (n->style == FYNS_SINGLE_QUOTED) {
		f->style = KPIN_STYLE_SINGLE;
	} else if (n->style == FYNS_DOUBLE_QUOTED) {
		f->style = KPIN_STYLE_DOUBLE;
	} else if (n->style == FYNS_LITERAL || n->style == FYNS_FOLDED) {
		f->style = KPIN_STYLE_BLOCK;
	} else {
		f->style = KPIN_STYLE_PLAIN;
	}
	t = node_text(k, val, &len);
	*voff = (uint32_t)k->vals.len;
	kpin_buf_add(&k->vals, t ? t : "", t ? len : 0);
	kpin_buf_addch(&k->vals, '\0');
	f->len = t ? len : 0;
}

/* Point every field's value into kust->vals, now that it has its size. */
static void link_values(struct kpin_kust *k)
{
	size_t i;
	int f;

	for (i = 0; i < k->nimgs; i++)
		for (f = 0; f < F__COUNT; f++)
			if (k->ents[i].voff[f] != NONE)
				field_slot(&k->imgs[i], f)->value =
					k->vals.ptr + k->ents[i].voff[f];
}

static int add_entry(struct kpin_kust *k, uint32_t item, size_t index)
{
	struct kpin_image *img;
	struct entry_nodes *en;
	uint32_t c, key;
	int f, error;

	if (N(k, item)->type == KN_ALIAS)
		return problem(k, item, "entry-alias", "images entry %zu is an "
			       "alias; kpin does not edit shared nodes",
			       index + 1);
	if (N(k, item)->type != KN_MAP)
		return problem(k, item, "images-not-sequence", "images entry "
			       "%zu is not a mapping", index + 1);
	img = &k->imgs[k->nimgs];
	en = &k->ents[k->nimgs];
	memset(img, 0, sizeof(*img));
	img->index = index;
	img->line = N(k, item)->line + 1;
	img->col = N(k, item)->col + 1;
	en->map = item;
	for (f = 0; f < F__COUNT; f++)
		en->key[f] = en->val[f] = en->voff[f] = NONE;
	k->nimgs++;
	for (key = N(k, item)->first; key != NONE; key = N(k, c)->next) {
		c = N(k, key)->next;
		if (text_is(k, key, "<<")) {
			error = problem(k, key, "merge-key", "images entry %zu "
					"uses a merge key ('<<'); kpin does not "
					"edit shared nodes", index + 1);
			if (error)
				return error;
		}
		for (f = 0; f < F__COUNT; f++) {
			if (!text_is(k, key, field_keys[f]))
				continue;
			en->key[f] = key;
			en->val[f] = c;
			fill_field(k, field_slot(img, f), key, c,
				   &en->voff[f]);
			break;
		}
		if (f == F__COUNT) {
			size_t len = 0;
			const char *t = node_text(k, key, &len);
			struct kpin_key *o;

			img->other = xreallocarray(img->other, img->nother + 1,
						   sizeof(*img->other));
			o = &img->other[img->nother++];
			o->name = xstrndup(t ? t : "", t ? len : 0);
			o->line = N(k, key)->line + 1;
			o->col = N(k, key)->col + 1;
		}
	}
	if (en->key[F_NAME] == NONE)
		return problem(k, item, "entry-without-name", "images entry %zu "
			       "has no 'name'", index + 1);
	if (en->voff[F_NAME] == NONE || img->name.style == KPIN_STYLE_NULL ||
	    img->name.style == KPIN_STYLE_BLOCK)
		return problem(k, en->val[F_NAME], "name-not-string",
			       "images entry %zu: 'name' must be a non-empty "
			       "string", index + 1);
	return 0;
}

static int analyse(struct kpin_kust *k)
{
	uint32_t key, val, item;
	size_t index = 0;
	int error = 0;

	if (N(k, k->root)->type != KN_MAP)
		return problem(k, k->root, "root-not-mapping", "the root of a "
			       "kustomization must be a mapping");
	for (key = N(k, k->root)->first; key != NONE; key = N(k, val)->next) {
		size_t len = 0;
		const char *t = node_text(k, key, &len);
		struct kpin_key *kk;

		val = N(k, key)->next;
		ALLOC_GROW(k->keys, k->nkeys + 1, k->keys_alloc);
		kk = &k->keys[k->nkeys++];
		kk->name = xstrndup(t ? t : "", t ? len : 0);
		kk->line = N(k, key)->line + 1;
		kk->col = N(k, key)->col + 1;
		if (text_is(k, key, "images")) {
			k->images_key = key;
			k->images = val;
		} else if (text_is(k, key, "imageTags")) {
			k->image_tags = val;
		}
	}
	if (k->images == NONE)
		return 0;
	val = k->images;
	if (N(k, val)->type == KN_ALIAS || (N(k, val)->flags & KNF_ANCHOR))
		return problem(k, val, "images-alias", "'images' is an alias or "
			       "carries an anchor; kpin does not edit shared "
			       "nodes");
	if (N(k, val)->type == KN_SCALAR &&
	    ((N(k, val)->flags & KNF_NULL) || text_is(k, val, "~") ||
	     text_is(k, val, "null")) && N(k, val)->style == FYNS_PLAIN)
		return 0;
	if (N(k, val)->type != KN_SEQ)
		return problem(k, val, "images-not-sequence", "'images' must be "
			       "a sequence of mappings");
	k->imgs = xcalloc(N(k, val)->count + 1, sizeof(*k->imgs));
	k->ents = xcalloc(N(k, val)->count + 1, sizeof(*k->ents));
	kpin_buf_grow(&k->vals, N(k, val)->count * 32);
	for (item = N(k, val)->first; item != NONE;
	     item = N(k, item)->next, index++) {
		error = add_entry(k, item, index);
		if (error)
			break;
	}
	link_values(k);
	return error;
}

static void detect_eol(struct kpin_kust *k)
{
	const char *nl = memchr(k->buf, '\n', k->len);

	strcpy(k->eol, nl && nl > k->buf && nl[-1] == '\r' ? "\r\n" : "\n");
}

/*
 * Where line [@ls, @le) of @s puts a tab that kustomize's YAML parser
 * refuses in block context, or @le: in the indentation of a blank or
 * comment-only line, or in the blanks after a "-", "?" or ":" indicator
 * that starts the line ("found character that cannot start any token").
 * libfyaml reads both
 * as white space, so kpin must refuse them itself: an edit would keep a
 * file kustomize cannot load, and a line kpin inserts before such a line
 * can make libfyaml refuse it too.
 */
static size_t bad_tab(const char *s, size_t ls, size_t le)
{
	size_t p = ls, q;

	while (p < le && s[p] == ' ')
		p++;
	for (q = p; q < le && strchr(" \t\r", s[q]); q++)
		;
	if (p < le && s[p] == '\t' && (q == le || s[q] == '#'))
		return p;
	while (p + 1 < le && (s[p] == '-' || s[p] == '?' || s[p] == ':') &&
	       (s[p + 1] == ' ' || s[p + 1] == '\t')) {
		for (q = p + 1; q < le && (s[q] == ' ' || s[q] == '\t'); q++)
			if (s[q] == '\t')
				return q;
		p = q;
	}
	return le;
}

/* Refuse the tabs of bad_tab() outside scalars and flow collections. */
static int check_tabs(const struct kpin_kust *k)
{
	const char *s = k->buf;
	size_t ls = 0, covered = 0;
	uint32_t j = 0;
	int line = 1;

	if (!memchr(s, '\t', k->len))
		return 0;
	while (ls < k->len) {
		const char *nl = memchr(s + ls, '\n', k->len - ls);
		size_t le = nl ? (size_t)(nl - s) : k->len;
		size_t t = memchr(s + ls, '\t', le - ls) ? bad_tab(s, ls, le) :
			   le;

		if (t < le) {
			/* the scalars and flow collections begun so far */
			for (; j < k->nnodes && N(k, j)->start <= ls; j++) {
				const struct knode *n = N(k, j);
				size_t end = n->type == KN_SCALAR ? n->end :
					     (n->flags & KNF_FLOW) ? n->oend : 0;

				if (end > covered)
					covered = end;
			}
			if (ls >= covered)
				return kpin_error_set_at(KPIN_EINVALID, line,
					(int)(t - ls) + 1, "unsupported YAML: "
					"a tab where kustomize expects "
					"indentation; it cannot load this file");
		}
		ls = le + 1;
		line++;
	}
	return 0;
}

/* Internal: build the tree only (the verifier needs no image analysis). */
#define KUST_TREE_ONLY (1u << 31)

int kpin_kust_open(struct kpin_kust **out, const char *buf, size_t len,
		   unsigned flags)
{
	struct kpin_kust *k;
	int error;

	*out = NULL;
	if (len >= KPIN_KUST_MAX_LEN)
		return kpin_error_set(KPIN_EINVALID, "input of %zu bytes is too "
				      "large to edit", len);
	error = check_encoding(buf, len);
	if (error)
		return error;
	k = xcalloc(1, sizeof(*k));
	k->buf = buf;
	k->len = len;
	k->flags = flags;
	k->root = k->images = k->images_key = k->image_tags = NONE;
	detect_eol(k);
	error = build(k);
	if (!error)
		error = check_tabs(k);
	if (!error && k->root == NONE)
		error = problem(k, NONE, "root-not-mapping", "no YAML document: a "
				"kustomization must be a mapping");
	/* a lenient open of an empty file has no root to analyse */
	if (!error && k->root != NONE && !(flags & KUST_TREE_ONLY))
		error = analyse(k);
	if (error) {
		kpin_kust_free(k);
		return error;
	}
	*out = k;
	return 0;
}

void kpin_kust_free(struct kpin_kust *k)
{
	size_t i;
	if (!k)
		return;
	for (i = 0; i < k->nkeys; i++)
		free((char *)k->keys[i].name);
	for (i = 0; i < k->nimgs; i++) {
		size_t j;

		for (j = 0; j < k->imgs[i].nother; j++)
			free((char *)k->imgs[i].other[j].name);
		free(k->imgs[i].other);
	}
	for (i = 0; i < k->ndiags; i++)
		free(k->diags[i].message);
	free(k->keys);
	free(k->diags);
	free(k->imgs);
	free(k->ents);
	free(k->nodes);
	kpin_buf_release(&k->text);
	kpin_buf_release(&k->vals);
	free(k);
}

size_t kpin_kust_image_count(const struct kpin_kust *k)
{
	return k->nimgs;
}

const struct kpin_image *kpin_kust_image(const struct kpin_kust *k, size_t i)
{
	return i < k->nimgs ? &k->imgs[i] : NULL;
}

size_t kpin_kust_diag_count(const struct kpin_kust *k)
{
	return k->ndiags;
}

const struct kpin_diag *kpin_kust_diag(const struct kpin_kust *k, size_t i)
{
	return i < k->ndiags ? &k->diags[i] : NULL;
}

size_t kpin_kust_key_count(const struct kpin_kust *k)
{
	return k->nkeys;
}

const struct kpin_key *kpin_kust_key(const struct kpin_kust *k, size_t i)
{
	return i < k->nkeys ? &k->keys[i] : NULL;
}

bool kpin_kust_has_images_key(const struct kpin_kust *k)
{
	return k->images_key != NONE;
}

/* Does field @f hold exactly @name? */
static bool field_is(const struct kpin_field *f, const char *name)
{
	size_t len = strlen(name);

	return f->value && f->len == len && !memcmp(f->value, name, len);
}

/* Index of the single entry named @name: -1 none, -2 ambiguous. */
static long find_index(const struct kpin_kust *k, const char *name)
{
	size_t i;
	long found = -1;

	for (i = 0; i < k->nimgs; i++) {
		if (!field_is(&k->imgs[i].name, name))
			continue;
		if (found >= 0) {
			kpin_error_set_at(KPIN_EAMBIGUOUS, k->imgs[i].line,
					  k->imgs[i].col, "image '%s' has two "
					  "entries (at %d:%d and %d:%d); "
					  "refusing an ambiguous edit", name,
					  k->imgs[found].line,
					  k->imgs[found].col, k->imgs[i].line,
					  k->imgs[i].col);
			return -2;
		}
		found = (long)i;
	}
	return found;
}

/*
 * KPIN_ENOTFOUND for @name, saying what the file has instead: the entry
 * whose newName is @name (the usual mix-up), else the entry names.
 */
static int not_found(const struct kpin_kust *k, const char *name)
{
	struct kpin_buf list = KPIN_BUF_INIT;
	struct kpin_imageref ref;
	size_t i, shown = 0;
	int rc;

	kpin_image_split(&ref, name, strlen(name));
	for (i = 0; (ref.tag.len || ref.digest.len) && i < k->nimgs; i++) {
		const struct kpin_field *f = &k->imgs[i].name;

		if (f->value && f->len == ref.name.len &&
		    !memcmp(f->value, ref.name.ptr, f->len))
			return kpin_error_set(KPIN_ENOTFOUND, "no images entry "
					      "named '%s': --image takes the "
					      "entry's name '%.*s'; give the "
					      "%s with %s%.*s (or both tag and "
					      "digest with --ref)", name,
					      (int)f->len, f->value,
					      ref.tag.len ? "tag" : "digest",
					      ref.tag.len ? "--tag " :
					      "--digest ",
					      (int)(ref.tag.len ? ref.tag.len :
						    ref.digest.len),
					      ref.tag.len ? ref.tag.ptr :
					      ref.digest.ptr);
	}

	for (i = 0; i < k->nimgs; i++) {
		const struct kpin_image *img = &k->imgs[i];

		if (field_is(&img->new_name, name) && img->name.value)
			return kpin_error_set(KPIN_ENOTFOUND, "no images entry "
					      "named '%s': '%s' is the newName "
					      "of entry '%.*s' (%d:%d), and "
					      "--image takes the entry's name",
					      name, name, (int)img->name.len,
					      img->name.value, img->line,
					      img->col);
	}
	for (i = 0; i < k->nimgs; i++) {
		const struct kpin_field *f = &k->imgs[i].name;

		if (!f->value)
			continue;
		if (shown++ == 10) {
			kpin_buf_addf(&list, ", ... (%zu in all)", k->nimgs);
			break;
		}
		kpin_buf_addf(&list, "%s'%.*s'", shown > 1 ? ", " : "",
			      (int)f->len, f->value);
	}
	if (shown)
		rc = kpin_error_set(KPIN_ENOTFOUND, "no images entry named "
				    "'%s' (entries: %s)", name, list.ptr);
	else
		rc = kpin_error_set(KPIN_ENOTFOUND, "no images entry named "
				    "'%s' (the file has no images entries)",
				    name);
	kpin_buf_release(&list);
	return rc;
}

int kpin_kust_find(const struct kpin_image **out, const struct kpin_kust *k,
		   const char *name)
{
	long i = find_index(k, name);

	*out = NULL;
	if (i == -2)
		return KPIN_EAMBIGUOUS;
	if (i < 0)
		return not_found(k, name);
	*out = &k->imgs[i];
	return 0;
}

const char *kpin_kust_effective_digest(const struct kpin_image *img,
				       size_t *len)
{
	const char *at;

	if (img->digest.value && img->digest.len) {
		*len = img->digest.len;
		return img->digest.value;
	}
	if (img->new_tag.value && (at = strchr(img->new_tag.value, '@'))) {
		*len = img->new_tag.len - (size_t)(at + 1 - img->new_tag.value);
		return at + 1;
	}
	*len = 0;
	return NULL;
}

void kpin_pin_of(struct kpin_pin *pin, const struct kpin_image *img)
{
	size_t len;
	const char *d = img ? kpin_kust_effective_digest(img, &len) : NULL;
	const char *t = img ? img->new_tag.value : NULL;

	pin->digest = d ? xstrndup(d, len) : NULL;
	pin->tag = t ? xstrndup(t, strcspn(t, "@")) : NULL;
}

void kpin_pin_release(struct kpin_pin *pin)
{
	free(pin->digest);
	free(pin->tag);
	pin->digest = pin->tag = NULL;
}

/* ---- planning an edit ----------------------------------------------- */

enum splice_kind { SP_VALUE, SP_LINE };

struct splice {
	size_t pos;		/* where, in the original */
	size_t del;		/* bytes of the original replaced */
	char *ins;		/* bytes inserted */
	size_t inslen;
	int kind;		/* enum splice_kind: values before new lines */
	unsigned seq;		/* plan order among equals */
};

struct expect {
	uint32_t map;		/* the entry's mapping in the original */
	int field;		/* F_* */
	char *value;		/* the processed text it must have */
	bool inserted;		/* the key is new, appended to the entry */
};

struct newentry {
	const char *v[F__COUNT];
};

struct plan {
	const struct kpin_kust *k;
	struct splice *sp;
	size_t nsp;
	struct expect *ex;
	size_t nex;
	struct newentry *ne;
	size_t nne;
	unsigned seq;
	unsigned flags;		/* enum kpin_kust_edit_flags */
};

static void add_splice(struct plan *p, size_t pos, size_t del,
		       struct kpin_buf *ins, int kind)
{
	struct splice *s;

	p->sp = xreallocarray(p->sp, p->nsp + 1, sizeof(*p->sp));
	s = &p->sp[p->nsp++];
	s->pos = pos;
	s->del = del;
	s->ins = kpin_buf_detach(ins, &s->inslen);
	s->kind = kind;
	s->seq = p->seq++;
}

static void add_expect(struct plan *p, uint32_t map, int field,
		       const char *value, bool inserted)
{
	struct expect *e;

	p->ex = xreallocarray(p->ex, p->nex + 1, sizeof(*p->ex));
	e = &p->ex[p->nex++];
	e->map = map;
	e->field = field;
	e->value = xstrdup(value);
	e->inserted = inserted;
}

static void plan_release(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nsp; i++)
		free(p->sp[i].ins);
	for (i = 0; i < p->nex; i++)
		free(p->ex[i].value);
	free(p->sp);
	free(p->ex);
	free(p->ne);
}

/*
 * Must @s be quoted to load as this exact string? Validated values hold
 * only [A-Za-z0-9_.:/@\[\]-], so what matters is YAML resolving them to a
 * non-string, a leading indicator, and (when @flow) a ':' that older flow
 * parsers misread.
 */
static bool needs_quotes(const char *s, bool flow)
{
	size_t len = strlen(s);

	if (!kpin_grammar_plain_is_string(s, len))
		return true;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
		return true;
	if (strstr(s, ": ") || strstr(s, " #") || strpbrk(s, "\"'\\\t\n"))
		return true;
	return flow && strpbrk(s, ":,[]{}#");
}

static void add_scalar_text(struct kpin_buf *b, const char *s, bool quote)
{
	if (quote)
		kpin_buf_addch(b, '"');
	kpin_buf_adds(b, s);
	if (quote)
		kpin_buf_addch(b, '"');
}

/* The bytes from the start of @pos's line up to @pos, as spaces. */
static void indent_of(const struct kpin_kust *k, size_t pos,
		      struct kpin_buf *out)
{
	size_t ls = pos;

	while (ls > 0 && k->buf[ls - 1] != '\n')
		ls--;
	if (ls == 0 && pos >= 3 && !memcmp(k->buf, "\xef\xbb\xbf", 3))
		ls = 3;	/* a byte order mark takes no column */
	for (; ls < pos; ls++)
		if (((unsigned char)k->buf[ls] & 0xc0) != 0x80)
			kpin_buf_addch(out, ' ');
}

/*
 * The indentation of the keys of block mapping @map: the columns before
 * the mapping ("- " of a sequence item becomes two spaces), which starts
 * where its first key's tag or anchor or "?" does, so "&a name:" or "?
 * name" indents by that column, not the key text's; or, when the mapping
 * has properties of its own on an earlier line ("key: &a" and the keys
 * below), the whitespace before its first key. Not the second key's
 * column: that may be the text of an explicit key ("?\n  key").
 */
static void key_indent(const struct kpin_kust *k, const struct knode *map,
		       struct kpin_buf *out)
{
	size_t p = outer_start(N(k, map->first)), ls = p;

	/* "key: &anchor" then the keys on later lines: their indentation */
	if (N(k, map->first)->line > map->line && map->start < k->len &&
	    k->buf[map->start] != '?') {
		while (ls > 0 && k->buf[ls - 1] == ' ')
			ls--;
		if (ls == 0 || k->buf[ls - 1] == '\n') {
			kpin_buf_add(out, k->buf + ls, p - ls);
			return;
		}
	}
	indent_of(k, map->start, out);
}

/*
 * Where to put new lines that follow a node ending at @oend: at the start
 * of the next line when the node ends with a line break (block scalars),
 * else at the end of its last line, before any line break. *@eol receives
 * the line ending to use; *@at_line_start says which case it is.
 */
static size_t line_after(const struct kpin_kust *k, size_t oend,
			 const char **eol, bool *at_line_start)
{
	size_t p = oend;

	if (p > 0 && k->buf[p - 1] == '\n') {
		*at_line_start = true;
		*eol = p > 1 && k->buf[p - 2] == '\r' ? "\r\n" : "\n";
		return p;
	}
	*at_line_start = false;
	while (p < k->len && k->buf[p] != '\n')
		p++;
	if (p < k->len) {
		if (p > 0 && k->buf[p - 1] == '\r') {
			*eol = "\r\n";
			return p - 1;
		}
		*eol = "\n";
		return p;
	}
	*eol = k->eol;
	return p;
}

/*
 * Append block "key: value" lines, the first after @first_prefix and the
 * rest after @indent. At a line start each line ends with @eol; at a line
 * end each line begins with it, so a missing final newline stays missing.
 */
static void add_block_lines(struct kpin_buf *b, const char *first_prefix,
			    const char *indent, const char *eol,
			    const char *const *kv, size_t n, bool line_start)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!line_start)
			kpin_buf_adds(b, eol);
		kpin_buf_adds(b, i == 0 ? first_prefix : indent);
		kpin_buf_adds(b, kv[2 * i]);
		kpin_buf_adds(b, ": ");
		add_scalar_text(b, kv[2 * i + 1], needs_quotes(kv[2 * i + 1],
							      false));
		if (line_start)
			kpin_buf_adds(b, eol);
	}
}

/*
 * New lines can follow node @i unless its last scalar is a block scalar
 * that ends the file without a line break (a key after it would add a
 * line break to its value) or that is empty: its content indentation is
 * then unknown, and libfyaml reads a key line after it as its content.
 */
static int check_appendable(const struct kpin_kust *k, uint32_t i)
{
	const struct knode *n = N(k, i);
	size_t c;

	while (n->type != KN_SCALAR && n->last != NONE &&
	       !(n->flags & KNF_FLOW)) {
		uint32_t last = n->last;

		/* an empty value without ':' ("? key" last): its key */
		if (n->type == KN_MAP && (N(k, last)->flags & KNF_NULL) &&
		    !(N(k, last)->flags & KNF_COLON))
			last = key_of(k, last);
		n = N(k, last);
	}
	if (n->type != KN_SCALAR ||
	    (n->style != FYNS_LITERAL && n->style != FYNS_FOLDED))
		return 0;
	if (n->oend == k->len && (n->oend == 0 || k->buf[n->oend - 1] != '\n'))
		return kpin_error_set_at(KPIN_EINVALID, n->line + 1, n->col + 1,
					 "a block scalar ends the file without "
					 "a line break; kpin cannot add a line "
					 "after it without changing its value "
					 "(add a final newline)");
	for (c = n->start; c < n->end && strchr(" \r\n", k->buf[c]); c++)
		;
	if (c < n->end)
		return 0;
	/* its mark is on the line after it: point at its key or sequence */
	i = (uint32_t)(n - k->nodes);
	n = N(k, n->parent)->type == KN_MAP && !is_key_of(k, i) ?
	    N(k, key_of(k, i)) : N(k, n->parent);
	return kpin_error_set_at(KPIN_EINVALID, n->line + 1, n->col + 1,
				 "an empty block scalar comes last; kpin "
				 "cannot add a line after it without it "
				 "becoming the scalar's value (give it a "
				 "value, or write \"\")");
}

/*
 * The ", " that appends to a flow mapping after its last node @last; " , "
 * right after an empty value (unless @p inserts there already): go-yaml
 * (kustomize) reads "key:," as the key "key:", and libfyaml refuses
 * "key:," after a key that spans lines.
 */
static void add_flow_sep(struct kpin_buf *b, const struct plan *p,
			 uint32_t last)
{
	size_t pos = N(p->k, last)->oend, i;
	bool first = true;

	for (i = 0; i < p->nsp; i++)
		if (p->sp[i].pos == pos && !p->sp[i].del)
			first = false;
	if (first && p->k->buf[pos - 1] == ':')
		kpin_buf_addch(b, ' ');
	kpin_buf_adds(b, ", ");
}

/* Fill, replace or insert the value of field @f of entry @e. */
static int plan_field(struct plan *p, const struct entry_nodes *e,
		      const struct kpin_image *img, int f, const char *value)
{
	const struct kpin_kust *k = p->k;
	const struct knode *map = N(k, e->map), *n;
	struct kpin_buf b = KPIN_BUF_INIT;
	bool flow = map->flags & KNF_FLOW;
	const char *what = field_keys[f];
	const char *cur;
	size_t len;

	if (e->val[f] == NONE) {
		/* insert a new key after the entry's last key */
		const char *eol;
		bool ls, dq_key, dq_val;
		size_t pos;

		if (flow) {
			dq_key = N(k, map->first)->style == FYNS_DOUBLE_QUOTED;
			dq_val = N(k, e->val[F_NAME])->style ==
				 FYNS_DOUBLE_QUOTED;
			add_flow_sep(&b, p, map->last);
			add_scalar_text(&b, what, dq_key);
			kpin_buf_adds(&b, ": ");
			add_scalar_text(&b, value, dq_val ||
					needs_quotes(value, true));
			add_splice(p, N(k, map->last)->oend, 0, &b, SP_LINE);
		} else {
			struct kpin_buf ind = KPIN_BUF_INIT;
			const char *kv[2] = { what, value };
			int error = check_appendable(k, e->map);

			if (error)
				return error;
			pos = line_after(k, map->oend, &eol, &ls);
			key_indent(k, map, &ind);
			add_block_lines(&b, kpin_buf_cstr(&ind),
					kpin_buf_cstr(&ind), eol, kv, 1, ls);
			kpin_buf_release(&ind);
			add_splice(p, pos, 0, &b, SP_LINE);
		}
		add_expect(p, e->map, f, value, true);
		return 0;
	}
	n = N(k, e->val[f]);
	if (n->type == KN_ALIAS)
		return kpin_error_set_at(KPIN_EINVALID, n->line + 1, n->col + 1,
					 "'%s' of image '%s' is an alias; kpin "
					 "does not edit shared nodes", what,
					 img->name.value);
	if (n->flags & KNF_ANCHOR)
		return kpin_error_set_at(KPIN_EINVALID, n->line + 1, n->col + 1,
					 "'%s' of image '%s' carries an anchor; "
					 "kpin does not edit shared nodes", what,
					 img->name.value);
	if (n->flags & KNF_TAG)
		return kpin_error_set_at(KPIN_EINVALID, n->line + 1, n->col + 1,
					 "'%s' of image '%s' carries a YAML tag; "
					 "remove it to let kpin edit the value",
					 what, img->name.value);
	if (n->type != KN_SCALAR)
		return kpin_error_set_at(KPIN_EINVALID, n->line + 1, n->col + 1,
					 "'%s' of image '%s' is a %s, not a "
					 "string", what, img->name.value,
					 n->type == KN_MAP ? "mapping" :
					 "sequence");
	if (n->style == FYNS_LITERAL || n->style == FYNS_FOLDED)
		return kpin_error_set_at(KPIN_EINVALID, n->line + 1, n->col + 1,
					 "'%s' of image '%s' is a block scalar; "
					 "kpin edits plain and quoted values "
					 "only", what, img->name.value);
	if (n->flags & KNF_NULL) {
		if (!(n->flags & KNF_COLON))
			return kpin_error_set_at(KPIN_EINVALID, n->line + 1,
						 n->col + 1, "cannot place a "
						 "value for '%s' of image '%s'",
						 what, img->name.value);
		kpin_buf_addch(&b, ' ');
		add_scalar_text(&b, value, needs_quotes(value, flow));
		add_splice(p, n->start, 0, &b, SP_VALUE);
		add_expect(p, e->map, f, value, false);
		return 0;
	}
	cur = node_text(k, e->val[f], &len);
	if (cur && len == strlen(value) && !memcmp(cur, value, len) &&
	    (n->style != FYNS_PLAIN || !needs_quotes(value, false)))
		return 0;	/* already so */
	if (n->style == FYNS_PLAIN)
		add_scalar_text(&b, value, needs_quotes(value, false));
	else
		kpin_buf_adds(&b, value);
	add_splice(p, n->start, n->end - n->start, &b, SP_VALUE);
	add_expect(p, e->map, f, value, false);
	return 0;
}

/* Refuse an image that the deprecated imageTags also sets. */
static int check_image_tags(const struct kpin_kust *k, const char *name)
{
	uint32_t item, key;

	if (k->image_tags == NONE || N(k, k->image_tags)->type != KN_SEQ)
		return 0;
	for (item = N(k, k->image_tags)->first; item != NONE;
	     item = N(k, item)->next) {
		if (N(k, item)->type != KN_MAP)
			continue;
		for (key = N(k, item)->first; key != NONE;
		     key = N(k, N(k, key)->next)->next) {
			if (text_is(k, key, "name") &&
			    text_is(k, N(k, key)->next, name))
				return kpin_error_set_at(KPIN_EINVALID,
					N(k, item)->line + 1,
					N(k, item)->col + 1,
					"image '%s' is also set under the "
					"deprecated 'imageTags', which kustomize "
					"applies after 'images'; move it to "
					"'images' first", name);
		}
	}
	return 0;
}

/* With set --ref: does entry @img render the name the reference has? */
static int check_ref_name(const struct kpin_image *img,
			  const struct kpin_change *c)
{
	const struct kpin_field *f = img->new_name.value ? &img->new_name :
				     &img->name;
	const char *want = c->new_name ? c->new_name : NULL;

	if (!c->ref_name)
		return 0;
	if (want ? !strcmp(want, c->ref_name) : field_is(f, c->ref_name))
		return 0;
	if (want)
		return kpin_error_set(KPIN_EINVALID, "the reference names "
				      "'%s', but the new name is '%s'",
				      c->ref_name, want);
	return kpin_error_set_at(KPIN_EINVALID, img->line, img->col, "the "
				 "reference names '%s', but images entry '%s' "
				 "renders '%.*s'%s", c->ref_name, c->image,
				 (int)f->len, f->value, f == &img->name ? "" :
				 " (its newName)");
}

/*
 * A new tag alone on an entry that pins a digest: kustomize would render
 * the new tag with the old digest, and the old image would run. Refused
 * unless the caller says KPIN_KUST_KEEP_DIGEST.
 */
static int check_keep_digest(const struct plan *p,
			     const struct kpin_image *img,
			     const struct kpin_change *c)
{
	const struct kpin_field *nt = &img->new_tag;
	const char *at = nt->value ? memchr(nt->value, '@', nt->len) : NULL;
	const char *d = at ? at + 1 : img->digest.value;
	size_t dlen = at ? nt->len - (size_t)(at + 1 - nt->value) :
		      img->digest.len;
	size_t tlen = at ? (size_t)(at - nt->value) : nt->len;

	if (!c->tag || c->digest || (p->flags & KPIN_KUST_KEEP_DIGEST) ||
	    !d || !dlen)
		return 0;
	if (at && kpin_grammar_match(KPIN_GRAMMAR_DIGEST, d, dlen) != 1)
		return 0;	/* a broken tag@digest: plan_existing says so */
	if (nt->value && tlen == strlen(c->tag) &&
	    !memcmp(nt->value, c->tag, tlen))
		return 0;	/* the tag stays too: nothing changes */
	return kpin_error_set_at(KPIN_EINVALID, img->line, img->col, "image "
				 "'%s' pins digest %.*s: a new tag alone would "
				 "keep it, and kustomize would run the old "
				 "image under tag '%s'; give the new digest "
				 "too (--digest, or --ref name:tag@digest), or "
				 "--keep-digest to keep the old one", c->image,
				 (int)dlen, d, c->tag);
}

static int plan_existing(struct plan *p, long idx, const struct kpin_change *c)
{
	const struct kpin_kust *k = p->k;
	const struct kpin_image *img = &k->imgs[idx];
	const struct entry_nodes *e = &k->ents[idx];
	const char *nt = img->new_tag.value;
	const char *at = nt ? strchr(nt, '@') : NULL;
	int error;

	if (N(k, e->map)->flags & (KNF_ANCHOR | KNF_TAG))
		return kpin_error_set_at(KPIN_EINVALID, img->line, img->col,
					 "images entry '%s' carries an anchor "
					 "or tag; kpin does not edit shared "
					 "nodes", c->image);
	error = check_ref_name(img, c);
	if (!error)
		error = check_keep_digest(p, img, c);
	if (error)
		return error;
	if (c->new_name) {
		error = plan_field(p, e, img, F_NEW_NAME, c->new_name);
		if (error)
			return error;
	}
	if (at && (c->digest || c->tag)) {
		/* newTag: "tag@digest": update it in place, never add digest */
		struct kpin_buf v = KPIN_BUF_INIT;

		if (img->digest.style != KPIN_STYLE_NONE) {
			return kpin_error_set_at(KPIN_EINVALID,
				img->new_tag.line, img->new_tag.col,
				"image '%s' has newTag '%s' holding a digest "
				"and a digest key too; fix the entry by hand",
				c->image, nt);
		}
		if (at == nt)
			return kpin_error_set_at(KPIN_EINVALID,
				img->new_tag.line, img->new_tag.col,
				"newTag of image '%s' is '%s', a digest without "
				"a tag; pass --tag to replace it", c->image, nt);
		/* the part kept is written back as it is: it must be valid */
		if ((!c->tag && kpin_grammar_match(KPIN_GRAMMAR_TAG, nt,
						   (size_t)(at - nt)) != 1) ||
		    (!c->digest && kpin_grammar_match(KPIN_GRAMMAR_DIGEST,
						      at + 1,
						      strlen(at + 1)) != 1))
			return kpin_error_set_at(KPIN_EINVALID,
				img->new_tag.line, img->new_tag.col,
				"newTag of image '%s' is '%s', not a valid "
				"tag@digest; pass --tag and --digest to "
				"replace it", c->image, nt);
		if (c->tag)
			kpin_buf_adds(&v, c->tag);
		else
			kpin_buf_add(&v, nt, (size_t)(at - nt));
		kpin_buf_addch(&v, '@');
		kpin_buf_adds(&v, c->digest ? c->digest : at + 1);
		error = plan_field(p, e, img, F_NEW_TAG, v.ptr);
		kpin_buf_release(&v);
		return error;
	}
	if (c->tag) {
		error = plan_field(p, e, img, F_NEW_TAG, c->tag);
		if (error)
			return error;
	} else if (c->digest && nt &&
		   kpin_grammar_match(KPIN_GRAMMAR_DIGEST_OCI, nt,
				      strlen(nt)) == 1 && strchr(nt, ':')) {
		return kpin_error_set_at(KPIN_EINVALID, img->new_tag.line,
					 img->new_tag.col, "newTag of image "
					 "'%s' holds a digest ('%s'); pass --tag "
					 "to replace it", c->image, nt);
	}
	if (c->digest)
		return plan_field(p, e, img, F_DIGEST, c->digest);
	return 0;
}

/* The fields of a new entry, as "key", "value" pairs in kustomize order. */
static size_t entry_fields(const struct newentry *ne, const char **kv)
{
	size_t n = 0;
	int f;

	for (f = 0; f < F__COUNT; f++) {
		if (!ne->v[f])
			continue;
		kv[2 * n] = field_keys[f];
		kv[2 * n + 1] = ne->v[f];
		n++;
	}
	return n;
}

/* A flow entry "{name: x, ...}"; @json double-quotes keys and values. */
static void add_flow_entry(struct kpin_buf *b, const struct newentry *ne,
			   bool json)
{
	const char *kv[2 * F__COUNT];
	size_t n = entry_fields(ne, kv), i;

	kpin_buf_addch(b, '{');
	for (i = 0; i < n; i++) {
		if (i)
			kpin_buf_adds(b, ", ");
		add_scalar_text(b, kv[2 * i], json);
		kpin_buf_adds(b, ": ");
		add_scalar_text(b, kv[2 * i + 1], json ||
				needs_quotes(kv[2 * i + 1], true));
	}
	kpin_buf_addch(b, '}');
}

/* Is the mapping that holds key @key written JSON-style ("key": ...)? */
static bool json_style(const struct kpin_kust *k, uint32_t key)
{
	return key != NONE && N(k, key)->style == FYNS_DOUBLE_QUOTED;
}

/* Append each new entry as block lines at a dash prefix and key indent. */
static void add_block_entries(struct kpin_buf *b, const struct plan *p,
			      const char *dash, const char *indent,
			      const char *eol, bool line_start)
{
	const char *kv[2 * F__COUNT];
	size_t i, n;

	for (i = 0; i < p->nne; i++) {
		n = entry_fields(&p->ne[i], kv);
		add_block_lines(b, dash, indent, eol, kv, n, line_start);
	}
}

/* Append the new entries as flow mappings separated by ", ". */
static void add_flow_entries(struct kpin_buf *b, const struct plan *p,
			     bool lead, bool json)
{
	size_t i;

	for (i = 0; i < p->nne; i++) {
		if (i || lead)
			kpin_buf_adds(b, ", ");
		add_flow_entry(b, &p->ne[i], json);
	}
}

/*
 * The dash prefix and key indentation of a new item of block sequence
 * @seq, copied from its first item ("- name" or "-   name", at any
 * column).
 */
static void block_item_layout(const struct kpin_kust *k,
			      const struct knode *seq, struct kpin_buf *dash,
			      struct kpin_buf *indent)
{
	const struct knode *item = N(k, seq->first);
	const struct knode *key = item->type == KN_MAP &&
				  item->first != NONE ? N(k, item->first) :
				  NULL;

	indent_of(k, seq->start, dash);
	kpin_buf_addch(dash, '-');
	if (key && key->line == seq->line && key->start > seq->start)
		indent_of(k, outer_start(key), indent);
	else {
		indent_of(k, seq->start, indent);
		kpin_buf_adds(indent, "  ");
	}
	while (dash->len < indent->len)
		kpin_buf_addch(dash, ' ');
}

/*
 * Append the new entries: in the images sequence's own style and
 * indentation, or as a new images key at the end of the root mapping.
 */
static int plan_new_entries(struct plan *p)
{
	const struct kpin_kust *k = p->k;
	struct kpin_buf b = KPIN_BUF_INIT, ind = KPIN_BUF_INIT;
	struct kpin_buf dash = KPIN_BUF_INIT;
	const struct knode *seq = k->images != NONE ? N(k, k->images) : NULL;
	const struct knode *root = N(k, k->root);
	const char *eol;
	bool ls;
	size_t pos;

	if (!p->nne)
		return 0;
	if (seq && seq->type != KN_SEQ && (seq->flags & KNF_TAG))
		return kpin_error_set_at(KPIN_EINVALID, seq->line + 1,
					 seq->col + 1, "'images' is empty but "
					 "carries a YAML tag; remove it to let "
					 "kpin add entries");
	if (seq && seq->type == KN_SEQ && !(seq->flags & KNF_FLOW) &&
	    check_appendable(k, k->images))
		return KPIN_EINVALID;
	if (!seq && !(root->flags & KNF_FLOW) && check_appendable(k, k->root))
		return KPIN_EINVALID;
	if (seq && seq->type == KN_SEQ && (seq->flags & KNF_FLOW)) {
		add_flow_entries(&b, p, seq->count > 0,
				 json_style(k, k->images_key));
		add_splice(p, seq->count ? N(k, seq->last)->oend :
			   seq->start + 1, 0, &b, SP_LINE);
	} else if (seq && seq->type == KN_SEQ &&
		   (N(k, seq->first)->flags & KNF_FLOW)) {
		/* block sequence of flow mappings: "- {name: x, ...}" lines */
		size_t i;

		indent_of(k, seq->start, &dash);
		pos = line_after(k, seq->oend, &eol, &ls);
		for (i = 0; i < p->nne; i++) {
			if (!ls)
				kpin_buf_adds(&b, eol);
			kpin_buf_add(&b, kpin_buf_cstr(&dash), dash.len);
			kpin_buf_adds(&b, "- ");
			add_flow_entry(&b, &p->ne[i], false);
			if (ls)
				kpin_buf_adds(&b, eol);
		}
		add_splice(p, pos, 0, &b, SP_LINE);
	} else if (seq && seq->type == KN_SEQ) {
		block_item_layout(k, seq, &dash, &ind);
		pos = line_after(k, seq->oend, &eol, &ls);
		add_block_entries(&b, p, kpin_buf_cstr(&dash),
				  kpin_buf_cstr(&ind), eol, ls);
		add_splice(p, pos, 0, &b, SP_LINE);
	} else if (seq && (seq->flags & KNF_COLON) &&
		   !(root->flags & KNF_FLOW)) {
		/* "images:" with nothing after it */
		pos = line_after(k, seq->start, &eol, &ls);
		indent_of(k, outer_start(N(k, k->images_key)), &dash);
		kpin_buf_adds(&dash, "- ");
		indent_of(k, outer_start(N(k, k->images_key)), &ind);
		kpin_buf_adds(&ind, "  ");
		add_block_entries(&b, p, kpin_buf_cstr(&dash),
				  kpin_buf_cstr(&ind), eol, ls);
		add_splice(p, pos, 0, &b, SP_LINE);
	} else if (seq) {
		/* "images: ~", "images: null", "{images: }" or "{images}" */
		if ((seq->flags & KNF_NULL) && !(seq->flags & KNF_COLON) &&
		    !(root->flags & KNF_FLOW))
			return kpin_error_set_at(KPIN_EINVALID, seq->line + 1,
						 seq->col + 1, "'images' is an "
						 "explicit key without a value; "
						 "write \"images: []\" to let "
						 "kpin add entries");
		if ((seq->flags & KNF_NULL) && !(seq->flags & KNF_COLON))
			kpin_buf_adds(&b, ": ");
		else if (seq->start > 0 && k->buf[seq->start - 1] == ':')
			kpin_buf_addch(&b, ' ');
		kpin_buf_addch(&b, '[');
		add_flow_entries(&b, p, false, json_style(k, k->images_key));
		kpin_buf_addch(&b, ']');
		add_splice(p, seq->start, seq->end - seq->start, &b, SP_VALUE);
	} else if (root->flags & KNF_FLOW) {
		bool json = root->count && json_style(k, root->first);

		if (root->count)
			add_flow_sep(&b, p, root->last);
		kpin_buf_adds(&b, json ? "\"images\": [" : "images: [");
		add_flow_entries(&b, p, false, json);
		kpin_buf_addch(&b, ']');
		add_splice(p, root->count ? N(k, root->last)->oend :
			   root->start + 1, 0, &b, SP_LINE);
	} else {
		/* no images key: add one at the end of the root mapping */
		pos = line_after(k, root->oend, &eol, &ls);
		key_indent(k, root, &ind);
		if (!ls)
			kpin_buf_adds(&b, eol);
		kpin_buf_add(&b, ind.ptr ? ind.ptr : "", ind.len);
		kpin_buf_adds(&b, "images:");
		if (ls)
			kpin_buf_adds(&b, eol);
		kpin_buf_add(&dash, ind.ptr ? ind.ptr : "", ind.len);
		kpin_buf_adds(&dash, "- ");
		kpin_buf_adds(&ind, "  ");
		add_block_entries(&b, p, kpin_buf_cstr(&dash),
				  kpin_buf_cstr(&ind), eol, ls);
		add_splice(p, pos, 0, &b, SP_LINE);
	}
	kpin_buf_release(&ind);
	kpin_buf_release(&dash);
	return 0;
}

/* ---- verification ---------------------------------------------------- */

struct verify {
	const struct kpin_kust *a;	/* original */
	const struct kpin_kust *b;	/* edited */
	const struct plan *p;
};

static bool same_meta(const struct verify *v, uint32_t ia, uint32_t ib)
{
	const struct knode *a = N(v->a, ia), *b = N(v->b, ib);
	unsigned mask = KNF_ANCHOR | KNF_TAG | KNF_NULL | KNF_FLOW;

	if (a->type != b->type || a->style != b->style ||
	    (a->flags & mask) != (b->flags & mask) || a->metalen != b->metalen)
		return false;
	return !a->metalen || !memcmp(v->a->text.ptr + a->meta,
				      v->b->text.ptr + b->meta, a->metalen);
}

/* Equal subtrees: same shape, styles, anchors, tags and scalar bytes. */
static bool same_tree(const struct verify *v, uint32_t ia, uint32_t ib)
{
	const struct knode *a = N(v->a, ia), *b = N(v->b, ib);
	uint32_t ca, cb;

	if (!same_meta(v, ia, ib))
		return false;
	if (a->type == KN_SCALAR || a->type == KN_ALIAS) {
		if (a->flags & KNF_NULL)
			return true;
		if (a->type == KN_ALIAS)
			return a->tlen == b->tlen &&
			       !memcmp(v->a->text.ptr + a->text,
				       v->b->text.ptr + b->text, a->tlen);
		return a->end - a->start == b->end - b->start &&
		       !memcmp(v->a->buf + a->start, v->b->buf + b->start,
			       a->end - a->start);
	}
	if (a->count != b->count)
		return false;
	for (ca = a->first, cb = b->first; ca != NONE;
	     ca = N(v->a, ca)->next, cb = N(v->b, cb)->next)
		if (!same_tree(v, ca, cb))
			return false;
	return true;
}

/* Is node @ib of the edited file a plain string scalar equal to @want? */
static bool is_value(const struct verify *v, uint32_t ib, const char *want)
{
	const struct knode *b = N(v->b, ib);
	size_t len;
	const char *t;

	if (b->type != KN_SCALAR || (b->flags & (KNF_NULL | KNF_ANCHOR |
						 KNF_TAG)))
		return false;
	if (b->style != FYNS_PLAIN && b->style != FYNS_SINGLE_QUOTED &&
	    b->style != FYNS_DOUBLE_QUOTED)
		return false;
	t = node_text(v->b, ib, &len);
	if (!t || len != strlen(want) || memcmp(t, want, len))
		return false;
	return b->style != FYNS_PLAIN || kpin_grammar_plain_is_string(t, len);
}

static const struct expect *find_expect(const struct plan *p, uint32_t map,
					int field, bool inserted, size_t nth)
{
	size_t i;

	for (i = 0; i < p->nex; i++) {
		const struct expect *e = &p->ex[i];

		if (e->map != map || e->inserted != inserted)
			continue;
		if (!inserted && e->field == field)
			return e;
		if (inserted && nth-- == 0)
			return e;
	}
	return NULL;
}

static int field_of(const struct verify *v, uint32_t key)
{
	int f;

	for (f = 0; f < F__COUNT; f++)
		if (text_is(v->a, key, field_keys[f]))
			return f;
	return -1;
}

static bool check_entry(const struct verify *v, uint32_t ia, uint32_t ib)
{
	const struct knode *a = N(v->a, ia), *b = N(v->b, ib);
	uint32_t ka, kb;
	size_t extra = 0, i;
	const struct expect *e;

	for (i = 0; find_expect(v->p, ia, 0, true, i); i++)
		extra++;
	if (!same_meta(v, ia, ib) || b->count != a->count + 2 * extra)
		return false;
	for (ka = a->first, kb = b->first; ka != NONE;
	     ka = N(v->a, N(v->a, ka)->next)->next,
	     kb = N(v->b, N(v->b, kb)->next)->next) {
		int f = field_of(v, ka);

		if (!same_tree(v, ka, kb))
			return false;
		e = f >= 0 ? find_expect(v->p, ia, f, false, 0) : NULL;
		if (e ? !is_value(v, N(v->b, kb)->next, e->value) :
		    !same_tree(v, N(v->a, ka)->next, N(v->b, kb)->next))
			return false;
	}
	for (i = 0; i < extra; i++, kb = N(v->b, N(v->b, kb)->next)->next) {
		e = find_expect(v->p, ia, 0, true, i);
		if (!text_is(v->b, kb, field_keys[e->field]) ||
		    !is_value(v, N(v->b, kb)->next, e->value))
			return false;
	}
	return true;
}

static bool check_new_entry(const struct verify *v, uint32_t ib,
			    const struct newentry *ne)
{
	const char *kv[2 * F__COUNT];
	size_t n = entry_fields(ne, kv), i;
	uint32_t kb;

	if (N(v->b, ib)->type != KN_MAP || N(v->b, ib)->count != 2 * n)
		return false;
	for (i = 0, kb = N(v->b, ib)->first; i < n;
	     i++, kb = N(v->b, N(v->b, kb)->next)->next)
		if (!text_is(v->b, kb, kv[2 * i]) ||
		    !is_value(v, N(v->b, kb)->next, kv[2 * i + 1]))
			return false;
	return true;
}

static bool check_images(const struct verify *v, uint32_t ia, uint32_t ib)
{
	const struct knode *a = ia != NONE ? N(v->a, ia) : NULL;
	const struct knode *b = N(v->b, ib);
	uint32_t ca = NONE, cb;
	size_t i, old = 0;

	if (a && a->type == KN_SEQ) {
		if (!same_meta(v, ia, ib))
			return false;
		old = a->count;
		ca = a->first;
	} else if (b->type != KN_SEQ) {
		return false;
	}
	if (b->count != old + v->p->nne)
		return false;
	for (cb = b->first, i = 0; i < old;
	     i++, ca = N(v->a, ca)->next, cb = N(v->b, cb)->next) {
		bool touched = find_expect(v->p, ca, 0, false, 0) ||
			       find_expect(v->p, ca, 0, true, 0);
		size_t f;

		for (f = 0; !touched && f < F__COUNT; f++)
			touched = find_expect(v->p, ca, (int)f, false, 0);
		if (touched ? !check_entry(v, ca, cb) : !same_tree(v, ca, cb))
			return false;
	}
	for (i = 0; i < v->p->nne; i++, cb = N(v->b, cb)->next)
		if (!check_new_entry(v, cb, &v->p->ne[i]))
			return false;
	return true;
}

/* The edited file must be the original plus exactly the planned values. */
static bool verify_tree(const struct verify *v)
{
	const struct knode *a = N(v->a, v->a->root), *b = N(v->b, v->b->root);
	bool add_key = v->a->images_key == NONE && v->p->nne;
	uint32_t ka, kb;

	if (!same_meta(v, v->a->root, v->b->root) ||
	    b->count != a->count + (add_key ? 2 : 0))
		return false;
	for (ka = a->first, kb = b->first; ka != NONE;
	     ka = N(v->a, N(v->a, ka)->next)->next,
	     kb = N(v->b, N(v->b, kb)->next)->next) {
		uint32_t va = N(v->a, ka)->next, vb = N(v->b, kb)->next;
		bool images = ka == v->a->images_key;

		if (!same_tree(v, ka, kb))
			return false;
		if (images && !check_images(v, va, vb))
			return false;
		if (!images && !same_tree(v, va, vb))
			return false;
	}
	if (add_key)
		return text_is(v->b, kb, "images") &&
		       check_images(v, NONE, N(v->b, kb)->next);
	return true;
}

static int cmp_splice(const void *x, const void *y)
{
	const struct splice *a = x, *b = y;

	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static _Thread_local kpin_kust_tamper_fn tamper;
static _Thread_local void *tamper_arg;

void kpin_kust_set_tamper(kpin_kust_tamper_fn fn, void *arg)
{
	tamper = fn;
	tamper_arg = arg;
}

static int apply_and_verify(struct kpin_buf *out, struct plan *p)
{
	const struct kpin_kust *k = p->k;
	struct kpin_kust *nk = NULL;
	struct verify v;
	size_t i, at = 0;
	int error;

	qsort(p->sp, p->nsp, sizeof(*p->sp), cmp_splice);
	kpin_buf_reset(out);
	kpin_buf_grow(out, k->len + 256);
	for (i = 0; i < p->nsp; i++) {
		const struct splice *s = &p->sp[i];

		if (s->pos < at || s->pos + s->del > k->len)
			return kpin_error_set(KPIN_EVERIFY, "internal error: "
					      "overlapping edits planned");
		kpin_buf_add(out, k->buf + at, s->pos - at);
		kpin_buf_add(out, s->ins, s->inslen);
		at = s->pos + s->del;
	}
	kpin_buf_add(out, k->buf + at, k->len - at);
	if (tamper)
		tamper(out, tamper_arg);

	error = kpin_kust_open(&nk, out->ptr, out->len, KUST_TREE_ONLY);
	if (!error && N(nk, nk->root)->type != KN_MAP)
		error = kpin_error_set(KPIN_EINVALID, "root is not a mapping");
	if (error) {
		/* a copy: the message is rewritten from its own text */
		struct kpin_error err = *kpin_error_last();

		kpin_kust_free(nk);
		if (err.line < 1)
			return kpin_error_set(KPIN_EVERIFY, "internal error: "
					      "the edited file does not parse "
					      "(%s); nothing written",
					      err.message);
		return kpin_error_set(KPIN_EVERIFY, "internal error: the edited "
				      "file does not parse (%d:%d: %s); nothing "
				      "written", err.line, err.col, err.message);
	}
	v.a = k;
	v.b = nk;
	v.p = p;
	error = verify_tree(&v) ? 0 :
		kpin_error_set(KPIN_EVERIFY, "internal error: the edited file "
			       "differs from the original in more than the "
			       "intended values; nothing written");
	kpin_kust_free(nk);
	return error;
}

/*
 * A whole reference given as a digest (what "crane digest --full-ref"
 * prints): refused with its parts, so the user sees how to split it.
 */
static int check_not_reference(const char *digest)
{
	struct kpin_imageref ref;

	kpin_image_split(&ref, digest, strlen(digest));
	if (!ref.digest.len || !ref.name.len)
		return 0;
	return kpin_error_set(KPIN_EINVALID, "digest '%s' is a whole image "
			      "reference; give its digest alone (%.*s)%s%.*s, "
			      "or the whole reference with --ref", digest,
			      (int)ref.digest.len, ref.digest.ptr,
			      ref.tag.len ? " and its tag with --tag " : "",
			      (int)ref.tag.len, ref.tag.ptr);
}

int kpin_kust_check_change(const struct kpin_change *c)
{
	int error;

	if (!c->image || !*c->image)
		return kpin_error_set(KPIN_EINVALID, "no image name given");
	error = kpin_grammar_check(KPIN_GRAMMAR_KEY, "image name", c->image);
	if (!error && c->digest)
		error = check_not_reference(c->digest);
	if (!error && c->digest)
		error = kpin_grammar_check(KPIN_GRAMMAR_DIGEST, "digest",
					   c->digest);
	if (!error && c->tag)
		error = kpin_grammar_check(KPIN_GRAMMAR_TAG, "tag", c->tag);
	if (!error && c->new_name)
		error = kpin_grammar_check(KPIN_GRAMMAR_NAME, "new name",
					   c->new_name);
	if (!error && !c->digest && !c->tag && !c->new_name)
		error = kpin_error_set(KPIN_EINVALID, "nothing to set for image "
				       "'%s'", c->image);
	return error;
}

/* Merge @c into @into (same image): fields must not disagree. */
static int merge_change(struct kpin_change *into, const struct kpin_change *c)
{
	const char **dst[] = { &into->digest, &into->tag, &into->new_name,
			       &into->ref_name };
	const char *src[] = { c->digest, c->tag, c->new_name, c->ref_name };
	static const char *const what[] = { "digests", "tags", "new names",
					     "reference names" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!src[i])
			continue;
		if (*dst[i] && strcmp(*dst[i], src[i]))
			return kpin_error_set(KPIN_EINVALID, "conflicting %s for "
					      "image '%s': '%s' and '%s'",
					      what[i], c->image, *dst[i], src[i]);
		*dst[i] = src[i];
	}
	return 0;
}

int kpin_kust_edit(struct kpin_buf *out, const struct kpin_kust *k,
		   const struct kpin_change *changes, size_t n, unsigned flags)
{
	struct plan p;
	struct kpin_change *merged;
	size_t nm = 0, i, j;
	int error = KPIN_ERROR;

	memset(&p, 0, sizeof(p));
	p.k = k;
	p.flags = flags;
	kpin_buf_reset(out);
	if (k->ndiags) {
		const struct kpin_diag *d = &k->diags[0];

		return kpin_error_set_at(KPIN_EINVALID, d->line, d->col, "%s",
					 d->message);
	}
	merged = xcalloc(n ? n : 1, sizeof(*merged));
	for (i = 0; i < n; i++) {
		error = kpin_kust_check_change(&changes[i]);
		if (error)
			goto out;
		for (j = 0; j < nm; j++)
			if (!strcmp(merged[j].image, changes[i].image))
				break;
		if (j == nm)
			merged[nm++].image = changes[i].image;
		error = merge_change(&merged[j], &changes[i]);
		if (error)
			goto out;
	}
	for (i = 0; i < nm; i++) {
		long idx;

		error = check_image_tags(k, merged[i].image);
		if (error)
			goto out;
		idx = find_index(k, merged[i].image);
		if (idx == -2) {
			error = KPIN_EAMBIGUOUS;
			goto out;
		}
		if (idx >= 0) {
			error = plan_existing(&p, idx, &merged[i]);
			if (error)
				goto out;
			continue;
		}
		if (!(flags & KPIN_KUST_CREATE)) {
			error = not_found(k, merged[i].image);
			goto out;
		}
		/* a name kpin writes is a reference, as kustomize renders it */
		error = kpin_grammar_check(KPIN_GRAMMAR_NAME, "image name to "
					   "create", merged[i].image);
		if (error)
			goto out;
		p.ne = xreallocarray(p.ne, p.nne + 1, sizeof(*p.ne));
		p.ne[p.nne].v[F_NAME] = merged[i].image;
		p.ne[p.nne].v[F_NEW_NAME] = merged[i].new_name;
		p.ne[p.nne].v[F_NEW_TAG] = merged[i].tag;
		p.ne[p.nne].v[F_DIGEST] = merged[i].digest;
		p.nne++;
	}
	error = plan_new_entries(&p);
	if (error)
		goto out;
	if (!p.nsp) {
		error = KPIN_EUNCHANGED;
		goto out;
	}
	error = apply_and_verify(out, &p);
out:
	if (error)
		kpin_buf_release(out);
	plan_release(&p);
	free(merged);
	return error;
}

int kpin_kust_set(struct kpin_buf *out, const char *buf, size_t len,
		  const struct kpin_change *changes, size_t n, unsigned flags)
{
	struct kpin_kust *k = NULL;
	int error;

	error = kpin_kust_open(&k, buf, len, 0);
	if (error)
		return error;
	error = kpin_kust_edit(out, k, changes, n, flags);
	kpin_kust_free(k);
	return error;
}
