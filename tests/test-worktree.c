/*
 * Checkout integrity (issue 10, sections 1 and 3): kpin keeps the
 * invariants git keeps for a checked-out branch. The git CLI is the
 * witness: status, ls-files, fsck --strict, and no commit after kpin's
 * reverts its change.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "kpin/error.h"
#include "kpin/repo.h"

#define OV ".platform/kubernetes/web/overlays/prd/kustomization.yaml"

static const char *const files[] = {
	OV, "images:\n- name: web\n  newTag: v1\n",
	"README.md", "platform\n",
	"other.txt", "0\n",
	NULL
};

#define RACE_RUNS 80	/* kpin updates beside loops of git commit */
#define INDEX_LOCK_HOLD_S 5	/* past kpin's wait for index.lock (2 s) */
#define HOOK_MS 1200		/* how long the lock grabber's hook takes */
/*
 * A shell loop of @body until a file "stop" appears. The commits commit
 * what the index holds, as it is, and write no index of their own, so
 * that any revert is kpin's: git commit reads the index before it locks
 * it and writes that copy back (when its refresh changed something)
 * before its CAS of the branch, a race among git's own commands that no
 * other index writer, kpin or git add, can keep out.
 */
#define LOOP(body) "i=0; while [ ! -e stop ] && [ $i -lt 5000 ]; do " \
	"i=$((i+1)); " body "; done"
/*
 * A commit as git commit makes it, in git's order: HEAD, then the index
 * under index.lock (write-tree takes it, and fails while kpin holds it),
 * then a CAS of the branch.
 */
#define LOCKED "h=$(git rev-parse HEAD) && t=$(git write-tree) && " \
	"c=$(git commit-tree $t -p $h -m \"locked $i\") && " \
	"git update-ref refs/heads/main $c $h"
/*
 * What git commit does without writing the index: HEAD, then the index
 * as read without its lock, then a CAS of the branch.
 */
#define READER "h=$(git rev-parse HEAD) && cp .git/index .git/rd-index && " \
	"t=$(GIT_INDEX_FILE=.git/rd-index git write-tree) && " \
	"c=$(git commit-tree $t -p $h -m \"reader $i\") && " \
	"git update-ref refs/heads/main $c $h"

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
 * The revert race: a loop that commits as git commit does (index.lock
 * taken to read the index) and a loop that commits the index as read
 * without its lock, beside a loop of kpin updates of the overlay. Every kpin update must stay in history: no later commit may
 * put the overlay back (which a git commit did when it read the new tip
 * with the old index: about 1 update in 25 when kpin moved the branch
 * before its index was in place, 0 to 1 in 80 when the index followed
 * the branch under index.lock, as both are read without it; 2 to 5 in 80
 * in 5 runs of 8 under ASan when a retry took kpin's published version
 * back before it had read where the branch went: see
 * test_worktree_reader_in_flight), and the checkout ends clean.
 */
