/*
 * The repository engine through the kpin binary and the library, on
 * repositories made in temporary directories, with the git CLI as an
 * independent witness: what a commit contains, identity, bare
 * repositories and --branch, the three kustomization file names, dirty
 * overlays, traversal and symlinks, lost races (CAS retries, a held ref
 * lock), and many kpin processes at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "harness.h"

#define ROOT ".platform/kubernetes/"
#define WEB_PRD ROOT "web/overlays/prd/kustomization.yaml"
#define WEB_STG ROOT "web/overlays/stg/kustomization.yaml"
#define API_PRD ROOT "api/overlays/prd/kustomization.yml"
#define CRON_DEV ROOT "cron/overlays/dev/Kustomization"
#define OVERLAY "# production overlay\nimages:\n- name: web  # app\n" \
		"  newTag: v1\n"

static const char *const base_files[] = {
	WEB_PRD, OVERLAY,
	WEB_STG, OVERLAY,
	API_PRD, "images:\n- name: api\n  digest: sha256:"
		 "0000000000000000000000000000000000000000000000000000000000000000\n",
	CRON_DEV, "images:\n- name: cron\n",
	"README.md", "platform\n",
	NULL
};

static int setup(void **state)
{
	char *dir = h_tmpdir();

	h_repo_init(dir, false, base_files);
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	h_rmrf(*state);
	free(*state);
	return 0;
}

/* Run kpin in @dir with no global git config and no GITHUB_ACTOR. */
static int kpin_in(struct h_result *r, const char *dir, const char *actor,
		   ...)
{
	const char *argv[64], *env[6];
	char actor_env[256];
	va_list ap;
	int n = 0;

	argv[n++] = "kpin";
	va_start(ap, actor);
	while (n < 63 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	snprintf(actor_env, sizeof(actor_env), "GITHUB_ACTOR=%s",
		 actor ? actor : "");
	env[0] = h_env_home();
	env[1] = "XDG_CONFIG_HOME=";
	env[2] = actor_env;
	env[3] = NULL;
	return h_run(r, dir, env, argv, NULL);
}

static void assert_clean(const char *dir)
{
	h_assert_git_clean(dir);
}

static void test_repo_commit_content(void **state)
{
	const char *dir = *state;
	const char *d = h_digest(1);
	struct kpin_buf old = KPIN_BUF_INIT, want = KPIN_BUF_INIT;
	struct kpin_change c = { "web", d, NULL, NULL };
	char before[64], subject[128], *trailers;
	struct h_result r;

	snprintf(before, sizeof(before), "%s", h_git_out(dir, "rev-parse HEAD"));
	assert_int_equal(kpin_in(&r, dir, "octocat", "set", "--app", "web",
				 "--env", "prd", "--image", "web", "--digest",
				 d, "--trailer", "Ticket=OPS-1", NULL), 0);
	/* stdout is the new commit id */
	assert_int_equal(r.out.len, 41);
	assert_memory_equal(r.out.ptr, h_git_out(dir, "rev-parse HEAD"), 40);
	h_result_release(&r);
	/* exactly one new commit, whose only change is that file */
	assert_string_equal(h_git_out(dir, "rev-parse HEAD^"), before);
	assert_string_equal(h_git_out(dir, "diff-tree --no-commit-id "
				      "--name-only -r HEAD"), WEB_PRD);
	/* its bytes are exactly the edit core's */
	assert_int_equal(h_git(&r, dir, "show %s:%s", before, WEB_PRD), 0);
	kpin_buf_add(&old, r.out.ptr, r.out.len);
	h_result_release(&r);
	assert_int_equal(kpin_kust_set(&want, old.ptr, old.len, &c, 1, 0), 0);
	assert_int_equal(h_git(&r, dir, "show HEAD:%s", WEB_PRD), 0);
	h_assert_same(want.ptr, want.len, r.out.ptr, r.out.len);
	h_result_release(&r);
	/* the message: subject and trailers */
	snprintf(subject, sizeof(subject), "web/prd: set web to %.19s", d);
	assert_string_equal(h_git_out(dir, "log -1 --format=%%s"), subject);
	trailers = strdup(h_git_out(dir, "log -1 '--format=%%(trailers)'"));
	h_assert_contains(trailers, "Image: web\n");
	h_assert_contains(trailers, "Digest: ");
	h_assert_contains(trailers, d);
	h_assert_contains(trailers, "Environment: prd\n");
	h_assert_contains(trailers, "Promoted-By: octocat\n");
	h_assert_contains(trailers, "Ticket: OPS-1");
	free(trailers);
	/* the repository's configured identity, author and committer */
	assert_string_equal(h_git_out(dir, "log -1 --format='%%an <%%ae>|%%cn "
				      "<%%ce>'"),
			    "Repo User <repo@example.com>|Repo User "
			    "<repo@example.com>");
	/* the reflog says who moved the branch */
	h_assert_contains(h_git_out(dir, "reflog -1 --format=%%gs main"),
			  "kpin: web/prd: set web");
	assert_clean(dir);
	kpin_buf_release(&old);
	kpin_buf_release(&want);
}

static void test_repo_identity(void **state)
{
	const char *dir = *state;
	struct h_result r;

	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(2), "--author", "Ann <ann@x.org>",
				 NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "log -1 --format='%%an <%%ae>'"),
			    "Ann <ann@x.org>");
	/* no config identity: GITHUB_ACTOR, then nothing at all */
	assert_int_equal(h_git(&r, dir, "config --unset user.name"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_in(&r, dir, "octo-bot", "set", "--app", "web",
				 "--env", "prd", "--image", "web", "--digest",
				 h_digest(3), NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "log -1 --format='%%an <%%ae>'"),
			    "octo-bot <octo-bot@users.noreply.github.com>");
	{
		char head[64];

		snprintf(head, sizeof(head), "%s",
			 h_git_out(dir, "rev-parse HEAD"));
		assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web",
					 "--env", "prd", "--image", "web",
					 "--digest", h_digest(4), NULL), 2);
		h_assert_contains(r.err.ptr, "user.name");
		h_assert_contains(r.err.ptr, "GITHUB_ACTOR");
		h_result_release(&r);
		/* an empty GITHUB_ACTOR is no identity either */
		assert_int_equal(kpin_in(&r, dir, "", "set", "--app", "web",
					 "--env", "prd", "--image", "web",
					 "--digest", h_digest(4), NULL), 2);
		h_result_release(&r);
		/* a dry run needs none: it writes no commit */
		assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web",
					 "--env", "prd", "--image", "web",
					 "--digest", h_digest(4), "--dry-run",
					 NULL), 0);
		h_result_release(&r);
		assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	}
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(4), "--author", "no email", NULL), 2);
	h_assert_contains(r.err.ptr, "expected \"Name <email>\"");
	h_result_release(&r);
}

