/*
 * kpin status: what runs where. The app x environment board of the
 * branch tip (or the remote's, with --remote): per overlay and image the
 * tag, the digest, the commit that set them and who, and how it stands
 * against the environment before it. A table on a terminal, --json
 * (schema 1) or --markdown (also appended to $GITHUB_STEP_SUMMARY);
 * --check fails when an anomaly is found.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kpin/status.h"

/* The version of the --json output; raised when a key changes meaning. */
#define STATUS_SCHEMA 1

static const char status_usage[] =
	"kpin status [--app app] [--env env] [--branch branch] [--root path] "
	"[--remote [remote]] [--token-env name] [--verify] "
	"[--json | --markdown] [--check]";

static const char status_help[] =
	"  --app app             only this application\n"
	"  --env env             only this environment's rows\n"
	"  --branch branch       read branch (default: HEAD's branch)\n"
	"  --root path           the overlays' root (default: .kpin.yaml's)\n"
	"  --remote [remote]     read the branch as remote has it (default: "
	"origin)\n"
	"  --token-env name      with --remote: the token's variable\n"
	"  --verify              check who signed the commit that set each "
	"value\n"
	"  --json                print the board as JSON (schema 1)\n"
	"  --markdown            print it as Markdown, also to "
	"$GITHUB_STEP_SUMMARY\n"
	"  --check               exit 1 when an anomaly is found\n";

/* The drift in words, for the table and Markdown. */
static void describe(struct kpin_buf *b, const struct kpin_status_row *r)
{
	char when[32];

	switch (r->drift) {
	case KPIN_DRIFT_FIRST:
		kpin_buf_adds(b, "-");
		break;
	case KPIN_DRIFT_SYNC:
		kpin_buf_addf(b, "in sync with %s", r->against);
		break;
	case KPIN_DRIFT_BEHIND:
		cli_format_time(when, sizeof(when), r->pending_since, false);
		kpin_buf_addf(b, "behind %s by %zu release%s, pending since %s",
			      r->against, r->behind, r->behind == 1 ? "" : "s",
			      when);
		break;
	case KPIN_DRIFT_UNPROMOTED:
		kpin_buf_addf(b, "UNPROMOTED: %s never held this digest "
			      "(hotfix or skipped stage)", r->against);
		break;
	case KPIN_DRIFT_TAG_ONLY:
		kpin_buf_adds(b, "TAG ONLY: no digest pinned");
		break;
	case KPIN_DRIFT_MISMATCH:
		kpin_buf_addf(b, "MISMATCH: tag and digest disagree with %s",
			      r->against);
		break;
	case KPIN_DRIFT_MISSING:
		kpin_buf_adds(b, "MISSING: no overlay");
		break;
	}
}

enum { C_APP, C_ENV, C_IMAGE, C_TAG, C_DIGEST, C_SINCE, C_COMMIT, C_BY,
       C_SIGNED, C_DRIFT, NCOLS };

/* Is column @k shown? SIGNED only after --verify. */
static bool shown(const struct kpin_status *s, size_t k)
{
	return k != C_SIGNED || s->verified;
}

/* The cells of one row of the table, each a new string. */
static void cells(char *cell[NCOLS], const struct kpin_status_row *r)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	char tmp[64];

	cell[C_APP] = xstrdup(r->app);
	cell[C_ENV] = xstrdup(r->env);
	cell[C_IMAGE] = xstrdup(r->image ? r->image : "-");
	cell[C_TAG] = xstrdup(r->pin.tag ? r->pin.tag : "-");
	cell[C_DIGEST] = xstrdup(r->pin.digest ?
				 cli_short_digest(r->pin.digest, tmp,
						  sizeof(tmp)) : "-");
	if (r->since_commit[0])
		cli_format_time(tmp, sizeof(tmp), r->since_time, false);
	cell[C_SINCE] = xstrdup(r->since_commit[0] ? tmp : "-");
	cell[C_COMMIT] = r->since_commit[0] ?
			 xstrndup(r->since_commit, 12) : xstrdup("-");
	cell[C_BY] = xstrdup(r->since_by ? r->since_by : "-");
	if (r->since_commit[0])
		cli_sig_text(&b, &r->sig);
	else
		kpin_buf_adds(&b, "-");
	cell[C_SIGNED] = kpin_buf_detach(&b, NULL);
	describe(&b, r);
	cell[C_DRIFT] = kpin_buf_detach(&b, NULL);
}

