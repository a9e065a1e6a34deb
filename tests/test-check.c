/*
 * kpin check: a golden case per rule in testdata/check (<rule>.bad.yaml
 * flagged exactly as <rule>.bad.out says, <rule>.good.yaml clean), and a
 * test that every rule kpin knows has one; directories, the policy's
 * require-digest and root, --json, and the real pre-commit framework
 * running kpin's hook on a commit.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kpin/check.h"

static const char *dir(void)
{
	static char d[4096];

	snprintf(d, sizeof(d), "%s/check", h_testdata());
	return d;
}

/* kpin check [args from <name>.args] <target>, in testdata/check. */
static void check(struct h_result *r, const char *name, const char *target)
{
	struct kpin_buf args = KPIN_BUF_INIT;
	const char *argv[16] = { "kpin", "check" };
	char *tok, *save = NULL;
	int n = 2;

	if (h_read(&args, h_path(dir(), name)) == 0 && args.len)
		for (tok = strtok_r(args.ptr, " \n", &save); tok && n < 14;
		     tok = strtok_r(NULL, " \n", &save))
			argv[n++] = tok;
	argv[n++] = target;
	argv[n] = NULL;
	h_run(r, dir(), NULL, argv, NULL);
	kpin_buf_release(&args);
}

static void test_check_golden(void **state)
{
	DIR *d = opendir(dir());
	struct dirent *de;
	size_t bad = 0, good = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char name[256], args[300], out[300];
		struct kpin_buf want = KPIN_BUF_INIT;
		struct h_result r;
		size_t len = strlen(de->d_name);

		if (len > 9 && !strcmp(de->d_name + len - 9, ".bad.yaml")) {
			snprintf(name, sizeof(name), "%.*s", (int)len - 9,
				 de->d_name);
			snprintf(args, sizeof(args), "%s.args", name);
			snprintf(out, sizeof(out), "%s.bad.out", name);
			check(&r, args, de->d_name);
			assert_int_equal(h_read(&want, h_path(dir(), out)), 0);
			if (strcmp(r.out.ptr, want.ptr))
				fail_msg("%s:\n%s\nexpected:\n%s", de->d_name,
					 r.out.ptr, want.ptr);
			/* warnings alone do not fail */
			assert_int_equal(r.status, strstr(want.ptr, ": error:") ?
					 1 : 0);
			bad++;
		} else if (len > 10 &&
			   !strcmp(de->d_name + len - 10, ".good.yaml")) {
			snprintf(name, sizeof(name), "%.*s", (int)len - 10,
				 de->d_name);
			snprintf(args, sizeof(args), "%s.args", name);
			check(&r, args, de->d_name);
			if (r.status || r.out.len)
				fail_msg("%s should pass:\n%s", de->d_name,
					 r.out.ptr);
			good++;
		} else {
			continue;
		}
		h_assert_contains(r.err.ptr, "in 1 file");
		h_result_release(&r);
		kpin_buf_release(&want);
	}
	closedir(d);
	assert_true(bad >= 20 && good >= 19);
}

static void test_check_directories(void **state)
{
	/* a directory to walk, or a file in it to name */
	static const char *const cases[][2] = {
		{ "missing-digest", "missing-digest" },
		{ "multiple-kustomizations", "multiple-kustomizations" },
		{ "policy-file", "policy-file/.kpin.yaml" },
	};
	struct kpin_buf want = KPIN_BUF_INIT;
	struct h_result r;
	char args[64], out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(args, sizeof(args), "%s.args", cases[i][0]);
		snprintf(out, sizeof(out), "%s.out", cases[i][0]);
		check(&r, args, cases[i][1]);
		assert_int_equal(h_read(&want, h_path(dir(), out)), 0);
		assert_string_equal(r.out.ptr, want.ptr);
		assert_int_equal(r.status, 1);
		h_result_release(&r);
	}
	kpin_buf_release(&want);
}

/* Every rule kpin reports has a golden case that triggers it. */
static void test_check_every_rule_has_a_case(void **state)
{
	const struct kpin_rule *rule;
	struct h_result r;

	(void)state;
	for (rule = kpin_check_rules(); rule->id; rule++) {
		if (!strcmp(rule->id, "unreadable"))
			continue;	/* made below: a file over the limit */
		assert_int_equal(h_sh(&r, dir(), "cat *.out */*.out 2>/dev/null"
				      " | grep -q '\\[%s\\]$'", rule->id), 0);
		h_result_release(&r);
	}
}