static void test_repo_file_names(void **state)
{
	const char *dir = *state;
	struct h_result r;
	const char *files[] = { ROOT "web/overlays/prd/kustomization.yml",
				"images: []\n", NULL };

	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "api", "--env",
				 "prd", "--image", "api", "--digest",
				 h_digest(5), NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "diff-tree --no-commit-id "
				      "--name-only -r HEAD"), API_PRD);
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "cron",
				 "--env", "dev", "--image", "cron", "--digest",
				 h_digest(5), NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "diff-tree --no-commit-id "
				      "--name-only -r HEAD"), CRON_DEV);
	/* a second kustomization file next to the first: refused */
	h_repo_commit(dir, "refs/heads/main", files);
	assert_int_equal(h_git(&r, dir, "reset -q --hard"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(6), NULL), 3);
	h_assert_contains(r.err.ptr, "more than one kustomization file");
	h_result_release(&r);
	/* a missing overlay: not found */
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "nope",
				 "--env", "prd", "--image", "web", "--digest",
				 h_digest(6), NULL), 4);
	h_assert_contains(r.err.ptr, ".platform/kubernetes/nope");
	h_result_release(&r);
}

static void test_repo_bare_and_branch(void **state)
{
	char *bare = h_tmpdir();
	struct h_result r;
	char main_before[64];
	const char *const stg[] = { WEB_PRD, "images:\n- name: web\n"
				    "  newTag: v0\n", NULL };

	(void)state;
	h_repo_init(bare, true, base_files);
	h_repo_commit(bare, "refs/heads/release", stg);
	snprintf(main_before, sizeof(main_before), "%s",
		 h_git_out(bare, "rev-parse main"));
	assert_int_equal(kpin_in(&r, bare, NULL, "set", "--app", "web",
				 "--env", "prd", "--image", "web", "--digest",
				 h_digest(7), "--branch", "release", NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(bare, "rev-parse main"), main_before);
	h_assert_contains(h_git_out(bare, "show release:%s", WEB_PRD),
			  h_digest(7));
	h_assert_contains(h_git_out(bare, "show release:%s", WEB_PRD),
			  "newTag: v0");
	/* and HEAD's branch of a bare repository */
	assert_int_equal(kpin_in(&r, bare, NULL, "-C", ".", "set", "--app",
				 "web", "--env", "stg", "--image", "web",
				 "--digest", h_digest(8), NULL), 0);
	h_result_release(&r);
	h_assert_contains(h_git_out(bare, "show main:%s", WEB_STG),
			  h_digest(8));
	assert_int_equal(h_git(&r, bare, "fsck --strict"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_in(&r, bare, NULL, "set", "--app", "web",
				 "--env", "prd", "--image", "web", "--digest",
				 h_digest(7), "--branch", "nope", NULL), 4);
	h_assert_contains(r.err.ptr, "'nope' does not exist");
	h_result_release(&r);
	h_rmrf(bare);
	free(bare);
}

static void test_repo_dirty_overlay(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char head[64];
	struct kpin_buf b = KPIN_BUF_INIT;

	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	/* unstaged change to the overlay: refused, change kept */
	h_writes(h_path(dir, WEB_PRD), "# local edit\nimages:\n- name: web\n");
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(9), NULL), 3);
	h_assert_contains(r.err.ptr, WEB_PRD);
	h_assert_contains(r.err.ptr, "unstaged");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	assert_int_equal(h_read(&b, h_path(dir, WEB_PRD)), 0);
	assert_string_equal(b.ptr, "# local edit\nimages:\n- name: web\n");
	/* staged: refused too */
	assert_int_equal(h_git(&r, dir, "add %s", WEB_PRD), 0);
	h_result_release(&r);
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(9), NULL), 3);
	h_assert_contains(r.err.ptr, "staged");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	assert_string_equal(h_git_out(dir, "status --porcelain"),
			    "M  " WEB_PRD);
	kpin_buf_release(&b);
}

