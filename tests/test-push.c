/*
 * kpin --push over a local path and over smart HTTP served by a real web
 * server (lighttpd running git http-backend on 127.0.0.1, started by the
 * test): stale clones racing to one remote, a remote that keeps moving
 * until retries run out, the token (accepted, refused, absent, and never
 * shown), and a server that goes away. The git CLI is the witness of what
 * the remote holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define ROOT ".platform/kubernetes/"
#define OV(app) ROOT app "/overlays/prd/kustomization.yaml"
#define TOKEN "kpin-test-token-7d1f9a"

static const char *const files[] = {
	OV("a"), "images:\n- name: a\n  newTag: v1\n",
	OV("b"), "images:\n- name: b\n  newTag: v1\n",
	OV("c"), "images:\n- name: c\n  newTag: v1\n",
	OV("d"), "images:\n- name: d\n  newTag: v1\n",
	OV("e"), "images:\n- name: e\n  newTag: v1\n",
	NULL
};

/* The apps of the race tests, one per racer. */
static const char *const apps[] = { "a", "b", "c", "d", "e" };
#define NAPPS (sizeof(apps) / sizeof(apps[0]))

/* The prd overlay of @app. */
static const char *ov(const char *app)
{
	static char path[128];

	snprintf(path, sizeof(path), ROOT "%s/overlays/prd/kustomization.yaml",
		 app);
	return path;
}

struct world {
	char *dir;		/* scratch */
	char *remote;		/* bare remote */
	char *http;		/* server directory, while one runs */
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct h_result r;

	w->dir = h_tmpdir();
	w->remote = strdup(h_path(w->dir, "remote.git"));
	h_repo_init(w->remote, true, files);
	*state = w;
	(void)r;
	return 0;
}

static void stop_http(struct world *w)
{
	struct h_result r;

	if (!w->http)
		return;
	h_sh(&r, NULL, "sh tests/http-git.sh stop '%s'", w->http);
	h_result_release(&r);
	free(w->http);
	w->http = NULL;
}

static int teardown(void **state)
{
	struct world *w = *state;

	/* stopped here, not at the end of the test: a failed assertion
	 * jumps past the test's own clean-up and would leave it running */
	stop_http(w);
	h_rmrf(w->dir);
	free(w->dir);
	free(w->remote);
	free(w);
	return 0;
}

/* A clone of the remote at @name, with a committer identity. */
static const char *clone_of(const struct world *w, const char *url,
			    const char *name)
{
	struct h_result r;
	const char *path = h_path(w->dir, name);

	if (h_git(&r, w->dir, "clone -q '%s' '%s' && git -C '%s' config "
		  "user.name '%s' && git -C '%s' config user.email "
		  "'%s@example.com'", url, path, path, name, path, name))
		fail_msg("clone: %s", r.err.ptr);
	h_result_release(&r);
	return path;
}

/* kpin in @dir with a clean HOME and @token (NULL: no token at all). */
static int kpin_push(struct h_result *r, const char *dir, const char *token,
		     ...)
{
	const char *argv[32], *env[8];
	char tok[256];
	va_list ap;
	int n = 0, k = 0;

	argv[n++] = "kpin";
	va_start(ap, token);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	env[k++] = h_env_home();
	env[k++] = "XDG_CONFIG_HOME=";
	env[k++] = "GITHUB_TOKEN=";
	snprintf(tok, sizeof(tok), "KPIN_TOKEN=%s", token ? token : "");
	env[k++] = tok;
	/* signing uses the key user.signingkey names, not one from here */
	env[k++] = "SSH_AUTH_SOCK=";
	env[k++] = "KPIN_SIGNING_KEY=";
	env[k] = NULL;
	return h_run(r, dir, env, argv, NULL);
}

/*
 * "kpin set --push [remote]" of digest @seed for app @app's prd overlay in
 * @dir: assert the exit @status and, when given, that stderr has @needle.
 */
static void set_pushed(const char *dir, const char *token, const char *app,
		       unsigned seed, const char *remote, int status,
		       const char *needle)
{
	struct h_result r;

	assert_int_equal(kpin_push(&r, dir, token, "set", "--app", app,
				   "--env", "prd", "--image", app, "--digest",
				   h_digest(seed), "--push", remote, NULL),
			 status);
	if (needle)
		h_assert_contains(r.err.ptr, needle);
	assert_null(strstr(r.err.ptr, "attempts"));
	h_result_release(&r);
}

/* Clean status, and fsck without errors (a lost race leaves dangling commits). */
static void assert_clean(const char *dir)
{
	assert_string_equal(h_git_out(dir, "status --porcelain"), "");
	assert_string_equal(h_git_out(dir, "fsck --strict --no-dangling 2>&1"),
			    "");
}

/* Clones "clone0".."clone<n-1>" of @url, with origin set to @origin. */
static void make_clones(const struct world *w, const char *url,
			const char *origin, size_t n, char (*c)[4200])
{
	struct h_result r;
	size_t i;

	for (i = 0; i < n; i++) {
		char name[32];	/* "clone" and any size_t */

		snprintf(name, sizeof(name), "clone%zu", i);
		snprintf(c[i], sizeof(c[i]), "%s", clone_of(w, url, name));
		if (origin && h_git(&r, c[i], "remote set-url origin '%s'",
				    origin))
			fail_msg("set-url: %s", r.err.ptr);
		if (origin)
			h_result_release(&r);
	}
}

/*
 * @n kpin processes at once, the i-th in @c[i] setting apps[i] to the
 * digest of @seed + i (kept in @digests) and pushing it, with the extra
 * environment @env and --sign when @sign: each must succeed.
 */
