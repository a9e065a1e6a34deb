/*
 * kpin apply: the dispatch, however it arrived. One request is assembled
 * from (in order of precedence) flags named like the platform action's
 * inputs, --event, --payload, stdin and INPUT_* variables; or a batch of
 * requests is read from --batch. Every request is validated before
 * anything is written; a batch is one commit, and any invalid or
 * conflicting request means no commit at all.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kpin/request.h"

static const char apply_usage[] =
	"kpin apply [--event file | --payload json | --batch file | -] "
	"[--repository repo] [--image-name name] [--directory-name dir] "
	"[--environment env] [--digest digest] [--tag tag] [--release name] "
	"[--create] " CLI_COMMIT_USAGE;

static const char apply_help[] =
	"  --event file          read the request from an event file (- for stdin)\n"
	"  --payload json        read the request from this JSON object\n"
	"  --batch file          apply every request of a JSON array or JSON lines\n"
	"  -                     read the request from stdin\n"
	"  --repository repo     the repository the image was built from\n"
	"  --image-name name     the images entry to change\n"
	"  --directory-name dir  the app: the overlay's directory name\n"
	"  --environment env     the overlay's environment\n"
	"  --digest digest       the new digest\n"
	"  --tag tag             the new newTag\n"
	"  --release name        record a Release: trailer\n"
	"  --create              add the entry when it is missing\n"
	CLI_COMMIT_HELP;

enum {
	OPT_EVENT = 256, OPT_PAYLOAD, OPT_BATCH, OPT_REPOSITORY,
	OPT_IMAGE_NAME, OPT_DIRECTORY_NAME, OPT_ENVIRONMENT, OPT_DIGEST,
	OPT_TAG, OPT_RELEASE, OPT_CREATE
};

static const struct option apply_options[] = {
	{ "event", required_argument, NULL, OPT_EVENT },
	{ "payload", required_argument, NULL, OPT_PAYLOAD },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "repository", required_argument, NULL, OPT_REPOSITORY },
	{ "image-name", required_argument, NULL, OPT_IMAGE_NAME },
	{ "directory-name", required_argument, NULL, OPT_DIRECTORY_NAME },
	{ "environment", required_argument, NULL, OPT_ENVIRONMENT },
	{ "digest", required_argument, NULL, OPT_DIGEST },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "release", required_argument, NULL, OPT_RELEASE },
	{ "create", no_argument, NULL, OPT_CREATE },
	{ "help", no_argument, NULL, 'h' },
	CLI_COMMIT_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

struct apply_opts {
	const char *event;
	const char *payload;
	const char *batch;
	bool use_stdin;
	unsigned flags;
	struct kpin_request flags_req;	/* borrowed strings from argv */
	struct cli_commit commit;
};

/*
 * Read request source @path (a file, or "-": stdin) given with option
 * @opt, with a cap. A file that cannot be read is bad input (exit 3), not
 * a missing overlay: the message names the option.
 */
static int read_source(struct kpin_buf *out, const char *opt,
		       const char *path, size_t max)
{
	char chunk[65536];
	ssize_t n;
	int rc;

	if (strcmp(path, "-")) {
		rc = kpin_file_read(out, path, max, NULL);
		if (rc) {
			struct kpin_buf m = KPIN_BUF_INIT;

			kpin_buf_addf(&m, "%s %s: %s", opt, path,
				      kpin_error_last()->message);
			rc = kpin_error_set(rc == KPIN_ENOTFOUND ?
					    KPIN_EINVALID : rc, "%s", m.ptr);
			kpin_buf_release(&m);
		}
		return rc;
	}
	kpin_buf_reset(out);
	kpin_buf_grow(out, 0);
	while ((n = read(0, chunk, sizeof(chunk))) > 0) {
		if (out->len + (size_t)n > max)
			return kpin_error_set(KPIN_EINVALID, "input is over the "
					      "limit of %zu bytes", max);
		kpin_buf_add(out, chunk, (size_t)n);
	}
	if (n < 0)
		return kpin_error_set(KPIN_ERROR, "cannot read stdin");
	return 0;
}