static void test_repo_unrelated_changes_survive(void **state)
{
	const char *dir = *state;
	struct h_result r;

	h_writes(h_path(dir, "README.md"), "staged edit\n");
	assert_int_equal(h_git(&r, dir, "add README.md"), 0);
	h_result_release(&r);
	h_writes(h_path(dir, WEB_STG), "# unstaged edit of another overlay\n");
	h_writes(h_path(dir, "notes.txt"), "untracked\n");
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(10), NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "status --porcelain"),
			    " M " WEB_STG "\nM  README.md\n?? notes.txt");
	/* the committed overlay is in the index and worktree */
	h_assert_contains(h_git_out(dir, "show :%s", WEB_PRD), h_digest(10));
	assert_int_equal(h_git(&r, dir, "diff --quiet HEAD -- %s", WEB_PRD),
			 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "diff --cached --name-only"),
			    "README.md");
}

static void test_repo_traversal_refused(void **state)
{
	const char *dir = *state;
	static const char *const bad[][2] = {
		{ "../x", "prd" }, { "a/b", "prd" }, { "..", "prd" },
		{ "", "prd" }, { "/etc", "prd" }, { "web", "../prd" },
		{ "web", "." }, { "web", "" }, { "web", "prd/../stg" },
	};
	struct h_result r;
	char head[64];
	size_t i;

	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app",
					 bad[i][0], "--env", bad[i][1],
					 "--image", "web", "--digest",
					 h_digest(11), NULL), 3);
		h_result_release(&r);
	}
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--root", "../outside", "--image",
				 "web", "--digest", h_digest(11), NULL), 3);
	h_assert_contains(r.err.ptr, "invalid root");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	assert_clean(dir);
}

static void test_repo_symlinks_refused(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char head[64];

	/* a symlink in the tree (committed with git as a witness) */
	assert_int_equal(h_git(&r, dir, "mv %sweb/overlays/stg "
			       "%sweb/overlays/real && ln -s real "
			       "%sweb/overlays/stg && git add -A && git -c "
			       "user.name=x -c user.email=x@x commit -qm link",
			       ROOT, ROOT, ROOT), 0);
	h_result_release(&r);
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "stg", "--image", "web", "--digest",
				 h_digest(12), NULL), 3);
	h_assert_contains(r.err.ptr, "symlink");
	h_result_release(&r);
	/* a symlink only in the checkout, over a real directory in the tree */
	assert_int_equal(h_git(&r, dir, "rm -q --cached -r %sapi && rm -rf "
			       "%sapi && mkdir -p /tmp/kpin-test-elsewhere && "
			       "ln -s /tmp/kpin-test-elsewhere %sapi && git "
			       "reset -q", ROOT, ROOT, ROOT), 0);
	h_result_release(&r);
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "api", "--env",
				 "prd", "--image", "api", "--digest",
				 h_digest(12), NULL), 3);
	h_assert_contains(r.err.ptr, "symlink");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	assert_int_equal(access("/tmp/kpin-test-elsewhere/overlays", F_OK), -1);
}

static void test_repo_noop_and_dry_run(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char head[64];

	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--tag", "v1", NULL),
			 0);
	h_assert_contains(r.err.ptr, "unchanged");
	assert_int_equal(r.out.len, 0);
	h_result_release(&r);
	assert_int_equal(atoi(h_git_out(dir, "rev-list --count HEAD")), 1);
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(13), "--dry-run", NULL), 0);
	h_assert_contains(r.out.ptr, "+++ b/" WEB_PRD);
	h_assert_contains(r.out.ptr, "web/prd: set web to");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	assert_clean(dir);
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(13), "--json", NULL), 0);
	h_assert_contains(r.out.ptr, "{\"changed\":true,\"commit\":\"");
	h_assert_contains(r.out.ptr, "\"branch\":\"main\",\"pushed\":null,"
			  "\"file\":\""
			  WEB_PRD "\",\"app\":\"web\",\"env\":\"prd\","
			  "\"image\":\"web\",\"old_digest\":null,");
	h_assert_contains(r.out.ptr, "\"old_tag\":\"v1\",\"new_tag\":\"v1\"}");
	h_result_release(&r);
}

/* Library-level: another writer moves the branch before our CAS. */
struct race {
	const char *dir;
	int times;	/* how many attempts lose */
};

static void foreign_commit(struct kpin_repo *repo, int attempt, void *arg)
{
	struct race *race = arg;
	char content[64];
	const char *files[] = { "other.txt", content, NULL };

	(void)repo;
	if (attempt >= race->times)
		return;
	snprintf(content, sizeof(content), "outside writer %d\n", attempt);
	h_repo_commit(race->dir, "refs/heads/main", files);
}

static int lib_update_hook(const char *dir, int retries, kpin_hook_fn hook,
			   struct race *race, struct kpin_repo_result *res,
			   const char *digest, const char *push)
{
	struct kpin_repo *repo = NULL;
	struct kpin_change c = { "web", digest, NULL, NULL };
	struct kpin_target t;
	struct kpin_repo_opts o;
	int rc;

	memset(&t, 0, sizeof(t));
	t.app = "web";
	t.env = "prd";
	t.changes = &c;
	t.nchanges = 1;
	memset(&o, 0, sizeof(o));
	o.author_name = "Lib";
	o.author_email = "lib@example.com";
	o.retries = retries;
	o.before_cas = hook;
	o.hook_arg = race;
	o.push_remote = push;
	assert_int_equal(kpin_repo_open(&repo, dir), 0);
	rc = kpin_repo_update(repo, &t, 1, &o, res);
	kpin_target_release(&t);
	kpin_repo_free(repo);
	return rc;
}

