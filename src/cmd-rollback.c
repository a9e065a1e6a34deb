/*
 * kpin rollback: set an image back to a digest its overlay held before,
 * found in the overlay's own history (the previous distinct digest, N
 * steps back, or a named one), through the same path as set, with
 * Rollback-From and Rollback-To trailers.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char rollback_usage[] =
	"kpin rollback --app app --env env [--image name] "
	"[--to digest | --steps n] " CLI_COMMIT_USAGE;

static const char rollback_help[] =
	"  --app app             the overlay's directory name\n"
	"  --env env             the overlay's environment\n"
	"  --image name          the entry to roll back (needed when several pin)\n"
	"  --to digest           go back to this digest, held before\n"
	"  --steps n             go back n distinct digests (default: 1)\n"
	CLI_COMMIT_HELP;

enum { OPT_APP = 256, OPT_ENV, OPT_IMAGE, OPT_TO, OPT_STEPS };

static const struct option rollback_options[] = {
	{ "app", required_argument, NULL, OPT_APP },
	{ "env", required_argument, NULL, OPT_ENV },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "to", required_argument, NULL, OPT_TO },
	{ "steps", required_argument, NULL, OPT_STEPS },
	{ "help", no_argument, NULL, 'h' },
	CLI_COMMIT_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

struct rollback {
	const char *app;
	const char *env;
	const char *image;
	const char *to;
	unsigned long steps;
	struct cli_commit commit;
	/* what was found */
	char *name;		/* the image */
	struct kpin_pin from;	/* what it pins now */
	struct kpin_pin target;	/* what to go back to */
};

/* The only image of the overlay's history, when --image was not given. */
static int pick_image(struct rollback *rb,
		      const struct kpin_history_entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!v[i].pin.digest)
			continue;
		if (!rb->name)
			rb->name = xstrdup(v[i].image);
		else if (strcmp(rb->name, v[i].image))
			return cli_usage_error(&cmd_rollback_entry, "%s/%s pins "
					       "more than one image: choose one "
					       "with --image", rb->app, rb->env);
	}
	if (!rb->name)
		return cli_error("%s/%s never pinned a digest: nothing to roll "
				 "back", rb->app, rb->env) + 3;
	return EXIT_OK;
}

/* Choose the target from the history (newest first) of rb->name. */
static int pick_target(struct rollback *rb,
		       const struct kpin_history_entry *v, size_t n)
{
	const struct kpin_history_entry *cur = NULL, *hit = NULL;
	const char **seen = xcalloc(n + 1, sizeof(*seen));
	size_t i, j, nseen = 0;

	for (i = 0; i < n && !cur; i++)
		if (!strcmp(v[i].image, rb->name))
			cur = &v[i];
	if (!cur || !cur->pin.digest) {
		free(seen);
		return cli_error("image '%s' pins no digest in %s/%s now",
				 rb->name, rb->app, rb->env) + 3;
	}
	/*
	 * N steps back, in release order: the digests in the order they
	 * first appeared, and N before the current one. A rollback commit
	 * re-pins an old digest without making it new, so rolling back
	 * twice from D3 goes to D2, then D1, not back to D3.
	 */
	for (i = n; i-- > (size_t)(cur - v) + 1;) {
		if (strcmp(v[i].image, rb->name) || !v[i].pin.digest)
			continue;
		if (rb->to) {
			if (!strcmp(v[i].pin.digest, rb->to))
				hit = &v[i];
			continue;
		}
		for (j = 0; j < nseen && strcmp(seen[j], v[i].pin.digest); j++)
			;
		if (j == nseen)
			seen[nseen++] = v[i].pin.digest;
	}
	if (!rb->to) {
		for (j = 0; j < nseen && strcmp(seen[j], cur->pin.digest); j++)
			;
		/* not seen before the current commit: it is the newest */
		if (j >= rb->steps) {
			const char *want = seen[j - rb->steps];

			/* the newest entry that pinned it, for its tag */
			for (i = (size_t)(cur - v) + 1; !hit; i++)
				if (!strcmp(v[i].image, rb->name) &&
				    v[i].pin.digest &&
				    !strcmp(v[i].pin.digest, want))
					hit = &v[i];
		}
	}
	free(seen);
	rb->from.digest = xstrdup(cur->pin.digest);
	rb->from.tag = cur->pin.tag ? xstrdup(cur->pin.tag) : NULL;
	if (hit) {
		rb->target.digest = xstrdup(hit->pin.digest);
		rb->target.tag = hit->pin.tag ? xstrdup(hit->pin.tag) : NULL;
		return EXIT_OK;
	}
	if (rb->to && rb->commit.force) {
		/* not in the history, and the user insists */
		rb->target.digest = xstrdup(rb->to);
		return EXIT_OK;
	}
	if (rb->to)
		return cli_error("%s/%s never held %s for image '%s' (--force "
				 "sets it anyway)", rb->app, rb->env, rb->to,
				 rb->name) + 3;
	return cli_error("image '%s' in %s/%s has no digest %lu step%s back",
			 rb->name, rb->app, rb->env, rb->steps,
			 rb->steps == 1 ? "" : "s") + 3;
}