static void race(char (*c)[4200], size_t n, const char *const *env,
		 bool sign, unsigned seed, char (*digests)[80])
{
	int pids[NAPPS];
	size_t i;

	assert_true(n <= NAPPS);
	for (i = 0; i < n; i++) {
		const char *argv[] = { "kpin", "set", "--app", apps[i], "--env",
				       "prd", "--image", apps[i], "--digest",
				       digests[i], "--push", "--retries", "30",
				       sign ? "--sign" : NULL, NULL };

		snprintf(digests[i], sizeof(digests[i]), "%s",
			 h_digest(seed + (unsigned)i));
		pids[i] = h_spawn(c[i], env, argv);
	}
	for (i = 0; i < n; i++)
		assert_int_equal(h_wait(pids[i]), 0);
}

/*
 * After a race of @n from @before: every digest is on the remote's main,
 * which gained exactly @n commits, only moved forward, and is sound.
 */
static void assert_all_landed(const char *remote, const char *before,
			      size_t n, char (*digests)[80])
{
	struct h_result r;
	size_t i;

	for (i = 0; i < n; i++)
		h_assert_contains(h_git_out(remote, "show main:%s",
					    ov(apps[i])), digests[i]);
	assert_int_equal(atoi(h_git_out(remote, "rev-list --count %s..main",
					before)), (int)n);
	assert_int_equal(h_git(&r, remote, "merge-base --is-ancestor %s "
			       "main", before), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(remote, "fsck --strict --no-dangling "
				      "2>&1"), "");
}

static void test_push_stale_clones_race(void **state)
{
	struct world *w = *state;
	char c[3][4200], before[64], digests[3][80];
	const char *outside;
	struct h_result r;
	size_t i;

	make_clones(w, w->remote, NULL, 3, c);
	/* after the clones were made, an outside commit changes c's overlay */
	outside = clone_of(w, w->remote, "outside");
	h_writes(h_path(outside, OV("c")),
		 "images:\n- name: c\n  newTag: v2 # outside\n");
	assert_int_equal(h_git(&r, outside, "commit -qam outside && git push "
			       "-q origin main"), 0);
	h_result_release(&r);
	snprintf(before, sizeof(before), "%s",
		 h_git_out(w->remote, "rev-parse main"));
	race(c, 3, NULL, false, 400, digests);
	/* every update and the outside commit are there */
	assert_all_landed(w->remote, before, 3, digests);
	h_assert_contains(h_git_out(w->remote, "show main:%s", OV("c")),
			  "newTag: v2 # outside");
	/* each clone ends at what it pushed, clean */
	for (i = 0; i < 3; i++) {
		assert_clean(c[i]);
		h_assert_contains(h_git_out(c[i], "show HEAD:%s", ov(apps[i])),
				  digests[i]);
		assert_int_equal(h_git(&r, w->remote, "merge-base --is-ancestor "
				       "%s main", h_git_out(c[i],
				       "rev-parse HEAD")), 0);
		h_result_release(&r);
	}
}

