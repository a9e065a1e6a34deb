/*
 * Implementation of the test helpers: processes are run with fork and
 * execvp, their output collected through temporary files, so that tests
 * observe the real binary as a user would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

void h_result_release(struct h_result *r)
{
	kpin_buf_release(&r->out);
	kpin_buf_release(&r->err);
}

const char *h_kpin(void)
{
	const char *k = getenv("KPIN");

	return k && *k ? k : "./kpin";
}

const char *h_testdata(void)
{
	const char *t = getenv("TESTDATA");

	return t && *t ? t : "testdata";
}

const char *h_shared(void)
{
	const char *s = getenv("KPIN_SHARED");

	return s && *s ? s : "../shared";
}

static void slurp_fd(struct kpin_buf *out, int fd)
{
	char buf[65536];
	ssize_t n;

	kpin_buf_reset(out);
	kpin_buf_grow(out, 0);
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		kpin_buf_add(out, buf, (size_t)n);
}

/*
 * The argument vector to exec: @prog with @argv's arguments, behind the
 * words of $KPIN_VALGRIND when @prog is kpin (make check-valgrind).
 * Called in the child; the memory is never freed.
 */
static const char **wrapped(const char *prog, const char *const *argv)
{
	const char *w = strcmp(prog, h_kpin()) ? NULL : getenv("KPIN_VALGRIND");
	char *words = w && *w ? strdup(w) : NULL, *tok, *save = NULL;
	const char **v = calloc(64, sizeof(*v));
	int n = 0, i;

	for (tok = words ? strtok_r(words, " ", &save) : NULL; tok && n < 40;
	     tok = strtok_r(NULL, " ", &save))
		v[n++] = tok;
	v[n++] = prog;
	for (i = 1; argv[i] && n < 63; i++)
		v[n++] = argv[i];
	v[n] = NULL;
	return v;
}

