/*
 * The edit core: bytes of one kustomization file in, bytes out.
 *
 * No I/O and no printing. kpin_kust_open() parses a file once (libfyaml's
 * event parser) into a compact tree that remembers where every token is;
 * kpin_kust_edit() plans byte splices on that tree, applies them to a copy,
 * re-parses the copy and proves it equals the original except for the
 * intended values. Included by the CLI and by every module that changes or
 * inspects overlays (repo, check, history).
 */
#ifndef KPIN_KUST_H
#define KPIN_KUST_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"

/* How a field's value is written in the file. */
enum kpin_style {
	KPIN_STYLE_NONE,	/* the key is absent */
	KPIN_STYLE_NULL,	/* the key is present with nothing after it */
	KPIN_STYLE_PLAIN,
	KPIN_STYLE_SINGLE,	/* 'single-quoted' */
	KPIN_STYLE_DOUBLE,	/* "double-quoted" */
	KPIN_STYLE_BLOCK,	/* literal | or folded > */
	KPIN_STYLE_ALIAS,	/* *alias */
	KPIN_STYLE_COLLECTION	/* a mapping or sequence where a scalar belongs */
};

enum kpin_field_flags {
	KPIN_FIELD_ANCHOR = 1 << 0,	/* the value carries &anchor */
	KPIN_FIELD_TAG = 1 << 1		/* the value carries a !tag */
};

/*
 * struct kpin_field - One key of an images[] entry
 * @value: processed text (quotes and escapes resolved), NUL-terminated;
 *         NULL unless the value is a scalar (NULL style gives "")
 * @len: length of @value
 * @line: 1-based line of the value, or of the key when the value is empty
 * @col: 1-based column (characters)
 * @style: how the value is written; KPIN_STYLE_NONE when the key is absent
 * @flags: enum kpin_field_flags
 */
struct kpin_field {
	const char *value;
	size_t len;
	int line;
	int col;
	enum kpin_style style;
	unsigned flags;
};

/*
 * struct kpin_key - A key of the file (top-level, or of an entry)
 * @name: the key's text
 * @line: 1-based line
 * @col: 1-based column
 */
struct kpin_key {
	const char *name;
	int line;
	int col;
};

/*
 * struct kpin_image - One images[] entry, borrowed from its struct kpin_kust
 * @index: 0-based position in images[]
 * @line: 1-based line of the entry
 * @col: 1-based column of the entry
 * @name: the match key
 * @new_name: newName
 * @new_tag: newTag
 * @digest: digest
 * @other: the entry's other keys (tagSuffix, or typos kustomize ignores)
 * @nother: how many
 */
struct kpin_image {
	size_t index;
	int line;
	int col;
	struct kpin_field name;
	struct kpin_field new_name;
	struct kpin_field new_tag;
	struct kpin_field digest;
	struct kpin_key *other;
	size_t nother;
};

/*
 * struct kpin_diag - A structural problem found while opening leniently
 * @line: 1-based line
 * @col: 1-based column
 * @rule: static rule id ("duplicate-key", "images-not-sequence", ...)
 * @message: what is wrong, lowercase, no full stop
 */
struct kpin_diag {
	int line;
	int col;
	const char *rule;
	char *message;
};

struct kpin_kust;

enum kpin_kust_open_flags {
	/*
	 * Record structural problems (duplicate keys, a malformed images
	 * list, an entry without a name...) as diagnostics instead of
	 * failing. Syntax errors, non-UTF-8 input and a second document still
	 * fail. A leniently opened file cannot be edited if it has any
	 * diagnostic.
	 */
	KPIN_KUST_LENIENT = 1 << 0
};

/*
 * kpin_kust_open() - Parse one kustomization file
 * @out: receives the parsed file
 * @buf: the file's bytes; borrowed, must outlive @out
 * @len: their length
 * @flags: enum kpin_kust_open_flags
 *
 * Refuses invalid UTF-8, NUL bytes, invalid YAML, more than one document,
 * a root that is not a mapping, duplicate mapping keys, non-scalar or alias
 * mapping keys, an images value that is not a sequence of mappings, an
 * entry without a name and entries built from aliases or merge keys. Each
 * refusal carries the line and column.
 *
 * Returns: 0 or KPIN_EINVALID. The caller frees @out with kpin_kust_free().
 */
int kpin_kust_open(struct kpin_kust **out, const char *buf, size_t len,
		   unsigned flags);

/* kpin_kust_free() - Free a parsed file; a no-op on NULL. */
void kpin_kust_free(struct kpin_kust *kust);

/* kpin_kust_image_count() - The number of images[] entries. */
size_t kpin_kust_image_count(const struct kpin_kust *kust);

/* kpin_kust_image() - Entry @i, borrowed from @kust. */
const struct kpin_image *kpin_kust_image(const struct kpin_kust *kust,
					 size_t i);

/*
 * kpin_kust_find() - The entry whose name is exactly @name
 * @out: receives the borrowed entry
 * @kust: the parsed file
 * @name: the image name
 *
 * Returns: 0, KPIN_ENOTFOUND, or KPIN_EAMBIGUOUS when two entries carry
 * that name (the message names both positions).
 */