/* An executable pre-receive hook in @remote, the script printf'd. */
static void install_hook(const char *remote, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void install_hook(const char *remote, const char *fmt, ...)
{
	struct kpin_buf text = KPIN_BUF_INIT;
	char hook[4300];
	va_list ap;

	va_start(ap, fmt);
	kpin_buf_vaddf(&text, fmt, ap);
	va_end(ap);
	snprintf(hook, sizeof(hook), "%s/hooks/pre-receive", remote);
	h_writes(hook, text.ptr);
	assert_int_equal(chmod(hook, 0755), 0);
	kpin_buf_release(&text);
}

/*
 * A pre-receive hook that moves the branch itself for its first @times
 * pushes, as a concurrent writer would, so that git refuses to update
 * the ref: the push is rejected although git_remote_push returns 0.
 */
static void install_mover(const char *remote, int times)
{
	install_hook(remote, "#!/bin/sh\n"
		"n=$(cat \"$GIT_DIR/moves\" 2>/dev/null || echo 0)\n"
		"[ \"$n\" -ge %d ] && exit 0\n"
		"echo $((n + 1)) > \"$GIT_DIR/moves\"\n"
		"unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY "
		"GIT_ALTERNATE_OBJECT_DIRECTORIES\n"
		"tree=$(git rev-parse main^{tree})\n"
		"c=$(echo \"outside writer $n\" | GIT_AUTHOR_NAME=o "
		"GIT_AUTHOR_EMAIL=o@o GIT_COMMITTER_NAME=o "
		"GIT_COMMITTER_EMAIL=o@o git commit-tree $tree -p main)\n"
		"git update-ref refs/heads/main $c\n", times);
}

/* A --depth 1 clone of the remote (file://) at @s ("shallow"). */
static void shallow_clone(const struct world *w, char s[4200])
{
	char url[4200];
	struct h_result r;

	snprintf(url, sizeof(url), "file://%s", w->remote);
	assert_int_equal(h_git(&r, w->dir, "clone -q --depth 1 '%s' shallow && "
			       "git -C shallow config user.name s && git -C "
			       "shallow config user.email s@example.com", url),
			 0);
	h_result_release(&r);
	snprintf(s, 4200, "%s", h_path(w->dir, "shallow"));
}

/*
 * A shallow clone (what CI checkouts are) that is stale: the remote has
 * since gained a policy and a dev overlay. kpin must read the policy and
 * the promotion's source as the remote has them, not from the stale
 * local branch, and must build on the remote's tip although the clone's
 * history stops at its boundary. A dry run must not move the
 * remote-tracking ref.
 */
static void test_push_shallow_stale(void **state)
{
	struct world *w = *state;
	char o[4200], s[4200], before[64], dev[80], tracking[64];
	struct h_result r;

	shallow_clone(w, s);
	assert_true(access(h_path(s, ".git/shallow"), F_OK) == 0);
	snprintf(o, sizeof(o), "%s", clone_of(w, w->remote, "outside"));
	snprintf(dev, sizeof(dev), "%s", h_digest(450));
	assert_int_equal(h_sh(&r, o, "mkdir -p " ROOT "a/overlays/dev"), 0);
	h_result_release(&r);
	{
		char text[256];

		snprintf(text, sizeof(text), "images:\n- name: a\n  digest: "
			 "%s\n", dev);
		h_writes(h_path(o, ROOT "a/overlays/dev/kustomization.yaml"),
			 text);
	}
	h_writes(h_path(o, ".kpin.yaml"), "environments: [dev, prd]\n"
		 "promotion: ordered\n");
	assert_int_equal(h_git(&r, o, "add -A && git commit -qm policy && "
			       "git push -q origin main"), 0);
	h_result_release(&r);
	snprintf(before, sizeof(before), "%s",
		 h_git_out(w->remote, "rev-parse main"));

	/* the remote's policy refuses a digest dev never had */
	assert_int_equal(kpin_push(&r, s, NULL, "set", "--app", "a", "--env",
				   "prd", "--image", "a", "--digest",
				   h_digest(451), "--push", NULL), 6);
	h_result_release(&r);
	assert_string_equal(h_git_out(w->remote, "rev-parse main"), before);

	/* promote reads dev at the remote's tip, and lands on top of it */
	assert_int_equal(kpin_push(&r, s, NULL, "promote", "--app", "a",
				   "--from", "dev", "--to", "prd", "--push",
				   NULL), 0);
	h_result_release(&r);
	h_assert_contains(h_git_out(w->remote, "show main:%s", OV("a")), dev);
	assert_string_equal(h_git_out(w->remote, "rev-parse main^"), before);
	assert_string_equal(h_git_out(s, "rev-parse HEAD"),
			    h_git_out(w->remote, "rev-parse main"));
	assert_string_equal(h_git_out(s, "status --porcelain"), "");

	/* a dry run fetches, but moves no ref */
	assert_int_equal(h_git(&r, o, "pull -q && git commit -q --allow-empty "
			       "-m more && git push -q origin main"), 0);
	h_result_release(&r);
	snprintf(tracking, sizeof(tracking), "%s",
		 h_git_out(s, "rev-parse origin/main"));
	assert_int_equal(kpin_push(&r, s, NULL, "set", "--app", "b", "--env",
				   "prd", "--image", "b", "--digest",
				   h_digest(452), "--push", "--dry-run", "--force", NULL),
			 0);
	h_assert_contains(r.out.ptr, h_digest(452));
	h_result_release(&r);
	assert_string_equal(h_git_out(s, "rev-parse origin/main"), tracking);
}

static void test_push_local_ahead_refused(void **state)
{
	struct world *w = *state;
	const char *c = clone_of(w, w->remote, "clone");
	char before[64];
	struct h_result r;

	h_writes(h_path(c, "notes"), "local only\n");
	assert_int_equal(h_git(&r, c, "add notes && git commit -qm local"), 0);
	h_result_release(&r);
	snprintf(before, sizeof(before), "%s",
		 h_git_out(w->remote, "rev-parse main"));
	assert_int_equal(kpin_push(&r, c, NULL, "set", "--app", "a", "--env",
				   "prd", "--image", "a", "--digest",
				   h_digest(430), "--push", NULL), 3);
	h_assert_contains(r.err.ptr, "has commits that");
	h_result_release(&r);
	assert_string_equal(h_git_out(w->remote, "rev-parse main"), before);
}

/*
 * A relative remote path names a directory relative to the top of the
 * worktree, as git reads it, even when kpin runs in a subdirectory; a URL
 * no transport takes fails at once instead of being retried.
 */
static void test_push_relative_url(void **state)
{
	struct world *w = *state;
	const char *c = clone_of(w, w->remote, "clone");
	char sub[4200], head[64];
	struct h_result r;

	assert_int_equal(h_git(&r, c, "remote set-url origin ../remote.git"),
			 0);
	h_result_release(&r);
	snprintf(sub, sizeof(sub), "%s", h_path(c, ROOT "a"));
	set_pushed(sub, NULL, "a", 480, NULL, 0, NULL);
	h_assert_contains(h_git_out(w->remote, "show main:%s", OV("a")),
			  h_digest(480));
	assert_string_equal(h_git_out(c, "rev-parse origin/main"),
			    h_git_out(w->remote, "rev-parse main"));
	assert_clean(c);
	/* the same path given on the command line */
	set_pushed(sub, NULL, "b", 481, "../remote.git", 0, NULL);
	h_assert_contains(h_git_out(w->remote, "show main:%s", OV("b")),
			  h_digest(481));

	/* no transport for it: one attempt, not eleven */
	assert_int_equal(h_git(&r, c, "remote set-url origin nosuch://x/y.git"),
			 0);
	h_result_release(&r);
	snprintf(head, sizeof(head), "%s", h_git_out(c, "rev-parse HEAD"));
	set_pushed(c, NULL, "a", 482, NULL, 1, "nosuch://x/y.git");
	assert_string_equal(h_git_out(c, "rev-parse HEAD"), head);
	assert_clean(c);
}

/*
 * A repository on this machine gets objects copied and its branch moved
 * by kpin itself, so its hooks would not run: one with an executable
 * pre-receive or update hook is refused (a push over ssh or https runs
 * them), as is one whose branch a worktree of its own has checked out.
 */
static void test_push_local_refusals(void **state)
{
	struct world *w = *state;
	const char *c = clone_of(w, w->remote, "clone");
	char hook[4200], head[64], before[64], nonbare[4200];
	struct h_result r;

	snprintf(head, sizeof(head), "%s", h_git_out(c, "rev-parse HEAD"));
	snprintf(before, sizeof(before), "%s",
		 h_git_out(w->remote, "rev-parse main"));
	snprintf(hook, sizeof(hook), "%s/hooks/update", w->remote);
	h_writes(hook, "#!/bin/sh\nexit 1\n");
	assert_int_equal(chmod(hook, 0755), 0);
	set_pushed(c, NULL, "a", 490, NULL, 8, "update hook, which a push "
		   "over ssh or https would run");
	assert_string_equal(h_git_out(w->remote, "rev-parse main"), before);
	assert_string_equal(h_git_out(c, "rev-parse HEAD"), head);
	assert_clean(c);
	/* a hook git would skip (not executable) is no reason to refuse */
	assert_int_equal(chmod(hook, 0644), 0);
	/* but core.hooksPath is where git looks */
	assert_int_equal(h_sh(&r, w->remote, "mkdir -p myhooks && cp "
			      "hooks/update myhooks/pre-receive && chmod +x "
			      "myhooks/pre-receive && git config core.hooksPath "
			      "myhooks"), 0);
	h_result_release(&r);
	set_pushed(c, NULL, "a", 490, NULL, 8, "pre-receive hook");
	assert_int_equal(h_git(&r, w->remote, "config --unset core.hooksPath"),
			 0);
	h_result_release(&r);
	set_pushed(c, NULL, "a", 490, NULL, 0, NULL);
	h_assert_contains(h_git_out(w->remote, "show main:%s", OV("a")),
			  h_digest(490));

	/* a linked worktree of the bare remote has main checked out */
	assert_int_equal(h_git(&r, w->remote, "worktree add -q ../wt main"),
			 0);
	h_result_release(&r);
	snprintf(before, sizeof(before), "%s",
		 h_git_out(w->remote, "rev-parse main"));
	set_pushed(c, NULL, "b", 491, NULL, 8, "checked out");
	assert_string_equal(h_git_out(w->remote, "rev-parse main"), before);
	assert_string_equal(h_git_out(h_path(w->dir, "wt"),
				      "status --porcelain"), "");

	/* a non-bare remote with main checked out: git refuses too */
	snprintf(nonbare, sizeof(nonbare), "%s", clone_of(w, w->remote,
							  "nonbare"));
	assert_int_equal(h_git(&r, c, "remote set-url origin '%s'", nonbare),
			 0);
	h_result_release(&r);
	set_pushed(c, NULL, "b", 491, NULL, 8, "checked out");
	assert_clean(nonbare);
	assert_string_equal(h_git_out(nonbare, "rev-parse main"), before);
	/* unless it lets such pushes through, as git then does */
	assert_int_equal(h_git(&r, nonbare, "config receive.denyCurrentBranch "
			       "ignore"), 0);
	h_result_release(&r);
	set_pushed(c, NULL, "b", 491, NULL, 0, NULL);
	h_assert_contains(h_git_out(nonbare, "show main:%s", OV("b")),
			  h_digest(491));
}

/*
 * Without --push, a depth-1 clone (what actions/checkout makes) cannot
 * answer a history question: its only commit is not the one that pinned
 * what the overlay holds. history, rollback and "promotion: ordered" must
 * say so, not credit the boundary commit, find nothing, or refuse a
 * digest dev really held; once the history is complete they answer.
 */
static void test_shallow_history_refused(void **state)
{
	struct world *w = *state;
	const char *o = clone_of(w, w->remote, "origin-work");
	char s[4200], held[80], head[64];
	struct h_result r;

	snprintf(held, sizeof(held), "%s", h_digest(500));
	assert_int_equal(h_sh(&r, o, "mkdir -p " ROOT "a/overlays/dev && "
			      "printf 'environments: [dev, prd]\\npromotion: "
			      "ordered\\n' > .kpin.yaml && printf 'images:\\n- "
			      "name: a\\n  digest: %s\\n' > " ROOT "a/overlays/"
			      "dev/kustomization.yaml && printf 'images:\\n- "
			      "name: a\\n  digest: %s\\n' > " OV("a") " && "
			      "git add -A && git -c user.name=Pinner commit -qm "
			      "'pin a' && printf 'images:\\n- name: a\\n  "
			      "digest: %s\\n' > " ROOT "a/overlays/dev/"
			      "kustomization.yaml && git commit -qam 'dev moves "
			      "on' && echo x > unrelated && git add unrelated && "
			      "git -c user.name=Bystander commit -qm unrelated && "
			      "git push -q origin main", held, h_digest(501),
			      h_digest(502)), 0);
	h_result_release(&r);
	shallow_clone(w, s);
	snprintf(head, sizeof(head), "%s", h_git_out(s, "rev-parse HEAD"));

	/* history: not the boundary commit "unrelated" by Bystander */
	assert_int_equal(h_kpin_run(&r, s, "history", "--app", "a", "--env",
				    "prd", NULL), 1);
	h_assert_contains(r.err.ptr, "shallow clone");
	h_assert_contains(r.err.ptr, "git fetch --unshallow");
	assert_null(strstr(r.out.ptr, "Bystander"));
	h_result_release(&r);
	/* rollback: not "nothing to roll back to" */
	assert_int_equal(h_kpin_run(&r, s, "rollback", "--app", "a", "--env",
				    "prd", NULL), 1);
	h_assert_contains(r.err.ptr, "shallow clone");
	h_result_release(&r);
	/* ordered: dev held it, two commits back; not a policy refusal */
	assert_int_equal(h_kpin_run(&r, s, "set", "--app", "a", "--env", "prd",
				    "--image", "a", "--digest", held, NULL), 1);
	h_assert_contains(r.err.ptr, "shallow clone");
	h_result_release(&r);
	assert_string_equal(h_git_out(s, "rev-parse HEAD"), head);
	assert_clean(s);

	/* completed, every answer is right */
	assert_int_equal(h_git(&r, s, "fetch -q --unshallow"), 0);
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, s, "history", "--app", "a", "--env",
				    "prd", NULL), 0);
	h_assert_contains(r.out.ptr, "Pinner");
	assert_null(strstr(r.out.ptr, "Bystander"));
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, s, "set", "--app", "a", "--env", "prd",
				    "--image", "a", "--digest", held, NULL), 0);
	h_result_release(&r);
	h_assert_contains(h_git_out(s, "show HEAD:%s", OV("a")), held);
}