static int lib_update_to(const char *dir, int retries, struct race *race,
			 struct kpin_repo_result *res, const char *digest,
			 const char *push)
{
	return lib_update_hook(dir, retries, foreign_commit, race, res,
			       digest, push);
}

static int lib_update(const char *dir, int retries, struct race *race,
		      struct kpin_repo_result *res, const char *digest)
{
	return lib_update_to(dir, retries, race, res, digest, NULL);
}

/* @bare (remote.git) with base_files in @top, and its clone @clone. */
static void bare_and_clone(const char *top, char bare[4200],
			   char clone[4200])
{
	struct h_result r;

	snprintf(bare, 4200, "%s", h_path(top, "remote.git"));
	snprintf(clone, 4200, "%s", h_path(top, "clone"));
	h_repo_init(bare, true, base_files);
	assert_int_equal(h_git(&r, top, "clone -q remote.git clone"), 0);
	h_result_release(&r);
}

/*
 * Pushed, but something else moved the local branch while kpin worked:
 * the push stands (success), the local branch and checkout are left
 * alone, and the result says so.
 */
static void test_repo_push_local_moved(void **state)
{
	char *top = h_tmpdir();
	char bare[4200], clone[4200], head[64];
	struct kpin_repo_result res;
	struct race race = { clone, 1 };

	(void)state;
	bare_and_clone(top, bare, clone);
	assert_int_equal(lib_update_to(clone, 3, &race, &res, h_digest(17),
				       bare), 0);
	assert_true(res.local_moved);
	assert_string_equal(h_git_out(bare, "rev-parse main"), res.commit);
	snprintf(head, sizeof(head), "%s", h_git_out(clone, "rev-parse main"));
	assert_string_not_equal(head, res.commit);
	h_assert_contains(h_git_out(clone, "show main:other.txt"),
			  "outside writer 0");
	kpin_repo_result_release(&res);
	h_rmrf(top);
	free(top);
}

/* Edit the overlay in the clone's worktree while kpin pushes. */
static void user_edit(struct kpin_repo *repo, int attempt, void *arg)
{
	struct race *race = arg;

	(void)repo;
	if (attempt < race->times)
		h_writes(h_path(race->dir, WEB_PRD), "images: [] # mine\n");
}

/*
 * Pushed, but the overlay was edited in the checkout meanwhile: the push
 * stands (success, with a warning that says why the local branch stayed
 * behind), the local branch and the user's edit are left alone.
 */
static void test_repo_push_checkout_changed(void **state)
{
	char *top = h_tmpdir();
	char bare[4200], clone[4200], head[64];
	struct kpin_repo_result res;
	struct race race = { clone, 1 };
	struct kpin_buf mine = KPIN_BUF_INIT;

	(void)state;
	bare_and_clone(top, bare, clone);
	snprintf(head, sizeof(head), "%s", h_git_out(clone, "rev-parse main"));
	assert_int_equal(lib_update_hook(clone, 3, user_edit, &race, &res,
					 h_digest(18), bare), 0);
	assert_false(res.local_moved);
	h_assert_contains(res.notes.ptr, "left alone, behind the remote");
	h_assert_contains(res.notes.ptr, "unstaged changes");
	assert_string_equal(h_git_out(bare, "rev-parse main"), res.commit);
	assert_string_equal(h_git_out(clone, "rev-parse main"), head);
	assert_string_equal(h_git_out(clone, "status --porcelain"),
			    " M " WEB_PRD);
	assert_int_equal(h_read(&mine, h_path(clone, WEB_PRD)), 0);
	assert_string_equal(mine.ptr, "images: [] # mine\n");
	kpin_buf_release(&mine);
	kpin_repo_result_release(&res);
	h_rmrf(top);
	free(top);
}

static void test_repo_cas_retry(void **state)
{
	char *bare = h_tmpdir();
	struct kpin_repo_result res;
	struct race race = { bare, 2 };
	char head[64];

	(void)state;
	h_repo_init(bare, true, base_files);
	assert_int_equal(lib_update(bare, 10, &race, &res, h_digest(14)), 0);
	assert_int_equal(res.attempts, 3);
	assert_string_equal(h_git_out(bare, "rev-parse main"), res.commit);
	/* both outside commits are kept under ours: nothing was lost */
	assert_int_equal(atoi(h_git_out(bare, "rev-list --count main")), 4);
	h_assert_contains(h_git_out(bare, "show main:other.txt"),
			  "outside writer 1");
	h_assert_contains(h_git_out(bare, "show main:%s", WEB_PRD),
			  h_digest(14));
	kpin_repo_result_release(&res);
	/* retries exhausted: nothing of ours lands */
	race.times = 100;
	snprintf(head, sizeof(head), "%s", h_git_out(bare, "rev-parse main"));
	assert_int_equal(lib_update(bare, 2, &race, &res, h_digest(15)),
			 KPIN_EMODIFIED);
	h_assert_contains(kpin_error_last()->message, "3 attempts");
	assert_int_equal(res.commit[0], '\0');
	assert_int_equal(atoi(h_git_out(bare, "rev-list --count main")), 7);
	assert_null(strstr(h_git_out(bare, "show main:%s", WEB_PRD),
			   h_digest(15)));
	kpin_repo_result_release(&res);
	h_rmrf(bare);
	free(bare);
}

