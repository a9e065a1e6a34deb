/*
 * kpin history: which commits changed what an overlay pins, read from
 * the overlay's own versions along the branch's first-parent history, so
 * hand edits and merges show as well as kpin's commits.
 */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char history_usage[] =
	"kpin history --app app [--env env] [--image name] [-n count] "
	"[--branch branch] [--root path] [--verify] [--json | --markdown]";

static const char history_help[] =
	"  --app app             the overlay's directory name\n"
	"  --env env             the overlay's environment (with --json or "
	"--markdown: default, all)\n"
	"  --image name          only the changes to this entry\n"
	"  -n count              at most count commits\n"
	"  --branch branch       walk branch (default: HEAD's branch)\n"
	"  --root path           the overlays' root (default: .kpin.yaml's)\n"
	"  --verify              check each commit's signature, add the verdict\n"
	"  --json                print the changes as JSON\n"
	"  --markdown            print them as a release notes' Markdown table\n";

/* The author's name: "Name <email>" without " <email>". */
static int name_len(const char *author)
{
	return (int)strcspn(author, "<") - (strchr(author, '<') ? 1 : 0);
}

static void print_text(const struct kpin_history_entry *v, size_t n,
		       const struct kpin_sig_check *checks)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	char when[32], tmp[32];
	size_t i, k;

	for (i = 0; i < n; i++) {
		cli_format_time(when, sizeof(when), v[i].time, false);
		kpin_buf_addf(&b, "%.12s  %s  %s  %s  %s  %.*s", v[i].commit, when,
			      v[i].image, v[i].pin.digest ?
			      cli_short_digest(v[i].pin.digest, tmp,
					       sizeof(tmp)) : "-",
			      v[i].pin.tag ? v[i].pin.tag : "-",
			      name_len(v[i].author), v[i].author);
		if (v[i].promoted_by)
			kpin_buf_addf(&b, "  promoted by %s", v[i].promoted_by);
		if (v[i].source_repository)
			kpin_buf_addf(&b, "  from %s", v[i].source_repository);
		if (v[i].release)
			kpin_buf_addf(&b, "  release %s", v[i].release);
		if (v[i].promoted_from)
			kpin_buf_addf(&b, "  promoted from %s",
				      v[i].promoted_from);
		if (v[i].rollback_from)
			kpin_buf_addf(&b, "  ROLLBACK from %s",
				      cli_short_digest(v[i].rollback_from, tmp,
						       sizeof(tmp)));
		if (v[i].noverrides)
			kpin_buf_adds(&b, "  POLICY OVERRIDE");
		if (v[i].reason)
			kpin_buf_addf(&b, "  reason: %s", v[i].reason);
		if (v[i].run)
			kpin_buf_addf(&b, "  run %s", v[i].run);
		for (k = 0; k < v[i].ntrailers; k++)
			kpin_buf_addf(&b, "  [%s]", v[i].trailers[k]);
		if (checks) {
			kpin_buf_adds(&b, "  ");
			cli_sig_text(&b, &checks[i]);
		}
		kpin_buf_addch(&b, '\n');
	}
	cli_print_buf(&b);
	kpin_buf_release(&b);
}

static void print_json(const struct kpin_history_entry *v, size_t n,
		       const struct kpin_sig_check *checks)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	char when[32];
	size_t i, k;

	kpin_buf_addch(&b, '[');
	for (i = 0; i < n; i++) {
		cli_format_time(when, sizeof(when), v[i].time, true);
		kpin_buf_adds(&b, i ? ",{\"commit\":" : "{\"commit\":");
		kpin_buf_add_json(&b, v[i].commit);
		cli_json_key(&b, "date", when);
		cli_json_key(&b, "author", v[i].author);
		cli_json_key(&b, "subject", v[i].subject);
		cli_json_key(&b, "image", v[i].image);
		cli_json_key(&b, "digest", v[i].pin.digest);
		cli_json_key(&b, "tag", v[i].pin.tag);
		cli_json_key(&b, "promoted_by", v[i].promoted_by);
		cli_json_key(&b, "source_repository", v[i].source_repository);
		cli_json_key(&b, "release", v[i].release);
		cli_json_key(&b, "app", v[i].app);
		cli_json_key(&b, "env", v[i].env);
		cli_json_key(&b, "promoted_from", v[i].promoted_from);
		cli_json_key(&b, "rollback_from", v[i].rollback_from);
		cli_json_key(&b, "rollback_to", v[i].rollback_to);
		cli_json_key(&b, "reason", v[i].reason);
		cli_json_key(&b, "run", v[i].run);
		kpin_buf_adds(&b, ",\"policy_overrides\":[");
		for (k = 0; k < v[i].noverrides; k++) {
			if (k)
				kpin_buf_addch(&b, ',');
			kpin_buf_add_json(&b, v[i].overrides[k]);
		}
		kpin_buf_adds(&b, "],\"trailers\":[");
		for (k = 0; k < v[i].ntrailers; k++) {
			const char *t = v[i].trailers[k];
			const char *colon = strchr(t, ':');
			char *key = xstrndup(t, (size_t)(colon - t));

			kpin_buf_adds(&b, k ? ",{\"key\":" : "{\"key\":");
			kpin_buf_add_json(&b, key);
			cli_json_key(&b, "value", colon + 2);
			kpin_buf_addch(&b, '}');
			free(key);
		}
		kpin_buf_addch(&b, ']');
		if (checks)
			cli_sig_json(&b, &checks[i]);
		kpin_buf_addch(&b, '}');
	}
	kpin_buf_adds(&b, "]\n");
	cli_print_buf(&b);
	kpin_buf_release(&b);
}

