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
/* xstrndup() - The first @n bytes of @s, which must have that many, and a NUL. */
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

/*
 * ALLOC_GROW() - Make room for @nr elements in array @x of capacity
 * @alloc, growing by half again so that appending one at a time stays
 * linear (git cache.h).
 */
#define ALLOC_GROW(x, nr, alloc) \
	do { \
		if ((nr) > (alloc)) { \
			(alloc) = (nr) + (nr) / 2 + 16; \
			(x) = xreallocarray((x), (alloc), sizeof(*(x))); \
		} \
	} while (0)

#endif