static void test_repo_ref_lock_held(void **state)
{
	const char *dir = *state;
	const char *lock = h_path(dir, ".git/refs/heads/main.lock");
	struct h_result r;
	char head[64];

	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	h_writes(lock, "held\n");
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(16), "--retries", "0", NULL), 5);
	h_assert_contains(r.err.ptr, "nothing changed");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	unlink(lock);
	assert_clean(dir);
	/* a lock released while kpin backs off: it retries and lands */
	h_writes(lock, "held\n");
	{
		const char *argv[] = { "kpin", "set", "--app", "web", "--env",
				       "prd", "--image", "web", "--digest",
				       h_digest(16), NULL };
		int pid = h_spawn(dir, NULL, argv);

		usleep(150000);
		unlink(lock);
		assert_int_equal(h_wait(pid), 0);
	}
	h_assert_contains(h_git_out(dir, "show HEAD:%s", WEB_PRD),
			  h_digest(16));
	assert_clean(dir);
}

static void test_repo_concurrent(void **state)
{
	const char *dir = *state;
	const char **files = calloc(2 * 24 + 1, sizeof(*files));
	char names[24][128], contents[24][64], digests[16][80];
	int pids[24], i, n = 0;
	struct h_result r;
	char head[64];

	for (i = 0; i < 24; i++) {
		snprintf(names[i], sizeof(names[i]),
			 ROOT "svc%02d/overlays/prd/kustomization.yaml", i);
		snprintf(contents[i], sizeof(contents[i]),
			 "images:\n- name: svc%02d\n  newTag: v1\n", i);
		files[n++] = names[i];
		files[n++] = contents[i];
	}
	h_repo_commit(dir, "refs/heads/main", files);
	assert_int_equal(h_git(&r, dir, "reset -q --hard"), 0);
	h_result_release(&r);
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	/* 24 processes on 24 overlays */
	for (i = 0; i < 24; i++) {
		char app[16], img[16];
		const char *argv[] = { "kpin", "set", "--app", app, "--env",
				       "prd", "--image", img, "--digest",
				       NULL, NULL };

		snprintf(app, sizeof(app), "svc%02d", i);
		snprintf(img, sizeof(img), "svc%02d", i);
		argv[9] = h_digest(100 + (unsigned)i);
		pids[i] = h_spawn(dir, NULL, argv);
	}
	for (i = 0; i < 24; i++)
		assert_int_equal(h_wait(pids[i]), 0);
	assert_int_equal(atoi(h_git_out(dir, "rev-list --count %s..HEAD",
					head)), 24);
	for (i = 0; i < 24; i++)
		h_assert_contains(h_git_out(dir, "show HEAD:%s", names[i]),
				  h_digest(100 + (unsigned)i));
	/* every commit changes exactly one file */
	assert_string_equal(h_git_out(dir, "log --format= --name-only %s..HEAD "
				      "| grep -c .", head), "24");
	assert_clean(dir);
	/* 16 processes on the same overlay, 16 different digests */
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	for (i = 0; i < 16; i++) {
		const char *argv[] = { "kpin", "set", "--app", "web", "--env",
				       "prd", "--image", "web", "--digest",
				       NULL, NULL };

		snprintf(digests[i], sizeof(digests[i]), "%s",
			 h_digest(200 + (unsigned)i));
		argv[9] = digests[i];
		pids[i] = h_spawn(dir, NULL, argv);
	}
	for (i = 0; i < 16; i++)
		assert_int_equal(h_wait(pids[i]), 0);
	assert_int_equal(atoi(h_git_out(dir, "rev-list --count %s..HEAD",
					head)), 16);
	{
		const char *last = h_git_out(dir, "log -1 '--format=%%(trailers:"
					     "key=Digest,valueonly)'");
		int found = 0;

		for (i = 0; i < 16; i++)
			found += !strcmp(last, digests[i]);
		assert_int_equal(found, 1);
		h_assert_contains(h_git_out(dir, "show HEAD:%s", WEB_PRD),
				  last);
	}
	assert_clean(dir);
	free(files);
}

/*
 * Commit policy @files, then kpin set of digest @d in @env must exit
 * @code, saying @want (NULL: anything) on stderr.
 */
static void policy_set(const char *dir, const char **files, int d,
		       const char *env, int code, const char *want)
{
	struct h_result r;

	h_repo_commit(dir, "refs/heads/main", files);
	assert_int_equal(h_git(&r, dir, "reset -q --hard"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 env, "--image", "web", "--digest",
				 h_digest(d), NULL), code);
	if (want)
		h_assert_contains(r.err.ptr, want);
	h_result_release(&r);
}

static void policy_refused(const char *dir, const char **files,
			   const char *env, const char *want)
{
	policy_set(dir, files, 18, env, 3, want);
}

