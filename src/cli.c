/*
 * Helpers every subcommand uses: printing errors with their position,
 * mapping library error codes to exit statuses, usage output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct cli_globals cli;

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kpin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int cli_usage(const struct kpin_cmd *cmd, bool to_stdout)
{
	FILE *fp = to_stdout ? stdout : stderr;
	const char *p = cmd->usage;

	fputs("usage: ", fp);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (p != cmd->usage)
			fputs("       ", fp);
		fprintf(fp, "%.*s\n", (int)len, p);
		p += len + (nl != NULL);
	}
	return to_stdout ? EXIT_OK : EXIT_USAGE;
}

int cli_usage_error(const struct kpin_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("kpin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_usage(cmd, false);
	return EXIT_USAGE;
}

int cli_exit_code(int code)
{
	switch (code) {
	case KPIN_OK:
	case KPIN_EUNCHANGED:
		return EXIT_OK;
	case KPIN_EINVALID:
	case KPIN_EAMBIGUOUS:
		return EXIT_INVALID;
	case KPIN_ENOTFOUND:
		return EXIT_NOTFOUND;
	case KPIN_EMODIFIED:
	case KPIN_ELOCKED:
	case KPIN_EREJECTED:
		return EXIT_CONFLICT;
	case KPIN_EPOLICY:
		return EXIT_POLICY;
	case KPIN_EAUTH:
		return EXIT_AUTH;
	case KPIN_EUSAGE:
		return EXIT_USAGE;
	case KPIN_EVERIFY:
		return EXIT_INTERNAL;
	default:
		return EXIT_FAIL;
	}
}

int cli_fail(const char *path)
{
	const struct kpin_error *err = kpin_error_last();
	const char *msg = err->message[0] ? err->message : "unknown error";

	if (path && err->line > 0)
		fprintf(stderr, "%s:%d:%d: error: %s\n", path, err->line,
			err->col, msg);
	else if (path)
		fprintf(stderr, "kpin: %s: %s\n", path, msg);
	else
		fprintf(stderr, "kpin: %s\n", msg);
	return cli_exit_code(err->code ? err->code : KPIN_ERROR);
}

void cli_note(const char *fmt, ...)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	va_list ap;

	if (cli.quiet)
		return;
	/* one write: stderr is unbuffered */
	kpin_buf_adds(&b, "kpin: ");
	va_start(ap, fmt);
	kpin_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	kpin_buf_addch(&b, '\n');
	fputs(b.ptr, stderr);
	kpin_buf_release(&b);
}

int cli_print_buf(const struct kpin_buf *buf)
{
	if (buf->len && fwrite(buf->ptr, 1, buf->len, stdout) != buf->len)
		return cli_error("cannot write to stdout: %s", strerror(errno));
	return EXIT_OK;
}

const char *cli_short_digest(const char *digest, char *tmp, size_t size)
{
	const char *colon = digest ? strchr(digest, ':') : NULL;

	if (!digest)
		return "(none)";
	if (!colon)
		return digest;
	snprintf(tmp, size, "%.*s:%.12s", (int)(colon - digest), digest,
		 colon + 1);
	return tmp;
}

int cli_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024, end++;
	if (*end || v == 0 || v > (1ULL << 32))
		return -1;
	*out = (size_t)v;
	return 0;
}
