/*
 * The audit trail on temporary repositories, with git as the witness:
 * per-change attribution in batch commits (and old commits that lack
 * it), every trailer kpin writes shown by history (text, --json and
 * --markdown), --reason on each committing command, and what a GitHub
 * Actions run records (the Run trailer, the noreply address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ROOT ".platform/kubernetes/"
#define OV(app, env) ROOT app "/overlays/" env "/kustomization.yaml"
#define D(n) h_digest(700 + (n))

static const char *const files[] = {
	OV("web", "dev"), "images:\n- name: web\n  newTag: v1\n- name: side\n"
			  "  newTag: v1\n",
	OV("web", "stg"), "images:\n- name: web\n  newTag: v1\n",
	OV("web", "prd"), "images:\n- name: web\n  newTag: v1\n",
	OV("api", "dev"), "images:\n- name: api\n  newTag: v1\n",
	NULL
};

static int setup(void **state)
{
	return h_repo_setup(state, files);
}

/*
 * kpin in @dir, outside any CI and without global git config, with the
 * NULL-terminated @extra variables and the arguments in @ap (ending with
 * NULL).
 */
static int vrun(struct h_result *r, const char *dir,
		const char *const *extra, va_list ap)
{
	const char *argv[40], *env[24] = { h_env_home(), "XDG_CONFIG_HOME=",
					   "GITHUB_ACTOR=", "GITHUB_ACTOR_ID=",
					   "GITHUB_ACTIONS=",
					   "GITHUB_SERVER_URL=",
					   "GITHUB_REPOSITORY=" };
	int n = 0, e = 7;

	while (extra && *extra && e < 23)
		env[e++] = *extra++;
	env[e] = NULL;
	argv[n++] = "kpin";
	while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	argv[n] = NULL;
	return h_run(r, dir, env, argv, NULL);
}

static int run(struct h_result *r, const char *dir,
	       const char *const *extra, ...)
{
	va_list ap;
	int status;

	va_start(ap, extra);
	status = vrun(r, dir, extra, ap);
	va_end(ap);
	return status;
}

/* Run kpin, requiring exit status 0; its stdout in a static buffer. */
static const char *ok(const char *dir, const char *const *extra, ...)
{
	static char out[65536];
	struct h_result r;
	va_list ap;

	va_start(ap, extra);
	vrun(&r, dir, extra, ap);
	va_end(ap);
	if (r.status)
		fail_msg("kpin: exit %d: %s", r.status, r.err.ptr);
	snprintf(out, sizeof(out), "%s", r.out.ptr ? r.out.ptr : "");
	h_result_release(&r);
	return out;
}

/* Commit the worktree's changes with git and message @msg. */
static void git_commit_msg(const char *dir, const char *path,
			   const char *content, const char *msg)
{
	struct h_result r;

	h_writes(h_path(dir, path), content);
	h_writes(h_path(dir, ".git/kpin-test-msg"), msg);
	assert_int_equal(h_git(&r, dir, "commit -q -a -F .git/kpin-test-msg"),
			 0);
	h_result_release(&r);
}

/*
 * A batch of three images from two source repositories: each image is
 * attributed to its own repository, by one trailer per change that
 * names it, which git's trailer parser keeps.
 */
static void test_audit_batch_attribution(void **state)
{
	const char *dir = *state;
	char batch[2048];
	const char *out;

	snprintf(batch, sizeof(batch),
		 "[{\"repository\":\"acme/web\",\"image-name\":\"web\","
		 "\"directory-name\":\"web\",\"environment\":\"dev\","
		 "\"digest\":\"%s\",\"release\":\"r7\"},", D(1));
	snprintf(batch + strlen(batch), sizeof(batch) - strlen(batch),
		 "{\"repository\":\"acme/sidecar\",\"image-name\":\"side\","
		 "\"directory-name\":\"web\",\"environment\":\"dev\","
		 "\"digest\":\"%s\",\"release\":\"r7\"},", D(2));
	snprintf(batch + strlen(batch), sizeof(batch) - strlen(batch),
		 "{\"repository\":\"acme/api\",\"image-name\":\"api\","
		 "\"directory-name\":\"api\",\"environment\":\"dev\","
		 "\"digest\":\"%s\",\"release\":\"r7\"}]", D(3));
	h_writes(h_path(dir, ".git/batch.json"), batch);
	ok(dir, NULL, "apply", "--batch", ".git/batch.json", NULL);
	/* git's parser: one attribution per change, the shared release once */
	out = h_git_out(dir, "log -1 --format=%%B | git interpret-trailers "
			"--parse");
	h_assert_contains(out, "Source-Repository: acme/web (for web/dev web)\n"
			  "Image: side");
	h_assert_contains(out, "Source-Repository: acme/sidecar (for web/dev "
			  "side)\nImage: api");
	h_assert_contains(out, "Source-Repository: acme/api (for api/dev "
			  "api)\n");
	h_assert_contains(out, "\nRelease: r7");
	assert_null(strstr(out, "Release: r7 ("));
	/* and history reads each change's own */
	out = ok(dir, NULL, "history", "--app", "web", "--env", "dev",
		 "--image", "side", "-n", "1", "--json", NULL);
	h_assert_contains(out, "\"source_repository\":\"acme/sidecar\"");
	h_assert_contains(out, "\"release\":\"r7\"");
	out = ok(dir, NULL, "history", "--app", "web", "--env", "dev",
		 "--image", "web", "-n", "1", NULL);
	h_assert_contains(out, "  from acme/web  release r7\n");
	out = ok(dir, NULL, "history", "--app", "api", "--env", "dev",
		 "-n", "1", "--json", NULL);
	h_assert_contains(out, "\"source_repository\":\"acme/api\"");
}