static int find_target(struct rollback *rb)
{
	struct kpin_repo *repo = NULL;
	struct kpin_policy policy;
	struct kpin_history_entry *v = NULL;
	size_t n = 0;
	int status;

	status = cli_open_repo(&repo, &policy, rb->commit.branch,
			       &rb->commit);
	if (status)
		goto out;
	if (kpin_policy_check_env(&policy, rb->env) ||
	    kpin_repo_history(&v, &n, repo, rb->commit.branch,
			      rb->commit.root ? rb->commit.root : policy.root,
			      rb->app, rb->env, rb->image, 0)) {
		status = cli_fail(NULL);
		goto out;
	}
	if (rb->image)
		rb->name = xstrdup(rb->image);
	else
		status = pick_image(rb, v, n);
	if (!status)
		status = pick_target(rb, v, n);
out:
	kpin_history_free(v, n);
	kpin_policy_release(&policy);
	kpin_repo_free(repo);
	return status;
}

static int add_trailer(struct cli_commit *c, const char *key,
		       const char *value)
{
	struct kpin_buf b = KPIN_BUF_INIT;

	kpin_buf_addf(&b, "%s: %s", key, value);
	c->trailers = xreallocarray(c->trailers, c->ntrailers + 1,
				    sizeof(*c->trailers));
	c->trailers[c->ntrailers++] = kpin_buf_detach(&b, NULL);
	return 0;
}

static int cmd_rollback(int argc, char **argv)
{
	struct rollback rb;
	struct kpin_change change;
	struct kpin_target t;
	struct kpin_buf subject = KPIN_BUF_INIT;
	char *end, a[32], b[32];
	int c, status;

	memset(&rb, 0, sizeof(rb));
	cli_commit_init(&rb.commit);
	while ((c = cli_getopt(argc, argv, "+h", rollback_options)) != -1) {
		switch (c) {
		case OPT_APP:
			rb.app = optarg;
			continue;
		case OPT_ENV:
			rb.env = optarg;
			continue;
		case OPT_IMAGE:
			rb.image = optarg;
			continue;
		case OPT_TO:
			rb.to = optarg;
			continue;
		case OPT_STEPS:
			rb.steps = strtoul(optarg, &end, 10);
			if (*end || !*optarg || *optarg == '-' || !rb.steps) {
				status = cli_usage_error(&cmd_rollback_entry,
					"invalid --steps '%s'", optarg);
				goto out;
			}
			continue;
		case 'h':
			status = cli_usage(&cmd_rollback_entry, true);
			goto out;
		}
		status = cli_commit_option(&rb.commit, &cmd_rollback_entry, c,
					   optarg, argc, argv);
		if (status)
			goto out;
	}
	status = cli_no_operands(&cmd_rollback_entry, argc, argv);
	if (status)
		goto out;
	if (!rb.app || !rb.env) {
		status = cli_usage_error(&cmd_rollback_entry, "--app and --env "
					 "are required");
		goto out;
	}
	if (rb.to && rb.steps) {
		status = cli_usage_error(&cmd_rollback_entry, "give --to or "
					 "--steps, not both");
		goto out;
	}
	if (rb.to && kpin_grammar_check(KPIN_GRAMMAR_DIGEST, "--to", rb.to)) {
		status = cli_fail(NULL);
		goto out;
	}
	if (!rb.steps)
		rb.steps = 1;
	status = find_target(&rb);
	if (status)
		goto out;
	memset(&change, 0, sizeof(change));
	change.image = rb.name;
	change.digest = rb.target.digest;
	change.tag = rb.target.tag;
	if (!rb.target.tag && rb.from.tag)
		cli_note("warning: keeping newTag '%s': %s was pinned without "
			 "a tag, and kpin does not remove keys", rb.from.tag,
			 cli_short_digest(rb.target.digest, a, sizeof(a)));
	if (!rb.commit.message) {
		kpin_buf_addf(&subject, "%s/%s: roll back %s to %s (from %s)",
			      rb.app, rb.env, rb.name,
			      cli_short_digest(rb.target.digest, a, sizeof(a)),
			      cli_short_digest(rb.from.digest, b, sizeof(b)));
		rb.commit.message = subject.ptr;
	}
	add_trailer(&rb.commit, "Rollback-From", rb.from.digest);
	add_trailer(&rb.commit, "Rollback-To", rb.target.digest);
	rb.commit.meta.promoted_by = cli_actor();
	memset(&t, 0, sizeof(t));
	t.app = rb.app;
	t.env = rb.env;
	t.changes = &change;
	t.nchanges = 1;
	status = cli_commit_run(&rb.commit, &t, 1);
	kpin_target_release(&t);
out:
	free(rb.name);
	kpin_pin_release(&rb.from);
	kpin_pin_release(&rb.target);
	kpin_buf_release(&subject);
	cli_commit_release(&rb.commit);
	return status;
}

const struct kpin_cmd cmd_rollback_entry = {
	.name = "rollback",
	.usage = rollback_usage,
	.options = rollback_help,
	.summary = "set an image back to a digest it had before",
	.exec = cmd_rollback,
	.flags = KPIN_CMD_NEED_REPO,
};