static void test_check_unreadable_and_json(void **state)
{
	char *tmp = h_tmpdir();
	const char *big = h_path(tmp, "kustomization.yaml");
	struct h_result r;
	FILE *fp = fopen(big, "w");
	long i;

	(void)state;
	assert_non_null(fp);
	fputs("images:\n- name: app\n", fp);
	for (i = 0; i < 5 * 1024 * 1024 / 16; i++)
		fputs("# padding line.\n", fp);
	fclose(fp);
	assert_int_equal(h_kpin_run(&r, tmp, "check", "--json", ".", NULL), 1);
	assert_string_equal(r.out.ptr, "[{\"file\":\"kustomization.yaml\","
			    "\"line\":1,\"col\":1,\"severity\":\"error\","
			    "\"rule\":\"unreadable\",\"message\":\"file is "
			    "5242900 bytes, over the limit of 4194304\"}]\n");
	h_result_release(&r);
	h_writes(big, "images:\n- name: app\n");
	assert_int_equal(h_kpin_run(&r, tmp, "check", "--json", NULL), 0);
	assert_string_equal(r.out.ptr, "[]\n");
	h_assert_contains(r.err.ptr, "0 errors, 0 warnings in 1 file");
	h_result_release(&r);
	/* one file under two names is checked once; a missing path is a
	 * finding among the others, not the end of the run */
	assert_int_equal(h_kpin_run(&r, tmp, "check", "kustomization.yaml",
				    "./kustomization.yaml", "nope", NULL), 1);
	assert_string_equal(r.out.ptr, "nope:1:1: error: cannot check it: No "
			    "such file or directory [unreadable]\n");
	h_assert_contains(r.err.ptr, "1 error, 0 warnings in 1 file");
	h_result_release(&r);
	h_rmrf(tmp);
	free(tmp);
}

/* With no path: the policy's root; its require-digest; .git skipped. */
static void test_check_policy(void **state)
{
	char *tmp = h_tmpdir();
	struct h_result r;

	(void)state;
	assert_int_equal(h_sh(&r, tmp, "git init -q . && mkdir -p "
			      "deploy/web/overlays/prd deploy/web/overlays/dev "
			      ".git/x other && printf 'images:\\n- name: web\\n' "
			      "| tee deploy/web/overlays/prd/kustomization.yaml "
			      "deploy/web/overlays/dev/kustomization.yaml "
			      ".git/x/kustomization.yaml >/dev/null && printf "
			      "'images: x\\n' > other/kustomization.yaml && "
			      "printf 'root: deploy\\nrequire-digest: [prd]\\n' "
			      "> .kpin.yaml"), 0);
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, h_path(tmp, "deploy/web"), "check",
				    NULL), 1);
	assert_string_equal(r.out.ptr, "deploy/web/overlays/prd/"
			    "kustomization.yaml:2:3: error: image 'web' pins no "
			    "digest [missing-digest]\n");
	h_result_release(&r);
	/* the command line's list replaces the policy's */
	assert_int_equal(h_kpin_run(&r, tmp, "check", "--require-digest=dev",
				    "deploy", NULL), 1);
	h_assert_contains(r.out.ptr, "overlays/dev/kustomization.yaml:2:3");
	assert_null(strstr(r.out.ptr, "overlays/prd"));
	h_result_release(&r);
	/* from inside the overlay, the environment is still known */
	assert_int_equal(h_kpin_run(&r, h_path(tmp, "deploy/web/overlays/prd"),
				    "check", "kustomization.yaml", NULL), 1);
	h_assert_contains(r.out.ptr, "[missing-digest]");
	h_result_release(&r);
	/* an invalid policy is an error, never ignored */
	h_writes(h_path(tmp, ".kpin.yaml"), "root: deploy\nrequire: [prd]\n");
	assert_int_equal(h_kpin_run(&r, tmp, "check", NULL), 3);
	h_assert_contains(r.err.ptr, ".kpin.yaml:2:1: error: unknown policy "
			  "key 'require'");
	h_result_release(&r);
	h_rmrf(tmp);
	free(tmp);
}

/* get --json reports the digest of newTag: "tag@digest" too. */
static void test_check_get_newtag_digest(void **state)
{
	char *tmp = h_tmpdir();
	struct h_result r;
	char want[512];

	(void)state;
	snprintf(want, sizeof(want), "images:\n- name: web\n  newTag: "
		 "\"v2@%s\"\n", h_digest(7));
	h_writes(h_path(tmp, "kustomization.yaml"), want);
	assert_int_equal(h_kpin_run(&r, tmp, "get", "-f", "kustomization.yaml",
				    "--image", "web", "--json", NULL), 0);
	snprintf(want, sizeof(want), "\"digest\":\"%s\",\"reference\":"
		 "\"web:v2@%s\"", h_digest(7), h_digest(7));
	h_assert_contains(r.out.ptr, want);
	h_result_release(&r);
	h_rmrf(tmp);
	free(tmp);
}

