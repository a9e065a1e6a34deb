/*
 * kpin status and kpin get in repository mode, on a repository built
 * here with one application per drift class: in sync, behind (with the
 * count of pending releases and since when), a digest the previous
 * environment never held, tag only, tag and digest that disagree, a
 * missing overlay; the outputs (table, --json schema 1, --markdown and
 * $GITHUB_STEP_SUMMARY), the filters, --check and --remote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ROOT ".platform/kubernetes/"
#define OV(app, env) ROOT app "/overlays/" env "/kustomization.yaml"
#define D(n) h_digest(900 + (n))
#define T1 "images:\n- name: img\n  newTag: v1\n"

static const char *const files[] = {
	OV("behind", "dev"), T1, OV("behind", "stg"), T1,
	OV("behind", "prd"), T1,
	OV("hotfix", "dev"), T1, OV("hotfix", "stg"), T1,
	OV("hotfix", "prd"), T1,
	OV("mismatch", "dev"), T1, OV("mismatch", "stg"), T1,
	OV("missing", "dev"), T1, OV("missing", "prd"), T1,
	OV("sync", "dev"), T1, OV("sync", "stg"), T1, OV("sync", "prd"), T1,
	OV("tagonly", "dev"), T1,
	ROOT "notanapp/README.md", "no overlays here\n",
	ROOT "otherenvs/overlays/qa/kustomization.yaml", T1,
	NULL
};

/* kpin in @dir without global git config or CI variables. */
static int kpin(struct h_result *r, const char *dir, const char *extra, ...)
{
	const char *argv[32], *env[] = { h_env_home(), "XDG_CONFIG_HOME=",
					 "GITHUB_ACTOR=", "GITHUB_ACTIONS=",
					 "GITHUB_STEP_SUMMARY=", "NO_COLOR=",
					 "SSH_AUTH_SOCK=", "KPIN_SIGNING_KEY=",
					 extra, NULL };
	va_list ap;
	int n = 0;

	argv[n++] = "kpin";
	va_start(ap, extra);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return h_run(r, dir, env, argv, NULL);
}

static void set(const char *dir, const char *app, const char *env,
		const char *digest, const char *tag)
{
	struct h_result r;

	if (kpin(&r, dir, NULL, "set", "--app", app, "--env", env, "--image",
		 "img", "--digest", digest, "--tag", tag, NULL))
		fail_msg("set %s/%s: %s", app, env, r.err.ptr);
	h_result_release(&r);
}

static char pending_commit[41];
static char behind_stg_commit[41];

static int setup(void **state)
{
	const char *dir;

	h_repo_setup(state, files);
	dir = *state;
	set(dir, "sync", "dev", D(1), "v1");
	set(dir, "sync", "stg", D(1), "v1");
	set(dir, "sync", "prd", D(1), "v1");
	set(dir, "behind", "dev", D(1), "v1");
	set(dir, "behind", "stg", D(1), "v1");
	snprintf(behind_stg_commit, sizeof(behind_stg_commit), "%s",
		 h_git_out(dir, "rev-parse HEAD"));
	set(dir, "behind", "prd", D(1), "v1");
	set(dir, "behind", "dev", D(2), "v2");
	snprintf(pending_commit, sizeof(pending_commit), "%s",
		 h_git_out(dir, "rev-parse HEAD"));
	set(dir, "behind", "dev", D(3), "v3");
	set(dir, "hotfix", "dev", D(1), "v1");
	set(dir, "hotfix", "stg", D(1), "v1");
	set(dir, "hotfix", "prd", D(9), "v1-hotfix");
	set(dir, "mismatch", "dev", D(1), "v1");
	set(dir, "mismatch", "stg", D(1), "v2");
	set(dir, "missing", "dev", D(1), "v1");
	set(dir, "missing", "prd", D(1), "v1");
	return 0;
}

/* The JSON object of one row, found by app and env (static buffer). */
static const char *row(const char *json, const char *app, const char *env)
{
	static char out[2048];
	char key[128];
	const char *p, *end;

	snprintf(key, sizeof(key), "{\"app\":\"%s\",\"env\":\"%s\"", app, env);
	p = strstr(json, key);
	if (!p)
		fail_msg("no row %s/%s in %s", app, env, json);
	end = strstr(p, "\"anomaly\":");
	assert_non_null(end);
	end = strchr(end, '}');
	snprintf(out, sizeof(out), "%.*s", (int)(end - p + 1), p);
	return out;
}

