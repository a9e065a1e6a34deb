/*
 * Commit messages: a subject a person can read in "git log --oneline",
 * and git trailers a program can query ("git log --format=%(trailers)").
 */
#include <git2.h>
#include <string.h>
#include <strings.h>

#include "kpin/repo.h"
#include "kpin/xalloc.h"
#include "git-lazy.h"

/* Did change @c alter what the entry pinned before (@old)? */
static bool effective(const struct kpin_change *c, const struct kpin_pin *old)
{
	if (c->digest && (!old || !old->digest || strcmp(c->digest, old->digest)))
		return true;
	if (c->tag && (!old || !old->tag || strcmp(c->tag, old->tag)))
		return true;
	return c->new_name != NULL;
}

/* "sha256:3f1c2a9b0d4e": algorithm and 12 hex digits. */
static void add_short(struct kpin_buf *b, const char *digest)
{
	const char *colon = strchr(digest, ':');

	if (colon)
		kpin_buf_addf(b, "%.*s:%.12s", (int)(colon - digest), digest,
			      colon + 1);
	else
		kpin_buf_adds(b, digest);
}

static void add_what(struct kpin_buf *b, const struct kpin_change *c)
{
	if (c->digest)
		add_short(b, c->digest);
	if (c->tag)
		kpin_buf_addf(b, c->digest ? " (%s)" : "tag %s", c->tag);
	if (!c->digest && !c->tag && c->new_name)
		kpin_buf_addf(b, "name %s", c->new_name);
}

/* Change @c of target @t: is it described by the message? */
static bool described(const struct kpin_target *t, size_t c)
{
	return effective(&t->changes[c], t->old ? &t->old[c] : NULL);
}

/* Where change @c of @t came from: its own origin, else the commit's. */
static const char *origin_of(const struct kpin_target *t, size_t c,
			     const struct kpin_meta *meta, bool release)
{
	const struct kpin_origin *o = t->origins ? &t->origins[c] : NULL;
	const char *v = o ? (release ? o->release : o->source_repository) :
			NULL;

	if (!v && meta)
		v = release ? meta->release : meta->source_repository;
	return v;
}

/*
 * Do all described changes share one value of an origin field? Sets
 * @out to it (NULL when none has one).
 */
static bool origin_shared(const char **out, const struct kpin_target *t,
			  size_t n, const struct kpin_meta *meta, bool release)
{
	bool first = true;
	size_t i, c;

	*out = NULL;
	for (i = 0; i < n; i++)
		for (c = 0; c < t[i].nchanges; c++) {
			const char *v;

			if (!described(&t[i], c))
				continue;
			v = origin_of(&t[i], c, meta, release);
			if (first)
				*out = v;
			else if (v != *out && (!v || !*out || strcmp(v, *out)))
				return false;
			first = false;
		}
	return true;
}

/*
 * The trailers: a group per described change (Image, Digest,
 * Environment, Tag, and its own Source-Repository and Release when the
 * changes do not share them), then what applies to the whole commit.
 */
static void add_trailers(struct kpin_buf *out, const struct kpin_target *t,
			 size_t n, const struct kpin_meta *meta)
{
	static const char *const keys[2] = { "Source-Repository", "Release" };
	const char *shared[2];
	bool one[2];
	size_t i, c, k;

	for (k = 0; k < 2; k++)
		one[k] = origin_shared(&shared[k], t, n, meta, k);
	for (i = 0; i < n; i++)
		for (c = 0; c < t[i].nchanges; c++) {
			const struct kpin_change *ch = &t[i].changes[c];

			if (!described(&t[i], c))
				continue;
			kpin_buf_addf(out, "Image: %s\n", ch->image);
			if (ch->digest)
				kpin_buf_addf(out, "Digest: %s\n", ch->digest);
			kpin_buf_addf(out, "Environment: %s\n", t[i].env);
			if (ch->tag)
				kpin_buf_addf(out, "Tag: %s\n", ch->tag);
			for (k = 0; k < 2; k++) {
				const char *v = origin_of(&t[i], c, meta, k);

				if (!one[k] && v)
					kpin_buf_addf(out, "%s: %s "
						      KPIN_TRAILER_FOR "%s/%s "
						      "%s)\n", keys[k], v,
						      t[i].app, t[i].env,
						      ch->image);
			}
		}
	if (one[0] && shared[0])
		kpin_buf_addf(out, "Source-Repository: %s\n", shared[0]);
	if (!meta)
		return;
	if (meta->promoted_by)
		kpin_buf_addf(out, "Promoted-By: %s\n", meta->promoted_by);
	if (one[1] && shared[1])
		kpin_buf_addf(out, "Release: %s\n", shared[1]);
	if (meta->reason)
		kpin_buf_addf(out, "Reason: %s\n", meta->reason);
	if (meta->run)
		kpin_buf_addf(out, "Run: %s\n", meta->run);
	for (i = 0; i < meta->ntrailers; i++)
		kpin_buf_addf(out, "%s\n", meta->trailers[i]);
}

