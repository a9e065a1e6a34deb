/*
 * The last error of each thread: a code, an optional position in the input
 * and one message, set once where the problem is found.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kpin/error.h"

static _Thread_local struct kpin_error last;

static int set(int code, int line, int col, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static int set(int code, int line, int col, const char *fmt, va_list ap)
{
	last.code = code;
	last.line = line;
	last.col = col;
	vsnprintf(last.message, sizeof(last.message), fmt, ap);
	return code;
}

int kpin_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set(code, 0, 0, fmt, ap);
	va_end(ap);
	return code;
}

int kpin_error_set_at(int code, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set(code, line, col, fmt, ap);
	va_end(ap);
	return code;
}

const struct kpin_error *kpin_error_last(void)
{
	return &last;
}

int kpin_error_prefix(const char *fmt, ...)
{
	char old[sizeof(last.message)];
	char prefix[sizeof(last.message)];
	char joined[2 * sizeof(last.message) + 2];
	va_list ap;

	memcpy(old, last.message, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof(joined), "%s: %s", prefix, old);
	memcpy(last.message, joined, sizeof(last.message) - 1);
	last.message[sizeof(last.message) - 1] = '\0';
	return last.code;
}

void kpin_error_clear(void)
{
	memset(&last, 0, sizeof(last));
}