static void test_status_drift_classes(void **state)
{
	const char *dir = *state;
	struct h_result r;
	const char *j;
	char want[256];

	assert_int_equal(kpin(&r, dir, NULL, "status", "--json", NULL), 0);
	j = r.out.ptr;
	h_assert_contains(j, "{\"schema\":1,\"branch\":\"main\",\"commit\":\"");
	h_assert_contains(j, "\"environments\":[\"dev\",\"stg\",\"prd\"],"
			  "\"complete_history\":true,");
	/* in sync, and the first environment has nothing to compare with */
	h_assert_contains(row(j, "sync", "dev"), "\"drift\":\"first\"");
	h_assert_contains(row(j, "sync", "stg"), "\"drift\":\"in-sync\","
			  "\"against\":\"dev\"");
	h_assert_contains(row(j, "sync", "prd"), "\"drift\":\"in-sync\","
			  "\"against\":\"stg\"");
	h_assert_contains(row(j, "sync", "prd"), "\"anomaly\":false");
	/* behind: dev took two releases since stg got D1 */
	h_assert_contains(row(j, "behind", "stg"), "\"drift\":\"behind\","
			  "\"against\":\"dev\",\"behind\":2,"
			  "\"pending_since\":\"");
	h_assert_contains(row(j, "behind", "stg"), "\"anomaly\":false");
	snprintf(want, sizeof(want), "\"since\":{\"commit\":\"%s\"",
		 behind_stg_commit);
	h_assert_contains(row(j, "behind", "stg"), want);
	h_assert_contains(row(j, "behind", "stg"), "\"by\":\"Repo User\"");
	h_assert_contains(row(j, "behind", "prd"), "\"drift\":\"in-sync\"");
	/* pending since the commit that took D2 into dev */
	snprintf(want, sizeof(want), "\"pending_since\":\"%s\"",
		 h_git_out(dir, "log -1 --date=format-local:%%Y-%%m-%%dT"
			   "%%H:%%M:%%SZ --format=%%cd %s", pending_commit));
	h_assert_contains(row(j, "behind", "stg"), want);
	/* a digest stg never held: a hotfix or a skipped stage */
	h_assert_contains(row(j, "hotfix", "prd"), "\"drift\":\"unpromoted\","
			  "\"against\":\"stg\"");
	h_assert_contains(row(j, "hotfix", "prd"), "\"anomaly\":true");
	/* tag only */
	h_assert_contains(row(j, "tagonly", "dev"), "\"digest\":null");
	h_assert_contains(row(j, "tagonly", "dev"), "\"drift\":\"tag-only\"");
	/* same digest, another tag */
	h_assert_contains(row(j, "mismatch", "stg"), "\"drift\":\"mismatch\","
			  "\"against\":\"dev\"");
	/* no stg overlay: a missing row, and prd compares with dev */
	h_assert_contains(row(j, "missing", "stg"), "\"image\":null,"
			  "\"file\":null");
	h_assert_contains(row(j, "missing", "stg"), "\"drift\":\"missing\"");
	h_assert_contains(row(j, "missing", "prd"), "\"drift\":\"in-sync\","
			  "\"against\":\"dev\"");
	/*
	 * hotfix/prd, tagonly/dev, mismatch/stg, missing/stg, and the
	 * overlays tagonly (stg, prd) and mismatch (prd) do not have
	 */
	h_assert_contains(j, "\"anomalies\":7,");
	assert_null(strstr(j, "notanapp"));
	assert_null(strstr(j, "otherenvs"));
	h_result_release(&r);
}