/*
 * A batch commit of web and side in web/dev as earlier versions wrote
 * it: the groups, then @origin's flat trailers.
 */
static void old_batch(const char *dir, unsigned n, const char *origin)
{
	char msg[1024], content[512];

	snprintf(content, sizeof(content), "images:\n- name: web\n  newTag: "
		 "v1\n  digest: %s\n", D(n));
	snprintf(content + strlen(content), sizeof(content) - strlen(content),
		 "- name: side\n  newTag: v1\n  digest: %s\n", D(n + 1));
	snprintf(msg, sizeof(msg), "kpin: apply 2 updates\n\nImage: web\n"
		 "Digest: %s\nEnvironment: dev\n", D(n));
	snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "Image: side\n"
		 "Digest: %s\nEnvironment: dev\n%s", D(n + 1), origin);
	git_commit_msg(dir, OV("web", "dev"), content, msg);
}

/*
 * Commits in the format of earlier versions stay readable: one
 * Source-Repository for the whole commit applies to every change; a
 * flat list of several cannot say whose is whose and is not guessed.
 */
static void test_audit_old_format(void **state)
{
	const char *dir = *state;
	const char *out;

	old_batch(dir, 4, "Source-Repository: acme/one\nPromoted-By: "
		  "octocat\n");
	out = ok(dir, NULL, "history", "--app", "web", "--env", "dev",
		 "--image", "side", "-n", "1", "--json", NULL);
	h_assert_contains(out, "\"source_repository\":\"acme/one\"");
	h_assert_contains(out, "\"promoted_by\":\"octocat\"");

	old_batch(dir, 6, "Source-Repository: acme/one\nSource-Repository: "
		  "acme/two\n");
	out = ok(dir, NULL, "history", "--app", "web", "--env", "dev",
		 "--image", "side", "-n", "1", "--json", NULL);
	h_assert_contains(out, D(7));
	h_assert_contains(out, "\"source_repository\":null");
	out = ok(dir, NULL, "history", "--app", "web", "--env", "dev",
		 "--image", "web", "-n", "1", "--json", NULL);
	h_assert_contains(out, "\"source_repository\":null");
}

/*
 * Everything kpin records shows in history: Promoted-From, Rollback-From
 * and Rollback-To, Policy-Override with its reason, Reason, Run and the
 * --trailer's; the text marks rollbacks and overrides.
 */
