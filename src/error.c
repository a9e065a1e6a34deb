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

void kpin_error_clear(void)
{
	memset(&last, 0, sizeof(last));
}