void kpin_message_build(struct kpin_buf *out,
			const struct kpin_target *targets, size_t n,
			const struct kpin_meta *meta)
{
	const struct kpin_target *t1 = NULL;
	const struct kpin_change *c1 = NULL;
	size_t i, c, count = 0;

	for (i = 0; i < n; i++)
		for (c = 0; c < targets[i].nchanges; c++) {
			if (!described(&targets[i], c) || count++)
				continue;
			t1 = &targets[i];
			c1 = &targets[i].changes[c];
		}
	if (meta && meta->subject) {
		kpin_buf_adds(out, meta->subject);
	} else if (count == 1) {
		kpin_buf_addf(out, "%s/%s: set %s to ", t1->app, t1->env,
			      c1->image);
		add_what(out, c1);
	} else {
		kpin_buf_addf(out, "kpin: apply %zu updates", count);
	}
	kpin_buf_adds(out, "\n\n");
	if (count > 1) {
		for (i = 0; i < n; i++)
			for (c = 0; c < targets[i].nchanges; c++) {
				const struct kpin_change *ch =
					&targets[i].changes[c];

				if (!described(&targets[i], c))
					continue;
				kpin_buf_addf(out, "- %s/%s: %s to ",
					      targets[i].app, targets[i].env,
					      ch->image);
				add_what(out, ch);
				kpin_buf_addch(out, '\n');
			}
		kpin_buf_addch(out, '\n');
	}
	add_trailers(out, targets, n, meta);
}

/* ---- reading them back ------------------------------------------------ */

/* The trailers kpin writes and reads by name; others are listed as-is. */
static const char *const known_keys[] = {
	"Image", "Digest", "Environment", "Tag", "Source-Repository",
	"Release", "Promoted-By", "Promoted-From", "Rollback-From",
	"Rollback-To", "Policy-Override", "Reason", "Run",
};

/* Does @v end with " (for APP/ENV IMAGE)", naming some change? */
static bool names_target(const char *v)
{
	const char *p = NULL, *q;
	size_t len = strlen(v);

	for (q = strstr(v, " " KPIN_TRAILER_FOR); q;
	     q = strstr(q + 1, " " KPIN_TRAILER_FOR))
		p = q;
	if (!p || !len || v[len - 1] != ')')
		return false;
	p += strlen(" " KPIN_TRAILER_FOR);
	q = strchr(p, ' ');
	return q && memchr(p, '/', (size_t)(q - p)) != NULL;
}

/*
 * The value of origin trailer @key for the change @suffix names: its own
 * per-change value, else the one value naming no change (NULL when there
 * are several: an old batch commit did not say whose was whose).
 */
static char *origin_value(const git_message_trailer_array *t, const char *key,
			  const char *suffix)
{
	const char *shared = NULL;
	size_t i, slen = strlen(suffix);
	bool ambiguous = false;

	for (i = 0; i < t->count; i++) {
		const char *v = t->trailers[i].value;
		size_t len = strlen(v);

		if (strcasecmp(t->trailers[i].key, key))
			continue;
		if (len > slen && !strcmp(v + len - slen, suffix))
			return xstrndup(v, len - slen);
		if (names_target(v))
			continue;
		if (shared && strcmp(shared, v))
			ambiguous = true;
		shared = v;
	}
	return shared && !ambiguous ? xstrdup(shared) : NULL;
}

/* Is Policy-Override value @v about @e's change (or about none)? */
static bool override_about(const char *v, const struct kpin_history_entry *e)
{
	struct kpin_buf img = KPIN_BUF_INIT, env = KPIN_BUF_INIT;
	bool about;

	if (!strstr(v, " forced "))
		return true;
	kpin_buf_addf(&img, " forced %s@", e->image);
	kpin_buf_addf(&env, " into %s ", e->env);
	about = strstr(v, img.ptr) && strstr(v, env.ptr);
	kpin_buf_release(&img);
	kpin_buf_release(&env);
	return about;
}

static void push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

void kpin_message_read(struct kpin_history_entry *e, const char *msg)
{
	struct { const char *key; char **slot; } one[] = {
		{ "Promoted-By", &e->promoted_by },
		{ "Promoted-From", &e->promoted_from },
		{ "Rollback-From", &e->rollback_from },
		{ "Rollback-To", &e->rollback_to },
		{ "Reason", &e->reason },
		{ "Run", &e->run },
	};
	struct kpin_buf suffix = KPIN_BUF_INIT, kv = KPIN_BUF_INIT;
	git_message_trailer_array t;
	size_t i, k;

	if (!msg || git_message_trailers(&t, msg))
		return;
	kpin_buf_addf(&suffix, " " KPIN_TRAILER_FOR "%s/%s %s)", e->app,
		      e->env, e->image);
	e->source_repository = origin_value(&t, "Source-Repository",
					    suffix.ptr);
	e->release = origin_value(&t, "Release", suffix.ptr);
	for (i = 0; i < t.count; i++) {
		const char *key = t.trailers[i].key, *v = t.trailers[i].value;

		for (k = 0; k < sizeof(one) / sizeof(one[0]); k++)
			if (!strcasecmp(key, one[k].key) && !*one[k].slot)
				*one[k].slot = xstrdup(v);
		if (!strcasecmp(key, "Policy-Override") &&
		    override_about(v, e))
			push(&e->overrides, &e->noverrides, xstrdup(v));
		for (k = 0; k < sizeof(known_keys) / sizeof(known_keys[0]);
		     k++)
			if (!strcasecmp(key, known_keys[k]))
				break;
		if (k == sizeof(known_keys) / sizeof(known_keys[0])) {
			kpin_buf_addf(&kv, "%s: %s", key, v);
			push(&e->trailers, &e->ntrailers,
			     kpin_buf_detach(&kv, NULL));
		}
	}
	git_message_trailer_array_free(&t);
	kpin_buf_release(&suffix);
}
