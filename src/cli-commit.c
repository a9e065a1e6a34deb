/*
 * What every committing command (set in repository mode, apply, promote,
 * rollback) shares: the commit options, the policy file read from the
 * branch tip, the committer identity, the call into the engine, and the
 * output: the commit id on stdout, a note on stderr, or one JSON object.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "remote.h"
#include "kpin/request.h"
#include "kpin/sign.h"

const char *cli_actor(void)
{
	const char *a = getenv("GITHUB_ACTOR");

	return a && *a ? a : NULL;
}

/* No control characters: nothing that would break a trailer. */
static bool printable_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A variable's value when set, not empty and one printable line. */
static const char *env_line(const char *name)
{
	const char *v = getenv(name);

	return v && *v && printable_line(v) ? v : NULL;
}

bool cli_run_url(struct kpin_buf *out)
{
	const char *on = getenv("GITHUB_ACTIONS");
	const char *server = env_line("GITHUB_SERVER_URL");
	const char *repo = env_line("GITHUB_REPOSITORY");
	const char *id = env_line("GITHUB_RUN_ID");

	kpin_buf_reset(out);
	if (!on || strcmp(on, "true") || !server || !repo || !id)
		return false;
	kpin_buf_addf(out, "%s/%s/actions/runs/%s", server, repo, id);
	return true;
}

void cli_commit_init(struct cli_commit *c)
{
	memset(c, 0, sizeof(*c));
	c->retries = KPIN_RETRIES_DEFAULT;
	c->timeout = KPIN_TIMEOUT_DEFAULT;
	c->sign = -1;
}

void cli_commit_release(struct cli_commit *c)
{
	size_t i;

	for (i = 0; i < c->ntrailers; i++)
		free(c->trailers[i]);
	free(c->trailers);
	c->trailers = NULL;
	c->ntrailers = 0;
}

/* "key=value" -> "Key: value", refusing what would break the message. */
static char *trailer_of(const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct kpin_buf b = KPIN_BUF_INIT;
	const char *p;

	if (!eq || eq == arg)
		return NULL;
	for (p = arg; p < eq; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return NULL;
	if (!printable_line(eq + 1))
		return NULL;
	kpin_buf_addf(&b, "%.*s: %s", (int)(eq - arg), arg, eq + 1);
	return kpin_buf_detach(&b, NULL);
}

/* A whole number from 0 to @max for option @name: 1, or -1 after usage. */
static int count_option(int *out, const struct kpin_cmd *cmd,
			const char *name, const char *arg, long max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno || *end || end == arg || n < 0 || n > max) {
		cli_usage_error(cmd, "invalid %s '%s'", name, arg);
		return -1;
	}
	*out = (int)n;
	return 1;
}

/* cli_commit_option(): 1 when handled, 0 when not ours, -1 after a usage error. */
static int commit_option(struct cli_commit *c, const struct kpin_cmd *cmd,
			 int opt, const char *arg, int argc, char **argv)
{
	char *t;

	switch (opt) {
	case OPT_BRANCH:
		c->branch = arg;
		return 1;
	case OPT_ROOT:
		c->root = arg;
		return 1;
	case OPT_AUTHOR:
		c->author = arg;
		return 1;
	case OPT_MESSAGE:
		if (!*arg || strpbrk(arg, "\r\n")) {
			cli_usage_error(cmd, "--message must be one non-empty "
					"line");
			return -1;
		}
		c->message = arg;
		return 1;
	case OPT_REASON:
		if (!*arg || strlen(arg) > 1000 || !printable_line(arg)) {
			cli_usage_error(cmd, "--reason must be one non-empty "
					"line of printable characters (at most "
					"1000)");
			return -1;
		}
		c->reason = arg;
		return 1;
	case OPT_TRAILER:
		t = trailer_of(arg);
		if (!t) {
			cli_usage_error(cmd, "invalid --trailer '%s': expected "
					"key=value, the key made of letters, "
					"digits and '-'", arg);
			return -1;
		}
		c->trailers = xreallocarray(c->trailers, c->ntrailers + 1,
					    sizeof(*c->trailers));
		c->trailers[c->ntrailers++] = t;
		return 1;
	case OPT_RETRIES:
		return count_option(&c->retries, cmd, "--retries", arg, 1000);
	case OPT_TIMEOUT:
		return count_option(&c->timeout, cmd, "--timeout", arg, 86400);
	case OPT_PUSH:
		/* "--push", "--push=remote" or "--push remote" */
		if (!arg && optind < argc && argv[optind][0] != '-')
			arg = argv[optind++];
		c->push = arg ? arg : "origin";
		if (!*c->push) {
			cli_usage_error(cmd, "--push needs a remote name or "
					"URL");
			return -1;
		}
		return 1;
	case OPT_FORCE:
		c->force = true;
		return 1;
	case OPT_TOKEN_ENV:
		if (!*arg || strchr(arg, '=')) {
			cli_usage_error(cmd, "invalid --token-env '%s'", arg);
			return -1;
		}
		c->token_env = arg;
		return 1;
	case OPT_SIGN:
	case OPT_NO_SIGN:
		c->sign = opt == OPT_SIGN;
		return 1;
	case OPT_DRY_RUN_C:
		c->dry_run = true;
		return 1;
	case OPT_JSON_C:
		c->json = true;
		return 1;
	default:
		return 0;
	}
}

