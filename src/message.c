/*
 * Commit messages: a subject a person can read in "git log --oneline",
 * and git trailers a program can query ("git log --format=%(trailers)").
 */
#include <string.h>

#include "kpin/repo.h"

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

void kpin_message_build(struct kpin_buf *out,
			const struct kpin_target *targets, size_t n,
			const struct kpin_meta *meta)
{
	const struct kpin_target *t1 = NULL;
	const struct kpin_change *c1 = NULL;
	size_t i, c, count = 0;

	for (i = 0; i < n; i++)
		for (c = 0; c < targets[i].nchanges; c++)
			if (effective(&targets[i].changes[c],
				      targets[i].old ? &targets[i].old[c] :
				      NULL)) {
				if (!count++) {
					t1 = &targets[i];
					c1 = &targets[i].changes[c];
				}
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

				if (!effective(ch, targets[i].old ?
					       &targets[i].old[c] : NULL))
					continue;
				kpin_buf_addf(out, "- %s/%s: %s to ",
					      targets[i].app, targets[i].env,
					      ch->image);
				add_what(out, ch);
				kpin_buf_addch(out, '\n');
			}
		kpin_buf_addch(out, '\n');
	}
	for (i = 0; i < n; i++)
		for (c = 0; c < targets[i].nchanges; c++) {
			const struct kpin_change *ch = &targets[i].changes[c];

			if (!effective(ch, targets[i].old ? &targets[i].old[c] :
				       NULL))
				continue;
			kpin_buf_addf(out, "Image: %s\n", ch->image);
			if (ch->digest)
				kpin_buf_addf(out, "Digest: %s\n", ch->digest);
			kpin_buf_addf(out, "Environment: %s\n",
				      targets[i].env);
			if (ch->tag)
				kpin_buf_addf(out, "Tag: %s\n", ch->tag);
		}
	if (!meta)
		return;
	if (meta->source_repository)
		kpin_buf_addf(out, "Source-Repository: %s\n",
			      meta->source_repository);
	if (meta->promoted_by)
		kpin_buf_addf(out, "Promoted-By: %s\n", meta->promoted_by);
	if (meta->release)
		kpin_buf_addf(out, "Release: %s\n", meta->release);
	for (i = 0; i < meta->ntrailers; i++)
		kpin_buf_addf(out, "%s\n", meta->trailers[i]);
}