static void test_worktree_commit_race(void **state)
{
	const char *dir = *state;
	struct kpin_buf log = KPIN_BUF_INIT;
	char *line, *next, commit[120] = "";
	int i, ok = 0, commits = 0, reverted = 0, last = -1;
	struct h_result r;
	pid_t loop[2];
	int st, k;

	/*
	 * Under valgrind kpin runs 50 times slower: the loops would race
	 * a different program (and the run takes minutes); the same code
	 * paths run under valgrind in the tests above.
	 */
	if (getenv("KPIN_VALGRIND"))
		skip();
	/* a committer that takes index.lock, and one that does not */
	for (k = 0; k < 2; k++)
		loop[k] = spawn_sh(dir, k ? LOOP(LOCKED) : LOOP(READER));
	for (i = 0; i < RACE_RUNS; i++) {
		int rc = set_web(&r, dir, 1000 + (unsigned)i, NULL);

		/* 5: index.lock held by git past kpin's wait */
		if (rc && rc != 5)
			fail_msg("kpin exited %d: %s", rc, r.err.ptr);
		ok += rc == 0;
		h_result_release(&r);
	}
	h_writes(h_path(dir, "stop"), "");
	for (k = 0; k < 2; k++)
		assert_int_equal(waitpid(loop[k], &st, 0), loop[k]);
	unlink(h_path(dir, "stop"));
	/*
	 * Oldest first, every commit that changed the overlay, with the
	 * digest it set: each must be a later update than the one before
	 * (a git commit may carry kpin's change, when it took it from the
	 * index; none may put an earlier one back).
	 */
	assert_int_equal(h_git(&r, dir, "log --reverse --format='@ %%h %%s' "
			       "-p -U0 -- %s", OV), 0);
	kpin_buf_add(&log, r.out.ptr, r.out.len);
	h_result_release(&r);
	for (line = log.ptr; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strncmp(line, "@ ", 2)) {
			snprintf(commit, sizeof(commit), "%s", line + 2);
			commits++;
		} else if (!strncmp(line, "+  digest: ", 11)) {
			for (k = 0; k < RACE_RUNS &&
			     strcmp(line + 11, h_digest(1000 + (unsigned)k));
			     k++)
				;
			assert_true(k < RACE_RUNS);
			if (k <= last) {
				reverted++;
				print_message("# %s put update %d back over "
					      "%d\n", commit, k, last);
			}
			last = k;
		}
	}
	print_message("# %d kpin updates (%d refused), %d commits of the "
		      "overlay\n", ok, RACE_RUNS - ok, commits);
	kpin_buf_release(&log);
	assert_int_equal(reverted, 0);
	assert_true(ok > RACE_RUNS / 2);
	/* the last update is where the branch is; the objects are sound */
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV),
			  h_digest(1000 + (unsigned)last));
	assert_int_equal(h_git(&r, dir, "fsck --strict"), 0);
	h_result_release(&r);
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

/*
 * What runs in the moment before kpin's CAS of the branch (the library's
 * before_cas hook), on the first attempt only: a look at the index, a git
 * command, a commit of the index as read (without its lock), a commit
 * that moves the branch behind the index's back.
 */
struct interloper {
	const char *dir;
	const char *git;	/* a git command, or NULL */
	bool reader;		/* commit the index as read, without locking it */
	bool move;		/* then commit other.txt on the branch */
	const char *const *files; /* or these files */
	int git_rc;		/* the git command's status */
	char staged[80];	/* git ls-files -s of the overlay, then */
	char status[80];	/* git status --porcelain of it, then */
	bool locked;		/* whether index.lock existed, then */
};

/* The tree of @dir's index as read without its lock, into @tree. */
static void index_tree(char tree[64], const char *dir)
{
	struct kpin_buf index = KPIN_BUF_INIT;

	h_read(&index, h_path(dir, ".git/index"));
	h_write(h_path(dir, ".git/rd-index"), index.ptr, index.len);
	setenv("GIT_INDEX_FILE", h_path(dir, ".git/rd-index"), 1);
	snprintf(tree, 64, "%s", h_git_out(dir, "write-tree"));
	unsetenv("GIT_INDEX_FILE");
	unlink(h_path(dir, ".git/rd-index"));
	kpin_buf_release(&index);
}

/* A commit of @tree on @parent, into @commit; not on any branch yet. */
static void commit_on(char commit[64], const char *dir, const char *tree,
		      const char *parent, const char *msg)
{
	snprintf(commit, 64, "%s", h_git_out(dir, "commit-tree %s -p %s -m %s",
					     tree, parent, msg));
}

/* Move main from @from to @to by CAS, as git commit does. */
static void land(const char *dir, const char *to, const char *from)
{
	struct h_result r;

	assert_int_equal(h_git(&r, dir, "update-ref refs/heads/main %s %s",
			       to, from), 0);
	h_result_release(&r);
}

/* READER, once, in C (in @dir, from a hook); the commit in @commit. */
static void reader_commit(const char *dir, char commit[64])
{
	char head[64], tree[64];

	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	index_tree(tree, dir);
	commit_on(commit, dir, tree, head, "reader");
	land(dir, commit, head);
}