static void test_repo_policy_file(void **state)
{
	const char *dir = *state;
	struct h_result r;
	const char *good[] = { ".kpin.yaml", "environments: [dev, qa, prd]\n",
			       ROOT "web/overlays/qa/kustomization.yaml",
			       "images:\n- name: web\n", NULL };
	const char *bad[] = { ".kpin.yaml", "environments: [dev, qa]\n"
			      "promotion: sometimes\n", NULL };
	const char *unknown[] = { ".kpin.yaml", "enviroments: [dev]\n", NULL };
	const char *wreck[] = { ".kpin.yaml", "?\n  n:\t- b\n", NULL };
	const char *quoted[] = { ".kpin.yaml", "root: \".platform/kubernetes\"\n"
				 "environments: [\"dev\", 'qa', prd]\n"
				 "promotion: \"free\"\n", NULL };

	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "qa", "--image", "web", "--digest",
				 h_digest(17), NULL), 3);
	h_assert_contains(r.err.ptr, "unknown environment 'qa'");
	h_result_release(&r);
	policy_set(dir, good, 17, "qa", 0, NULL);
	/* quoted values read as the same strings as plain ones */
	policy_set(dir, quoted, 19, "qa", 0, NULL);
	policy_refused(dir, bad, "qa", ".kpin.yaml:2:12: error: 'promotion' "
		       "must be ordered or free");
	policy_refused(dir, unknown, "prd", ".kpin.yaml:1:1: error: unknown "
		       "policy key 'enviroments'");
	/* libfyaml 0.7.12 crashed destroying the parser of this one */
	policy_refused(dir, wreck, "prd", ".kpin.yaml:2:5: error: invalid "
		       "YAML: cannot use tab");
}


/* A missing app or environment: the answer lists the ones there are. */
static void test_repo_not_found_lists(void **state)
{
	const char *dir = *state;
	struct h_result r;

	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "wbe", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(1), NULL), 4);
	h_assert_contains(r.err.ptr, "no directory '" ROOT "wbe' at the "
			  "branch tip ('.platform/kubernetes' has 'api', "
			  "'cron', 'web')");
	h_result_release(&r);
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "dev", "--image", "web", "--digest",
				 h_digest(1), NULL), 4);
	h_assert_contains(r.err.ptr, "('" ROOT "web/overlays' has 'prd', "
			  "'stg')");
	h_result_release(&r);
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "api", "--digest",
				 h_digest(1), NULL), 4);
	h_assert_contains(r.err.ptr, "no images entry named 'api' (entries: "
			  "'web')");
	h_result_release(&r);
}

/* After kpin: the index matches HEAD exactly, by git's own reading. */
static void assert_index_matches_head(const char *dir)
{
	struct h_result r;

	assert_clean(dir);
	/* the cache tree and entries give HEAD's tree back */
	assert_string_equal(h_git_out(dir, "write-tree"),
			    h_git_out(dir, "rev-parse HEAD^{tree}"));
	assert_int_equal(h_git(&r, dir, "diff --cached --quiet HEAD"), 0);
	h_result_release(&r);
	assert_int_equal(h_git(&r, dir, "diff --quiet"), 0);
	h_result_release(&r);
}

/*
 * Prepare the index one way with git, let kpin update it twice, and undo
 * @git_cleanup (what the setup left on purpose) before each check.
 */
static void index_variant(const char *dir, const char *git_setup,
			  const char *git_cleanup, unsigned seed)
{
	struct h_result r;

	if (git_setup) {
		assert_int_equal(h_git(&r, dir, "%s", git_setup), 0);
		h_result_release(&r);
	}
	/* a cache tree that kpin must invalidate along the edited path */
	h_git_out(dir, "write-tree");
	if (kpin_in(&r, dir, NULL, "set", "--app", "web", "--env", "prd",
		    "--image", "web", "--digest", h_digest(seed), NULL) ||
	    (h_result_release(&r),
	     kpin_in(&r, dir, NULL, "set", "--app", "api", "--env", "prd",
		     "--image", "api", "--digest", h_digest(seed + 1), NULL)))
		fail_msg("after '%s': %s", git_setup, r.err.ptr);
	h_result_release(&r);
	if (git_cleanup) {
		assert_int_equal(h_git(&r, dir, "%s", git_cleanup), 0);
		h_result_release(&r);
	}
	assert_index_matches_head(dir);
	h_assert_contains(h_git_out(dir, "show :%s", WEB_PRD),
			  h_digest(seed));
	h_assert_contains(h_git_out(dir, "show :%s", API_PRD),
			  h_digest(seed + 1));
}

static void test_repo_index_versions(void **state)
{
	const char *dir = *state;

	index_variant(dir, "update-index --index-version 2", NULL, 300);
	/* version 3 with an extended-flags entry (intent to add) */
	index_variant(dir, "update-index --index-version 3 && touch n && "
		      "git add -N n", "rm --cached -q n && rm n", 302);
	index_variant(dir, "update-index --index-version 4", NULL, 304);
	index_variant(dir, "update-index --untracked-cache && git status "
		      "--porcelain >/dev/null", NULL, 306);
	index_variant(dir, "update-index --no-split-index", NULL, 310);
}

static void test_repo_split_index_refused(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char head[64];

	assert_int_equal(h_git(&r, dir, "update-index --split-index"), 0);
	h_result_release(&r);
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(312), NULL), 3);
	h_assert_contains(r.err.ptr, "split index");
	h_assert_contains(r.err.ptr, "nothing changed");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	assert_clean(dir);
}

static void test_repo_index_filters(void **state)
{
	const char *dir = *state;
	struct h_result r;
	struct kpin_buf b = KPIN_BUF_INIT;

	/* .gitattributes asks for CRLF in the worktree: kpin writes CRLF */
	assert_int_equal(h_git(&r, dir, "config core.autocrlf false && printf "
			       "'*.yaml text eol=crlf\n' > .gitattributes && "
			       "git add .gitattributes && git -c user.name=x -c "
			       "user.email=x@x commit -qm attrs && rm %s && git "
			       "checkout -- %s", WEB_PRD, WEB_PRD), 0);
	h_result_release(&r);
	assert_int_equal(h_read(&b, h_path(dir, WEB_PRD)), 0);
	h_assert_contains(b.ptr, "images:\r\n");
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(320), NULL), 0);
	h_result_release(&r);
	assert_index_matches_head(dir);
	assert_int_equal(h_read(&b, h_path(dir, WEB_PRD)), 0);
	h_assert_contains(b.ptr, "  digest: ");
	h_assert_contains(b.ptr, "\r\n");
	/* the committed blob itself has LF only */
	assert_null(strstr(h_git_out(dir, "show HEAD:%s | od -c", WEB_PRD),
			   "\\r"));
	kpin_buf_release(&b);
}

