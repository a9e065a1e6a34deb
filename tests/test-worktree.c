/*
 * Checkout integrity (issue 10, sections 1 and 3): kpin keeps the
 * invariants git keeps for a checked-out branch. The git CLI is the
 * witness: status, ls-files, fsck --strict, and no commit after kpin's
 * reverts its change.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define OV ".platform/kubernetes/web/overlays/prd/kustomization.yaml"

static const char *const files[] = {
	OV, "images:\n- name: web\n  newTag: v1\n",
	"README.md", "platform\n",
	"other.txt", "0\n",
	NULL
};

static int setup(void **state)
{
	return h_repo_setup(state, files);
}

#define teardown h_repo_teardown

static bool exists(const char *dir, const char *name)
{
	return access(h_path(dir, name), F_OK) == 0;
}

/* kpin set of the web overlay in @dir to digest @seed; the exit status. */
static int set_web(struct h_result *r, const char *dir, unsigned seed,
		   const char *extra)
{
	return h_kpin_run(r, dir, "set", "--app", "web", "--env", "prd",
			  "--image", "web", "--digest", h_digest(seed),
			  extra, NULL);
}

/*
 * A journal left by a killed kpin, and the fresh index.lock of a live
 * `git add`: the lock is not the dead kpin's, so it stays, and kpin says
 * what git would say, with the path.
 */
static void test_worktree_stale_journal_foreign_lock(void **state)
{
	const char *dir = *state;
	struct kpin_buf j = KPIN_BUF_INIT;
	char head[64];
	struct h_result r;

	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	kpin_buf_addf(&j, "kpin-journal 1\nref refs/heads/main\nold %s\n"
		      "index pending\npath %s\n", head, OV);
	h_writes(h_path(dir, ".git/kpin-journal"), j.ptr);
	h_writes(h_path(dir, ".git/index.lock"), "");
	assert_int_equal(set_web(&r, dir, 1, NULL), 5);
	h_assert_contains(r.err.ptr, "Unable to create '");
	h_assert_contains(r.err.ptr, ".git/index.lock': File exists");
	h_assert_contains(r.err.ptr, "nothing changed");
	h_result_release(&r);
	assert_true(exists(dir, ".git/index.lock"));
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	unlink(h_path(dir, ".git/index.lock"));
	h_assert_git_clean(dir);
	kpin_buf_release(&j);
}

/*
 * A branch checked out in another linked worktree is refused, as git
 * branch -f refuses it; from inside that worktree kpin works, and keeps
 * its journal and locks where git keeps that worktree's state.
 */
static void test_worktree_linked(void **state)
{
	const char *dir = *state;
	char wt[4200], wtgit[4300], feature[64];
	struct h_result r;

	snprintf(wt, sizeof(wt), "%s-wt", dir);
	assert_int_equal(h_git(&r, dir, "worktree add -q -b feature '%s'",
			       wt), 0);
	h_result_release(&r);
	snprintf(feature, sizeof(feature), "%s",
		 h_git_out(dir, "rev-parse feature"));
	assert_int_equal(set_web(&r, dir, 20, "--branch=feature"), 3);
	h_assert_contains(r.err.ptr, "'feature' is checked out in another "
			  "worktree");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse feature"), feature);
	/* git agrees that it would refuse */
	assert_int_not_equal(h_git(&r, dir, "branch -f feature main~0"), 0);
	h_result_release(&r);
	/* and from the main worktree's side: main is checked out here */
	assert_int_equal(set_web(&r, wt, 21, "--branch=main"), 3);
	h_result_release(&r);
	/* inside the linked worktree, its own branch */
	assert_int_equal(set_web(&r, wt, 22, NULL), 0);
	h_result_release(&r);
	h_assert_contains(h_git_out(wt, "show feature:%s", OV), h_digest(22));
	h_assert_git_clean(wt);
	h_assert_git_clean(dir);
	/* its journal and locks live in its own git directory */
	snprintf(wtgit, sizeof(wtgit), ".git/worktrees/%s/",
		 strrchr(wt, '/') + 1);
	assert_true(exists(dir, strcat(wtgit, "kpin.lock")));
	assert_false(exists(dir, ".git/kpin.lock"));
	h_sh(&r, dir, "git worktree remove --force '%s'", wt);
	h_result_release(&r);
}