/* Fill @r from the flags, then every other source, in precedence order. */
static int assemble(struct kpin_request *r, const struct apply_opts *o)
{
	const struct kpin_request *f = &o->flags_req;
	struct kpin_buf b = KPIN_BUF_INIT;
	int rc = 0;

	kpin_request_fill(r, "repository", f->repository, "--repository");
	kpin_request_fill(r, "image-name", f->image, "--image-name");
	kpin_request_fill(r, "directory-name", f->app, "--directory-name");
	kpin_request_fill(r, "environment", f->env, "--environment");
	kpin_request_fill(r, "digest", f->digest, "--digest");
	kpin_request_fill(r, "tag", f->tag, "--tag");
	kpin_request_fill(r, "release", f->release, "--release");
	if (o->event) {
		r->where = xstrdup(o->event);	/* for fields it lacks */
		rc = read_source(&b, "--event", o->event, KPIN_EVENT_MAX);
		if (!rc)
			rc = kpin_request_fill_json(r, b.ptr, b.len,
						    o->event);
	}
	if (!rc && o->payload) {
		if (strlen(o->payload) > KPIN_PAYLOAD_MAX)
			rc = kpin_error_set(KPIN_EINVALID, "--payload is over "
					    "the limit of %u bytes",
					    KPIN_PAYLOAD_MAX);
		else
			rc = kpin_request_fill_json(r, o->payload,
						    strlen(o->payload),
						    "--payload");
		if (!r->where)
			r->where = xstrdup("--payload");
	}
	if (!rc && o->use_stdin) {
		rc = read_source(&b, "-", "-", KPIN_EVENT_MAX);
		if (!rc)
			rc = kpin_request_fill_json(r, b.ptr, b.len, "stdin");
		if (!r->where)
			r->where = xstrdup("stdin");
	}
	if (!rc)
		kpin_request_fill_env(r);
	kpin_buf_release(&b);
	return rc;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Does @r name an image in an overlay (enough to compare it)? */
static bool complete(const struct kpin_request *r)
{
	return r->app && r->env && r->image;
}

/*
 * Turn validated requests into one target per overlay. Identical
 * duplicates collapse; two requests that disagree about one image of
 * one overlay are a problem, listed in @problems[i] of the later one.
 */
static size_t build_targets(struct kpin_target **out, size_t *nout,
			    struct kpin_change **changes,
			    struct kpin_origin **origins,
			    const struct kpin_request *r, size_t n,
			    unsigned flags, struct kpin_buf *problems)
{
	struct kpin_target *t = xcalloc(n + 1, sizeof(*t));
	struct kpin_change *c = xcalloc(n + 1, sizeof(*c));
	struct kpin_origin *o = xcalloc(n + 1, sizeof(*o));
	size_t *owner = xcalloc(n + 1, sizeof(*owner));
	size_t nt = 0, i, j, bad = 0;

	/* order changes by target: first the distinct overlays */
	for (i = 0; i < n; i++) {
		owner[i] = i;
		if (!complete(&r[i]))
			continue;	/* its problems are listed already */
		for (j = 0; j < i; j++) {
			if (!complete(&r[j]))
				continue;
			if (strcmp(r[j].app, r[i].app) ||
			    strcmp(r[j].env, r[i].env) ||
			    strcmp(r[j].image, r[i].image))
				continue;
			if (!same(r[j].digest, r[i].digest) ||
			    !same(r[j].tag, r[i].tag)) {
				kpin_buf_addf(&problems[i], "%s: sets image '%s' in "
					      "%s/%s differently from %s\n",
					      r[i].where ? r[i].where :
					      "request", r[i].image, r[i].app,
					      r[i].env, r[j].where ? r[j].where :
					      "the request before");
				bad++;
			}
			break;
		}
		owner[i] = j;	/* == i when first of its kind */
	}
	for (i = 0; i < n; i++) {
		size_t k;

		if (owner[i] != i || !complete(&r[i]))
			continue;
		for (k = 0; k < nt; k++)
			if (!strcmp(t[k].app, r[i].app) &&
			    !strcmp(t[k].env, r[i].env))
				break;
		if (k == nt) {
			t[nt].app = r[i].app;
			t[nt].env = r[i].env;
			t[nt].flags = flags;
			nt++;
		}
	}
	/* lay the changes out contiguously per target */
	{
		size_t at = 0, k;

		for (k = 0; k < nt; k++) {
			t[k].changes = c + at;
			t[k].origins = o + at;
			for (i = 0; i < n; i++) {
				if (owner[i] != i || !complete(&r[i]) ||
				    strcmp(t[k].app, r[i].app) ||
				    strcmp(t[k].env, r[i].env))
					continue;
				c[at].image = r[i].image;
				c[at].digest = r[i].digest;
				c[at].tag = r[i].tag;
				o[at].source_repository = r[i].repository;
				o[at].release = r[i].release;
				at++;
				t[k].nchanges++;
			}
		}
	}
	free(owner);
	*out = t;
	*nout = nt;
	*changes = c;
	*origins = o;
	return bad;
}

/* Field @k's origin in @r (none: -1), else where @r came from. */
static const char *origin_of(const struct kpin_request *r, int k)
{
	return k >= 0 && r->origin[k] ? r->origin[k] : r->where ? r->where :
	       "request";
}

/*
 * What only the repository can tell: each request's environment is one
 * the policy knows and its overlay exists. Problems go to @problems[i];
 * returns how many, and raises *@notfound for a missing overlay.
 */
static size_t check_in_repo(struct kpin_repo *repo,
			    const struct kpin_policy *policy,
			    const struct cli_commit *c,
			    const struct kpin_request *r, size_t n,
			    struct kpin_buf *problems, size_t *notfound)
{
	struct kpin_buf path = KPIN_BUF_INIT;
	size_t i, bad = 0;
	int rc;

	for (i = 0; i < n; i++) {
		if (problems[i].len || !complete(&r[i]))
			continue;
		if (kpin_policy_check_env(policy, r[i].env)) {
			kpin_buf_addf(&problems[i], "%s: %s\n",
				      origin_of(&r[i], 3),
				      kpin_error_last()->message);
			bad++;
			continue;
		}
		rc = kpin_repo_overlay_path(&path, repo, c->branch,
					    c->root ? c->root : policy->root,
					    r[i].app, r[i].env);
		if (rc) {
			kpin_buf_addf(&problems[i], "%s: %s\n",
				      origin_of(&r[i], 2),
				      kpin_error_last()->message);
			bad++;
			*notfound += rc == KPIN_ENOTFOUND;
		}
		kpin_buf_reset(&path);
	}
	kpin_buf_release(&path);
	return bad;
}

/* Read the requests: the batch, or one assembled from every source. */
static int read_requests(struct kpin_request **reqs, size_t *n,
			 const struct apply_opts *o)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	int status = EXIT_OK;

	if (o->batch) {
		if (read_source(&b, "--batch", o->batch, KPIN_BATCH_MAX))
			status = cli_fail(NULL);
		else if (kpin_request_batch(reqs, n, b.ptr, b.len, o->batch))
			status = cli_fail(NULL);
	} else {
		*reqs = xcalloc(1, sizeof(**reqs));
		*n = 1;
		if (assemble(*reqs, o))
			status = cli_fail(NULL);
	}
	kpin_buf_release(&b);
	return status;
}

