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

#define RACE_RUNS 80	/* kpin updates beside a loop of git commit */

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
 * The revert race: a loop of `git add other.txt && git commit` on another
 * file beside a loop of kpin updates of the overlay. Every kpin update
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
	int i, ok = 0, commits = 0, reverted = 0;
	struct h_result r;
	pid_t loop;
	int st;

	loop = spawn_sh(dir, "i=0; while [ ! -e stop ] && [ $i -lt 5000 ]; "
			"do i=$((i+1)); echo $i > other.txt; "
			"git add other.txt && git commit -q -m \"other $i\"; "
			"done");
	for (i = 0; i < RACE_RUNS; i++) {
		int rc = set_web(&r, dir, 1000 + (unsigned)i, NULL);

		/* index.lock held by git past kpin's retries: a refusal */
		if (rc && rc != 5)
			fail_msg("kpin exited %d: %s", rc, r.err.ptr);
		ok += rc == 0;
		h_result_release(&r);
	}
	h_writes(h_path(dir, "stop"), "");
	assert_int_equal(waitpid(loop, &st, 0), loop);
	unlink(h_path(dir, "stop"));
	assert_true(ok > RACE_RUNS / 2);
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
	print_message("# %d kpin updates (%d refused), %d git commits\n", ok,
		      RACE_RUNS - ok, commits);
	assert_int_equal(reverted, 0);
	/* the last update is where the branch, the index and the file are */
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV), want);
	h_assert_contains(h_git_out(dir, "show :%s", OV), want);
	h_assert_git_clean(dir);
	kpin_buf_release(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_worktree_stale_journal_foreign_lock, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_worktree_commit_race,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("worktree", tests, NULL, NULL);
}