static void test_audit_history_shows_all(void **state)
{
	const char *dir = *state;
	const char *const gha[] = { "GITHUB_ACTIONS=true",
				    "GITHUB_SERVER_URL=https://github.com",
				    "GITHUB_REPOSITORY=acme/platform",
				    "GITHUB_RUN_ID=4242", NULL };
	const char *out;

	h_writes(h_path(dir, ".kpin.yaml"), "promotion: ordered\n");
	{
		struct h_result r;

		assert_int_equal(h_git(&r, dir, "add .kpin.yaml && git commit "
				       "-q -m policy"), 0);
		h_result_release(&r);
	}
	ok(dir, NULL, "set", "--app", "web", "--env", "dev", "--image", "web",
	   "--digest", D(10), "--trailer", "Ticket=OPS-9", NULL);
	ok(dir, NULL, "promote", "--app", "web", "--from", "dev", "--to",
	   "stg", "--image", "web", "--reason", "QA passed", NULL);
	/* a forced skip of stg, with a reason, from a GitHub Actions run */
	ok(dir, gha, "set", "--app", "web", "--env", "prd", "--image", "web",
	   "--digest", D(11), "--force", "--reason", "CVE-2026-1 hotfix",
	   NULL);
	ok(dir, NULL, "set", "--app", "web", "--env", "prd", "--image", "web",
	   "--digest", D(12), "--force", NULL);
	ok(dir, NULL, "rollback", "--app", "web", "--env", "prd", "--image",
	   "web", "--to", D(11), "--reason", "D12 crashes", "--force", NULL);

	out = h_git_out(dir, "log -1 --format=%%B HEAD~2 | git "
			"interpret-trailers --parse");
	h_assert_contains(out, "Policy-Override: Repo User <repo@example.com> "
			  "forced web@");
	h_assert_contains(out, "; reason: CVE-2026-1 hotfix");

	out = ok(dir, NULL, "history", "--app", "web", "--env", "prd",
		 "--json", NULL);
	/* newest first: the rollback, the bare override, the hotfix */
	h_assert_contains(out, "\"rollback_from\":\"");
	h_assert_contains(out, D(12));
	h_assert_contains(out, "\"reason\":\"D12 crashes\"");
	h_assert_contains(out, "\"reason\":\"CVE-2026-1 hotfix\"");
	h_assert_contains(out, "\"run\":\"https://github.com/acme/platform/"
			  "actions/runs/4242\"");
	h_assert_contains(out, "without stg; reason: CVE-2026-1 hotfix\"]");
	h_assert_contains(out, "without stg\"]");
	out = ok(dir, NULL, "history", "--app", "web", "--env", "stg",
		 "-n", "1", "--json", NULL);
	h_assert_contains(out, "\"promoted_from\":\"dev\"");
	h_assert_contains(out, "\"reason\":\"QA passed\"");
	out = ok(dir, NULL, "history", "--app", "web", "--env", "dev",
		 "-n", "1", "--json", NULL);
	h_assert_contains(out, "\"trailers\":[{\"key\":\"Ticket\","
			  "\"value\":\"OPS-9\"}]");
	h_assert_contains(out, "\"policy_overrides\":[]");

	out = ok(dir, NULL, "history", "--app", "web", "--env", "prd", NULL);
	h_assert_contains(out, "  ROLLBACK from sha256:");
	h_assert_contains(out, "  reason: D12 crashes\n");
	h_assert_contains(out, "  POLICY OVERRIDE  reason: CVE-2026-1 hotfix"
			  "  run https://github.com/acme/platform/actions/"
			  "runs/4242\n");
	out = ok(dir, NULL, "history", "--app", "web", "--env", "dev", NULL);
	h_assert_contains(out, "  [Ticket: OPS-9]\n");
	out = ok(dir, NULL, "history", "--app", "web", "--env", "stg", NULL);
	h_assert_contains(out, "  promoted from dev  reason: QA passed\n");
}

/* --reason on every committing command; it must be one line. */
static void test_audit_reason_everywhere(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char head[64];

	ok(dir, NULL, "set", "--app", "web", "--env", "dev", "--image", "web",
	   "--digest", D(20), "--reason", "set it", NULL);
	assert_string_equal(h_git_out(dir, "log -1 --format="
				      "'%%(trailers:key=Reason,valueonly)'"),
			    "set it");
	ok(dir, NULL, "apply", "--repository", "acme/web", "--image-name",
	   "web", "--directory-name", "web", "--environment", "dev",
	   "--digest", D(21), "--reason", "applied", NULL);
	assert_string_equal(h_git_out(dir, "log -1 --format="
				      "'%%(trailers:key=Reason,valueonly)'"),
			    "applied");
	ok(dir, NULL, "promote", "--app", "web", "--from", "dev", "--to",
	   "stg", "--image", "web", "--reason", "promoted", NULL);
	assert_string_equal(h_git_out(dir, "log -1 --format="
				      "'%%(trailers:key=Reason,valueonly)'"),
			    "promoted");
	ok(dir, NULL, "rollback", "--app", "web", "--env", "dev", "--image",
	   "web", "--reason", "rolled back", NULL);
	assert_string_equal(h_git_out(dir, "log -1 --format="
				      "'%%(trailers:key=Reason,valueonly)'"),
			    "rolled back");
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	assert_int_equal(run(&r, dir, NULL, "set", "--app", "web", "--env",
			     "dev", "--image", "web", "--digest", D(22),
			     "--reason", "two\nlines", NULL), 2);
	h_assert_contains(r.err.ptr, "--reason must be one");
	h_result_release(&r);
	assert_int_equal(run(&r, dir, NULL, "set", "--app", "web", "--env",
			     "dev", "--image", "web", "--digest", D(22),
			     "--reason", "", NULL), 2);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
}

