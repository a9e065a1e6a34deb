/*
 * Allocation that cannot fail: on exhaustion it prints "kpin: out of
 * memory" and aborts. The only place in the library allowed to end the
 * process. Included by library sources and the CLI.
 */
#ifndef KPIN_XALLOC_H
#define KPIN_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* xreallocarray() - Resize to @nmemb * @size bytes, aborting on overflow. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

#endif
