/*
 * Helpers every subcommand uses: printing errors with their position,
 * mapping library error codes to exit statuses, usage output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct cli_globals cli;

/* Keep the first failure for --json (cli_print_failure()). */
static void record_failure(const char *msg, const char *file, int line,
			   int col)
{
	if (cli.failure.message)
		return;
	cli.failure.message = xstrdup(msg);
	cli.failure.file = file ? xstrdup(file) : NULL;
	cli.failure.line = line;
	cli.failure.col = col;
}

/* Print "kpin: <message>" and record it; the caller's va_list. */
static void verror(const char *fmt, va_list ap)
{
	struct kpin_buf b = KPIN_BUF_INIT;

	kpin_buf_vaddf(&b, fmt, ap);
	fprintf(stderr, "kpin: %s\n", b.ptr);
	record_failure(b.ptr, NULL, 0, 0);
	kpin_buf_release(&b);
}

int cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

void cli_print_failure(int status)
{
	struct cli_failure *f = &cli.failure;
	struct kpin_buf b = KPIN_BUF_INIT;

	if (!f->message)
		return;
	if (cli.json && status != EXIT_OK) {
		kpin_buf_addf(&b, "{\"code\":%d,\"message\":", status);
		kpin_buf_add_json(&b, f->message);
		kpin_buf_adds(&b, ",\"file\":");
		kpin_buf_add_json(&b, f->file);
		if (f->line > 0)
			kpin_buf_addf(&b, ",\"line\":%d,\"column\":%d",
				      f->line, f->col);
		else
			kpin_buf_adds(&b, ",\"line\":null,\"column\":null");
		if (f->problems.len)
			kpin_buf_addf(&b, ",\"problems\":[%s]", f->problems.ptr);
		kpin_buf_adds(&b, "}\n");
		cli_print_buf(&b);
		kpin_buf_release(&b);
	}
	free(f->message);
	free(f->file);
	kpin_buf_release(&f->problems);
	memset(f, 0, sizeof(*f));
}

void cli_problems(const char *lines)
{
	struct kpin_buf *p = &cli.failure.problems;
	struct kpin_buf one = KPIN_BUF_INIT;

	fputs(lines, stderr);
	while (*lines) {
		size_t len = strcspn(lines, "\n");

		kpin_buf_reset(&one);
		kpin_buf_add(&one, lines, len);
		if (p->len)
			kpin_buf_addch(p, ',');
		kpin_buf_add_json(p, kpin_buf_cstr(&one));
		lines += len + (lines[len] == '\n');
	}
	kpin_buf_release(&one);
}

int cli_chdir(const char *dir)
{
	if (chdir(dir) < 0)
		return cli_error("cannot change to '%s': %s", dir,
				 strerror(errno));
	cli.dir = dir;
	return EXIT_OK;
}

int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	char opts[64];
	int c;

	snprintf(opts, sizeof(opts), "%sqC:", shortopts);
	for (;;) {
		c = getopt_long(argc, argv, opts, longopts, NULL);
		if (c == 'q')
			cli.quiet = true;
		else if (c != 'C')
			return c;
		else if (cli_chdir(optarg)) {
			cli_print_failure(EXIT_FAIL);
			exit(EXIT_FAIL);
		}
	}
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
	if (to_stdout)
		fprintf(fp, "\n%s" CLI_GLOBAL_HELP, cmd->options);
	return to_stdout ? EXIT_OK : EXIT_USAGE;
}

int cli_usage_error(const struct kpin_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
	cli_usage(cmd, false);
	return EXIT_USAGE;
}

int cli_unknown_option(const struct kpin_cmd *cmd, char **argv)
{
	return cli_usage_error(cmd, "unknown or incomplete option '%s'",
			       argv[optind - 1]);
}

int cli_no_operands(const struct kpin_cmd *cmd, int argc, char **argv)
{
	if (optind >= argc)
		return EXIT_OK;
	return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
}

int cli_one_format(const struct kpin_cmd *cmd, bool json, bool markdown)
{
	if (json && markdown)
		return cli_usage_error(cmd, "--json and --markdown cannot be "
				       "combined");
	return EXIT_OK;
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
	case KPIN_EREFUSED:
		return EXIT_REFUSED;
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
	record_failure(msg, path, path ? err->line : 0, err->col);
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

void cli_format_time(char *out, size_t size, long long t, bool iso)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (iso)
		strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		strftime(out, size, "%Y-%m-%d %H:%M", &tm);
}

void cli_md_cell(struct kpin_buf *b, const char *s, int len)
{
	int i;

	kpin_buf_adds(b, " ");
	for (i = 0; i < len && s[i]; i++) {
		if (s[i] == '|' || s[i] == '\\' || s[i] == '`' || s[i] == '<')
			kpin_buf_addch(b, '\\');
		kpin_buf_addch(b, s[i] == '\n' ? ' ' : s[i]);
	}
	kpin_buf_adds(b, " |");
}

/*
 * @s with each control character as '?': signers and reasons quote the
 * repository (allowed-signers files, signatures), and a terminal escape
 * in them could rewrite what was printed before.
 */
static void add_printable(struct kpin_buf *b, const char *s)
{
	for (; *s; s++)
		kpin_buf_addch(b, (unsigned char)*s < 0x20 || *s == 0x7f ?
			       '?' : *s);
}

void cli_sig_text(struct kpin_buf *b, const struct kpin_sig_check *c)
{
	switch (c->status) {
	case KPIN_SIG_GOOD:
		kpin_buf_adds(b, "signed by ");
		add_printable(b, c->signer);
		break;
	case KPIN_SIG_UNKNOWN_KEY:
		kpin_buf_addf(b, "signed by an unknown key %s", c->key);
		if (c->reason) {
			kpin_buf_adds(b, " (");
			add_printable(b, c->reason);
			kpin_buf_addch(b, ')');
		}
		break;
	case KPIN_SIG_BAD:
		kpin_buf_adds(b, "BAD signature: ");
		add_printable(b, c->reason);
		break;
	default:
		kpin_buf_adds(b, "unsigned");
	}
}

void cli_json_key(struct kpin_buf *b, const char *key, const char *v)
{
	kpin_buf_addf(b, ",\"%s\":", key);
	kpin_buf_add_json(b, v);
}

void cli_sig_json(struct kpin_buf *b, const struct kpin_sig_check *c)
{
	kpin_buf_adds(b, ",\"signature\":{\"status\":");
	kpin_buf_add_json(b, kpin_sig_status_name(c->status));
	cli_json_key(b, "signer", c->signer);
	cli_json_key(b, "key", c->key);
	cli_json_key(b, "reason", c->reason);
	kpin_buf_addch(b, '}');
}

bool cli_sig_failed(const struct kpin_sig_check *c, bool required)
{
	return c->status == KPIN_SIG_BAD ||
	       (required && c->status != KPIN_SIG_GOOD);
}

int cli_verify_commits(struct kpin_sig_check *out, struct kpin_repo *repo,
		       const char *const *commits, size_t n)
{
	struct kpin_sign_config cfg;
	int rc;

	if (kpin_sign_config_read(&cfg, repo))
		return cli_fail(NULL);
	rc = kpin_verify_commits(out, repo, commits, n, cfg.allowed_signers);
	kpin_sign_config_release(&cfg);
	return rc ? cli_fail(NULL) : EXIT_OK;
}
