/*
 * Growable byte buffers in the manner of git's strbuf: always
 * NUL-terminated once written to, grown geometrically, detachable.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpin/buf.h"
#include "kpin/xalloc.h"

void kpin_buf_init(struct kpin_buf *buf, size_t hint)
{
	buf->ptr = NULL;
	buf->len = 0;
	buf->cap = 0;
	if (hint)
		kpin_buf_grow(buf, hint);
}

void kpin_buf_release(struct kpin_buf *buf)
{
	if (!buf)
		return;
	free(buf->ptr);
	buf->ptr = NULL;
	buf->len = 0;
	buf->cap = 0;
}

void kpin_buf_reset(struct kpin_buf *buf)
{
	buf->len = 0;
	if (buf->ptr)
		buf->ptr[0] = '\0';
}

char *kpin_buf_detach(struct kpin_buf *buf, size_t *len)
{
	char *p;

	if (!buf->ptr)
		kpin_buf_grow(buf, 0);
	p = buf->ptr;
	if (len)
		*len = buf->len;
	buf->ptr = NULL;
	buf->len = 0;
	buf->cap = 0;
	return p;
}

void kpin_buf_grow(struct kpin_buf *buf, size_t extra)
{
	size_t want = buf->len + extra + 1;

	if (want < buf->len)
		want = (size_t)-1;	/* overflow: let xrealloc fail */
	if (want <= buf->cap)
		return;
	if (want < buf->cap + buf->cap / 2)
		want = buf->cap + buf->cap / 2;
	if (want < 64)
		want = 64;
	buf->ptr = xrealloc(buf->ptr, want);
	if (!buf->cap)
		buf->ptr[buf->len] = '\0';
	buf->cap = want;
}

void kpin_buf_add(struct kpin_buf *buf, const void *data, size_t len)
{
	kpin_buf_grow(buf, len);
	if (len)
		memcpy(buf->ptr + buf->len, data, len);
	buf->len += len;
	buf->ptr[buf->len] = '\0';
}

void kpin_buf_adds(struct kpin_buf *buf, const char *s)
{
	kpin_buf_add(buf, s, strlen(s));
}

void kpin_buf_addch(struct kpin_buf *buf, int c)
{
	char ch = (char)c;

	kpin_buf_add(buf, &ch, 1);
}

void kpin_buf_vaddf(struct kpin_buf *buf, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	kpin_buf_grow(buf, (size_t)n);
	vsnprintf(buf->ptr + buf->len, (size_t)n + 1, fmt, ap);
	buf->len += (size_t)n;
}

void kpin_buf_addf(struct kpin_buf *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kpin_buf_vaddf(buf, fmt, ap);
	va_end(ap);
}

void kpin_buf_add_json(struct kpin_buf *buf, const char *s)
{
	const unsigned char *p;

	if (!s) {
		kpin_buf_adds(buf, "null");
		return;
	}
	kpin_buf_addch(buf, '"');
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			kpin_buf_adds(buf, "\\\"");
			break;
		case '\\':
			kpin_buf_adds(buf, "\\\\");
			break;
		case '\n':
			kpin_buf_adds(buf, "\\n");
			break;
		case '\r':
			kpin_buf_adds(buf, "\\r");
			break;
		case '\t':
			kpin_buf_adds(buf, "\\t");
			break;
		default:
			if (*p < 0x20)
				kpin_buf_addf(buf, "\\u%04x", *p);
			else
				kpin_buf_addch(buf, *p);
		}
	}
	kpin_buf_addch(buf, '"');
}

const char *kpin_buf_cstr(const struct kpin_buf *buf)
{
	return buf->ptr ? buf->ptr : "";
}