/* The real pre-commit framework runs kpin's hook from this repository. */
static void test_check_pre_commit(void **state)
{
	char *tmp = h_tmpdir(), *kpin_dir, *src, *slash;
	char rev[64];
	struct h_result r;
	const char *good = "images:\n- name: web\n  digest: sha256:"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
	int no_repo;

	(void)state;
	if (h_sh(&r, NULL, "command -v pre-commit")) {
		h_result_release(&r);
		printf("# skip: pre-commit is not installed\n");
		h_rmrf(tmp);
		free(tmp);
		skip();
	}
	h_result_release(&r);
	src = realpath(h_testdata(), NULL);
	assert_non_null(src);
	*strrchr(src, '/') = '\0';
	/* each result is released before r is used again */
	no_repo = h_git(&r, src, "rev-parse HEAD");
	h_result_release(&r);
	if (no_repo ||
	    h_sh(&r, src, "git cat-file -e HEAD:.pre-commit-hooks.yaml")) {
		h_result_release(&r);
		printf("# skip: %s is not a git checkout with the hooks file "
		       "committed\n", src);
		free(src);
		h_rmrf(tmp);
		free(tmp);
		skip();
	}
	h_result_release(&r);
	snprintf(rev, sizeof(rev), "%s", h_git_out(src, "rev-parse HEAD"));
	kpin_dir = realpath(h_kpin(), NULL);
	assert_non_null(kpin_dir);
	slash = strrchr(kpin_dir, '/');
	*slash = '\0';
	assert_int_equal(h_git(&r, tmp, "init -q . && git config user.name t "
			       "&& git config user.email t@t && printf "
			       "'repos:\\n- repo: %s\\n  rev: %s\\n  hooks:\\n  - "
			       "id: kpin-check\\n' > .pre-commit-config.yaml && "
			       "git add . && git commit -qm config", src, rev),
			 0);
	h_result_release(&r);
	assert_int_equal(h_sh(&r, tmp, "mkdir -p app/overlays/prd && printf "
			      "'images:\\n- name: web\\n  digest: sha256:ABC\\n' "
			      "> app/overlays/prd/kustomization.yaml && git add "
			      "app && PATH='%s':$PATH PRE_COMMIT_HOME='%s/.cache' "
			      "HOME='%s' pre-commit install >/dev/null && "
			      "PATH='%s':$PATH PRE_COMMIT_HOME='%s/.cache' "
			      "HOME='%s' git -c user.name=t -c user.email=t@t "
			      "commit -qm bad 2>&1", kpin_dir, tmp, tmp, kpin_dir, tmp,
			      tmp), 1);
	/* blocked, with file and line in pre-commit's output */
	h_assert_contains(r.out.ptr, "app/overlays/prd/kustomization.yaml:3:11:"
			  " error:");
	h_assert_contains(r.out.ptr, "[digest-format]");
	h_result_release(&r);
	h_writes(h_path(tmp, "app/overlays/prd/kustomization.yaml"), good);
	assert_int_equal(h_sh(&r, tmp, "git add app && PATH='%s':$PATH "
			      "PRE_COMMIT_HOME='%s/.cache' HOME='%s' git -c "
			      "user.name=t -c user.email=t@t commit -qm good",
			      kpin_dir, tmp, tmp), 0);
	h_result_release(&r);
	/* the hook also guards the policy file */
	h_writes(h_path(tmp, ".kpin.yaml"), "promotion: sometimes\n");
	assert_int_equal(h_sh(&r, tmp, "git add .kpin.yaml && PATH='%s':$PATH "
			      "PRE_COMMIT_HOME='%s/.cache' HOME='%s' git -c "
			      "user.name=t -c user.email=t@t commit -qm policy "
			      "2>&1", kpin_dir, tmp, tmp), 1);
	h_assert_contains(r.out.ptr, "'promotion' must be ordered or free");
	h_result_release(&r);
	free(kpin_dir);
	free(src);
	h_rmrf(tmp);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_golden),
		cmocka_unit_test(test_check_directories),
		cmocka_unit_test(test_check_every_rule_has_a_case),
		cmocka_unit_test(test_check_unreadable_and_json),
		cmocka_unit_test(test_check_policy),
		cmocka_unit_test(test_check_get_newtag_digest),
		cmocka_unit_test(test_check_pre_commit),
	};

	return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