/*
 * A server that accepts the connection and then says nothing: libgit2
 * 1.5 would wait forever. With --timeout 2 kpin gives up (the run is
 * itself bounded by timeout(1), so a hang fails the test instead of
 * hanging it) and nothing changed.
 */
static void test_push_stalled_server(void **state)
{
	struct world *w = *state;
	const char *c = clone_of(w, w->remote, "clone");
	char head[64];
	struct h_result r, k;
	int port;

	/* a listener that accepts and never answers, for 60 s at most */
	assert_int_equal(h_sh(&r, w->dir, "timeout 60 python3 -c 'import "
			      "socket\ns = socket.socket()\ns.bind((\""
			      "127.0.0.1\", 0))\ns.listen(8)\nprint(s."
			      "getsockname()[1], flush=True)\nheld = []\n"
			      "while True:\n    held.append(s.accept())\n' "
			      ">port 2>/dev/null </dev/null & echo $! >pid; "
			      "i=0; while [ ! -s port ] && [ $i -lt 200 ]; do "
			      "sleep 0.05; i=$((i + 1)); done; cat port"), 0);
	port = atoi(r.out.ptr);
	h_result_release(&r);
	assert_true(port > 0);
	assert_int_equal(h_git(&r, c, "remote set-url origin "
			       "http://127.0.0.1:%d/platform.git", port), 0);
	h_result_release(&r);
	snprintf(head, sizeof(head), "%s", h_git_out(c, "rev-parse HEAD"));
	h_sh(&r, c, "HOME=/nonexistent KPIN_TOKEN=%s timeout 30 '%s' set "
	     "--app a --env prd --image a --digest %s --push --timeout 2",
	     TOKEN, h_kpin(), h_digest(510));
	h_sh(&k, w->dir, "kill $(cat pid)");
	h_result_release(&k);
	assert_int_equal(r.status, 1);
	h_assert_contains(r.err.ptr, "nothing came for 2 s (--timeout)");
	assert_null(strstr(r.err.ptr, "attempts"));
	h_result_release(&r);
	assert_string_equal(h_git_out(c, "rev-parse HEAD"), head);
	assert_clean(c);
}

