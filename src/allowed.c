/*
 * Allowed-signers files (src/allowed.h), read by the rules of OpenSSH's
 * sshsig.c (a line: principals, options, key) and misc.c (pattern lists,
 * absolute times). Option keywords are case-insensitive; values are
 * double-quoted, with \" standing for a quote; options are separated by
 * commas, and anything else after an option makes the line not count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "allowed.h"
#include "sshkey.h"
#include "kpin/buf.h"
#include "kpin/error.h"
#include "kpin/xalloc.h"

/* OpenSSH copies each pattern of a list into a buffer of this size. */
#define PATTERN_MAX 1024

/* The options of one line. */
struct sigopts {
	bool ca;
	bool has_ns;
	struct kpin_buf ns;
	long long after, before;	/* 0: none */
};

/* The next white-space separated word before @end, honouring quotes. */
static size_t word(const char **p, const char *end)
{
	const char *s;
	bool quoted = false;

	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	for (s = *p; s < end && (quoted || (*s != ' ' && *s != '\t')); s++) {
		if (*s == '\\' && s + 1 < end && s[1] == '"')
			s++;
		else if (*s == '"')
			quoted = !quoted;
	}
	return (size_t)(s - *p);
}

/* Whether @s (@len bytes) starts with @prefix. */
static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