int kpin_kust_find(const struct kpin_image **out,
		   const struct kpin_kust *kust, const char *name);

/* kpin_kust_diag_count() - Diagnostics recorded by a lenient open. */
size_t kpin_kust_diag_count(const struct kpin_kust *kust);
const struct kpin_diag *kpin_kust_diag(const struct kpin_kust *kust,
				       size_t i);

/* kpin_kust_key_count() - The number of top-level keys. */
size_t kpin_kust_key_count(const struct kpin_kust *kust);
const struct kpin_key *kpin_kust_key(const struct kpin_kust *kust, size_t i);

/*
 * kpin_kust_has_images_key() - Does the file have a top-level images key
 * (even an empty one)?
 */
bool kpin_kust_has_images_key(const struct kpin_kust *kust);

/*
 * struct kpin_change - What to set on one image
 * @image: the entry to change, matched exactly against its name
 * @digest: the new digest, or NULL to leave it
 * @tag: the new newTag, or NULL to leave it
 * @new_name: the new newName, or NULL to leave it
 * @ref_name: the name of a reference the tag and digest came from (set
 *	--ref): the entry must render that name; NULL when none
 */
struct kpin_change {
	const char *image;
	const char *digest;
	const char *tag;
	const char *new_name;
	const char *ref_name;
};

/*
 * kpin_kust_check_change() - Validate a change's values
 *
 * The image is a lookup key: any text on one line (kustomize matches it
 * textually). The new name must be a distribution reference name, the
 * digest a registered sha256/sha512 digest (a whole reference given as
 * digest is refused with the way to split it), the tag a valid tag; at
 * least one of digest, tag and new name must be set.
 *
 * Returns: 0 or KPIN_EINVALID with the rule stated.
 */
int kpin_kust_check_change(const struct kpin_change *change);

enum kpin_kust_edit_flags {
	/* append a missing entry (and the images key) instead of failing */
	KPIN_KUST_CREATE = 1 << 0,
	/*
	 * let a new tag alone leave the entry's digest in place; without it
	 * that is refused, since kustomize then renders the new tag with the
	 * old digest and the old image runs
	 */
	KPIN_KUST_KEEP_DIGEST = 1 << 1
};

/*
 * kpin_kust_edit() - Apply changes, touching only the bytes of the values
 * @out: receives the new file (left empty on error)
 * @kust: the parsed original
 * @changes: what to set
 * @n: how many changes; two changes of one image must agree
 * @flags: enum kpin_kust_edit_flags
 *
 * Values are validated first (digest, tag and name grammars). Existing
 * values are replaced in place keeping their quoting (a plain newTag that
 * YAML would read as a number, boolean or null is double-quoted). Missing
 * keys go on a new line after the entry's last key at the sibling keys'
 * indentation with the file's line ending, or before '}' in a flow
 * mapping. A newTag of the form "tag@digest" is updated in place rather
 * than gaining a digest key. The result is re-parsed and compared with the
 * original as a tree; any difference other than the intended values is
 * KPIN_EVERIFY.
 *
 * Returns: 0 when @out holds new bytes, KPIN_EUNCHANGED when the file
 * already says this, KPIN_ENOTFOUND (no entry and no KPIN_KUST_CREATE),
 * KPIN_EAMBIGUOUS, KPIN_EINVALID (bad value, or a value kpin refuses to
 * touch: alias, anchor, tag, block scalar) or KPIN_EVERIFY.
 */
int kpin_kust_edit(struct kpin_buf *out, const struct kpin_kust *kust,
		   const struct kpin_change *changes, size_t n,
		   unsigned flags);

/*
 * kpin_kust_set() - kpin_kust_open() plus kpin_kust_edit()
 *
 * Returns: as kpin_kust_edit(), or the error of kpin_kust_open().
 */
int kpin_kust_set(struct kpin_buf *out, const char *buf, size_t len,
		  const struct kpin_change *changes, size_t n, unsigned flags);

/*
 * kpin_kust_effective_digest() - The digest an entry pins, if any
 *
 * The digest key's value, else the part after '@' of a "tag@digest"
 * newTag, else NULL. Borrowed from the entry.
 */
const char *kpin_kust_effective_digest(const struct kpin_image *img,
				       size_t *len);

/*
 * struct kpin_pin - What an entry pins
 * @digest: digest (or the digest part of a "tag@digest" newTag), or NULL
 * @tag: newTag without any "@digest", or NULL
 */
struct kpin_pin {
	char *digest;
	char *tag;
};

/* kpin_pin_of() - Fill @pin from an entry (NULL: nothing pinned). */
void kpin_pin_of(struct kpin_pin *pin, const struct kpin_image *img);
void kpin_pin_release(struct kpin_pin *pin);

/*
 * kpin_kust_tamper_fn - For tests only: a function that may alter the
 * spliced bytes before they are verified, to prove the verifier catches
 * what the planner could get wrong. Set per thread; NULL in production.
 */
typedef void (*kpin_kust_tamper_fn)(struct kpin_buf *buf, void *arg);
void kpin_kust_set_tamper(kpin_kust_tamper_fn fn, void *arg);

#endif