/* ---- HTTP --------------------------------------------------------------- */

static bool have_lighttpd(void)
{
	struct h_result r;
	int rc = h_sh(&r, NULL, "command -v lighttpd || test -x "
		      "/usr/sbin/lighttpd");

	h_result_release(&r);
	if (rc)
		printf("# skip: lighttpd is not installed\n");
	return rc == 0;
}

/* Start the server; teardown() stops it. */
static char *start_http(struct world *w, int *port)
{
	char *srv = w->http = strdup(h_path(w->dir, "http"));
	struct h_result r;

	if (h_sh(&r, NULL, "sh tests/http-git.sh start '%s' %s", srv, TOKEN))
		fail_msg("cannot start lighttpd: %s", r.err.ptr);
	*port = atoi(r.out.ptr);
	h_result_release(&r);
	assert_int_equal(h_git(&r, w->dir, "clone -q --bare '%s' "
			       "'%s/repos/platform.git' && git -C "
			       "'%s/repos/platform.git' config http.receivepack "
			       "true", w->remote, srv, srv), 0);
	h_result_release(&r);
	return srv;
}

/*
 * Serve a copy of the remote (skip the test without lighttpd): its
 * path in @served, its URL in @url.
 */
static void serve(struct world *w, char served[4200], char url[256])
{
	int port;

	if (!have_lighttpd())
		skip();
	snprintf(served, 4200, "%s",
		 h_path(start_http(w, &port), "repos/platform.git"));
	snprintf(url, 256, "http://127.0.0.1:%d/git/platform.git", port);
}

/* Does @token appear anywhere under @dir (files, refs, objects)? */
static bool token_in_tree(const char *dir)
{
	struct h_result r;
	bool found;

	/* loose objects are compressed: look through git's eyes too */
	h_sh(&r, dir, "grep -r -a -l '%s' . ; git log --all -p 2>/dev/null | "
	     "grep -c '%s'", TOKEN, TOKEN);
	found = strstr(r.out.ptr, "./") != NULL || atoi(r.out.ptr) > 0;
	h_result_release(&r);
	return found;
}

/*
 * The remote keeps moving (the hook moves it during each push): the push
 * is rejected through a ref status, which git_remote_push reports as
 * success; kpin must notice, re-apply on the new tip and retry. Over HTTP,
 * because libgit2's local transport runs no hooks.
 */
static void test_push_remote_moves(void **state)
{
	struct world *w = *state;
	struct h_result r;
	char url[256], local[64], remote_before[64], subject[128];
	const char *c, *served;
	char *srv;
	int port;

	if (!have_lighttpd())
		skip();
	srv = start_http(w, &port);
	served = h_path(srv, "repos/platform.git");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/git/platform.git",
		 port);
	c = clone_of(w, w->remote, "clone");
	assert_int_equal(h_git(&r, c, "remote set-url origin '%s'", url), 0);
	h_result_release(&r);

	/* it never stops moving: retries run out, nothing pushed */
	install_mover(served, 100);
	snprintf(local, sizeof(local), "%s", h_git_out(c, "rev-parse HEAD"));
	snprintf(remote_before, sizeof(remote_before), "%s",
		 h_git_out(served, "rev-parse main"));
	assert_int_equal(kpin_push(&r, c, TOKEN, "set", "--app", "a", "--env",
				   "prd", "--image", "a", "--digest",
				   h_digest(410), "--push", "--retries", "0",
				   NULL), 5);
	h_assert_contains(r.err.ptr, "rejected the push");
	h_assert_contains(r.err.ptr, "nothing pushed");
	h_result_release(&r);
	assert_string_equal(h_git_out(served, "log -1 --format=%%s main"),
			    "outside writer 0");
	assert_string_equal(h_git_out(served, "rev-parse main^"),
			    remote_before);
	assert_string_equal(h_git_out(c, "rev-parse HEAD"), local);
	assert_clean(c);

	/* it moves twice more, then lets us through: the third try lands */
	h_writes(h_path(served, "moves"), "98\n");
	assert_int_equal(kpin_push(&r, c, TOKEN, "set", "--app", "a", "--env",
				   "prd", "--image", "a", "--digest",
				   h_digest(420), "--push", NULL), 0);
	h_assert_contains(r.err.ptr, "3 attempts");
	h_result_release(&r);
	snprintf(subject, sizeof(subject), "a/prd: set a to %.19s\n"
		 "outside writer 99\noutside writer 98\noutside writer 0",
		 h_digest(420));
	assert_string_equal(h_git_out(served, "log --format=%%s -4 main"),
			    subject);
	assert_string_equal(h_git_out(c, "rev-parse HEAD"),
			    h_git_out(served, "rev-parse main"));
	assert_clean(c);
}