int cli_commit_option(struct cli_commit *c, const struct kpin_cmd *cmd,
		      int opt, const char *arg, int argc, char **argv)
{
	int r = commit_option(c, cmd, opt, arg, argc, argv);

	if (r < 0)
		return EXIT_USAGE;
	return r ? EXIT_OK : cli_unknown_option(cmd, argv);
}

/* Load .kpin.yaml from the branch tip (the defaults when absent). */
static int load_policy(struct kpin_policy *p, struct kpin_repo *repo,
		       const char *branch)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	int rc;

	kpin_policy_init(p);
	rc = kpin_repo_read_file(&b, repo, branch, KPIN_POLICY_FILE,
				 KPIN_POLICY_MAX);
	if (rc == KPIN_ENOTFOUND) {
		kpin_error_clear();
		rc = 0;
	} else if (!rc) {
		rc = kpin_policy_parse(p, b.ptr, b.len);
	}
	kpin_buf_release(&b);
	return rc;
}

static void json_target(struct kpin_buf *b, const struct kpin_target *t,
			size_t i)
{
	const struct kpin_change *c = &t->changes[i];
	const struct kpin_pin *old = t->old ? &t->old[i] : NULL;

	kpin_buf_adds(b, "\"file\":");
	kpin_buf_add_json(b, t->file);
	kpin_buf_adds(b, ",\"app\":");
	kpin_buf_add_json(b, t->app);
	kpin_buf_adds(b, ",\"env\":");
	kpin_buf_add_json(b, t->env);
	kpin_buf_adds(b, ",\"image\":");
	kpin_buf_add_json(b, c->image);
	kpin_buf_adds(b, ",\"old_digest\":");
	kpin_buf_add_json(b, old ? old->digest : NULL);
	kpin_buf_adds(b, ",\"new_digest\":");
	kpin_buf_add_json(b, c->digest ? c->digest : old ? old->digest : NULL);
	kpin_buf_adds(b, ",\"old_tag\":");
	kpin_buf_add_json(b, old ? old->tag : NULL);
	kpin_buf_adds(b, ",\"new_tag\":");
	kpin_buf_add_json(b, c->tag ? c->tag : old ? old->tag : NULL);
	if (c->new_name) {
		kpin_buf_adds(b, ",\"new_name\":");
		kpin_buf_add_json(b, c->new_name);
	}
}

/*
 * One JSON object: changed, commit, branch, then either the single
 * change's fields (one target, one change: what set prints) or an
 * "updates" array.
 */
static void print_json(const struct cli_commit *c,
		       const struct kpin_target *t, size_t n, bool changed,
		       const struct kpin_repo_result *res)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	size_t i, j, k = 0;

	kpin_buf_addf(&b, "{\"changed\":%s,\"commit\":",
		      changed ? "true" : "false");
	kpin_buf_add_json(&b, res->commit[0] ? res->commit : NULL);
	kpin_buf_adds(&b, ",\"branch\":");
	kpin_buf_add_json(&b, res->branch ? res->branch + 11 : c->branch);
	kpin_buf_adds(&b, ",\"pushed\":");
	kpin_buf_add_json(&b, c->push && changed && !c->dry_run ?
			  res->remote_url : NULL);
	if (c->dry_run) {
		kpin_buf_adds(&b, ",\"dry_run\":true,\"diff\":");
		kpin_buf_add_json(&b, kpin_buf_cstr(&res->diff));
		kpin_buf_adds(&b, ",\"message\":");
		kpin_buf_add_json(&b, kpin_buf_cstr(&res->message));
	}
	if (n == 1 && t[0].nchanges == 1) {
		kpin_buf_addch(&b, ',');
		json_target(&b, &t[0], 0);
	} else {
		kpin_buf_adds(&b, ",\"updates\":[");
		for (i = 0; i < n; i++)
			for (j = 0; j < t[i].nchanges; j++) {
				kpin_buf_adds(&b, k++ ? ",{" : "{");
				json_target(&b, &t[i], j);
				kpin_buf_addch(&b, '}');
			}
		kpin_buf_addch(&b, ']');
	}
	if (c->json_extra)
		kpin_buf_adds(&b, c->json_extra);
	kpin_buf_adds(&b, "}\n");
	cli_print_buf(&b);
	kpin_buf_release(&b);
}