/*
 * The "Promotions" section of a release body: per change the
 * environment, image, digest, tag, who (Promoted-By, else the author),
 * when and the commit, linked when GITHUB_SERVER_URL and
 * GITHUB_REPOSITORY say where it lives, then a note (rollback, policy
 * override, the reason).
 */
static void print_markdown(const struct kpin_history_entry *v, size_t n)
{
	const char *server = getenv("GITHUB_SERVER_URL");
	const char *repo = getenv("GITHUB_REPOSITORY");
	struct kpin_buf b = KPIN_BUF_INIT, note = KPIN_BUF_INIT;
	char when[32], tmp[32];
	size_t i;

	kpin_buf_adds(&b, "## Promotions\n\n| Environment | Image | Digest | "
		      "Tag | By | When | Commit | Note |\n| --- | --- | --- | "
		      "--- | --- | --- | --- | --- |\n");
	for (i = 0; i < n; i++) {
		cli_format_time(when, sizeof(when), v[i].time, false);
		kpin_buf_addch(&b, '|');
		cli_md_cell(&b, v[i].env, INT_MAX);
		cli_md_cell(&b, v[i].image, INT_MAX);
		cli_md_cell(&b, v[i].pin.digest ?
			    cli_short_digest(v[i].pin.digest, tmp,
					     sizeof(tmp)) : "-", INT_MAX);
		cli_md_cell(&b, v[i].pin.tag ? v[i].pin.tag : "-", INT_MAX);
		if (v[i].promoted_by)
			cli_md_cell(&b, v[i].promoted_by, INT_MAX);
		else
			cli_md_cell(&b, v[i].author, name_len(v[i].author));
		kpin_buf_addf(&b, " %s UTC |", when);
		if (server && *server && repo && *repo)
			kpin_buf_addf(&b, " [%.12s](%s/%s/commit/%s) |",
				      v[i].commit, server, repo, v[i].commit);
		else
			kpin_buf_addf(&b, " %.12s |", v[i].commit);
		kpin_buf_reset(&note);
		if (v[i].rollback_from)
			kpin_buf_adds(&note, "rollback; ");
		if (v[i].promoted_from)
			kpin_buf_addf(&note, "from %s; ", v[i].promoted_from);
		if (v[i].noverrides)
			kpin_buf_adds(&note, "policy override; ");
		if (v[i].reason)
			kpin_buf_addf(&note, "%s; ", v[i].reason);
		cli_md_cell(&b, note.ptr ? note.ptr : "",
			 note.len > 2 ? (int)note.len - 2 : 0);
		kpin_buf_addch(&b, '\n');
	}
	cli_print_buf(&b);
	kpin_buf_release(&b);
	kpin_buf_release(&note);
}