/*
 * Over HTTP, a depth-1 clone (what actions/checkout makes) of a remote
 * that has moved since: libgit2 1.5 cannot negotiate from a shallow
 * history, so kpin completes it once, and the update lands on top.
 */
static void test_push_shallow_http(void **state)
{
	struct world *w = *state;
	struct h_result r;
	char url[256], c[4200], served[4200], before[64];

	serve(w, served, url);
	snprintf(c, sizeof(c), "%s", h_path(w->dir, "shallow"));
	assert_int_equal(h_git(&r, w->dir, "-c 'http.extraHeader=Authorization:"
			       " Basic %s' clone -q --depth 1 '%s' shallow && "
			       "git -C shallow config user.name s && git -C "
			       "shallow config user.email s@example.com",
			       "eC1hY2Nlc3MtdG9rZW46a3Bpbi10ZXN0LXRva2VuLTdkMWY5YQ==",
			       url), 0);
	h_result_release(&r);
	assert_true(access(h_path(c, ".git/shallow"), F_OK) == 0);
	/* the remote moves on */
	assert_int_equal(h_git(&r, served, "update-ref refs/heads/main $(git -c "
			       "user.name=o -c user.email=o@o commit-tree "
			       "-p main -m outside 'main^{tree}')"),
			 0);
	h_result_release(&r);
	snprintf(before, sizeof(before), "%s",
		 h_git_out(served, "rev-parse main"));
	assert_int_equal(kpin_push(&r, c, TOKEN, "set", "--app", "b", "--env",
				   "prd", "--image", "b", "--digest",
				   h_digest(460), "--push", NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(served, "rev-parse main^"), before);
	h_assert_contains(h_git_out(served, "show main:%s", OV("b")),
			  h_digest(460));
	assert_string_equal(h_git_out(c, "rev-parse HEAD"),
			    h_git_out(served, "rev-parse main"));
	assert_string_equal(h_git_out(c, "status --porcelain"), "");
	/* no scratch repository left in the git directory */
	assert_string_equal(h_git_out(c, "rev-parse --git-dir | xargs ls | "
				      "grep kpin-complete || true"), "");
}

/*
 * A server-side refusal (GitHub's protected branch answers so, from its
 * pre-receive hook) is final: one attempt, exit 8, the server's own words
 * shown, nothing changed here or there.
 */
static void test_push_refused_by_hook(void **state)
{
	struct world *w = *state;
	struct h_result r;
	char url[256], head[64], before[64], hook[4200];
	const char *c, *served;
	int port;

	if (!have_lighttpd())
		skip();
	served = h_path(start_http(w, &port), "repos/platform.git");
	snprintf(hook, sizeof(hook), "%s/hooks/pre-receive", served);
	h_writes(hook, "#!/bin/sh\n"
		 "echo x >> \"$GIT_DIR/attempts\"\n"
		 "echo 'GH006: Protected branch update failed for "
		 "refs/heads/main.' >&2\n"
		 "exit 1\n");
	assert_int_equal(chmod(hook, 0755), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/git/platform.git",
		 port);
	c = clone_of(w, w->remote, "clone");
	assert_int_equal(h_git(&r, c, "remote set-url origin '%s'", url), 0);
	h_result_release(&r);
	snprintf(head, sizeof(head), "%s", h_git_out(c, "rev-parse HEAD"));
	snprintf(before, sizeof(before), "%s",
		 h_git_out(served, "rev-parse main"));
	set_pushed(c, TOKEN, "a", 470, NULL, 8, "refused the update of 'main' "
		   "(pre-receive hook declined): remote: GH006: Protected "
		   "branch update failed");
	/* the hook ran once: no retry */
	assert_int_equal(h_sh(&r, served, "test $(wc -l < attempts) -eq 1"), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(served, "rev-parse main"), before);
	assert_string_equal(h_git_out(c, "rev-parse HEAD"), head);
	assert_string_equal(h_git_out(c, "rev-parse origin/main"), head);
	assert_clean(c);
	/* no repository at that URL (404): one attempt, not eleven */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/git/missing.git",
		 port);
	set_pushed(c, TOKEN, "a", 471, url, 1, "missing.git");
	assert_string_equal(h_git_out(c, "rev-parse HEAD"), head);
}