/*
 * Every problem of every request, in input order, in one pass: what the
 * requests say, what they say to each other, then what the repository
 * says about them. Nothing is committed unless there is none.
 */
static int apply(struct apply_opts *o)
{
	struct kpin_request *reqs = NULL;
	struct kpin_target *targets = NULL;
	struct kpin_change *changes = NULL;
	struct kpin_buf *problems = NULL;
	struct kpin_repo *repo = NULL;
	struct kpin_policy policy;
	size_t n = 0, nt = 0, i, bad = 0, notfound = 0;
	struct kpin_origin *origins = NULL;
	int status;

	kpin_policy_init(&policy);
	status = read_requests(&reqs, &n, o);
	if (status)
		goto out;
	problems = xcalloc(n, sizeof(*problems));
	for (i = 0; i < n; i++) {
		if (reqs[i].error) {
			kpin_buf_addf(&problems[i], "%s\n", reqs[i].error);
			bad++;
		} else {
			bad += kpin_request_check(&reqs[i], origin_of(&reqs[i],
						  -1), &problems[i]);
		}
	}
	bad += build_targets(&targets, &nt, &changes, &origins, reqs, n,
			     o->flags, problems);
	kpin_policy_release(&policy);
	status = cli_open_repo(&repo, &policy, o->commit.branch, &o->commit);
	if (!status)
		bad += check_in_repo(repo, &policy, &o->commit, reqs, n,
				     problems, &notfound);
	for (i = 0; i < n; i++)
		cli_problems(kpin_buf_cstr(&problems[i]));
	if (status)
		goto out;
	if (bad) {
		cli_error("%zu problem%s; nothing committed", bad,
			  bad == 1 ? "" : "s");
		status = notfound == bad ? EXIT_NOTFOUND : EXIT_INVALID;
		goto out;
	}
	o->commit.meta.promoted_by = cli_actor();
	status = cli_commit_in(&o->commit, repo, &policy, targets, nt);
	for (i = 0; i < nt; i++)
		kpin_target_release(&targets[i]);
out:
	for (i = 0; problems && i < n; i++)
		kpin_buf_release(&problems[i]);
	free(problems);
	kpin_request_free_all(reqs, n);
	free(targets);
	free(changes);
	kpin_policy_release(&policy);
	kpin_repo_free(repo);
	free(origins);
	return status;
}

