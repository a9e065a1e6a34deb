/*
 * kpin history: which commits changed what an overlay pins, read from
 * the overlay's own versions along the branch's first-parent history, so
 * hand edits and merges show as well as kpin's commits.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char history_usage[] =
	"kpin history --app app --env env [--image name] [-n count] "
	"[--branch branch] [--root path] [--json]";

static void add_opt_json(struct kpin_buf *b, const char *key, const char *v)
{
	kpin_buf_addf(b, ",\"%s\":", key);
	kpin_buf_add_json(b, v);
}

/* UTC, "2026-11-20 14:02" or ISO 8601 "2026-11-20T14:02:11Z". */
static void format_time(char *out, size_t size, long long t, bool iso)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (iso)
		strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		strftime(out, size, "%Y-%m-%d %H:%M", &tm);
}

static void print_text(const struct kpin_history_entry *v, size_t n)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	char when[32], tmp[32];
	size_t i;

	for (i = 0; i < n; i++) {
		format_time(when, sizeof(when), v[i].time, false);
		kpin_buf_addf(&b, "%.12s  %s  %s  %s  %s  %.*s", v[i].commit, when,
			      v[i].image, v[i].pin.digest ?
			      cli_short_digest(v[i].pin.digest, tmp,
					       sizeof(tmp)) : "-",
			      v[i].pin.tag ? v[i].pin.tag : "-",
			      (int)strcspn(v[i].author, "<") -
			      (strchr(v[i].author, '<') ? 1 : 0), v[i].author);
		if (v[i].promoted_by)
			kpin_buf_addf(&b, "  promoted by %s", v[i].promoted_by);
		if (v[i].source_repository)
			kpin_buf_addf(&b, "  from %s", v[i].source_repository);
		if (v[i].release)
			kpin_buf_addf(&b, "  release %s", v[i].release);
		kpin_buf_addch(&b, '\n');
	}
	cli_print_buf(&b);
	kpin_buf_release(&b);
}

static void print_json(const struct kpin_history_entry *v, size_t n)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	char when[32];
	size_t i;

	kpin_buf_addch(&b, '[');
	for (i = 0; i < n; i++) {
		format_time(when, sizeof(when), v[i].time, true);
		kpin_buf_adds(&b, i ? ",{\"commit\":" : "{\"commit\":");
		kpin_buf_add_json(&b, v[i].commit);
		add_opt_json(&b, "date", when);
		add_opt_json(&b, "author", v[i].author);
		add_opt_json(&b, "subject", v[i].subject);
		add_opt_json(&b, "image", v[i].image);
		add_opt_json(&b, "digest", v[i].pin.digest);
		add_opt_json(&b, "tag", v[i].pin.tag);
		add_opt_json(&b, "promoted_by", v[i].promoted_by);
		add_opt_json(&b, "source_repository", v[i].source_repository);
		add_opt_json(&b, "release", v[i].release);
		kpin_buf_addch(&b, '}');
	}
	kpin_buf_adds(&b, "]\n");
	cli_print_buf(&b);
	kpin_buf_release(&b);
}

static const struct option history_options[] = {
	{ "app", required_argument, NULL, 'a' },
	{ "env", required_argument, NULL, 'e' },
	{ "image", required_argument, NULL, 'i' },
	{ "branch", required_argument, NULL, 'b' },
	{ "root", required_argument, NULL, 'r' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int cmd_history(int argc, char **argv)
{
	const char *app = NULL, *env = NULL, *image = NULL, *branch = NULL;
	const char *root = NULL;
	struct kpin_history_entry *v = NULL;
	struct kpin_repo *repo = NULL;
	struct kpin_policy policy;
	size_t n = 0, max = 0;
	bool json = false;
	char *end;
	int c, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+n:h", history_options,
				NULL)) != -1) {
		switch (c) {
		case 'a':
			app = optarg;
			break;
		case 'e':
			env = optarg;
			break;
		case 'i':
			image = optarg;
			break;
		case 'b':
			branch = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			max = strtoul(optarg, &end, 10);
			if (*end || !*optarg || *optarg == '-' || !max)
				return cli_usage_error(&cmd_history_entry,
					"invalid -n '%s'", optarg);
			break;
		case 'h':
			return cli_usage(&cmd_history_entry, true);
		default:
			return cli_usage_error(&cmd_history_entry, "unknown or "
					       "incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(&cmd_history_entry, "unexpected "
				       "argument '%s'", argv[optind]);
	if (!app || !env)
		return cli_usage_error(&cmd_history_entry, "--app and --env "
				       "are required");
	status = cli_open_repo(&repo, &policy, branch, NULL);
	if (status)
		goto out;
	if (!root)
		root = policy.root;
	if (kpin_policy_check_env(&policy, env) ||
	    kpin_repo_history(&v, &n, repo, branch, root, app, env, image,
			      max)) {
		status = cli_fail(NULL);
		goto out;
	}
	if (!n) {
		/* a typo is an error; an overlay without changes is not */
		struct kpin_buf path = KPIN_BUF_INIT;
		int rc = kpin_repo_overlay_path(&path, repo, branch, root, app,
						env);

		kpin_buf_release(&path);
		if (rc) {
			status = cli_fail(NULL);
			goto out;
		}
	}
	if (json)
		print_json(v, n);
	else
		print_text(v, n);
	if (!n)
		cli_note("no change to %s in %s/%s found in the history",
			 image ? image : "any image", app, env);
	status = EXIT_OK;
out:
	kpin_history_free(v, n);
	kpin_policy_release(&policy);
	kpin_repo_free(repo);
	return status;
}

const struct kpin_cmd cmd_history_entry = {
	.name = "history",
	.usage = history_usage,
	.summary = "list the commits that changed an overlay's images",
	.exec = cmd_history,
	.flags = KPIN_CMD_NEED_REPO,
};