/* Start @op in @dir (a shell command that may fail), then run kpin. */
static void refused_during(const char *dir, const char *op,
			   const char *name, const char *finish)
{
	char head[64];
	struct h_result r;

	h_sh(&r, dir, "%s", op);
	h_result_release(&r);
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse main"));
	assert_int_equal(set_web(&r, dir, 30, "--branch=main"), 3);
	h_assert_contains(r.err.ptr, name);
	h_assert_contains(r.err.ptr, "is in progress on 'main'");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse main"), head);
	assert_int_equal(h_sh(&r, dir, "%s", finish), 0);
	h_result_release(&r);
}

/*
 * A merge, rebase (both backends, HEAD detached), cherry-pick, revert,
 * am or bisect in progress on the branch: refused, naming it, nothing
 * changed; once it is over, kpin works.
 */
static void test_worktree_operation_in_progress(void **state)
{
	const char *dir = *state;
	struct h_result r;

	/* "side" changes README.md in a way that conflicts with main */
	assert_int_equal(h_sh(&r, dir, "git checkout -q -b side && "
			      "echo side > README.md && git commit -qam side "
			      "&& git checkout -q main && echo main > "
			      "README.md && git commit -qam main && "
			      "git format-patch -q -1 side -o ../patches"), 0);
	h_result_release(&r);
	refused_during(dir, "git merge side", "a merge",
		       "git merge --abort");
	refused_during(dir, "git rebase side", "a rebase",
		       "git rebase --abort");
	refused_during(dir, "git rebase --apply side", "a rebase",
		       "git rebase --abort");
	refused_during(dir, "git cherry-pick side", "a cherry-pick",
		       "git cherry-pick --abort");
	refused_during(dir, "git revert --no-edit side", "a revert",
		       "git revert --abort");
	refused_during(dir, "git am -3 ../patches/*.patch", "an am",
		       "git am --abort");
	refused_during(dir, "git bisect start", "a bisect",
		       "git bisect reset");
	assert_int_equal(set_web(&r, dir, 31, NULL), 0);
	h_result_release(&r);
	h_assert_git_clean(dir);
}

/* What libgit2 1.5 cannot open: exit 3, naming it. */
static void test_worktree_unsupported_repository(void **state)
{
	const char *dir = *state;
	char s256[4200];
	struct h_result r;

	snprintf(s256, sizeof(s256), "%s-s256", dir);
	if (h_sh(&r, NULL, "git init -q --object-format=sha256 '%s'", s256)) {
		print_message("# skip: git cannot make sha256 repositories\n");
	} else {
		h_result_release(&r);
		assert_int_equal(set_web(&r, s256, 40, NULL), 3);
		h_assert_contains(r.err.ptr, "uses the sha256 object format");
		h_rmrf(s256);
	}
	h_result_release(&r);
	assert_int_equal(h_git(&r, dir, "config core.repositoryformatversion "
			       "1 && git config extensions.worktreeConfig true"),
			 0);
	h_result_release(&r);
	assert_int_equal(set_web(&r, dir, 41, NULL), 3);
	h_assert_contains(r.err.ptr, "extensions.worktreeConfig");
	h_result_release(&r);
}

/* --branch refs/heads/main means the branch main, as in git. */
static void test_worktree_full_branch_name(void **state)
{
	const char *dir = *state;
	struct h_result r;

	assert_int_equal(set_web(&r, dir, 50, "--branch=refs/heads/main"), 0);
	h_result_release(&r);
	h_assert_contains(h_git_out(dir, "show main:%s", OV), h_digest(50));
	assert_string_equal(h_git_out(dir, "for-each-ref --format='%%(refname)' "
				      "refs/heads/refs"), "");
	h_assert_git_clean(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_worktree_stale_journal_foreign_lock, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_worktree_linked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_worktree_operation_in_progress, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_worktree_unsupported_repository, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_worktree_full_branch_name, setup, teardown),
	};

	return cmocka_run_group_tests_name("worktree", tests, NULL, NULL);
}