static int cmd_apply(int argc, char **argv)
{
	struct apply_opts o;
	struct kpin_request *f = &o.flags_req;
	int c, status, sources;

	memset(&o, 0, sizeof(o));
	cli_commit_init(&o.commit);
	/* permuting: "-" (stdin) may stand anywhere among the options */
	while ((c = cli_getopt(argc, argv, "h", apply_options)) != -1) {
		switch (c) {
		case OPT_EVENT:
			o.event = optarg;
			continue;
		case OPT_PAYLOAD:
			o.payload = optarg;
			continue;
		case OPT_BATCH:
			o.batch = optarg;
			continue;
		case OPT_REPOSITORY:
			f->repository = optarg;
			continue;
		case OPT_IMAGE_NAME:
			f->image = optarg;
			continue;
		case OPT_DIRECTORY_NAME:
			f->app = optarg;
			continue;
		case OPT_ENVIRONMENT:
			f->env = optarg;
			continue;
		case OPT_DIGEST:
			f->digest = optarg;
			continue;
		case OPT_TAG:
			f->tag = optarg;
			continue;
		case OPT_RELEASE:
			f->release = optarg;
			continue;
		case OPT_CREATE:
			o.flags |= KPIN_KUST_CREATE;
			continue;
		case 'h':
			status = cli_usage(&cmd_apply_entry, true);
			goto out;
		}
		status = cli_commit_option(&o.commit, &cmd_apply_entry, c,
					   optarg, argc, argv);
		if (status)
			goto out;
	}
	/* "-": the request on stdin */
	for (; optind < argc && !strcmp(argv[optind], "-"); optind++)
		o.use_stdin = true;
	status = cli_no_operands(&cmd_apply_entry, argc, argv);
	if (status)
		goto out;
	sources = !!o.event + !!o.payload + o.use_stdin;
	if (o.batch && (sources || f->repository || f->image || f->app ||
			f->env || f->digest || f->tag || f->release)) {
		status = cli_usage_error(&cmd_apply_entry, "--batch takes no "
					 "other request source");
		goto out;
	}
	status = apply(&o);
out:
	cli_commit_release(&o.commit);
	return status;
}

const struct kpin_cmd cmd_apply_entry = {
	.name = "apply",
	.usage = apply_usage,
	.options = apply_help,
	.summary = "apply a dispatched promotion (flags, event, payload, "
		   "batch)",
	.exec = cmd_apply,
	.flags = KPIN_CMD_NEED_REPO,
};