/* Colour only on a terminal, and not when NO_COLOR is set (no-color.org). */
static bool use_colour(void)
{
	const char *no = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(no && *no);
}

static const char *colour_of(enum kpin_drift d)
{
	if (kpin_drift_anomaly(d))
		return "\033[31m";	/* red */
	if (d == KPIN_DRIFT_BEHIND)
		return "\033[33m";	/* yellow */
	if (d == KPIN_DRIFT_SYNC)
		return "\033[32m";	/* green */
	return NULL;
}

static void print_table(const struct kpin_status *s)
{
	static const char *const head[NCOLS] = {
		"APP", "ENV", "IMAGE", "TAG", "DIGEST", "SINCE", "COMMIT",
		"BY", "SIGNED", "DRIFT"
	};
	struct kpin_buf out = KPIN_BUF_INIT;
	size_t width[NCOLS], i, k;
	char *(*cell)[NCOLS] = xcalloc(s->n + 1, sizeof(*cell));
	bool colour = use_colour();

	for (k = 0; k < NCOLS; k++)
		width[k] = strlen(head[k]);
	for (i = 0; i < s->n; i++) {
		cells(cell[i], &s->rows[i]);
		for (k = 0; k < NCOLS; k++)
			if (strlen(cell[i][k]) > width[k])
				width[k] = strlen(cell[i][k]);
	}
	for (k = 0; k + 1 < NCOLS; k++)
		if (shown(s, k))
			kpin_buf_addf(&out, "%-*s  ", (int)width[k], head[k]);
	kpin_buf_addf(&out, "%s\n", head[C_DRIFT]);
	for (i = 0; i < s->n; i++) {
		const char *c = colour ? colour_of(s->rows[i].drift) : NULL;

		for (k = 0; k + 1 < NCOLS; k++)
			if (shown(s, k))
				kpin_buf_addf(&out, "%-*s  ", (int)width[k],
					      cell[i][k]);
		kpin_buf_addf(&out, "%s%s%s\n", c ? c : "", cell[i][C_DRIFT],
			      c ? "\033[0m" : "");
		for (k = 0; k < NCOLS; k++)
			free(cell[i][k]);
	}
	free(cell);
	cli_print_buf(&out);
	kpin_buf_release(&out);
}