static void test_status_outputs(void **state)
{
	const char *dir = *state;
	char *summary = h_tmpdir(), env[4096];
	struct kpin_buf b = KPIN_BUF_INIT;
	struct h_result r;

	/* the table: aligned, a header, no colour when not a terminal */
	assert_int_equal(kpin(&r, dir, NULL, "status", "--app", "behind", NULL),
			 0);
	h_assert_contains(r.out.ptr, "APP     ENV  IMAGE  TAG  DIGEST");
	h_assert_contains(r.out.ptr, "behind dev by 2 releases, pending since ");
	h_assert_contains(r.out.ptr, "in sync with stg\n");
	assert_null(strchr(r.out.ptr, '\033'));
	h_result_release(&r);
	/* --env keeps its rows only, drift still against the one before */
	assert_int_equal(kpin(&r, dir, NULL, "status", "--env", "prd", "--json",
			      NULL), 0);
	assert_null(strstr(r.out.ptr, "\"env\":\"dev\""));
	h_assert_contains(row(r.out.ptr, "hotfix", "prd"), "unpromoted");
	h_result_release(&r);
	/* --markdown, appended to $GITHUB_STEP_SUMMARY */
	snprintf(env, sizeof(env), "GITHUB_STEP_SUMMARY=%s/summary.md",
		 summary);
	h_writes(h_path(summary, "summary.md"), "# before\n");
	assert_int_equal(kpin(&r, dir, env, "status", "--app", "hotfix",
			      "--markdown", NULL), 0);
	h_assert_contains(r.out.ptr, "## Status of main at ");
	h_assert_contains(r.out.ptr, "| App | Environment | Image | Tag |");
	h_assert_contains(r.out.ptr, "| hotfix | prd | img | v1-hotfix | ");
	h_assert_contains(r.out.ptr, "UNPROMOTED: stg never held");
	assert_int_equal(h_read(&b, h_path(summary, "summary.md")), 0);
	assert_int_equal(strncmp(b.ptr, "# before\n## Status of main", 26), 0);
	h_result_release(&r);
	kpin_buf_release(&b);
	h_rmrf(summary);
	free(summary);
}

static void test_status_check_and_filters(void **state)
{
	const char *dir = *state;
	struct h_result r;

	assert_int_equal(kpin(&r, dir, NULL, "status", "--check", NULL), 1);
	h_assert_contains(r.err.ptr, "7 anomalies found");
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--check", "--app",
			      "sync", NULL), 0);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--check", "--app",
			      "behind", NULL), 0);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--app", "nope", NULL),
			 4);
	h_assert_contains(r.err.ptr, "no application 'nope'");
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--env", "qa", NULL), 3);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--json", "--markdown",
			      NULL), 2);
	h_result_release(&r);
}

/* --remote reads the remote's tip: a change made there shows. */
static void test_status_remote(void **state)
{
	const char *dir = *state;
	char *remote = h_tmpdir();
	struct h_result r;

	assert_int_equal(h_git(&r, dir, "clone -q --bare . %s/r.git", remote),
			 0);
	h_result_release(&r);
	assert_int_equal(h_git(&r, dir, "remote add origin %s/r.git", remote),
			 0);
	h_result_release(&r);
	{
		char path[4096];
		const char *const f[] = {
			OV("sync", "prd"), "images:\n- name: img\n  newTag: v9\n",
			NULL
		};

		snprintf(path, sizeof(path), "%s/r.git", remote);
		h_repo_commit(path, "refs/heads/main", f);
	}
	assert_int_equal(kpin(&r, dir, NULL, "status", "--app", "sync", "--env",
			      "prd", "--json", NULL), 0);
	h_assert_contains(r.out.ptr, "\"drift\":\"in-sync\"");
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--app", "sync", "--env",
			      "prd", "--remote", "--json", NULL), 0);
	h_assert_contains(r.out.ptr, "\"tag\":\"v9\",\"digest\":null");
	h_assert_contains(r.out.ptr, "\"drift\":\"tag-only\"");
	h_result_release(&r);
	/* a shallow clone: the history is said to be cut short */
	assert_int_equal(h_git(&r, dir, "clone -q --depth 1 file://%s/r.git "
			       "%s/shallow", remote, remote), 0);
	h_result_release(&r);
	{
		char sh[4096];

		snprintf(sh, sizeof(sh), "%s/shallow", remote);
		assert_int_equal(kpin(&r, sh, NULL, "status", "--json", NULL),
				 0);
	}
	h_assert_contains(r.out.ptr, "\"complete_history\":false,");
	h_assert_contains(r.err.ptr, "shallow clone?");
	h_result_release(&r);
	/* a read: no remote-tracking ref was made or moved */
	assert_string_equal(h_git_out(dir, "for-each-ref refs/remotes"), "");
	h_rmrf(remote);
	free(remote);
}