int h_run(struct h_result *r, const char *cwd, const char *const *env,
	  const char *const *argv, const char *stdin_data)
{
	char outp[] = "/tmp/kpin-test-out-XXXXXX";
	char errp[] = "/tmp/kpin-test-err-XXXXXX";
	char inp[] = "/tmp/kpin-test-in-XXXXXX";
	int ofd = mkstemp(outp), efd = mkstemp(errp), ifd = -1, st;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	assert_true(ofd >= 0 && efd >= 0);
	unlink(outp);
	unlink(errp);
	if (stdin_data) {
		ifd = mkstemp(inp);
		assert_true(ifd >= 0);
		unlink(inp);
		assert_int_equal(write(ifd, stdin_data, strlen(stdin_data)),
				 (ssize_t)strlen(stdin_data));
		lseek(ifd, 0, SEEK_SET);
	}
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *prog = strcmp(argv[0], "kpin") ? argv[0] :
				   h_kpin();
		const char **full = wrapped(prog, argv);

		if (ifd < 0)
			ifd = open("/dev/null", O_RDONLY);
		dup2(ifd, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		if (cwd && chdir(cwd) < 0)
			_exit(126);
		for (; env && *env; env++) {
			const char *eq = strchr(*env, '=');

			if (eq && !eq[1]) {
				char name[256];

				snprintf(name, sizeof(name), "%.*s",
					 (int)(eq - *env), *env);
				unsetenv(name);
			} else {
				putenv((char *)*env);
			}
		}
		execvp(full[0], (char *const *)full);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp_fd(&r->out, ofd);
	slurp_fd(&r->err, efd);
	close(ofd);
	close(efd);
	if (ifd >= 0)
		close(ifd);
	return r->status;
}

int h_kpin_run(struct h_result *r, const char *cwd, ...)
{
	const char *argv[64];
	va_list ap;
	int n = 0;

	argv[n++] = "kpin";
	va_start(ap, cwd);
	while (n < 63 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return h_run(r, cwd, NULL, argv, NULL);
}

/* Run "/bin/sh -c @cmd" in @cwd with @env. */
static int run_sh(struct h_result *r, const char *cwd, const char *const *env,
		  const char *cmd)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	return h_run(r, cwd, env, argv, NULL);
}

int h_sh(struct h_result *r, const char *cwd, const char *fmt, ...)
{
	struct kpin_buf cmd = KPIN_BUF_INIT;
	va_list ap;
	int status;

	va_start(ap, fmt);
	kpin_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	status = run_sh(r, cwd, NULL, cmd.ptr);
	kpin_buf_release(&cmd);
	return status;
}

char *h_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (!base || !*base)
		base = "/tmp";
	p = malloc(strlen(base) + 32);
	assert_non_null(p);
	sprintf(p, "%s/kpin-test-XXXXXX", base);
	assert_non_null(mkdtemp(p));
	return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void h_rmrf(const char *path)
{
	if (path && strstr(path, "kpin-test-"))
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int h_read(struct kpin_buf *out, const char *path)
{
	return kpin_file_read(out, path, (size_t)1 << 30, NULL) ? -1 : 0;
}

void h_write(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

void h_writes(const char *path, const char *s)
{
	h_write(path, s, strlen(s));
}

const char *h_path(const char *dir, const char *name)
{
	static char bufs[8][4096];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

void h_copy(const char *from, const char *to)
{
	struct kpin_buf b = KPIN_BUF_INIT;

	assert_int_equal(h_read(&b, from), 0);
	h_write(to, b.ptr, b.len);
	kpin_buf_release(&b);
}

void h_assert_same_(const char *a, size_t alen, const char *b, size_t blen,
		    const char *file, int line)
{
	size_t i, n = alen < blen ? alen : blen;

	for (i = 0; i < n && a[i] == b[i]; i++)
		;
	if (i == n && alen == blen)
		return;
	print_error("%s:%d: bytes differ at offset %zu (lengths %zu and "
		       "%zu)\n--- expected near there:\n%.*s\n--- got:\n%.*s\n",
		       file, line, i, alen, blen,
		       (int)(alen - i < 80 ? alen - i : 80), a + i,
		       (int)(blen - i < 80 ? blen - i : 80), b + i);
	_fail(file, line);
}

void h_assert_contains_(const char *hay, const char *needle,
			const char *file, int line)
{
	if (hay && strstr(hay, needle))
		return;
	print_error("%s:%d: expected to find \"%s\" in:\n%s\n", file, line,
		       needle, hay ? hay : "(null)");
	_fail(file, line);
}

const char *h_digest(unsigned seed)
{
	static char bufs[4][80];
	static int next;
	char *b = bufs[next++ % 4];
	unsigned x = seed * 2654435761u + 12345u;
	int i;

	strcpy(b, "sha256:");
	for (i = 0; i < 64; i++) {
		x = x * 1103515245u + 12345u;
		b[7 + i] = "0123456789abcdef"[(x >> 16) & 15];
	}
	b[71] = '\0';
	return b;
}

int h_stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* ---- git fixtures ---------------------------------------------------- */

#include <git2.h>

static void mkdirs_for(const char *path)
{
	char tmp[4096], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(tmp, 0755);
		*p = '/';
	}
}

/* Write @files into @tree_of via a treebuilder-free route: the index. */
static void commit_files(git_repository *repo, const char *ref,
			 const char *const *files, bool worktree)
{
	git_index *idx = NULL;
	git_oid tree_id, commit_id, parent_id;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_commit *parent = NULL;
	const git_commit *parents[1];
	size_t np = 0, i;

	if (git_reference_name_to_id(&parent_id, repo, ref) == 0) {
		assert_int_equal(git_commit_lookup(&parent, repo, &parent_id),
				 0);
		parents[np++] = parent;
	}
	assert_int_equal(git_index_new(&idx), 0);
	if (parent) {
		git_tree *pt = NULL;

		assert_int_equal(git_commit_tree(&pt, parent), 0);
		assert_int_equal(git_index_read_tree(idx, pt), 0);
		git_tree_free(pt);
	}
	for (i = 0; files && files[i]; i += 2) {
		git_index_entry e;
		git_oid blob;

		memset(&e, 0, sizeof(e));
		assert_int_equal(git_blob_create_from_buffer(&blob, repo,
			files[i + 1], strlen(files[i + 1])), 0);
		e.path = files[i];
		e.mode = GIT_FILEMODE_BLOB;
		e.id = blob;
		assert_int_equal(git_index_add(idx, &e), 0);
		if (worktree) {
			char path[4096];

			snprintf(path, sizeof(path), "%s%s",
				 git_repository_workdir(repo), files[i]);
			mkdirs_for(path);
			h_writes(path, files[i + 1]);
		}
	}
	assert_int_equal(git_index_write_tree_to(&tree_id, idx, repo), 0);
	assert_int_equal(git_tree_lookup(&tree, repo, &tree_id), 0);
	assert_int_equal(git_signature_new(&sig, "Fixture", "fixture@example.com",
					   1700000000, 0), 0);
	assert_int_equal(git_commit_create(&commit_id, repo, ref, sig, sig,
					   NULL, "fixture\n", tree, np,
					   parents), 0);
	if (worktree) {
		git_index *ri = NULL;

		assert_int_equal(git_repository_index(&ri, repo), 0);
		assert_int_equal(git_index_read_tree(ri, tree), 0);
		assert_int_equal(git_index_write(ri), 0);
		git_index_free(ri);
	}
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	git_index_free(idx);
}

int h_repo_setup(void **state, const char *const *files)
{
	char *dir = h_tmpdir();

	h_repo_init(dir, false, files);
	*state = dir;
	return 0;
}

int h_repo_teardown(void **state)
{
	h_rmrf(*state);
	free(*state);
	return 0;
}

void h_repo_init(const char *dir, bool bare, const char *const *files)
{
	git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	git_repository *repo = NULL;
	git_config *cfg = NULL;

	git_libgit2_init();
	o.flags = GIT_REPOSITORY_INIT_MKPATH | (bare ?
		  GIT_REPOSITORY_INIT_BARE : 0);
	o.initial_head = "main";
	assert_int_equal(git_repository_init_ext(&repo, dir, &o), 0);
	assert_int_equal(git_repository_config(&cfg, repo), 0);
	assert_int_equal(git_config_set_string(cfg, "user.name", "Repo User"),
			 0);
	assert_int_equal(git_config_set_string(cfg, "user.email",
					       "repo@example.com"), 0);
	git_config_free(cfg);
	if (bare) {
		commit_files(repo, "refs/heads/main", files, false);
	} else {
		commit_files(repo, "refs/heads/main", files, true);
	}
	git_repository_free(repo);
	git_libgit2_shutdown();
}

void h_assert_git_clean(const char *dir)
{
	struct h_result r;

	assert_int_equal(h_git(&r, dir, "status --porcelain"), 0);
	if (r.out.len)
		fail_msg("git status is not clean:\n%s", r.out.ptr);
	h_result_release(&r);
	assert_int_equal(h_git(&r, dir, "fsck --strict"), 0);
	h_result_release(&r);
}

void h_repo_commit(const char *dir, const char *branch,
		   const char *const *files)
{
	git_repository *repo = NULL;

	git_libgit2_init();
	assert_int_equal(git_repository_open(&repo, dir), 0);
	commit_files(repo, branch, files, false);
	git_repository_free(repo);
	git_libgit2_shutdown();
}

static char home_env[4200];

static void remove_home(void)
{
	h_rmrf(home_env + strlen("HOME="));
}

const char *h_env_home(void)
{
	if (!home_env[0]) {
		char *home = h_tmpdir();

		snprintf(home_env, sizeof(home_env), "HOME=%s", home);
		free(home);
		atexit(remove_home);
	}
	return home_env;
}

int h_git(struct h_result *r, const char *dir, const char *fmt, ...)
{
	struct kpin_buf cmd = KPIN_BUF_INIT;
	const char *env[] = { h_env_home(), "XDG_CONFIG_HOME=",
			      "GIT_CONFIG_NOSYSTEM=1", NULL };
	va_list ap;
	int status;

	kpin_buf_adds(&cmd, "git ");
	va_start(ap, fmt);
	kpin_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	status = run_sh(r, dir, env, cmd.ptr);
	kpin_buf_release(&cmd);
	return status;
}

void h_ssh_signer(const char *dir, const char *name, const char *principal)
{
	struct h_result r;

	if (h_sh(&r, dir, "ssh-keygen -q -t ed25519 -N '' -C t -f '%s'", name))
		fail_msg("ssh-keygen: %s", r.err.ptr);
	h_result_release(&r);
	if (principal && h_sh(&r, dir, "printf '%%s %%s\\n' '%s' \"$(cat "
			      "'%s.pub')\" >>allowed", principal, name))
		fail_msg("allowed signers: %s", r.err.ptr);
	if (principal)
		h_result_release(&r);
}

const char *h_git_out(const char *dir, const char *fmt, ...)
{
	static char out[8][8192];
	static int next;
	char *o = out[next++ % 8];
	struct kpin_buf cmd = KPIN_BUF_INIT;
	struct h_result r;
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	kpin_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	if (h_git(&r, dir, "%s", cmd.ptr) != 0)
		fail_msg("git %s: %s", cmd.ptr, r.err.ptr);
	len = r.out.len;
	while (len && r.out.ptr[len - 1] == '\n')
		len--;
	snprintf(o, sizeof(out[0]), "%.*s", (int)len, r.out.ptr);
	h_result_release(&r);
	kpin_buf_release(&cmd);
	return o;
}

int h_spawn(const char *cwd, const char *const *env, const char *const *argv)
{
	pid_t pid;
	int fd;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid)
		return (int)pid;
	fd = open("/dev/null", O_RDWR);
	dup2(fd, 0);
	if (!getenv("KPIN_TEST_VERBOSE")) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (cwd && chdir(cwd) < 0)
		_exit(126);
	for (; env && *env; env++)
		putenv((char *)*env);
	{
		const char **full = wrapped(h_kpin(), argv);

		execvp(full[0], (char *const *)full);
	}
	_exit(127);
}

int h_wait(int pid)
{
	int st;

	while (waitpid((pid_t)pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