static void print_json(const struct kpin_status *s,
		       const struct kpin_policy *p)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	char when[32];
	size_t i;

	kpin_buf_addf(&b, "{\"schema\":%d", STATUS_SCHEMA);
	cli_json_key(&b, "branch", s->branch + 11);
	cli_json_key(&b, "commit", s->tip);
	kpin_buf_adds(&b, ",\"environments\":[");
	for (i = 0; i < p->nenvs; i++) {
		if (i)
			kpin_buf_addch(&b, ',');
		kpin_buf_add_json(&b, p->envs[i]);
	}
	kpin_buf_addf(&b, "],\"complete_history\":%s,\"anomalies\":%zu,"
		      "\"rows\":[", s->truncated ? "false" : "true",
		      s->anomalies);
	for (i = 0; i < s->n; i++) {
		const struct kpin_status_row *r = &s->rows[i];

		kpin_buf_adds(&b, i ? ",{\"app\":" : "{\"app\":");
		kpin_buf_add_json(&b, r->app);
		cli_json_key(&b, "env", r->env);
		cli_json_key(&b, "image", r->image);
		cli_json_key(&b, "file", r->file);
		cli_json_key(&b, "tag", r->pin.tag);
		cli_json_key(&b, "digest", r->pin.digest);
		if (r->since_commit[0]) {
			cli_format_time(when, sizeof(when), r->since_time,
					true);
			kpin_buf_adds(&b, ",\"since\":{\"commit\":");
			kpin_buf_add_json(&b, r->since_commit);
			cli_json_key(&b, "date", when);
			cli_json_key(&b, "author", r->since_author);
			cli_json_key(&b, "by", r->since_by);
			if (s->verified)
				cli_sig_json(&b, &r->sig);
			kpin_buf_addch(&b, '}');
		} else {
			kpin_buf_adds(&b, ",\"since\":null");
		}
		cli_json_key(&b, "drift", kpin_drift_name(r->drift));
		cli_json_key(&b, "against", r->against);
		if (r->drift == KPIN_DRIFT_BEHIND) {
			cli_format_time(when, sizeof(when), r->pending_since,
					true);
			kpin_buf_addf(&b, ",\"behind\":%zu", r->behind);
			cli_json_key(&b, "pending_since", when);
		} else {
			kpin_buf_adds(&b, ",\"behind\":0,"
				      "\"pending_since\":null");
		}
		kpin_buf_addf(&b, ",\"anomaly\":%s}",
			      kpin_drift_anomaly(r->drift) ? "true" : "false");
	}
	kpin_buf_adds(&b, "]}\n");
	cli_print_buf(&b);
	kpin_buf_release(&b);
}

static void markdown(struct kpin_buf *b, const struct kpin_status *s)
{
	size_t i, k;

	kpin_buf_addf(b, "## Status of %s at %.12s\n\n", s->branch + 11,
		      s->tip);
	kpin_buf_addf(b, "| App | Environment | Image | Tag | Digest | Since | "
		      "Commit | By |%s Drift |\n| --- | --- | --- | --- | --- | "
		      "--- | --- | --- |%s --- |\n", s->verified ? " Signed |" :
		      "", s->verified ? " --- |" : "");
	for (i = 0; i < s->n; i++) {
		char *cell[NCOLS];

		cells(cell, &s->rows[i]);
		kpin_buf_addch(b, '|');
		for (k = 0; k < NCOLS; k++) {
			if (shown(s, k))
				cli_md_cell(b, cell[k], INT_MAX);
			free(cell[k]);
		}
		kpin_buf_addch(b, '\n');
	}
	kpin_buf_addf(b, "\n%zu anomal%s.\n", s->anomalies,
		      s->anomalies == 1 ? "y" : "ies");
}

/* Print the Markdown, and append it to $GITHUB_STEP_SUMMARY when set. */
static int print_markdown(const struct kpin_status *s)
{
	const char *summary = getenv("GITHUB_STEP_SUMMARY");
	struct kpin_buf b = KPIN_BUF_INIT;
	int status = EXIT_OK;
	FILE *f;

	markdown(&b, s);
	cli_print_buf(&b);
	if (summary && *summary) {
		f = fopen(summary, "a");
		if (!f || fwrite(b.ptr, 1, b.len, f) != b.len) {
			status = cli_error("cannot append to '%s' "
					   "(GITHUB_STEP_SUMMARY): %s",
					   summary, strerror(errno));
		}
		if (f && fclose(f) && status == EXIT_OK)
			status = cli_error("cannot write '%s' "
					   "(GITHUB_STEP_SUMMARY): %s",
					   summary, strerror(errno));
	}
	kpin_buf_release(&b);
	return status;
}

/* --verify: the verdict on each row's since_commit. */
static int verify_rows(struct kpin_status *s, struct kpin_repo *repo)
{
	struct kpin_sign_config cfg;
	int status = EXIT_OK;

	if (kpin_sign_config_read(&cfg, repo) ||
	    kpin_status_verify(s, repo, cfg.allowed_signers))
		status = cli_fail(NULL);
	kpin_sign_config_release(&cfg);
	return status;
}

/*
 * After --verify, say so when a value was set by a badly signed commit,
 * or, under "signing: required", by one not signed by an allowed signer.
 */