static void test_push_http(void **state)
{
	struct world *w = *state;
	struct h_result r;
	char url[256], bad_url[256];
	const char *c;
	int port;
	char *srv;

	if (!have_lighttpd())
		skip();
	srv = start_http(w, &port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/git/platform.git",
		 port);
	snprintf(bad_url, sizeof(bad_url), "http://x-access-token:"
		 "not-the-token@127.0.0.1:%d/git/platform.git", port);
	/* clone with git (and the token), then forget the token */
	c = clone_of(w, w->remote, "clone");
	assert_int_equal(h_git(&r, c, "remote set-url origin '%s'", url), 0);
	h_result_release(&r);
	/* the right token pushes */
	assert_int_equal(kpin_push(&r, c, TOKEN, "set", "--app", "b", "--env",
				   "prd", "--image", "b", "--digest",
				   h_digest(440), "--push", NULL), 0);
	assert_null(strstr(r.out.ptr, TOKEN));
	assert_null(strstr(r.err.ptr, TOKEN));
	h_result_release(&r);
	h_assert_contains(h_git_out(srv, "--git-dir=repos/platform.git show "
				    "main:%s", OV("b")), h_digest(440));
	/* a wrong token: fast, exit 7, the URL shown, nothing pushed */
	assert_int_equal(kpin_push(&r, c, "wrong-" TOKEN, "set", "--app", "b",
				   "--env", "prd", "--image", "b", "--digest",
				   h_digest(441), "--push", "--json", NULL), 7);
	h_assert_contains(r.err.ptr, "authentication failed for ");
	h_assert_contains(r.err.ptr, url);
	assert_null(strstr(r.err.ptr, TOKEN));
	/* --json: the failure as one JSON object, redacted too */
	h_assert_contains(r.out.ptr, "{\"code\":7,\"message\":\"");
	h_assert_contains(r.out.ptr, "authentication failed for ");
	assert_null(strstr(r.out.ptr, TOKEN));
	h_result_release(&r);
	/* no token at all */
	assert_int_equal(kpin_push(&r, c, NULL, "set", "--app", "b", "--env",
				   "prd", "--image", "b", "--digest",
				   h_digest(441), "--push", NULL), 7);
	h_assert_contains(r.err.ptr, "no token");
	h_result_release(&r);
	/* credentials in a URL are never shown */
	assert_int_equal(kpin_push(&r, c, NULL, "set", "--app", "b", "--env",
				   "prd", "--image", "b", "--digest",
				   h_digest(441), "--push", bad_url, NULL), 7);
	assert_null(strstr(r.err.ptr, "not-the-token"));
	h_assert_contains(r.err.ptr, "http://***@127.0.0.1");
	h_result_release(&r);
	assert_null(strstr(h_git_out(srv, "--git-dir=repos/platform.git show "
				     "main:%s", OV("b")), h_digest(441)));
	assert_clean(c);
	/* --token-env names another variable */
	{
		const char *argv[] = { "kpin", "set", "--app", "c", "--env",
				       "prd", "--image", "c", "--digest",
				       h_digest(442), "--push",
				       "--token-env", "DEPLOY_TOKEN", NULL };
		const char *env[] = { h_env_home(), "KPIN_TOKEN=",
				      "GITHUB_TOKEN=", "DEPLOY_TOKEN=" TOKEN,
				      NULL };

		assert_int_equal(h_run(&r, c, env, argv, NULL), 0);
		h_result_release(&r);
	}
	assert_false(token_in_tree(c));
	assert_false(token_in_tree(w->remote));
	/* the server goes away: a clear error, and nothing half-done */
	stop_http(w);
	{
		char head[64];

		snprintf(head, sizeof(head), "%s", h_git_out(c, "rev-parse HEAD"));
		assert_int_equal(kpin_push(&r, c, TOKEN, "set", "--app", "a",
					   "--env", "prd", "--image", "a",
					   "--digest", h_digest(443), "--push",
					   "--retries", "1", NULL), 1);
		h_assert_contains(r.err.ptr, url);
		h_assert_contains(r.err.ptr, "nothing pushed");
		h_result_release(&r);
		assert_string_equal(h_git_out(c, "rev-parse HEAD"), head);
		assert_clean(c);
	}
}

/*
 * No git lock over the network: while kpin pushes (the server's hook
 * makes the push take two seconds), `git add` in the same checkout must
 * work. kpin then moves the local branch and syncs the checkout, keeping
 * what was staged meanwhile.
 */
static void test_push_index_free_while_pushing(void **state)
{
	struct world *w = *state;
	const char *argv[] = { "kpin", "set", "--app", "a", "--env", "prd",
			       "--image", "a", "--digest", NULL, "--push",
			       NULL };
	const char *env[] = { NULL, "XDG_CONFIG_HOME=", "GITHUB_TOKEN=",
			      "KPIN_TOKEN=" TOKEN, NULL };
	char url[256], hook[4096], pushing[4096];
	const char *c, *served;
	struct h_result r;
	FILE *fp;
	int pid, port, i;

	if (!have_lighttpd())
		skip();
	served = h_path(start_http(w, &port), "repos/platform.git");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/git/platform.git",
		 port);
	c = clone_of(w, w->remote, "clone");
	assert_int_equal(h_git(&r, c, "remote set-url origin '%s'", url), 0);
	h_result_release(&r);
	snprintf(pushing, sizeof(pushing), "%s", h_path(w->dir, "pushing"));
	snprintf(hook, sizeof(hook), "%s/hooks/pre-receive", served);
	fp = fopen(hook, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\ntouch '%s'\nsleep 2\n", pushing);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(hook, 0755), 0);
	h_writes(h_path(c, "notes.txt"), "staged while kpin pushed\n");
	argv[9] = h_digest(450);
	env[0] = h_env_home();
	pid = h_spawn(c, env, argv);
	for (i = 0; i < 1000 && access(pushing, F_OK) < 0; i++)
		usleep(10000);
	assert_int_equal(access(pushing, F_OK), 0);
	if (h_git(&r, c, "add notes.txt"))
		fail_msg("git add during the push: %s", r.err.ptr);
	h_result_release(&r);
	assert_int_equal(h_wait(pid), 0);
	assert_string_equal(h_git_out(c, "rev-parse HEAD"),
			    h_git_out(served, "rev-parse main"));
	h_assert_contains(h_git_out(c, "show HEAD:%s", OV("a")),
			  h_digest(450));
	assert_string_equal(h_git_out(c, "status --porcelain"),
			    "A  notes.txt");
}

/* ---- signed pushes ----------------------------------------------------- */

/*
 * An Ed25519 key "dir/signer" allowed for t@example.com in "dir/allowed",
 * made on the first call; @clone signs with it (user.signingkey, a file).
 */
static void sign_with_file_key(const struct world *w, const char *clone)
{
	struct h_result r;

	if (access(h_path(w->dir, "signer"), F_OK) < 0)
		h_ssh_signer(w->dir, "signer", "t@example.com");
	assert_int_equal(h_git(&r, clone, "config gpg.format ssh && git config "
			       "user.signingkey '%s/signer'", w->dir), 0);
	h_result_release(&r);
}

