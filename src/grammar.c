/*
 * The grammars kpin validates against, as PCRE2 patterns compiled on first
 * use (with JIT where the library has it) and kept for the process. Every
 * subject is length-checked before it reaches the matcher, and every
 * pattern is compiled with PCRE2_DOLLAR_ENDONLY so that "$" never accepts a
 * trailing newline.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kpin/buf.h"
#include "kpin/error.h"
#include "kpin/grammar.h"

#define DOMAIN_COMPONENT "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
#define DOMAIN "(?:" DOMAIN_COMPONENT "(?:\\." DOMAIN_COMPONENT ")*" \
	"|\\[(?:[a-fA-F0-9:]+)\\])(?::[0-9]+)?"
#define PATH_COMPONENT "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"

struct grammar {
	const char *pattern;
	size_t max;		/* longest subject worth matching */
	const char *rule;	/* the rule, as stated to the user */
};

static const struct grammar grammars[KPIN_GRAMMAR__COUNT] = {
	[KPIN_GRAMMAR_DIGEST] = {
		"^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$", 135,
		"a digest must be sha256: followed by 64 lowercase hex digits "
		"(or sha512: followed by 128)"
	},
	[KPIN_GRAMMAR_DIGEST_OCI] = {
		"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$", 1024,
		"a digest must be algorithm:encoded (OCI image-spec)"
	},
	[KPIN_GRAMMAR_TAG] = {
		"^[\\w][\\w.-]{0,127}$", 128,
		"a tag must be a letter, digit or '_' followed by at most 127 "
		"letters, digits, '_', '.' or '-'"
	},
	[KPIN_GRAMMAR_NAME] = {
		"^(?:" DOMAIN "/)?" PATH_COMPONENT "(?:/" PATH_COMPONENT ")*$",
		255,
		"an image name must be a distribution reference name without "
		"tag or digest: lowercase path components separated by '/', "
		"optionally after a registry host, at most 255 characters"
	},
	/*
	 * kustomize matches images[].name textually, and real files use
	 * names that are no references ("dashboardImage", template
	 * placeholders): any text on one line, NEL and U+2028/9 included
	 * among the line breaks.
	 */
	[KPIN_GRAMMAR_KEY] = {
		"^(?:(?!\\xc2\\x85|\\xe2\\x80[\\xa8\\xa9])[^\\x00-\\x1f\\x7f])+$",
		1024,
		"an image name to look up must be 1 to 1024 bytes on one line, "
		"without control characters"
	},
	[KPIN_GRAMMAR_SEGMENT] = {
		"^(?!\\.\\.?$)[A-Za-z0-9._-]+$", 255,
		"it must be one path segment of letters, digits, '.', '_' and "
		"'-', not '.' or '..'"
	},
	[KPIN_GRAMMAR_NONSTRING] = {
		"^(?:~|null|Null|NULL"
		"|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
		"|on|On|ON|off|Off|OFF"
		"|[-+]?[0-9][0-9_]*"
		"|[-+]?0b[01_]+|[-+]?0o[0-7_]+|[-+]?0x[0-9a-fA-F_]+"
		"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\\.[0-9_]*)?"
		"|[-+]?(?:\\.[0-9][0-9_]*|[0-9][0-9_]*(?:\\.[0-9_]*)?)"
		"(?:[eE][-+]?[0-9]+)?"
		"|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)"
		"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
		"(?:(?:[Tt]|[ \\t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]*)?"
		"(?:[ \\t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?"
		"|<<|=)$", 256,
		"a plain scalar read as a string"
	},
};

static pcre2_code *compiled[KPIN_GRAMMAR__COUNT];
static unsigned uses[KPIN_GRAMMAR__COUNT];	/* matches so far */
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * JIT compiling costs more than the few matches a "kpin set" makes, so a
 * pattern is JIT compiled only once it has been used this many times (a
 * "kpin check" over many files).
 */
#define JIT_AFTER 64

/* The compiled pattern for @g, compiling it on first use; NULL on failure. */
static pcre2_code *code_for(enum kpin_grammar g)
{
	pcre2_code *re;
	int errcode;
	PCRE2_SIZE erroff;
	PCRE2_UCHAR msg[256];

	pthread_mutex_lock(&compile_lock);
	re = compiled[g];
	if (!re) {
		re = pcre2_compile((PCRE2_SPTR)grammars[g].pattern,
				   PCRE2_ZERO_TERMINATED, PCRE2_DOLLAR_ENDONLY,
				   &errcode, &erroff, NULL);
		if (!re) {
			pcre2_get_error_message(errcode, msg, sizeof(msg));
			kpin_error_set(KPIN_ERROR,
				       "internal error: pattern %d: %s at %zu",
				       (int)g, (const char *)msg, (size_t)erroff);
		} else {
			compiled[g] = re;
		}
	}
	if (re && ++uses[g] == JIT_AFTER) {
		/* Not fatal: pcre2_match falls back to the interpreter. */
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	}
	pthread_mutex_unlock(&compile_lock);
	return re;
}

