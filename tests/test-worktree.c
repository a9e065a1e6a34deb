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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_worktree_stale_journal_foreign_lock, setup,
			teardown),
	};

	return cmocka_run_group_tests_name("worktree", tests, NULL, NULL);
}
