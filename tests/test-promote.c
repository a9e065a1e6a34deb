/*
 * Promotion policy, promote, history and rollback on temporary
 * repositories, with the git CLI as witness: ordered promotion refused,
 * allowed and forced; all images or one copied between environments;
 * history that includes hand-made and merge commits; rollbacks to the
 * previous, an older and a named digest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ROOT ".platform/kubernetes/web/overlays/"
#define OV(env) ROOT env "/kustomization.yaml"
#define D(n) h_digest(500 + (n))

static const char *const files[] = {
	OV("dev"), "images:\n- name: web\n  newTag: v1\n- name: sidecar\n"
		   "  newTag: v1\n",
	OV("stg"), "images:\n- name: web\n  newTag: v1\n- name: sidecar\n"
		   "  newTag: v1\n",
	OV("prd"), "# production\nimages:\n- name: web\n  newTag: v1\n"
		   "- name: sidecar\n  newTag: v1\n",
	NULL
};

static int setup(void **state)
{
	char *dir = h_tmpdir();

	h_repo_init(dir, false, files);
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	h_rmrf(*state);
	free(*state);
	return 0;
}

/* kpin in @dir without global git config or GITHUB_ACTOR. */
static int kpin(struct h_result *r, const char *dir, ...)
{
	const char *argv[32], *env[] = { h_env_home(), "XDG_CONFIG_HOME=",
					 "GITHUB_ACTOR=", NULL };
	va_list ap;
	int n = 0;

	argv[n++] = "kpin";
	va_start(ap, dir);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return h_run(r, dir, env, argv, NULL);
}

/* Run kpin, requiring @status. */
static void must(const char *dir, int status, const char *words, ...)
{
	const char *argv[32], *env[] = { h_env_home(), "XDG_CONFIG_HOME=",
					 "GITHUB_ACTOR=", NULL };
	struct h_result r;
	va_list ap;
	int n = 0;

	argv[n++] = "kpin";
	va_start(ap, words);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	h_run(&r, dir, env, argv, NULL);
	if (r.status != status)
		fail_msg("%s: exit %d, expected %d: %s", argv[1], r.status,
			 status, r.err.ptr);
	if (words)
		h_assert_contains(r.err.ptr, words);
	h_result_release(&r);
}

static void set_digest(const char *dir, const char *env, const char *d)
{
	must(dir, 0, NULL, "set", "--app", "web", "--env", env, "--image",
	     "web", "--digest", d, NULL);
}

static void commit_policy(const char *dir, const char *text)
{
	const char *p[] = { ".kpin.yaml", text, NULL };
	struct h_result r;

	h_repo_commit(dir, "refs/heads/main", p);
	assert_int_equal(h_git(&r, dir, "reset -q --hard"), 0);
	h_result_release(&r);
}

static void test_policy_ordered(void **state)
{
	const char *dir = *state;
	char head[64];

	commit_policy(dir, "promotion: ordered\n");
	/* straight to prd: refused, names stg, changes nothing */
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	must(dir, 6, "has not passed through stg", "set", "--app", "web",
	     "--env", "prd", "--image", "web", "--digest", D(1), NULL);
	must(dir, 6, "web/stg never held it", "set", "--app", "web", "--env",
	     "prd", "--image", "web", "--digest", D(1), "--dry-run", NULL);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	/* dev is first: always allowed; stg after dev */
	set_digest(dir, "dev", D(1));
	must(dir, 6, "has not passed through dev", "set", "--app", "web",
	     "--env", "stg", "--image", "web", "--digest", D(2), NULL);
	set_digest(dir, "stg", D(1));
	set_digest(dir, "prd", D(1));
	/* held earlier (not at the tip) counts too */
	set_digest(dir, "dev", D(2));
	set_digest(dir, "stg", D(2));
	set_digest(dir, "dev", D(3));
	set_digest(dir, "stg", D(3));
	set_digest(dir, "prd", D(2));
	/* apply is held to the same rule */
	must(dir, 6, "has not passed through stg", "apply", "--repository",
	     "a/b", "--image-name", "web", "--directory-name", "web",
	     "--environment", "prd", "--digest", D(4), NULL);
	/* --force passes and says who forced it */
	must(dir, 0, NULL, "set", "--app", "web", "--env", "prd", "--image",
	     "web", "--digest", D(4), "--force", "--author",
	     "Ops Lead <lead@example.com>", NULL);
	h_assert_contains(h_git_out(dir, "log -1 '--format=%%(trailers)'"),
			  "Policy-Override: Ops Lead <lead@example.com> forced "
			  "web@");
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(4));
	/* free promotion (the default) does not check */
	commit_policy(dir, "promotion: free\n");
	set_digest(dir, "prd", D(5));
}

