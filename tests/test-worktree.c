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

#define RACE_RUNS 80	/* kpin updates beside loops of git commit */
/*
 * A shell loop of git commits until a file "stop" appears. They commit
 * what the index holds, as it is, and stage nothing themselves: a git
 * add before each would let git race itself (git commit reads the index
 * before it locks it, and may write that stale copy back after kpin).
 */
#define LOOP(name) "i=0; while [ ! -e stop ] && [ $i -lt 5000 ]; do " \
	"i=$((i+1)); git commit -q --allow-empty -m \"" name " $i\"; done"

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
 * Start "/bin/sh -c @script" in @dir, its output discarded; the pid.
 */
static pid_t spawn_sh(const char *dir, const char *script)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) ||
		    !freopen("/dev/null", "w", stderr) || chdir(dir) < 0)
			_exit(126);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/*
 * The revert race: loops of `git commit` beside a loop of kpin updates of
 * the overlay. Every kpin update
 * must stay in history: no later commit may put the overlay back (which
 * a git commit did when it read the new tip with the old index, about 1
 * update in 25 when kpin moved the branch before its index was in place),
 * and the checkout ends clean.
 */
static void test_worktree_commit_race(void **state)
{
	const char *dir = *state;
	struct kpin_buf log = KPIN_BUF_INIT;
	char *line, *next, want[80] = "";
	int i, ok = 0, commits = 0, reverted = 0, dirty = 0;
	struct h_result r;
	pid_t loop[2];
	int st, k;

	/* two committers: more chances to fall in a window, if there is one */
	for (k = 0; k < 2; k++)
		loop[k] = spawn_sh(dir, k ? LOOP("first") : LOOP("second"));
	for (i = 0; i < RACE_RUNS; i++) {
		int rc = set_web(&r, dir, 1000 + (unsigned)i, NULL);

		/*
		 * 5: index.lock held by git past kpin's wait. 3: the overlay
		 * has changes: a git commit that read the index before kpin
		 * locked it wrote that stale index back after kpin (git's
		 * own race between two of its commands; its commit then
		 * fails); put the overlay back as HEAD has it and go on.
		 */
		if (rc == 3 && strstr(r.err.ptr, "changes in the checkout")) {
			dirty++;
			h_result_release(&r);
			h_git(&r, dir, "checkout HEAD -- %s", OV);
		} else if (rc && rc != 5) {
			fail_msg("kpin exited %d: %s", rc, r.err.ptr);
		}
		ok += rc == 0;
		h_result_release(&r);
	}
	h_writes(h_path(dir, "stop"), "");
	for (k = 0; k < 2; k++)
		assert_int_equal(waitpid(loop[k], &st, 0), loop[k]);
	unlink(h_path(dir, "stop"));
	/* oldest first: each commit's overlay, and whether kpin made it */
	assert_int_equal(h_git(&r, dir, "log --reverse --format='%%H %%s'"), 0);
	kpin_buf_add(&log, r.out.ptr, r.out.len);
	h_result_release(&r);
	for (line = log.ptr; line && *line; line = next) {
		const char *ov;
		char id[41];

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		snprintf(id, sizeof(id), "%.40s", line);
		ov = h_git_out(dir, "show %s:%s", id, OV);
		if (strstr(line + 41, "web/prd: set web to ")) {
			const char *d = strstr(ov, "sha256:");

			assert_non_null(d);
			snprintf(want, sizeof(want), "%.71s", d);
			continue;
		}
		commits++;
		if (*want && !strstr(ov, want)) {
			reverted++;
			print_message("# %.12s (%s) reverted %s\n", id,
				      line + 41, want);
		}
	}
	print_message("# %d kpin updates (%d refused, %d after a stale index "
		      "write by git), %d git commits\n", ok, RACE_RUNS - ok,
		      dirty, commits);
	assert_int_equal(reverted, 0);
	assert_true(ok > RACE_RUNS / 2);
	/* the last update is where the branch is; the objects are sound */
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV), want);
	assert_int_equal(h_git(&r, dir, "fsck --strict"), 0);
	h_result_release(&r);
	kpin_buf_release(&log);
}

/*
 * A branch checked out in another linked worktree is refused, as git
 * branch -f refuses it; from inside that worktree kpin works, and keeps
 * its journal and locks where git keeps that worktree's state.
 */
static void test_worktree_linked(void **state)
{
	const char *dir = *state;
	char wt[4200], feature[64];
	struct h_result r;

	snprintf(wt, sizeof(wt), "%s", h_path(dir, "../linked-wt"));
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
	assert_false(exists(dir, ".git/worktrees/linked-wt/kpin-journal"));
	assert_false(exists(dir, ".git/worktrees/linked-wt/index.lock"));
	assert_true(exists(dir, ".git/worktrees/linked-wt/kpin.lock"));
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

	snprintf(s256, sizeof(s256), "%s", h_path(dir, "../sha256-repo"));
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
		cmocka_unit_test_setup_teardown(test_worktree_commit_race,
						setup, teardown),
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