static void interlope(struct kpin_repo *repo, int attempt, void *arg)
{
	struct interloper *i = arg;
	const char *moved[] = { "other.txt", "outside writer\n", NULL };
	char commit[64];
	struct h_result r;

	(void)repo;
	if (attempt)
		return;
	i->locked = exists(i->dir, ".git/index.lock");
	snprintf(i->staged, sizeof(i->staged), "%s",
		 h_git_out(i->dir, "ls-files -s -- %s", OV));
	snprintf(i->status, sizeof(i->status), "%s",
		 h_git_out(i->dir, "status --porcelain -- %s", OV));
	if (i->git) {
		i->git_rc = h_git(&r, i->dir, "%s", i->git);
		h_result_release(&r);
	}
	if (i->reader)
		reader_commit(i->dir, commit);
	if (i->move)
		h_repo_commit(i->dir, "refs/heads/main",
			      i->files ? i->files : moved);
}

/*
 * The library's update of the web overlay to digest @seed, with hooks
 * @cas and @read (may be NULL) and their argument @arg.
 */
static int lib_update_web(struct kpin_repo_result *res, const char *dir,
			  unsigned seed, kpin_hook_fn cas, kpin_hook_fn read,
			  void *arg)
{
	struct kpin_change c = { "web", NULL, NULL, NULL, NULL };
	struct kpin_repo *repo = NULL;
	struct kpin_repo_opts o;
	struct kpin_target t;
	int rc;

	memset(&t, 0, sizeof(t));
	memset(&o, 0, sizeof(o));
	c.digest = h_digest(seed);
	t.app = "web";
	t.env = "prd";
	t.changes = &c;
	t.nchanges = 1;
	o.author_name = "Lib";
	o.author_email = "lib@example.com";
	o.retries = 3;
	o.before_cas = cas;
	o.after_read = read;
	o.hook_arg = arg;
	assert_int_equal(kpin_repo_open(&repo, dir), 0);
	rc = kpin_repo_update(repo, &t, 1, &o, res);
	kpin_target_release(&t);
	kpin_repo_free(repo);
	return rc;
}

/* The library's update of the web overlay to digest @seed, with @i. */
static int lib_set_web(struct kpin_repo_result *res, const char *dir,
		       unsigned seed, struct interloper *i)
{
	i->dir = dir;
	return lib_update_web(res, dir, seed, interlope, NULL, i);
}

/*
 * git's order for a fast-forward of a checked-out branch: the new index
 * is in place before the branch moves, and index.lock is held across
 * both, so that a git commit that reads the new tip can only read the
 * new index, and none writes an index in between (git commit takes
 * index.lock first, and fails). When kpin moved the branch first, a git
 * commit that read the tip and then the old index committed a revert of
 * the promotion.
 */
static void test_worktree_index_before_branch(void **state)
{
	const char *dir = *state;
	struct interloper i = { 0 };
	struct kpin_repo_result res;

	i.git = "commit -q --allow-empty -m 'user commit'";
	assert_int_equal(lib_set_web(&res, dir, 60, &i), 0);
	assert_true(i.locked);
	assert_int_not_equal(i.git_rc, 0);
	h_assert_contains(i.staged, h_git_out(dir, "rev-parse HEAD:%s", OV));
	assert_string_equal(i.status, "M  " OV);
	assert_true(res.synced);
	assert_int_equal(res.attempts, 1);
	kpin_repo_result_release(&res);
	h_assert_contains(h_git_out(dir, "log -1 --format=%%s"), "web/prd: ");
	h_assert_git_clean(dir);
}

/*
 * Something that commits the index as it reads it, without its lock
 * (HEAD first, then the index, as git commit reads them), between
 * kpin's index and kpin's CAS: it commits kpin's change and wins the
 * branch. kpin loses its CAS, sees the new tip holds its version, leaves
 * the checkout as it is, and has nothing left to do. The change stands;
 * the checkout is clean.
 */