static void test_policy_invalid(void **state)
{
	const char *dir = *state;
	char head[64];

	commit_policy(dir, "environments: [dev, stg, prd]\npromotion: strict\n");
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	must(dir, 3, ".kpin.yaml:2:12: error: 'promotion' must be ordered or "
	     "free", "set", "--app", "web", "--env", "dev", "--image", "web",
	     "--digest", D(1), NULL);
	commit_policy(dir, "environments: [dev, stg]\nrequire-digest: [prd]\n");
	must(dir, 3, ".kpin.yaml:2:18: error: 'require-digest' names an "
	     "environment", "set", "--app", "web", "--env", "dev", "--image",
	     "web", "--digest", D(1), NULL);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD^"), head);
}

static void test_promote(void **state)
{
	const char *dir = *state;
	struct h_result r;

	must(dir, 0, NULL, "set", "--app", "web", "--env", "stg", "--image",
	     "web", "--digest", D(1), "--tag", "1.10", NULL);
	must(dir, 0, NULL, "set", "--app", "web", "--env", "stg", "--image",
	     "sidecar", "--digest", D(2), NULL);
	/* every image, one commit, only the target overlay */
	must(dir, 0, NULL, "promote", "--app", "web", "--from", "stg", "--to",
	     "prd", NULL);
	assert_string_equal(h_git_out(dir, "diff-tree --no-commit-id "
				      "--name-only -r HEAD"), OV("prd"));
	assert_string_equal(h_git_out(dir, "log -1 --format=%%s"),
			    "web/prd: promote 2 images from stg");
	h_assert_contains(h_git_out(dir, "log -1 '--format=%%(trailers)'"),
			  "Promoted-From: stg");
	{
		char want[2048];

		snprintf(want, sizeof(want), "# production\n%s",
			 h_git_out(dir, "show HEAD:%s", OV("stg")));
		assert_string_equal(h_git_out(dir, "show HEAD:%s", OV("prd")),
				    want);
	}
	/* again: nothing to do */
	assert_int_equal(kpin(&r, dir, "promote", "--app", "web", "--from",
			      "stg", "--to", "prd", NULL), 0);
	h_assert_contains(r.err.ptr, "unchanged");
	h_result_release(&r);
	/* one image */
	must(dir, 0, NULL, "set", "--app", "web", "--env", "stg", "--image",
	     "web", "--digest", D(3), NULL);
	must(dir, 0, NULL, "set", "--app", "web", "--env", "stg", "--image",
	     "sidecar", "--digest", D(4), NULL);
	must(dir, 0, NULL, "promote", "--app", "web", "--from", "stg", "--to",
	     "prd", "--image", "sidecar", NULL);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(4));
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(1));
	must(dir, 4, "no images entry named 'nope'", "promote", "--app", "web",
	     "--from", "stg", "--to", "prd", "--image", "nope", NULL);
	must(dir, 2, "the same environment", "promote", "--app", "web",
	     "--from", "prd", "--to", "prd", NULL);
	/* a tag-only source onto a digest-pinned target: refused */
	must(dir, 0, NULL, "set", "--app", "web", "--env", "dev", "--image",
	     "web", "--tag", "2.0", NULL);
	{
		char head[64];

		snprintf(head, sizeof(head), "%s",
			 h_git_out(dir, "rev-parse HEAD"));
		must(dir, 3, "pins only tag '2.0'", "promote", "--app", "web",
		     "--from", "dev", "--to", "prd", "--image", "web", NULL);
		assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	}
}