/*
 * kpin get --app --env [--image]: from the branch tip, not the worktree;
 * without --image every entry; -f takes an overlay directory.
 */
static void test_get_repository_mode(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char want[256];

	/* the worktree's copy is broken: the tip's is read */
	h_writes(h_path(dir, OV("behind", "dev")), "images: [oops\n");
	assert_int_equal(kpin(&r, dir, NULL, "get", "--app", "behind", "--env",
			      "stg", "--image", "img", NULL), 0);
	snprintf(want, sizeof(want), "%s\n", D(1));
	assert_string_equal(r.out.ptr, want);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "get", "--app", "behind", "--env",
			      "dev", NULL), 0);
	snprintf(want, sizeof(want), "img  %s  v3\n", D(3));
	assert_string_equal(r.out.ptr, want);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "get", "--app", "tagonly", "--env",
			      "dev", "--json", NULL), 0);
	assert_string_equal(r.out.ptr, "[{\"file\":\".platform/kubernetes/"
			    "tagonly/overlays/dev/kustomization.yaml\","
			    "\"name\":\"img\",\"newName\":null,\"newTag\":"
			    "\"v1\",\"digest\":null,\"reference\":\"img:v1\","
			    "\"line\":2}]\n");
	h_result_release(&r);
	/* not found: the app, the environment, the image */
	assert_int_equal(kpin(&r, dir, NULL, "get", "--app", "nope", "--env",
			      "dev", NULL), 4);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "get", "--app", "missing",
			      "--env", "stg", NULL), 4);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "get", "--app", "sync", "--env",
			      "dev", "--image", "other", NULL), 4);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "get", "--app", "sync", NULL), 2);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "get", "-f", "x.yaml", "--app",
			      "sync", "--env", "dev", NULL), 2);
	h_result_release(&r);
	/* -f with a directory, as kustomize takes it */
	assert_int_equal(kpin(&r, dir, NULL, "get", "-f", ROOT "sync/overlays/"
			      "prd", "--image", "img", NULL), 0);
	snprintf(want, sizeof(want), "%s\n", D(1));
	assert_string_equal(r.out.ptr, want);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "get", "-f", ROOT "sync", NULL),
			 4);
	h_assert_contains(r.err.ptr, "no kustomization file");
	h_result_release(&r);
	h_writes(h_path(dir, ROOT "sync/overlays/prd/kustomization.yml"), T1);
	assert_int_equal(kpin(&r, dir, NULL, "get", "-f", ROOT "sync/overlays/"
			      "prd/", NULL), 3);
	h_assert_contains(r.err.ptr, "more than one kustomization file");
	h_result_release(&r);
}

/*
 * --verify: who signed the commit that set each value, by the code
 * history --verify uses: a key of the allowed signers (good, with its
 * principal), a key no allowed signer has, no signature at all; a
 * tampered commit fails the run. Without --verify nothing is checked.
 */