static void test_worktree_reader_commit_takes_change(void **state)
{
	const char *dir = *state;
	struct interloper i = { 0 };
	struct kpin_repo_result res;

	i.reader = true;
	assert_int_equal(lib_set_web(&res, dir, 61, &i), KPIN_EUNCHANGED);
	h_assert_contains(res.notes.ptr, "already holds kpin's version");
	kpin_repo_result_release(&res);
	kpin_error_clear();
	assert_string_equal(h_git_out(dir, "log -1 --format=%%s"), "reader");
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV), h_digest(61));
	h_assert_git_clean(dir);
}

/* After a lost CAS: the overlay as the branch now has it, nothing staged. */
static void assert_taken_back_and_landed(const char *dir,
					 struct kpin_repo_result *res,
					 unsigned seed)
{
	struct h_result r;

	assert_int_equal(res->attempts, 2);
	assert_true(res->synced);
	assert_true(!res->notes.ptr || !strstr(res->notes.ptr, "alone"));
	assert_string_equal(h_git_out(dir, "log -1 --format=%%s HEAD~1"),
			    "fixture");
	h_assert_contains(h_git_out(dir, "show HEAD:%s", OV), h_digest(seed));
	assert_string_equal(h_git_out(dir, "status --porcelain -- %s", OV),
			    "");
	assert_string_equal(h_git_out(dir, "diff HEAD --stat -- %s", OV), "");
	assert_int_equal(h_git(&r, dir, "fsck --strict"), 0);
	h_result_release(&r);
}

/*
 * The branch moves behind the index's back (an update-ref) between
 * kpin's index and its CAS: kpin takes its published version back out
 * of the index and worktree, and applies the change again on the new tip.
 */
static void test_worktree_branch_moved_behind_index(void **state)
{
	const char *dir = *state;
	struct interloper i = { 0 };
	struct kpin_repo_result res;

	i.move = true;
	assert_int_equal(lib_set_web(&res, dir, 62, &i), 0);
	assert_taken_back_and_landed(dir, &res, 62);
	kpin_repo_result_release(&res);
}

/*
 * The branch moves behind the index's back with a change of its own to
 * the same overlay: the next attempt writes the overlay with both over
 * kpin's published version (it used to take the old version back out,
 * which then read as a staged change, and fail).
 */
static void test_worktree_branch_moved_same_file(void **state)
{
	const char *dir = *state;
	const char *theirs[] = {
		OV, "# owned by web\nimages:\n- name: web\n  newTag: v1\n",
		NULL
	};
	struct interloper i = { 0 };
	struct kpin_repo_result res;
	char *ov;

	i.move = true;
	i.files = theirs;
	assert_int_equal(lib_set_web(&res, dir, 64, &i), 0);
	assert_int_equal(res.attempts, 2);
	assert_true(res.synced);
	kpin_repo_result_release(&res);
	ov = strdup(h_git_out(dir, "show HEAD:%s", OV));
	assert_non_null(ov);
	h_assert_contains(ov, "# owned by web\n");
	h_assert_contains(ov, h_digest(64));
	free(ov);
	h_assert_git_clean(dir);
}

/*
 * Commits in flight across kpin's retry. kpin publishes its version and
 * loses its CAS to R1, a commit of the index as read before (the old
 * overlay). R2 read that tip and then kpin's index (kpin's version) and
 * lands only after kpin's next attempt has read the tip; R3 reads HEAD
 * (R2), then the index. The index must still hold kpin's version then:
 * when the next attempt began by taking it back (to R1's version), R3
 * committed the old overlay on R2 and reverted the promotion R2 carried
 * (what the commit race above caught about 1 run in 3 under ASan).
 */
struct in_flight {
	const char *dir;
	char r1[64], r2[64], r3[64];
};

static void in_flight_cas(struct kpin_repo *repo, int attempt, void *arg)
{
	struct in_flight *f = arg;
	char head[64], old[64], kpins[64];

	(void)repo;
	if (attempt)
		return;
	snprintf(head, sizeof(head), "%s", h_git_out(f->dir, "rev-parse HEAD"));
	snprintf(old, sizeof(old), "%s",
		 h_git_out(f->dir, "rev-parse HEAD^{tree}"));
	index_tree(kpins, f->dir);
	commit_on(f->r1, f->dir, old, head, "r1");
	land(f->dir, f->r1, head);
	commit_on(f->r2, f->dir, kpins, f->r1, "r2");
}