/*
 * A hotfix made in the target is not moved back by the next promotion
 * of the other images; naming the image still promotes it.
 */
static void test_promote_leaves_hotfix(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char hotfix[41], want[512];

	must(dir, 0, NULL, "set", "--app", "web", "--env", "stg", "--image",
	     "web", "--digest", D(1), NULL);
	must(dir, 0, NULL, "set", "--app", "web", "--env", "stg", "--image",
	     "sidecar", "--digest", D(2), NULL);
	must(dir, 0, NULL, "promote", "--app", "web", "--from", "stg", "--to",
	     "prd", NULL);
	/* the hotfix, in prd alone */
	must(dir, 0, NULL, "set", "--app", "web", "--env", "prd", "--image",
	     "sidecar", "--digest", D(3), NULL);
	snprintf(hotfix, sizeof(hotfix), "%s", h_git_out(dir, "rev-parse "
							 "HEAD"));
	must(dir, 0, NULL, "set", "--app", "web", "--env", "stg", "--image",
	     "web", "--digest", D(4), NULL);
	assert_int_equal(kpin(&r, dir, "promote", "--app", "web", "--from",
			      "stg", "--to", "prd", "--json", NULL), 0);
	h_assert_contains(r.err.ptr, "left 'sidecar' alone: prd held ");
	h_assert_contains(r.err.ptr, "name it with --image");
	/* --json lists what it left alone, and why */
	h_assert_contains(r.out.ptr, "{\"changed\":true,");
	snprintf(want, sizeof(want), ",\"left_alone\":[{\"file\":\"%s\","
		 "\"app\":\"web\",\"env\":\"prd\",\"image\":\"sidecar\","
		 "\"digest\":\"%s\",\"tag\":\"v1\",\"reason\":\"moved_on\","
		 "\"commit\":\"%s\"}]}\n", OV("prd"), D(2), hotfix);
	h_assert_contains(r.out.ptr, want);
	h_result_release(&r);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(4));
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(3));
	h_assert_contains(h_git_out(dir, "log -1 --format=%%s"),
			  "web/prd: promote web from stg (");
	/* only the hotfixed image differs: left alone again, no commit */
	assert_int_equal(kpin(&r, dir, "promote", "--app", "web", "--from",
			      "stg", "--to", "prd", NULL), 0);
	h_assert_contains(r.err.ptr, "left 'sidecar' alone");
	h_assert_contains(r.err.ptr, "unchanged");
	h_result_release(&r);
	/*
	 * dev pins tags prd held before it moved to digests: all left, and
	 * --json still prints its object (it printed nothing); dev's
	 * debug pins nothing.
	 */
	{
		const char *debug[] = { OV("dev"), "images:\n- name: web\n"
			"  newTag: v1\n- name: sidecar\n  newTag: v1\n"
			"- name: debug\n", NULL };

		h_repo_commit(dir, "refs/heads/main", debug);
		assert_int_equal(h_git(&r, dir, "reset -q --hard"), 0);
		h_result_release(&r);
	}
	assert_int_equal(kpin(&r, dir, "promote", "--app", "web", "--from",
			      "dev", "--to", "prd", "--json", NULL), 0);
	h_assert_contains(r.err.ptr, "left 'web' alone: prd held v1 after "
			  "dev had it");
	h_assert_contains(r.err.ptr, "web/prd: nothing to promote from dev");
	h_assert_contains(r.out.ptr, "{\"changed\":false,\"commit\":null,"
			  "\"branch\":\"main\",\"pushed\":null,\"updates\":[],"
			  "\"left_alone\":[{");
	h_assert_contains(r.out.ptr, "\"image\":\"debug\",\"digest\":null,"
			  "\"tag\":null,\"reason\":\"nothing_pinned\","
			  "\"commit\":null}");
	h_assert_contains(r.out.ptr, "\"image\":\"web\",\"digest\":null,"
			  "\"tag\":\"v1\",\"reason\":\"moved_on\"");
	h_result_release(&r);
	/* named, it is promoted */
	must(dir, 0, NULL, "promote", "--app", "web", "--from", "stg", "--to",
	     "prd", "--image", "sidecar", NULL);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(2));
	/* a value new to the target is promoted again */
	must(dir, 0, NULL, "set", "--app", "web", "--env", "stg", "--image",
	     "sidecar", "--digest", D(5), NULL);
	must(dir, 0, NULL, "promote", "--app", "web", "--from", "stg", "--to",
	     "prd", NULL);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(5));
}