static const struct option history_options[] = {
	{ "app", required_argument, NULL, 'a' },
	{ "env", required_argument, NULL, 'e' },
	{ "image", required_argument, NULL, 'i' },
	{ "branch", required_argument, NULL, 'b' },
	{ "root", required_argument, NULL, 'r' },
	{ "json", no_argument, NULL, 'j' },
	{ "markdown", no_argument, NULL, 'm' },
	{ "verify", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/*
 * The history of @env, or of every environment of the policy in its
 * order when @env is NULL, appended to @v.
 */
static int read_history(struct kpin_history_entry **v, size_t *n,
			struct kpin_repo *repo, const struct kpin_policy *p,
			const char *branch, const char *root, const char *app,
			const char *env, const char *image, size_t max)
{
	size_t i, nenv = env ? 1 : p->nenvs;

	for (i = 0; i < nenv; i++) {
		struct kpin_history_entry *e = NULL;
		size_t ne = 0;

		if (kpin_repo_history(&e, &ne, repo, branch, root, app,
				      env ? env : p->envs[i], image, max))
			return -1;
		*v = xreallocarray(*v, *n + ne + 1, sizeof(**v));
		if (ne)
			memcpy(*v + *n, e, ne * sizeof(*e));
		*n += ne;
		free(e);
	}
	return 0;
}

/*
 * Check each entry's commit; set @failed when one fails --verify.
 * Returns 0 or an exit status after an error.
 */
static int verify_all(struct kpin_sig_check **out, bool *failed,
		      struct kpin_repo *repo,
		      const struct kpin_history_entry *v, size_t n,
		      bool required)
{
	const char **ids = xcalloc(n + 1, sizeof(*ids));
	size_t i;
	int status;

	*out = xcalloc(n + 1, sizeof(**out));
	for (i = 0; i < n; i++)
		ids[i] = v[i].commit;
	status = cli_verify_commits(*out, repo, ids, n);
	free(ids);
	*failed = false;
	for (i = 0; i < n && !status; i++)
		*failed |= cli_sig_failed(&(*out)[i], required);
	return status;
}

static int cmd_history(int argc, char **argv)
{
	const char *app = NULL, *env = NULL, *image = NULL, *branch = NULL;
	const char *root = NULL;
	struct kpin_history_entry *v = NULL;
	struct kpin_sig_check *checks = NULL;
	struct kpin_repo *repo = NULL;
	struct kpin_policy policy;
	size_t n = 0, max = 0, i;
	bool json = false, markdown = false, verify = false, failed = false;
	char *end;
	int c, status;

	while ((c = cli_getopt(argc, argv, "+n:h", history_options)) != -1) {
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
		case 'm':
			markdown = true;
			break;
		case 'V':
			verify = true;
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
			return cli_unknown_option(&cmd_history_entry, argv);
		}
	}
	if (cli_no_operands(&cmd_history_entry, argc, argv) ||
	    cli_one_format(&cmd_history_entry, json, markdown))
		return EXIT_USAGE;
	if (!app || (!env && !json && !markdown))
		return cli_usage_error(&cmd_history_entry, "--app and --env "
				       "are required (--env may be left out "
				       "with --json or --markdown)");
	status = cli_open_repo(&repo, &policy, branch, NULL);
	if (status)
		goto out;
	if (!root)
		root = policy.root;
	if ((env && kpin_policy_check_env(&policy, env)) ||
	    read_history(&v, &n, repo, &policy, branch, root, app, env, image,
			 max)) {
		status = cli_fail(NULL);
		goto out;
	}
	if (!n) {
		/* a typo is an error; an overlay without changes is not */
		struct kpin_buf path = KPIN_BUF_INIT;
		int rc = kpin_repo_overlay_path(&path, repo, branch, root, app,
						env ? env : policy.envs[0]);

		kpin_buf_release(&path);
		if (rc && env) {
			status = cli_fail(NULL);
			goto out;
		}
		kpin_error_clear();
	}
	if (verify) {
		status = verify_all(&checks, &failed, repo, v, n,
				    policy.signing_required);
		if (status)
			goto out;
	}
	if (json)
		print_json(v, n, checks);
	else if (markdown)
		print_markdown(v, n);
	else
		print_text(v, n, checks);
	if (!n)
		cli_note("no change to %s in %s/%s found in the history",
			 image ? image : "any image", app, env ? env : "*");
	status = EXIT_OK;
	if (failed) {
		cli_error("a listed commit is %s", policy.signing_required ?
			  "not signed by an allowed signer (signing: required "
			  "in " KPIN_POLICY_FILE ")" : "badly signed");
		status = EXIT_FAIL;
	}
out:
	for (i = 0; checks && i < n; i++)
		kpin_sig_check_release(&checks[i]);
	free(checks);
	kpin_history_free(v, n);
	kpin_policy_release(&policy);
	kpin_repo_free(repo);
	return status;
}

const struct kpin_cmd cmd_history_entry = {
	.name = "history",
	.usage = history_usage,
	.options = history_help,
	.summary = "list the commits that changed an overlay's images",
	.exec = cmd_history,
	.flags = KPIN_CMD_NEED_REPO,
};