/* Whether @s matches the glob @p ('*' any run, '?' any one byte). */
static bool glob(const char *s, size_t slen, const char *p, size_t plen)
{
	size_t si = 0, pi = 0, star = SIZE_MAX, mark = 0;

	while (si < slen) {
		if (pi < plen && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < plen && (p[pi] == '?' || p[pi] == s[si])) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

bool kpin_allowed_match_list(const char *s, const char *list, size_t len)
{
	const char *end = list + len;
	size_t slen = strlen(s);
	bool positive = false;

	while (list < end) {
		bool negated = *list == '!';
		const char *p = list + negated;
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = (size_t)((comma ? comma : end) - p);

		/* a NUL ends the pattern, as in OpenSSH's C string */
		if (memchr(p, 0, n))
			n = (size_t)((const char *)memchr(p, 0, n) - p);
		if (n >= PATTERN_MAX - 1)
			return false;
		if (glob(s, slen, p, n)) {
			if (negated)
				return false;
			positive = true;
		}
		list = comma ? comma + 1 : end;
	}
	return positive;
}

/* @n digits at @s as a number, which must lie in [@lo, @hi]; or -1. */
static int digits(const char *s, size_t n, int lo, int hi)
{
	int v = 0;

	while (n--) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v < lo || v > hi ? -1 : v;
}

int kpin_allowed_parse_time(long long *out, const char *s, size_t len)
{
	struct tm tm;
	time_t t;
	bool utc = false;
	int f[6] = { 0, 1, 1, 0, 0, 0 };
	static const int lo[6] = { 0, 1, 1, 0, 0, 0 };
	static const int hi[6] = { 9999, 12, 31, 23, 59, 61 };
	size_t i, at;

	if (len > 1 && (s[len - 1] == 'Z' || s[len - 1] == 'z')) {
		utc = true;
		len--;
	} else if (len > 3 && !strncasecmp(s + len - 3, "UTC", 3)) {
		utc = true;
		len -= 3;
	}
	if (len != 8 && len != 12 && len != 14)
		return -1;
	for (i = 0, at = 0; at < len; at += i ? 2 : 4, i++) {
		f[i] = digits(s + at, i ? 2 : 4, lo[i], hi[i]);
		if (f[i] < 0)
			return -1;
	}
	memset(&tm, 0, sizeof(tm));	/* tm_isdst 0, as OpenSSH's */
	tm.tm_year = f[0] - 1900;
	tm.tm_mon = f[1] - 1;
	tm.tm_mday = f[2];
	tm.tm_hour = f[3];
	tm.tm_min = f[4];
	tm.tm_sec = f[5];
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t <= 0)
		return -1;
	*out = (long long)t;
	return 0;
}

/*
 * Whether the option at *@p is @name (any case), followed by '=' when
 * @value; moves *@p past it (and the '=').
 */
static bool option(const char **p, const char *end, const char *name,
		   bool value)
{
	size_t n = strlen(name);

	if ((size_t)(end - *p) < n + value || strncasecmp(*p, name, n) ||
	    (value && (*p)[n] != '='))
		return false;
	*p += n + value;
	return true;
}

/* A double-quoted value at *@p into @out; moves past it. 0 or -1. */
static int dequote(struct kpin_buf *out, const char **p, const char *end)
{
	const char *s = *p;

	if (s >= end || *s != '"')
		return -1;
	for (s++; s < end && *s != '"'; s++) {
		if (*s == '\\' && s + 1 < end && s[1] == '"')
			s++;
		kpin_buf_addch(out, (unsigned char)*s);
	}
	if (s >= end)
		return -1;
	*p = s + 1;
	return 0;
}

/* A quoted time at *@p into *@t, which must not be set yet. 0 or -1. */
static int time_option(long long *t, const char **p, const char *end)
{
	struct kpin_buf v = KPIN_BUF_INIT;
	int rc = *t ? -1 : dequote(&v, p, end);

	if (!rc)
		rc = kpin_allowed_parse_time(t, v.len ? v.ptr : "", v.len);
	kpin_buf_release(&v);
	return rc;
}

/* Parse the options word @p .. @end into @o. 0, or -1: the line does
 * not count. */
static int parse_options(struct sigopts *o, const char *p, const char *end)
{
	while (p < end) {
		if (option(&p, end, "cert-authority", false)) {
			o->ca = true;
		} else if (option(&p, end, "namespaces", true)) {
			if (o->has_ns || dequote(&o->ns, &p, end))
				return -1;
			o->has_ns = true;
		} else if (option(&p, end, "valid-after", true)) {
			if (time_option(&o->after, &p, end))
				return -1;
		} else if (option(&p, end, "valid-before", true)) {
			if (time_option(&o->before, &p, end))
				return -1;
		}
		if (p == end)
			break;
		if (*p != ',' || ++p == end)	/* unknown, or a last comma */
			return -1;
	}
	return o->after && o->before && o->before <= o->after ? -1 : 0;
}

static void utc_time(char *buf, size_t size, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%lld", t);
}

/* Why @o refuses the key at @when, or NULL when the time is right. */
static char *time_refusal(const struct sigopts *o, long long when)
{
	struct kpin_buf why = KPIN_BUF_INIT;
	char at[40], bound[40];

	utc_time(at, sizeof(at), when);
	if (o->after && when < o->after) {
		utc_time(bound, sizeof(bound), o->after);
		kpin_buf_addf(&why, "key is not yet valid: commit time %s < "
			      "valid-after %s", at, bound);
	} else if (o->before && when > o->before) {
		utc_time(bound, sizeof(bound), o->before);
		kpin_buf_addf(&why, "key has expired: commit time %s > "
			      "valid-before %s", at, bound);
	}
	return why.len ? kpin_buf_detach(&why, NULL) : NULL;
}

/* Record a refusal of @status for line @principals unless one is kept. */
static void refuse(struct kpin_allowed *out, enum kpin_allowed_status status,
		   const char *principals, size_t plen, char *why)
{
	/* a namespace refusal at a valid time is git's verdict over a time */
	if (out->status == KPIN_ALLOWED_NONE ||
	    (out->status == KPIN_ALLOWED_TIME &&
	     status == KPIN_ALLOWED_NAMESPACE)) {
		kpin_allowed_release(out);
		out->status = status;
		out->principals = xstrndup(principals, plen);
		out->why = why;
		return;
	}
	free(why);
}

/*
 * One line @line .. @lend: sets @out and returns true when it allows
 * the key; records a refusal by a line holding it otherwise.
 */
static bool check_line(struct kpin_allowed *out, const char *line,
		       const char *lend, const unsigned char *pub,
		       size_t publen, const char *ns, long long when)
{
	struct sigopts o = { false, false, KPIN_BUF_INIT, 0, 0 };
	struct kpin_buf blob = KPIN_BUF_INIT, why = KPIN_BUF_INIT;
	const char *principals, *opts = NULL;
	size_t plen, olen = 0, n;
	bool allows = false;
	char *late;

	plen = word(&line, lend);
	principals = line;
	/* a NUL would cut the signer's name short when printed */
	if (!plen || *principals == '#' || memchr(principals, 0, plen))
		return false;
	line += plen;
	n = word(&line, lend);
	if (n && !starts(line, n, "ssh-") && !starts(line, n, "ecdsa-")) {
		opts = line;
		olen = n;
		line += n;
		n = word(&line, lend);
	}
	if (!n || (opts && parse_options(&o, opts, opts + olen)) || o.ca ||
	    kpin_sshkey_parse_public(&blob, line, (size_t)(lend - line)) ||
	    blob.len != publen || memcmp(blob.ptr, pub, publen))
		goto out;
	late = time_refusal(&o, when);
	if (late) {
		refuse(out, KPIN_ALLOWED_TIME, principals, plen, late);
	} else if (o.has_ns &&
		   !kpin_allowed_match_list(ns, o.ns.len ? o.ns.ptr : "",
					    o.ns.len)) {
		kpin_buf_addf(&why, "key is not permitted for use in signature "
			      "namespace '%s'", ns);
		refuse(out, KPIN_ALLOWED_NAMESPACE, principals, plen,
		       kpin_buf_detach(&why, NULL));
	} else {
		kpin_allowed_release(out);
		out->status = KPIN_ALLOWED_YES;
		out->principals = xstrndup(principals, plen);
		allows = true;
	}
out:
	kpin_error_clear();
	kpin_buf_release(&blob);
	kpin_buf_release(&o.ns);
	kpin_buf_release(&why);
	return allows;
}

void kpin_allowed_lookup(struct kpin_allowed *out, const char *file,
			 size_t len, const unsigned char *pub, size_t publen,
			 const char *ns, long long when)
{
	const char *p = file, *end = file + len;

	memset(out, 0, sizeof(*out));
	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line = p;

		p = eol ? eol + 1 : NULL;
		if (check_line(out, line, eol ? eol : end, pub, publen, ns,
			       when))
			return;
	}
}

void kpin_allowed_release(struct kpin_allowed *a)
{
	free(a->principals);
	free(a->why);
	memset(a, 0, sizeof(*a));
}