int kpin_grammar_match(enum kpin_grammar g, const char *s, size_t len)
{
	pcre2_code *re;
	pcre2_match_data *md;
	int rc;

	if ((unsigned)g >= KPIN_GRAMMAR__COUNT)
		return kpin_error_set(KPIN_ERROR, "internal error: grammar %d",
				      (int)g);
	if (len > grammars[g].max)
		return 0;
	re = code_for(g);
	if (!re)
		return KPIN_ERROR;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md)
		return kpin_error_set(KPIN_ERROR, "out of memory in pcre2");
	rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	if (rc > 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	return kpin_error_set(KPIN_ERROR, "internal error: pcre2 match: %d",
			      rc);
}

/* Append @s to @out for a message: at most 80 bytes, control bytes escaped. */
static void quote_subject(struct kpin_buf *out, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < 80; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			kpin_buf_adds(out, "\\n");
		else if (c < 0x20 || c == 0x7f)
			kpin_buf_addf(out, "\\x%02x", c);
		else
			kpin_buf_addch(out, c);
	}
	if (s[i])
		kpin_buf_adds(out, "...");
}

/* Why @s is not a registered digest, for a more useful message. */
static const char *digest_reason(const char *s, char *tmp, size_t tmpsz)
{
	const char *colon = strchr(s, ':');
	const char *hex;
	size_t want, n, i;

	if (strpbrk(s, "\r\n\t "))
		return "it contains whitespace or a line break";
	if (!colon)
		return "it has no algorithm (expected sha256:...)";
	if (!(colon - s == 6 && (!strncmp(s, "sha256", 6) ||
				 !strncmp(s, "sha512", 6)))) {
		snprintf(tmp, tmpsz, "unknown algorithm '%.*s'",
			 (int)((colon - s) > 32 ? 32 : colon - s), s);
		return tmp;
	}
	want = s[3] == '2' ? 64 : 128;
	hex = colon + 1;
	n = strlen(hex);
	for (i = 0; i < n; i++)
		if (hex[i] >= 'A' && hex[i] <= 'F')
			return "uppercase hex digits are not allowed";
	for (i = 0; i < n; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		      (hex[i] >= 'a' && hex[i] <= 'f')))
			return "it has characters other than hex digits";
	snprintf(tmp, tmpsz, "it has %zu hex digits, %.6s needs %zu", n, s,
		 want);
	return tmp;
}

int kpin_grammar_check(enum kpin_grammar g, const char *what, const char *s)
{
	struct kpin_buf msg = KPIN_BUF_INIT;
	char tmp[96];
	int rc;

	rc = kpin_grammar_match(g, s, strlen(s));
	if (rc == 1)
		return 0;
	if (rc < 0)
		return rc;
	kpin_buf_addf(&msg, "invalid %s '", what);
	quote_subject(&msg, s);
	kpin_buf_adds(&msg, "': ");
	if (g == KPIN_GRAMMAR_DIGEST)
		kpin_buf_addf(&msg, "%s; %s", digest_reason(s, tmp, sizeof(tmp)),
			      grammars[g].rule);
	else
		kpin_buf_adds(&msg, grammars[g].rule);
	rc = kpin_error_set(KPIN_EINVALID, "%s", msg.ptr);
	kpin_buf_release(&msg);
	return rc;
}

bool kpin_grammar_plain_is_string(const char *s, size_t len)
{
	if (len == 0)
		return false;
	return kpin_grammar_match(KPIN_GRAMMAR_NONSTRING, s, len) == 0;
}

void kpin_grammar_cleanup(void)
{
	int i;

	pthread_mutex_lock(&compile_lock);
	for (i = 0; i < KPIN_GRAMMAR__COUNT; i++) {
		pcre2_code_free(compiled[i]);
		compiled[i] = NULL;
		uses[i] = 0;
	}
	pthread_mutex_unlock(&compile_lock);
}

int kpin_grammar_check_path(const char *what, const char *path)
{
	const char *p = path;

	if (!*p || *p == '/')
		goto bad;
	while (*p) {
		size_t len = strcspn(p, "/");

		if (!len || kpin_grammar_match(KPIN_GRAMMAR_SEGMENT, p, len) != 1)
			goto bad;
		p += len;
		if (*p == '/' && !*++p)
			goto bad;
	}
	return 0;
bad:
	return kpin_error_set(KPIN_EINVALID, "invalid %s '%s': it must be a "
			      "relative path of plain names (letters, digits, "
			      "'.', '_', '-'), without '.', '..' or empty parts",
			      what, path);
}