/*
 * In GitHub Actions, without a git identity: GitHub's noreply address
 * with the account id, and a Run trailer naming the run.
 */
static void test_audit_github_actions(void **state)
{
	const char *dir = *state;
	const char *const gha[] = { "GITHUB_ACTIONS=true",
				    "GITHUB_SERVER_URL=https://github.com",
				    "GITHUB_REPOSITORY=acme/platform",
				    "GITHUB_RUN_ID=99", "GITHUB_ACTOR=octocat",
				    "GITHUB_ACTOR_ID=583231", NULL };
	const char *const not_ci[] = { "GITHUB_SERVER_URL=https://github.com",
				       "GITHUB_REPOSITORY=acme/platform",
				       "GITHUB_RUN_ID=99", NULL };
	struct h_result r;

	assert_int_equal(h_git(&r, dir, "config --unset user.name"), 0);
	h_result_release(&r);
	ok(dir, gha, "set", "--app", "web", "--env", "dev", "--image", "web",
	   "--digest", D(30), NULL);
	assert_string_equal(h_git_out(dir, "log -1 --format='%%an <%%ae>'"),
			    "octocat <583231+octocat@users.noreply.github.com>");
	assert_string_equal(h_git_out(dir, "log -1 --format="
				      "'%%(trailers:key=Run,valueonly)'"),
			    "https://github.com/acme/platform/actions/runs/99");
	/* outside Actions (GITHUB_ACTIONS unset): no Run trailer */
	assert_int_equal(h_git(&r, dir, "config user.name 'Repo User'"), 0);
	h_result_release(&r);
	ok(dir, not_ci, "set", "--app", "web", "--env", "dev", "--image",
	   "web", "--digest", D(31), NULL);
	assert_string_equal(h_git_out(dir, "log -1 --format="
				      "'%%(trailers:key=Run,valueonly)'"), "");
}

/* history --markdown: the "Promotions" section of a release body. */
static void test_audit_markdown(void **state)
{
	const char *dir = *state;
	const char *const gh[] = { "GITHUB_SERVER_URL=https://github.com",
				   "GITHUB_REPOSITORY=acme/platform", NULL };
	const char *const bot[] = { "GITHUB_ACTOR=release-bot", NULL };
	char line[512], head[64];
	const char *out;

	ok(dir, bot, "apply", "--repository", "acme/web", "--image-name",
	   "web", "--directory-name", "web", "--environment", "dev",
	   "--digest", D(40), NULL);
	ok(dir, NULL, "promote", "--app", "web", "--from", "dev", "--to",
	   "stg", "--image", "web", "--reason", "QA | passed", NULL);
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	out = ok(dir, gh, "history", "--app", "web", "--image", "web", "-n",
		 "1", "--markdown", NULL);
	h_assert_contains(out, "## Promotions\n\n| Environment | Image | "
			  "Digest | Tag | By | When | Commit | Note |\n");
	h_assert_contains(out, "| dev | web | sha256:");
	h_assert_contains(out, "| v1 | release-bot | ");
	snprintf(line, sizeof(line), " UTC | [%.12s](https://github.com/acme/"
		 "platform/commit/%s) | from dev; QA \\| passed |\n", head,
		 head);
	h_assert_contains(out, line);
	/* one row per environment with -n 1, in the policy's order */
	assert_non_null(strstr(out, "| dev |"));
	assert_true(strstr(out, "| dev |") < strstr(out, "| stg |"));
	assert_true(strstr(out, "| stg |") < strstr(out, "| prd |"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_audit_batch_attribution,
						setup, h_repo_teardown),
		cmocka_unit_test_setup_teardown(test_audit_old_format, setup,
						h_repo_teardown),
		cmocka_unit_test_setup_teardown(test_audit_history_shows_all,
						setup, h_repo_teardown),
		cmocka_unit_test_setup_teardown(test_audit_reason_everywhere,
						setup, h_repo_teardown),
		cmocka_unit_test_setup_teardown(test_audit_github_actions,
						setup, h_repo_teardown),
		cmocka_unit_test_setup_teardown(test_audit_markdown, setup,
						h_repo_teardown),
	};

	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
