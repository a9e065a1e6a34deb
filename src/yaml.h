/*
 * The one libfyaml adapter: parser setup with diagnostics that record
 * line:column instead of printing, the version kpin was built for, the
 * libfyaml 0.7.12 workarounds, and NUL-terminated scalar texts.
 *
 * Internal: included by the library modules that read YAML or JSON
 * (kust, policy, request); it needs <libfyaml.h>, so nothing public may.
 */
#ifndef KPIN_YAML_H
#define KPIN_YAML_H

#include <libfyaml.h>
#include <stdbool.h>
#include <stddef.h>

#include "kpin/buf.h"

enum kpin_yaml_flags {
	KPIN_YAML_JSON = 1 << 0	/* parse as JSON (FYPCF_JSON_FORCE) */
};

/* struct kpin_yaml - A parser on one buffer, its diag and its document. */
struct kpin_yaml;

/*
 * kpin_yaml_open() - A quiet parser on @buf
 * @out: the parser, or NULL on error
 * @buf: the bytes, not copied: they must outlive the parser
 * @len: their length
 * @flags: enum kpin_yaml_flags
 *
 * Diagnostics are collected, never printed; kpin_yaml_error() turns the
 * first one into a kpin error with its line and column.
 *
 * Returns: 0, or KPIN_ERROR when libfyaml cannot create the parser or the
 * libfyaml loaded at run time is not the version kpin was built for.
 * Free with kpin_yaml_close().
 */
int kpin_yaml_open(struct kpin_yaml **out, const char *buf, size_t len,
		   unsigned flags);

/*
 * kpin_yaml_parser() - The event parser, for callers that walk events
 * Returns: a borrowed pointer, valid until kpin_yaml_close().
 */
struct fy_parser *kpin_yaml_parser(struct kpin_yaml *y);

/*
 * kpin_yaml_load() - Build the first document (duplicate keys refused)
 * @y: the parser
 * @root: out, the root node, NULL for an empty document
 *
 * Returns: 0, or KPIN_EINVALID with the position of the first error
 * (see kpin_yaml_error()). The nodes live until kpin_yaml_close().
 */
int kpin_yaml_load(struct kpin_yaml *y, struct fy_node **root);

/*
 * kpin_yaml_error() - The first diagnostic as the last kpin error
 * @y: the parser that failed
 *
 * The message is "invalid YAML: <libfyaml's message>" (JSON parsers:
 * "invalid JSON at line L, column C: ..."), at libfyaml's 1-based line
 * and column. Returns: KPIN_EINVALID.
 */
int kpin_yaml_error(struct kpin_yaml *y);

/*
 * kpin_yaml_close() - Free the parser, its diag and its document
 *
 * libfyaml 0.7.12 crashes destroying a parser after some errors; such a
 * parser is kept (a few kilobytes) instead. A no-op on NULL.
 */
void kpin_yaml_close(struct kpin_yaml *y);

/*
 * kpin_yaml_token_text() - Append the processed text of a scalar token
 * @out: the buffer, NUL-terminated after the text
 * @tok: the token (quotes and escapes resolved)
 *
 * Works around fy_token_get_text() of libfyaml 0.7.12, which sizes the
 * text from a hint that single-quoted scalars with many '' escapes
 * outgrow, and then returns NULL and leaks.
 *
 * Returns: true, or false (with @out as it was) when libfyaml cannot
 * produce the text.
 */
bool kpin_yaml_token_text(struct kpin_buf *out, struct fy_token *tok);

/*
 * kpin_yaml_scalar() - The text of scalar node @n, NUL-terminated
 * @out: reset, then filled; out->ptr is "" for an empty scalar
 * @n: a scalar node (not an alias)
 *
 * Returns: false when @n is not a plain or quoted scalar or its text
 * holds a NUL byte (no C string could carry it).
 */
bool kpin_yaml_scalar(struct kpin_buf *out, struct fy_node *n);

/*
 * kpin_yaml_node_pos() - 1-based line and column of node @n
 * Both are 1 when @n has no position (NULL, empty value, collection).
 */
void kpin_yaml_node_pos(struct fy_node *n, int *line, int *col);

#endif