/* git verify-commit says good for @commit in @repo; no lone-space line. */
static void assert_verifies(const struct world *w, const char *repo,
			    const char *commit)
{
	struct h_result r;
	const char *raw;

	if (h_git(&r, repo, "-c gpg.ssh.allowedSignersFile='%s/allowed' "
		  "verify-commit %s", w->dir, commit))
		fail_msg("git verify-commit %s: %s", commit, r.err.ptr);
	h_assert_contains(r.err.ptr, "Good \"git\" signature for "
			  "t@example.com");
	h_result_release(&r);
	raw = h_git_out(repo, "cat-file commit %s", commit);
	h_assert_contains(raw, "\ngpgsig -----BEGIN SSH SIGNATURE-----\n");
	assert_null(strstr(raw, "\n \n"));
}

/*
 * --push --sign over HTTP: the commit that lands verifies, and is the
 * commit an unsigned push of the same change makes (tree, parents,
 * author, message) plus its signature.
 */
#define SAME "log -1 --format='%%T %%P%%n%%an <%%ae>%%n%%B' main"

static void test_push_http_signed(void **state)
{
	struct world *w = *state;
	struct h_result r;
	char url[256], served[4200], c[1][4200], plain[4200];

	serve(w, served, url);
	make_clones(w, w->remote, url, 1, c);
	sign_with_file_key(w, c[0]);
	/* the same change, unsigned, pushed to the local remote, whose
	 * history the served one copies */
	snprintf(plain, sizeof(plain), "%s", clone_of(w, w->remote, "plain"));
	assert_int_equal(h_git(&r, plain, "config user.name clone0 && git "
			       "config user.email clone0@example.com"), 0);
	h_result_release(&r);
	if (kpin_push(&r, c[0], TOKEN, "set", "--app", "a", "--env", "prd",
		      "--image", "a", "--digest", h_digest(490), "--push",
		      "--sign", NULL))
		fail_msg("kpin: %s", r.err.ptr);
	h_result_release(&r);
	set_pushed(plain, NULL, "a", 490, NULL, 0, NULL);
	assert_verifies(w, served, "main");
	assert_string_equal(h_git_out(c[0], "rev-parse HEAD"),
			    h_git_out(served, "rev-parse main"));
	{
		char want[8192];

		snprintf(want, sizeof(want), "%s", h_git_out(w->remote, SAME));
		assert_string_equal(h_git_out(served, SAME), want);
	}
	assert_null(strstr(h_git_out(w->remote, "cat-file commit main"),
			   "gpgsig"));
	assert_clean(c[0]);
}

/*
 * A pre-receive hook that counts every push in "arrivals" and holds the
 * first @n until all @n have come (or 60 s passed, kpin waits 120): they
 * are all built on the same tip, so all but one lose and must retry on a
 * new one.
 */
static void install_barrier(const char *remote, size_t n)
{
	install_hook(remote, "#!/bin/sh\n"
		"echo x >> arrivals\n"
		"[ $(wc -l < arrivals) -gt %zu ] && exit 0\n"
		"i=0\n"
		"while [ $(wc -l < arrivals) -lt %zu ] && [ $i -lt 1200 ]; do\n"
		"\tsleep 0.05\n"
		"\ti=$((i + 1))\n"
		"done\n"
		"exit 0\n", n, n);
}

/*
 * Five signed pushes race over HTTP: every update lands, retries
 * happened (four at least when the barrier held them all; more than none
 * is asserted, so that a slow machine does not fail it), and every commit
 * on the remote verifies, so each retry signed its commit anew on the new
 * parent.
 */
static void test_push_http_signed_race(void **state)
{
	struct world *w = *state;
	const char *env[] = { NULL, "XDG_CONFIG_HOME=", "GITHUB_TOKEN=",
			      "KPIN_TOKEN=" TOKEN, "SSH_AUTH_SOCK=",
			      "KPIN_SIGNING_KEY=", NULL };
	char url[256], served[4200], before[64], c[NAPPS][4200];
	char digests[NAPPS][80];
	const char *list, *end;
	struct h_result r;
	int pushes;
	size_t i;

	serve(w, served, url);
	make_clones(w, w->remote, url, NAPPS, c);
	for (i = 0; i < NAPPS; i++)
		sign_with_file_key(w, c[i]);
	install_barrier(served, NAPPS);
	snprintf(before, sizeof(before), "%s",
		 h_git_out(served, "rev-parse main"));
	env[0] = h_env_home();
	race(c, NAPPS, env, true, 600, digests);
	assert_all_landed(served, before, NAPPS, digests);
	/* the losers of the first round pushed again */
	assert_int_equal(h_sh(&r, served, "wc -l < arrivals"), 0);
	pushes = atoi(r.out.ptr);
	h_result_release(&r);
	printf("# %zu signed pushes took %d attempts\n", NAPPS, pushes);
	assert_true(pushes > (int)NAPPS);
	list = h_git_out(served, "rev-list %s..main | tr '\\n' ' '", before);
	{
		char commits[NAPPS * 41 + 8];

		snprintf(commits, sizeof(commits), "%s", list);
		for (list = commits; *list; list = end + (*end != 0)) {
			char one[41];

			end = strchr(list, ' ');
			if (!end)
				end = list + strlen(list);
			snprintf(one, sizeof(one), "%.*s", (int)(end - list),
				 list);
			assert_verifies(w, served, one);
		}
	}
	for (i = 0; i < NAPPS; i++)
		assert_clean(c[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_push_stale_clones_race,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_remote_moves, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_push_shallow_stale, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_push_local_ahead_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_shallow_http, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_push_index_free_while_pushing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_http, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_push_http_signed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_push_http_signed_race,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_refused_by_hook,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_relative_url,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_local_refusals,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_shallow_history_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_stalled_server,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("push", tests, NULL, NULL);
}