void cli_commit_json_nothing(const struct cli_commit *c, const char *branch)
{
	struct kpin_repo_result res;

	memset(&res, 0, sizeof(res));
	res.branch = (char *)branch;
	print_json(c, NULL, 0, false, &res);
}

int cli_open_repo(struct kpin_repo **repo, struct kpin_policy *policy,
		  const char *branch, const struct cli_commit *c)
{
	struct kpin_buf ref = KPIN_BUF_INIT;
	int bad;

	*repo = NULL;
	kpin_policy_init(policy);
	if (kpin_repo_open(repo, "."))
		return cli_fail(NULL);
	/* a detached HEAD is not the policy file's fault */
	bad = kpin_repo_branch_ref(&ref, *repo, branch);
	kpin_buf_release(&ref);
	if (bad || (c && c->push &&
		    kpin_repo_fetch_view(*repo, branch, c->push, c->token_env,
					 !c->dry_run, c->retries,
					 c->timeout ? c->timeout : -1))) {
		int status = cli_fail(NULL);

		kpin_repo_free(*repo);
		*repo = NULL;
		return status;
	}
	kpin_policy_release(policy);
	if (load_policy(policy, *repo, branch)) {
		int status = cli_fail(KPIN_POLICY_FILE);

		kpin_repo_free(*repo);
		*repo = NULL;
		return status;
	}
	return EXIT_OK;
}