static void test_repo_index_locked(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char head[64];

	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	h_writes(h_path(dir, ".git/index.lock"), "");
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(330), NULL), 5);
	h_assert_contains(r.err.ptr, "index.lock");
	h_assert_contains(r.err.ptr, "nothing changed");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	unlink(h_path(dir, ".git/index.lock"));
	assert_clean(dir);
}

static void test_repo_index_skip_worktree(void **state)
{
	const char *dir = *state;
	struct h_result r;

	/* a skip-worktree entry: left to libgit2, which keeps it consistent */
	assert_int_equal(h_git(&r, dir, "update-index --skip-worktree %s",
			       WEB_STG), 0);
	h_result_release(&r);
	assert_int_equal(kpin_in(&r, dir, NULL, "set", "--app", "web", "--env",
				 "prd", "--image", "web", "--digest",
				 h_digest(340), NULL), 0);
	h_result_release(&r);
	assert_index_matches_head(dir);
}

/* Run git in @dir (a shell command line after "git "); it must succeed. */
static void git_ok(const char *dir, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void git_ok(const char *dir, const char *fmt, ...)
{
	struct kpin_buf cmd = KPIN_BUF_INIT;
	struct h_result r;
	va_list ap;

	va_start(ap, fmt);
	kpin_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	if (h_git(&r, dir, "%s", cmd.ptr))
		fail_msg("git %s: %s", cmd.ptr, r.err.ptr);
	h_result_release(&r);
	kpin_buf_release(&cmd);
}

/* kpin set of web/prd in @dir; returns the exit status, output in @r. */
static int set_web(struct h_result *r, const char *dir, unsigned seed)
{
	return kpin_in(r, dir, NULL, "set", "--app", "web", "--env", "prd",
		       "--image", "web", "--digest", h_digest(seed), NULL);
}

/* The same, which must succeed. */
static void set_web_ok(const char *dir, unsigned seed)
{
	struct h_result r;

	if (set_web(&r, dir, seed))
		fail_msg("exit %d: %s", r.status, r.err.ptr);
	h_result_release(&r);
}

/* Refused with exit 3, @why in the message, and nothing changed. */
static void assert_refused(const char *dir, unsigned seed, const char *why)
{
	struct h_result r;
	char head[64], status[512];

	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	snprintf(status, sizeof(status), "%s",
		 h_git_out(dir, "status --porcelain"));
	if (set_web(&r, dir, seed) != 3)
		fail_msg("exit %d: %s", r.status, r.err.ptr);
	h_assert_contains(r.err.ptr, why);
	h_assert_contains(r.err.ptr, "nothing changed");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	assert_string_equal(h_git_out(dir, "status --porcelain"), status);
	assert_int_equal(access(h_path(dir, ".git/index.lock"), F_OK), -1);
}

/*
 * Racy git: README.md changed (same size) in the second its entry and the
 * index were written. git sees it by content; after kpin rewrites the
 * index (a later mtime), git must still see it: kpin smudges the entry.
 */
static void test_repo_index_racy(void **state)
{
	const char *dir = *state;

	git_ok(dir, "config core.trustctime false && t=$(($(date +%%s) - 10)) "
	       "&& printf aaaa >README.md && touch -d @$t README.md && git add "
	       "README.md && printf bbbb >README.md && touch -d @$t README.md "
	       ".git/index");
	/* a status that does not refresh (and so smudge) the index itself */
	assert_string_equal(h_git_out(dir, "--no-optional-locks status "
				      "--porcelain"), "MM README.md");
	h_assert_contains(h_git_out(dir, "ls-files --debug README.md"),
			  "size: 4\t");
	set_web_ok(dir, 350);
	assert_string_equal(h_git_out(dir, "status --porcelain"),
			    "MM README.md");
	h_assert_contains(h_git_out(dir, "diff README.md"), "+bbbb");
	h_assert_contains(h_git_out(dir, "show HEAD:%s", WEB_PRD),
			  h_digest(350));
}

/* A cache tree deeper than 128 levels elsewhere in the repository. */
static void test_repo_index_deep_tree(void **state)
{
	const char *dir = *state;
	struct kpin_buf d = KPIN_BUF_INIT;
	int i;

	for (i = 0; i < 140; i++)
		kpin_buf_adds(&d, i ? "/d" : "d");
	git_ok(dir, "version && mkdir -p %s && echo x >%s/f && git add . && "
	       "git -c user.name=x -c user.email=x@x commit -qm deep && git "
	       "write-tree", d.ptr, d.ptr);
	kpin_buf_release(&d);
	set_web_ok(dir, 352);
	assert_index_matches_head(dir);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", WEB_PRD),
			  h_digest(352));
}

/*
 * The overlay itself skip-worktree, its file absent as in a sparse
 * checkout: committed, the index follows with the bit kept (S), the
 * worktree is not touched, and git status stays clean.
 */
