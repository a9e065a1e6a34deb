/*
 * A growable byte buffer, always NUL-terminated after the first append.
 *
 * Included by every module that hands bytes across a boundary.
 */
#ifndef KPIN_BUF_H
#define KPIN_BUF_H

#include <stddef.h>
#include <stdarg.h>

/*
 * struct kpin_buf - Owned, growable bytes
 * @ptr: the bytes; ptr[len] is '\0' once anything was added, NULL before
 * @len: bytes in use
 * @cap: bytes allocated
 */
struct kpin_buf {
	char *ptr;
	size_t len;
	size_t cap;
};

#define KPIN_BUF_INIT { NULL, 0, 0 }

/*
 * struct kpin_span - Bytes borrowed from a larger buffer
 * @ptr: first byte, not NUL-terminated
 * @len: length in bytes
 *
 * A span is valid only as long as the buffer it points into.
 */
struct kpin_span {
	const char *ptr;
	size_t len;
};

void kpin_buf_init(struct kpin_buf *buf, size_t hint);
/* kpin_buf_release() - Free the storage; a no-op on an initialised empty buffer. */
void kpin_buf_release(struct kpin_buf *buf);
/* kpin_buf_reset() - Empty the buffer but keep its storage. */
void kpin_buf_reset(struct kpin_buf *buf);
/*
 * kpin_buf_detach() - Hand the storage to the caller
 * @buf: the buffer, left empty and initialised
 * @len: out, the length (may be NULL)
 *
 * Returns: a NUL-terminated string the caller frees with free().
 */
char *kpin_buf_detach(struct kpin_buf *buf, size_t *len);
/* kpin_buf_grow() - Make room for @extra more bytes plus the NUL. */
void kpin_buf_grow(struct kpin_buf *buf, size_t extra);
void kpin_buf_add(struct kpin_buf *buf, const void *data, size_t len);
void kpin_buf_adds(struct kpin_buf *buf, const char *s);
void kpin_buf_addch(struct kpin_buf *buf, int c);
void kpin_buf_addf(struct kpin_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void kpin_buf_vaddf(struct kpin_buf *buf, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* kpin_buf_add_json() - Append @s as a JSON string literal, quotes included. */
void kpin_buf_add_json(struct kpin_buf *buf, const char *s);
/* kpin_buf_cstr() - The contents as a C string; "" for an empty buffer. */
const char *kpin_buf_cstr(const struct kpin_buf *buf);

#endif