/* An app without an overlay for stg: prd follows dev, its previous one. */
static void test_policy_ordered_skips_missing_env(void **state)
{
	const char *dir = *state;
	const char *solo[] = {
		".platform/kubernetes/solo/overlays/dev/kustomization.yaml",
		"images:\n- name: solo\n",
		".platform/kubernetes/solo/overlays/prd/kustomization.yaml",
		"images:\n- name: solo\n",
		".kpin.yaml", "promotion: ordered\n", NULL };
	struct h_result r;

	h_repo_commit(dir, "refs/heads/main", solo);
	assert_int_equal(h_git(&r, dir, "reset -q --hard"), 0);
	h_result_release(&r);
	must(dir, 6, "has not passed through dev", "set", "--app", "solo",
	     "--env", "prd", "--image", "solo", "--digest", D(1), NULL);
	must(dir, 0, NULL, "set", "--app", "solo", "--env", "dev", "--image",
	     "solo", "--digest", D(1), NULL);
	must(dir, 0, NULL, "promote", "--app", "solo", "--from", "dev",
	     "--to", "prd", NULL);
	h_assert_contains(h_git_out(dir, "show HEAD:.platform/kubernetes/solo/"
				    "overlays/prd/kustomization.yaml"), D(1));
	/* web, which has stg, still needs it */
	must(dir, 6, "has not passed through stg", "set", "--app", "web",
	     "--env", "prd", "--image", "web", "--digest", D(2), NULL);
}

/* A change made by hand, with git, and one merged from a side branch. */
static void hand_and_merge(const char *dir)
{
	struct h_result r;

	set_digest(dir, "prd", D(1));
	assert_int_equal(h_git(&r, dir, "-c user.name=Hand -c user.email=h@h "
			       "commit -qm 'hand edit' --allow-empty && sed -i "
			       "'s/newTag: v1/newTag: v2/' %s && git -c "
			       "user.name=Hand -c user.email=h@h commit -qam "
			       "'bump web by hand'", OV("prd")), 0);
	h_result_release(&r);
	assert_int_equal(h_git(&r, dir, "checkout -q -b side && sed -i "
			       "'s/newTag: v2/newTag: v3/' %s && git -c "
			       "user.name=Side -c user.email=s@s commit -qam "
			       "'side change' && git checkout -q main && git -c "
			       "user.name=Merger -c user.email=m@m merge -q "
			       "--no-ff -m 'merge side' side", OV("prd")), 0);
	h_result_release(&r);
	set_digest(dir, "prd", D(2));
}