static bool badly_signed(const struct kpin_status *s, bool required)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		if (s->rows[i].since_commit[0] &&
		    cli_sig_failed(&s->rows[i].sig, required))
			n++;
	if (n)
		cli_error("%zu value%s set by a commit %s", n, n == 1 ?
			  " was" : "s were", required ? "not signed by an "
			  "allowed signer (signing: required in "
			  KPIN_POLICY_FILE ")" : "badly signed");
	return n != 0;
}

static const struct option status_options[] = {
	{ "app", required_argument, NULL, 'a' },
	{ "env", required_argument, NULL, 'e' },
	{ "branch", required_argument, NULL, 'b' },
	{ "root", required_argument, NULL, 'r' },
	{ "remote", optional_argument, NULL, 'R' },
	{ "token-env", required_argument, NULL, 't' },
	{ "json", no_argument, NULL, 'j' },
	{ "markdown", no_argument, NULL, 'm' },
	{ "check", no_argument, NULL, 'c' },
	{ "verify", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int cmd_status(int argc, char **argv)
{
	const char *app = NULL, *env = NULL, *root = NULL;
	struct kpin_repo *repo = NULL;
	struct kpin_policy policy;
	struct kpin_status s;
	struct cli_commit view;
	bool json = false, md = false, check = false, verify = false;
	int c, status;

	memset(&s, 0, sizeof(s));
	cli_commit_init(&view);
	view.dry_run = true;	/* --remote: fetch, but move no ref */
	while ((c = cli_getopt(argc, argv, "+h", status_options)) != -1) {
		switch (c) {
		case 'a':
			app = optarg;
			break;
		case 'e':
			env = optarg;
			break;
		case 'b':
			view.branch = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'R':
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			view.push = optarg ? optarg : "origin";
			if (!*view.push)
				return cli_usage_error(&cmd_status_entry,
					"--remote needs a remote name or URL");
			break;
		case 't':
			view.token_env = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'm':
			md = true;
			break;
		case 'c':
			check = true;
			break;
		case 'V':
			verify = true;
			break;
		case 'h':
			return cli_usage(&cmd_status_entry, true);
		default:
			return cli_unknown_option(&cmd_status_entry, argv);
		}
	}
	status = cli_no_operands(&cmd_status_entry, argc, argv);
	if (!status)
		status = cli_one_format(&cmd_status_entry, json, md);
	if (status)
		return status;
	status = cli_open_repo(&repo, &policy, view.branch,
			       view.push ? &view : NULL);
	if (status)
		goto out;
	if (kpin_repo_status(&s, repo, view.branch, &policy, root, app,
			     env)) {
		status = cli_fail(NULL);
		goto out;
	}
	if (verify) {
		status = verify_rows(&s, repo);
		if (status)
			goto out;
	}
	if (json)
		print_json(&s, &policy);
	else if (md)
		status = print_markdown(&s);
	else
		print_table(&s);
	if (!s.n)
		cli_note("no overlay found under '%s'", root ? root :
			 policy.root);
	if (s.truncated)
		cli_note("warning: the history stops at a missing parent (a "
			 "shallow clone?): dates, 'behind' and 'unpromoted' "
			 "only see that far (git fetch --unshallow completes "
			 "it)");
	if (verify && badly_signed(&s, policy.signing_required))
		status = EXIT_FAIL;
	if (check && s.anomalies) {
		cli_note("%zu anomal%s found", s.anomalies,
			 s.anomalies == 1 ? "y" : "ies");
		status = EXIT_FAIL;
	}
out:
	kpin_status_release(&s);
	kpin_policy_release(&policy);
	kpin_repo_free(repo);
	return status;
}

const struct kpin_cmd cmd_status_entry = {
	.name = "status",
	.usage = status_usage,
	.options = status_help,
	.summary = "show what runs where: the app x environment board",
	.exec = cmd_status,
	.flags = KPIN_CMD_NEED_REPO,
};