/* "" and unset alike are no value. */
static const char *env_value(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/*
 * Decide whether to sign (--sign/--no-sign, else commit.gpgsign), refuse
 * an unsigned commit the policy forbids, and open the signer. A dry run
 * writes no commit and loads no key. Returns an exit status.
 */
static int open_signer(struct kpin_signer **out, struct kpin_repo *repo,
		       const struct cli_commit *c,
		       const struct kpin_policy *policy)
{
	struct kpin_sign_config cfg;
	struct kpin_sign_opts so;
	int status = EXIT_OK;
	bool want;

	*out = NULL;
	if (kpin_sign_config_read(&cfg, repo))
		return cli_fail(NULL);
	want = c->sign >= 0 ? c->sign == 1 : cfg.gpgsign;
	if (!want && policy->signing_required) {
		kpin_error_set(KPIN_EPOLICY, "refused by policy: %s requires "
			       "signed commits (signing: required); pass --sign "
			       "or set commit.gpgsign", KPIN_POLICY_FILE);
		status = cli_fail(NULL);
		goto out;
	}
	if (!want || c->dry_run)
		goto out;
	memset(&so, 0, sizeof(so));
	so.format = cfg.format;
	so.signing_key = cfg.signing_key;
	so.key_data = env_value("KPIN_SIGNING_KEY");
	so.passphrase = env_value("KPIN_SIGNING_PASSPHRASE");
	so.agent_sock = env_value("SSH_AUTH_SOCK");
	so.gnupghome = env_value("GNUPGHOME");
	/* a key in KPIN_SIGNING_KEY says its own format */
	if (so.key_data && !cfg.format_set)
		so.format = strstr(so.key_data, "-----BEGIN PGP ") ?
			    KPIN_SIGN_OPENPGP : KPIN_SIGN_SSH;
	if (kpin_signer_open(out, &so))
		status = cli_fail(NULL);
out:
	kpin_sign_config_release(&cfg);
	return status;
}

int cli_commit_run(struct cli_commit *c, struct kpin_target *targets,
		   size_t n)
{
	struct kpin_repo *repo = NULL;
	struct kpin_policy policy;
	int status;

	status = cli_open_repo(&repo, &policy, c->branch, c);
	if (!status)
		status = cli_commit_in(c, repo, &policy, targets, n);
	kpin_policy_release(&policy);
	kpin_repo_free(repo);
	return status;
}

int cli_commit_in(struct cli_commit *c, struct kpin_repo *repo,
		  const struct kpin_policy *policy,
		  struct kpin_target *targets, size_t n)
{
	struct kpin_signer *signer = NULL;
	struct kpin_repo_opts o;
	struct kpin_repo_result res;
	struct kpin_buf name = KPIN_BUF_INIT, email = KPIN_BUF_INIT;
	struct kpin_buf out = KPIN_BUF_INIT, run = KPIN_BUF_INIT;
	size_t i;
	int rc, status;

	memset(&res, 0, sizeof(res));
	/* every unknown environment at once */
	for (i = 0, rc = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < i && strcmp(targets[j].env, targets[i].env);
		     j++)
			;
		if (j == i && kpin_policy_check_env(policy, targets[i].env)) {
			cli_fail(NULL);
			rc = 1;
		}
	}
	if (rc) {
		status = EXIT_INVALID;
		goto out;
	}
	if (c->author)
		rc = kpin_repo_parse_ident(&name, &email, c->author);
	else
		rc = kpin_repo_default_identity(&name, &email, repo,
						cli_actor(),
						getenv("GITHUB_ACTOR_ID"));
	if (rc && c->dry_run && !c->author) {
		/* a dry run writes no commit: no identity needed */
		kpin_buf_adds(&name, "kpin");
		kpin_buf_adds(&email, "kpin@localhost");
		rc = 0;
	}
	if (rc) {
		cli_fail(NULL);
		status = EXIT_USAGE;	/* missing or malformed identity */
		goto out;
	}
	status = open_signer(&signer, repo, c, policy);
	if (status)
		goto out;
	c->meta.subject = c->message;
	c->meta.reason = c->reason;
	c->meta.run = cli_run_url(&run) ? run.ptr : NULL;
	c->meta.trailers = (const char *const *)c->trailers;
	c->meta.ntrailers = c->ntrailers;
	memset(&o, 0, sizeof(o));
	o.branch = c->branch;
	o.root = c->root ? c->root : policy->root;
	o.author_name = name.ptr;
	o.author_email = email.ptr;
	o.meta = &c->meta;
	o.retries = c->retries;
	o.dry_run = c->dry_run;
	o.push_remote = c->push;
	o.token_env = c->token_env;
	o.timeout = c->timeout ? c->timeout : -1;
	o.policy = policy;
	o.force = c->force;
	o.signer = signer;
	rc = kpin_repo_update(repo, targets, n, &o, &res);
	if (res.notes.len) {
		const char *p = res.notes.ptr, *nl;

		for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
			cli_note("%.*s", (int)(nl - p), p);
	}
	if (rc == KPIN_EUNCHANGED) {
		for (i = 0; i < n; i++)
			cli_note("%s: unchanged (already at the requested "
				 "values%s%s)", targets[i].file ?
				 targets[i].file : targets[i].app,
				 c->push ? " on " : "", c->push ?
				 res.remote_url : "");
		if (c->json)
			print_json(c, targets, n, false, &res);
		status = EXIT_OK;
		goto out;
	}
	if (rc) {
		status = cli_fail(NULL);
		goto out;
	}
	if (c->dry_run) {
		if (c->json) {
			print_json(c, targets, n, true, &res);
		} else {
			kpin_buf_add(&out, res.diff.ptr, res.diff.len);
			kpin_buf_adds(&out, "\n");
			kpin_buf_add(&out, res.message.ptr, res.message.len);
			cli_print_buf(&out);
		}
		cli_note("dry run: nothing written");
		status = EXIT_OK;
		goto out;
	}
	if (c->json) {
		print_json(c, targets, n, true, &res);
	} else {
		kpin_buf_addf(&out, "%s\n", res.commit);
		cli_print_buf(&out);
	}
	cli_note("committed %.12s on %s%s%s: %.*s", res.commit,
		 res.branch + 11, c->push ? " and pushed to " : "",
		 c->push ? res.remote_url : "",
		 (int)strcspn(res.message.ptr, "\n"), res.message.ptr);
	if (res.attempts > 1)
		cli_note("it took %d attempts: the %s moved meanwhile",
			 res.attempts, c->push ? "remote" : "branch");
	if (res.local_moved)
		cli_note("warning: the local branch '%s' moved while kpin pushed; it "
			 "and the checkout were left alone, without %.12s",
			 res.branch + 11, res.commit);
	status = EXIT_OK;
out:
	kpin_signer_free(signer);
	kpin_repo_result_release(&res);
	kpin_buf_release(&name);
	kpin_buf_release(&email);
	kpin_buf_release(&out);
	kpin_buf_release(&run);
	return status;
}