static void test_history(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char *text;

	hand_and_merge(dir);
	assert_int_equal(kpin(&r, dir, "history", "--app", "web", "--env",
			      "prd", "--image", "web", NULL), 0);
	text = strdup(r.out.ptr);
	h_result_release(&r);
	/* newest first: kpin, the merge (first-parent), the hand edit, kpin */
	{
		char *l[6] = { NULL }, *save = NULL, *p;
		int n = 0;

		for (p = strtok_r(text, "\n", &save); p && n < 6;
		     p = strtok_r(NULL, "\n", &save))
			l[n++] = p;
		assert_int_equal(n, 5);
		h_assert_contains(l[0], "web  sha256:");
		h_assert_contains(l[0], "v3  Repo User");
		h_assert_contains(l[1], "v3  Merger");
		h_assert_contains(l[2], "v2  Hand");
		h_assert_contains(l[3], "v1  Repo User");
		h_assert_contains(l[4], "-  v1  Fixture");
	}
	free(text);
	/* the side branch's own commit is not on the first-parent line */
	assert_int_equal(kpin(&r, dir, "history", "--app", "web", "--env",
			      "prd", "--json", "-n", "2", NULL), 0);
	h_assert_contains(r.out.ptr, "\"subject\":\"merge side\"");
	assert_null(strstr(r.out.ptr, "side change"));
	h_assert_contains(r.out.ptr, "\"author\":\"Repo User "
			  "<repo@example.com>\"");
	h_result_release(&r);
	/* trailers are reported */
	must(dir, 0, NULL, "apply", "--repository", "acme/web",
	     "--image-name", "web", "--directory-name", "web",
	     "--environment", "prd", "--digest", D(3), "--release", "r42",
	     NULL);
	assert_int_equal(kpin(&r, dir, "history", "--app", "web", "--env",
			      "prd", "-n", "1", "--json", NULL), 0);
	h_assert_contains(r.out.ptr, "\"source_repository\":\"acme/web\"");
	h_assert_contains(r.out.ptr, "\"release\":\"r42\"");
	h_result_release(&r);
	/* a typo is an error, not an empty history */
	must(dir, 4, "no directory", "history", "--app", "wbe", "--env",
	     "prd", NULL);
	must(dir, 3, "unknown environment 'qa'", "history", "--app", "web",
	     "--env", "qa", NULL);
	/* a detached HEAD is not blamed on the policy file */
	assert_int_equal(h_git(&r, dir, "checkout -q --detach"), 0);
	h_result_release(&r);
	assert_int_equal(kpin(&r, dir, "history", "--app", "web", "--env",
			      "prd", NULL), 3);
	assert_string_equal(r.err.ptr, "kpin: HEAD is detached: pass "
			    "--branch\n");
	h_result_release(&r);
}

static void test_rollback(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char *t;

	set_digest(dir, "prd", D(1));
	set_digest(dir, "prd", D(2));
	set_digest(dir, "prd", D(2));	/* a no-op: no commit */
	set_digest(dir, "prd", D(3));
	/* back one distinct digest */
	must(dir, 0, NULL, "rollback", "--app", "web", "--env", "prd",
	     "--image", "web", NULL);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(2));
	t = strdup(h_git_out(dir, "log -1 '--format=%%(trailers)'"));
	h_assert_contains(t, "Rollback-From: ");
	h_assert_contains(t, D(3));
	h_assert_contains(t, "Rollback-To: ");
	h_assert_contains(t, D(2));
	free(t);
	/* again: in release order, D1, not back to D3 */
	must(dir, 0, NULL, "rollback", "--app", "web", "--env", "prd",
	     "--image", "web", NULL);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(1));
	/* D1 is the first release: nothing before it */
	must(dir, 4, "no digest 1 step back", "rollback", "--app", "web",
	     "--env", "prd", "--image", "web", NULL);
	/* a named digest from the history */
	must(dir, 0, NULL, "rollback", "--app", "web", "--env", "prd",
	     "--image", "web", "--to", D(3), NULL);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(3));
	/* two releases back from D3 */
	must(dir, 0, NULL, "rollback", "--app", "web", "--env", "prd",
	     "--image", "web", "--steps", "2", NULL);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(1));
	/* one it never held: refused, unless forced */
	must(dir, 4, "never held", "rollback", "--app", "web", "--env", "prd",
	     "--image", "web", "--to", D(9), NULL);
	must(dir, 0, NULL, "rollback", "--app", "web", "--env", "prd",
	     "--image", "web", "--to", D(9), "--force", NULL);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV("prd")), D(9));
	/* which image? two pin digests now */
	must(dir, 0, NULL, "set", "--app", "web", "--env", "prd", "--image",
	     "sidecar", "--digest", D(6), NULL);
	must(dir, 2, "choose one with --image", "rollback", "--app", "web",
	     "--env", "prd", NULL);
	must(dir, 4, "no digest 9 steps back", "rollback", "--app", "web",
	     "--env", "prd", "--image", "web", "--steps", "9", NULL);
	assert_int_equal(kpin(&r, dir, "rollback", "--app", "web", "--env",
			      "prd", "--image", "web", "--to", "sha256:1",
			      NULL), 3);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "status --porcelain"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_policy_ordered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_policy_invalid, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_promote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promote_leaves_hotfix,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_policy_ordered_skips_missing_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
	};

	return cmocka_run_group_tests_name("promote", tests, NULL, NULL);
}