static void in_flight_read(struct kpin_repo *repo, int attempt, void *arg)
{
	struct in_flight *f = arg;

	(void)repo;
	if (attempt != 1)
		return;
	land(f->dir, f->r2, f->r1);
	reader_commit(f->dir, f->r3);
}

static void test_worktree_reader_in_flight(void **state)
{
	const char *dir = *state;
	struct in_flight f = { dir, "", "", "" };
	struct kpin_repo_result res;

	int rc = lib_update_web(&res, dir, 63, in_flight_cas, in_flight_read,
				&f);

	h_assert_contains(h_git_out(dir, "show %s:%s", f.r2, OV),
			  h_digest(63));
	h_assert_contains(h_git_out(dir, "show %s:%s", f.r3, OV),
			  h_digest(63));
	assert_int_equal(rc, KPIN_EUNCHANGED);
	kpin_error_clear();
	h_assert_contains(res.notes.ptr, "already holds kpin's version");
	kpin_repo_result_release(&res);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), f.r3);
	h_assert_git_clean(dir);
}

/*
 * The CAS is lost, and then a git process takes index.lock the moment
 * kpin lets go of it, past kpin's wait: kpin cannot take its version
 * back without the lock, and says so (the checkout holds it staged),
 * instead of a bare "nothing changed".
 */
struct grabber {
	const char *dir;
	pid_t pid;
};

static void grab_index_lock(struct kpin_repo *repo, int attempt, void *arg)
{
	struct grabber *g = arg;
	const char *moved[] = { "other.txt", "outside writer\n", NULL };
	char lock[4200];
	int fd;

	(void)repo;
	if (attempt)
		return;
	h_repo_commit(g->dir, "refs/heads/main", moved);
	snprintf(lock, sizeof(lock), "%s", h_path(g->dir, ".git/index.lock"));
	fflush(NULL);
	g->pid = fork();
	assert_true(g->pid >= 0);
	if (g->pid) {
		/*
		 * An attempt this long makes kpin back off for at least a
		 * quarter of it before the next: time for the child to be
		 * scheduled and take the lock first, even on a loaded machine.
		 */
		usleep(HOOK_MS * 1000);
		return;
	}
	/* as git does: O_EXCL, as soon as kpin's lock is gone */
	for (fd = -1; fd < 0; usleep(200))
		fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0666);
	sleep(INDEX_LOCK_HOLD_S);
	unlink(lock);
	_exit(0);
}

static void test_worktree_lock_lost_after_cas(void **state)
{
	const char *dir = *state;
	struct grabber g = { dir, -1 };
	struct kpin_repo_result res;
	int rc, st;

	rc = lib_update_web(&res, dir, 65, grab_index_lock, NULL, &g);
	assert_int_equal(waitpid(g.pid, &st, 0), g.pid);
	assert_int_equal(rc, KPIN_ELOCKED);
	kpin_error_clear();
	h_assert_contains(res.notes.ptr, "'" OV "' in the checkout still "
			  "holds the version kpin staged");
	kpin_repo_result_release(&res);
	/* what it says: staged, kpin's version; the branch as moved */
	assert_string_equal(h_git_out(dir, "status --porcelain -- %s", OV),
			    "M  " OV);
	h_assert_contains(h_git_out(dir, "show :%s", OV), h_digest(65));
	assert_string_equal(h_git_out(dir, "show HEAD:other.txt"),
			    "outside writer");
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
		cmocka_unit_test_setup_teardown(
			test_worktree_index_before_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_worktree_reader_commit_takes_change, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_worktree_branch_moved_behind_index, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_worktree_branch_moved_same_file, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_worktree_reader_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_worktree_lock_lost_after_cas, setup, teardown),
	};

	return cmocka_run_group_tests_name("worktree", tests, NULL, NULL);
}