static void test_repo_index_skip_worktree_overlay(void **state)
{
	const char *dir = *state;
	struct h_result r;

	git_ok(dir, "update-index --skip-worktree %s && rm %s", WEB_PRD,
	       WEB_PRD);
	assert_string_equal(h_git_out(dir, "status --porcelain"), "");
	if (set_web(&r, dir, 354))
		fail_msg("exit %d: %s", r.status, r.err.ptr);
	h_assert_contains(r.err.ptr, "outside the sparse checkout "
			  "(skip-worktree)");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "ls-files -v %s", WEB_PRD),
			    "S " WEB_PRD);
	assert_int_equal(access(h_path(dir, WEB_PRD), F_OK), -1);
	assert_clean(dir);
	assert_string_equal(h_git_out(dir, "rev-parse :%s", WEB_PRD),
			    h_git_out(dir, "rev-parse HEAD:%s", WEB_PRD));
	h_assert_contains(h_git_out(dir, "show HEAD:%s", WEB_PRD),
			  h_digest(354));
	/* a real cone-mode sparse checkout (no sparse index) without web */
	git_ok(dir, "update-index --no-skip-worktree %s && git checkout %s && "
	       "git sparse-checkout set --cone --no-sparse-index "
	       ".platform/kubernetes/api", WEB_PRD, WEB_PRD);
	assert_int_equal(access(h_path(dir, WEB_PRD), F_OK), -1);
	set_web_ok(dir, 355);
	assert_string_equal(h_git_out(dir, "ls-files -v %s", WEB_PRD),
			    "S " WEB_PRD);
	assert_int_equal(access(h_path(dir, WEB_PRD), F_OK), -1);
	assert_clean(dir);
	h_assert_contains(h_git_out(dir, "show :%s", WEB_PRD), h_digest(355));
}

/*
 * A staged chmod is a staged change; a chmod in the worktree is an
 * unstaged one, unless core.fileMode is false.
 */
static void test_repo_index_mode(void **state)
{
	const char *dir = *state;

	git_ok(dir, "update-index --chmod=+x %s", WEB_PRD);
	assert_refused(dir, 355, "staged changes");
	git_ok(dir, "update-index --chmod=-x %s", WEB_PRD);
	/* hidden from git status: not "unstaged changes", but not lost */
	git_ok(dir, "update-index --assume-unchanged %s && echo '# mine' >>%s",
	       WEB_PRD, WEB_PRD);
	assert_refused(dir, 355, "assume-unchanged");
	git_ok(dir, "update-index --no-assume-unchanged %s && git checkout %s",
	       WEB_PRD, WEB_PRD);
	assert_int_equal(chmod(h_path(dir, WEB_PRD), 0755), 0);
	assert_refused(dir, 356, "executable bit");
	git_ok(dir, "config core.fileMode false");
	set_web_ok(dir, 357);
	assert_clean(dir);
}

/*
 * Filters kpin cannot apply: a smudge filter driver and a UTF-16
 * working-tree-encoding are refused before anything changes; a driver
 * with no command (git passes the bytes through) and UTF-8 are not.
 */
static void test_repo_index_filter_driver(void **state)
{
	const char *dir = *state;

	git_ok(dir, "config filter.up.smudge 'tr a-z A-Z' && git config "
	       "filter.up.clean 'tr A-Z a-z' && echo '*.yaml filter=up' "
	       ">.gitattributes && git add .gitattributes && git -c "
	       "user.name=x -c user.email=x@x commit -qm attrs");
	assert_refused(dir, 360, "filter driver 'up'");
	git_ok(dir, "config --unset filter.up.smudge && git config --unset "
	       "filter.up.clean");
	set_web_ok(dir, 361);
	assert_index_matches_head(dir);
}

static void test_repo_index_encoding(void **state)
{
	const char *dir = *state;
	static const char *const enc[] = { "UTF-16", "utf-8" };
	int i;

	for (i = 0; i < 2; i++) {
		git_ok(dir, "version && echo '%s working-tree-encoding=%s' "
		       ">.gitattributes && git add .gitattributes && git -c "
		       "user.name=x -c user.email=x@x commit -qm attrs && rm "
		       "%s && git checkout -- %s", WEB_PRD, enc[i], WEB_PRD,
		       WEB_PRD);
		if (i == 0) {
			assert_refused(dir, 362, "UTF-16 "
				       "(working-tree-encoding)");
			continue;
		}
		/* UTF-8 is what git stores: nothing to convert */
		set_web_ok(dir, 363);
		assert_index_matches_head(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repo_commit_content,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_identity, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_file_names, setup,
						teardown),
		cmocka_unit_test(test_repo_bare_and_branch),
		cmocka_unit_test_setup_teardown(test_repo_dirty_overlay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_repo_unrelated_changes_survive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_traversal_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_symlinks_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_noop_and_dry_run,
						setup, teardown),
		cmocka_unit_test(test_repo_cas_retry),
		cmocka_unit_test(test_repo_push_local_moved),
		cmocka_unit_test(test_repo_push_checkout_changed),
		cmocka_unit_test_setup_teardown(test_repo_ref_lock_held, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_concurrent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_not_found_lists,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_policy_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_index_versions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_split_index_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_index_filters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_index_locked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_index_racy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_index_deep_tree,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_repo_index_skip_worktree_overlay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_index_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_repo_index_filter_driver,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_index_encoding,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_index_skip_worktree,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("repo", tests, NULL, NULL);
}