static void test_status_verify(void **state)
{
	static const char *const required[] = {
		".kpin.yaml", "signing: required\n", NULL
	};
	const char *dir = *state;
	char *keys = h_tmpdir();
	struct kpin_buf raw = KPIN_BUF_INIT;
	struct h_result r;
	const char *j;

	h_ssh_signer(keys, "good", "t@example.com");
	h_ssh_signer(keys, "stranger", NULL);
	assert_int_equal(h_git(&r, dir, "config gpg.format ssh && git config "
			       "gpg.ssh.allowedSignersFile '%s/allowed' && git "
			       "config user.signingkey '%s/good'", keys, keys),
			 0);
	h_result_release(&r);
	if (kpin(&r, dir, NULL, "set", "--app", "tagonly", "--env", "dev",
		 "--image", "img", "--digest", D(5), "--sign", NULL))
		fail_msg("set: %s", r.err.ptr);
	h_result_release(&r);
	assert_int_equal(h_git(&r, dir, "config user.signingkey '%s/stranger'",
			       keys), 0);
	h_result_release(&r);
	if (kpin(&r, dir, NULL, "set", "--app", "missing", "--env", "prd",
		 "--image", "img", "--digest", D(6), "--sign", NULL))
		fail_msg("set: %s", r.err.ptr);
	h_result_release(&r);

	/* --json: the verdict inside each row's "since" */
	assert_int_equal(kpin(&r, dir, NULL, "status", "--verify", "--json",
			      NULL), 0);
	j = row(r.out.ptr, "tagonly", "dev");
	h_assert_contains(j, ",\"signature\":{\"status\":\"good\",\"signer\":"
			  "\"t@example.com\",\"key\":\"SHA256:");
	j = row(r.out.ptr, "missing", "prd");
	h_assert_contains(j, ",\"signature\":{\"status\":\"unknown key\","
			  "\"signer\":null,\"key\":\"SHA256:");
	j = row(r.out.ptr, "sync", "dev");
	h_assert_contains(j, ",\"signature\":{\"status\":\"unsigned\","
			  "\"signer\":null,\"key\":null,\"reason\":null}}");
	h_assert_contains(row(r.out.ptr, "missing", "stg"), "\"since\":null");
	h_result_release(&r);
	/* the table's SIGNED column */
	assert_int_equal(kpin(&r, dir, NULL, "status", "--verify", NULL), 0);
	h_assert_contains(r.out.ptr, "  BY  ");
	h_assert_contains(r.out.ptr, "  SIGNED  ");
	h_assert_contains(r.out.ptr, "  signed by t@example.com  ");
	h_assert_contains(r.out.ptr, "  signed by an unknown key SHA256:");
	h_assert_contains(r.out.ptr, "  unsigned  ");
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--verify",
			      "--markdown", NULL), 0);
	h_assert_contains(r.out.ptr, "| By | Signed | Drift |\n");
	h_assert_contains(r.out.ptr, "| signed by t@example.com |");
	h_result_release(&r);
	/* not asked: no column, no key */
	assert_int_equal(kpin(&r, dir, NULL, "status", NULL), 0);
	assert_null(strstr(r.out.ptr, "SIGNED"));
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--json", NULL), 0);
	assert_null(strstr(r.out.ptr, "signature"));
	h_result_release(&r);

	/* the commit that set missing/prd, its message changed: bad */
	assert_int_equal(h_read(&raw, h_path(keys, "allowed")), 0);
	kpin_buf_reset(&raw);
	kpin_buf_addf(&raw, "%s\n\ntampered\n",
		      h_git_out(dir, "cat-file commit HEAD"));
	h_write(h_path(keys, "raw"), raw.ptr, raw.len);
	assert_int_equal(h_git(&r, dir, "update-ref refs/heads/main $(git "
			       "hash-object -t commit -w '%s/raw') && git reset "
			       "-q --hard", keys), 0);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--verify", NULL), 1);
	h_assert_contains(r.out.ptr, "  BAD signature: ");
	h_assert_contains(r.err.ptr, "1 value was set by a commit badly "
			  "signed");
	h_result_release(&r);
	/* under signing: required, unsigned and unknown keys fail too */
	h_repo_commit(dir, "refs/heads/main", required);
	assert_int_equal(h_git(&r, dir, "reset -q --hard"), 0);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--verify", "--env",
			      "dev", NULL), 1);
	h_assert_contains(r.err.ptr, " values were set by a commit not signed "
			  "by an allowed signer (signing: required in "
			  ".kpin.yaml)");
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, NULL, "status", "--env", "dev", NULL),
			 0);
	h_result_release(&r);
	kpin_buf_release(&raw);
	h_rmrf(keys);
	free(keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_drift_classes),
		cmocka_unit_test(test_status_outputs),
		cmocka_unit_test(test_status_check_and_filters),
		cmocka_unit_test(test_status_remote),
		cmocka_unit_test(test_get_repository_mode),
		cmocka_unit_test(test_status_verify),
	};

	return cmocka_run_group_tests_name("status", tests, setup,
					   h_repo_teardown);
}
