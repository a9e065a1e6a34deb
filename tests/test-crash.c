/*
 * Crash safety: kpin killed with SIGKILL at random moments.
 *
 * File mode: `kpin set -f` on files of 2 KB, 200 KB and 4 MiB, killed
 * anywhere from before it starts to after it ends. After each kill the
 * file is exactly the old bytes or exactly the new ones, at most the one
 * temporary file of the killed process is left, and the next run removes
 * it.
 *
 * Repository mode: `kpin set --app` in a bare repository and in a
 * checkout. After each kill `git fsck --strict` is clean and the branch
 * is at the old commit or at one new commit holding the new digest. In
 * the checkout, either index and worktree already agree with the branch
 * (git status clean, no lock left), or kpin's next run says it repairs
 * the cut-off update and leaves them agreeing.
 *
 * The moments are drawn uniformly over 1.3 times the length of an
 * uninterrupted run, measured first; the test prints how the kills fell
 * (before, during and after the write) so a reader can see they spread.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define FILE_RUNS 70		/* per size: 3 sizes */
#define REPO_RUNS 100		/* per repository kind: 2 kinds */
#define OV ".platform/kubernetes/app/overlays/prd/kustomization.yaml"

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

/* Run kpin in @dir and kill it after @delay_us (or let it finish). */
static int run_killed(const char *dir, const char *const *argv, long delay_us)
{
	int pid = h_spawn(dir, NULL, argv);

	if (delay_us >= 0) {
		struct timespec ts = { delay_us / 1000000L,
				       (delay_us % 1000000L) * 1000L };

		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
	}
	return h_wait(pid);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* The median of five uninterrupted runs, in microseconds. */
static long measure(const char *dir, const char *const *argv,
		    void (*reset)(void *), void *arg)
{
	long t[5];
	int i;

	for (i = 0; i < 5; i++) {
		long t0;

		reset(arg);
		t0 = now_us();
		assert_int_equal(run_killed(dir, argv, -1), 0);
		t[i] = now_us() - t0;
	}
	qsort(t, 5, sizeof(*t), cmp_long);
	return t[2];
}

/* How many ".<base>.kpin-*" temporary files are in @dir. */
static int temps(const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char prefix[256];
	int n = 0;

	assert_non_null(d);
	snprintf(prefix, sizeof(prefix), ".%s.kpin-", base);
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

/* ---- file mode --------------------------------------------------------- */

struct file_case {
	const char *path;
	struct kpin_buf old;
};

static void file_reset(void *arg)
{
	struct file_case *fc = arg;

	h_write(fc->path, fc->old.ptr, fc->old.len);
}

/* A kustomization of about @size bytes: the images entry, then comments. */
static void make_file(struct kpin_buf *out, size_t size)
{
	kpin_buf_reset(out);
	kpin_buf_adds(out, "apiVersion: kustomize.config.k8s.io/v1beta1\n"
		      "kind: Kustomization\nresources:\n- ../../base\n"
		      "images:\n- name: app\n  newName: ghcr.io/acme/app\n"
		      "  digest: sha256:");
	kpin_buf_adds(out, h_digest(1) + 7);
	kpin_buf_adds(out, "\n");
	static const char pad[] = "# padding: a comment line that kpin must "
				  "keep byte for byte, wherever it is\n";

	while (out->len + sizeof(pad) - 1 <= size)
		kpin_buf_adds(out, pad);
}

static void test_crash_file(void **state)
{
	static const size_t sizes[] = { 2048, 200 * 1024, 4 << 20 };
	char *dir = h_tmpdir();
	struct file_case fc = { NULL, KPIN_BUF_INIT };
	struct kpin_buf new = KPIN_BUF_INIT, now = KPIN_BUF_INIT;
	char digest[80];
	const char *argv[] = { "kpin", "set", "-f", "kustomization.yaml",
			       "--image", "app", "--digest", digest, NULL };
	int before = 0, after = 0, k;
	size_t s;

	(void)state;
	srandom((unsigned)time(NULL));
	snprintf(digest, sizeof(digest), "%s", h_digest(2));
	fc.path = strdup(h_path(dir, "kustomization.yaml"));
	for (s = 0; s < sizeof(sizes) / sizeof(*sizes); s++) {
		long span;
		int olds = 0, news = 0;

		make_file(&fc.old, sizes[s]);
		span = measure(dir, argv, file_reset, &fc);
		assert_int_equal(h_read(&new, fc.path), 0);
		assert_true(new.len == fc.old.len);	/* same-length digest */
		assert_true(memcmp(new.ptr, fc.old.ptr, new.len) != 0);
		for (k = 0; k < FILE_RUNS; k++) {
			long delay = random() % (span * 13 / 10 + 1);

			file_reset(&fc);
			run_killed(dir, argv, delay);
			assert_int_equal(h_read(&now, fc.path), 0);
			if (now.len == fc.old.len &&
			    !memcmp(now.ptr, fc.old.ptr, now.len)) {
				olds++;
			} else {
				h_assert_same(now.ptr, now.len, new.ptr,
					      new.len);
				news++;
			}
			/* at most the killed run's own temporary file */
			assert_true(temps(dir, "kustomization.yaml") <= 1);
		}
		/* the next run removes what a killed one left */
		file_reset(&fc);
		assert_int_equal(run_killed(dir, argv, -1), 0);
		assert_int_equal(temps(dir, "kustomization.yaml"), 0);
		printf("# file %zu bytes: run %ld us; %d kills left the old "
		       "bytes, %d the new\n", sizes[s], span, olds, news);
		before += olds;
		after += news;
	}
	/* the kills fell on both sides of the rename */
	assert_true(before > 0 && after > 0);
	kpin_buf_release(&fc.old);
	kpin_buf_release(&new);
	kpin_buf_release(&now);
	free((void *)fc.path);
	h_rmrf(dir);
	free(dir);
}

/* ---- repository mode --------------------------------------------------- */

static const char *const repo_files[] = {
	".platform/kubernetes/app/base/kustomization.yaml",
	"resources:\n- deployment.yaml\n",
	OV, "resources:\n- ../../base\nimages:\n- name: app\n"
	"  newName: ghcr.io/acme/app # the registry\n  digest: "
	"sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
	"README.md", "platform\n",
	NULL
};

struct repo_case {
	const char *dir;
	bool bare;
	char digest[80];
	unsigned seq;
};

static void repo_reset(void *arg)
{
	struct repo_case *rc = arg;

	/* every run sets a digest no run set before: each makes a commit */
	snprintf(rc->digest, sizeof(rc->digest), "%s", h_digest(rc->seq++));
}

static bool exists(const char *dir, const char *name)
{
	return access(h_path(dir, name), F_OK) == 0;
}

/* The checkout agrees with its branch and holds no lock. */
static bool settled(const char *dir)
{
	return !exists(dir, ".git/index.lock") &&
	       !exists(dir, ".git/refs/heads/main.lock") &&
	       !strcmp(h_git_out(dir, "status --porcelain"), "");
}

static void crash_repo(bool bare)
{
	char *dir = h_tmpdir();
	struct repo_case rc = { dir, bare, "", 100 };
	const char *argv[] = { "kpin", "set", "--app", "app", "--env", "prd",
			       "--image", "app", "--digest", rc.digest, NULL };
	int k, repairs = 0, olds = 0, news = 0;
	long span;

	h_repo_init(dir, bare, repo_files);
	span = measure(dir, argv, repo_reset, &rc);
	for (k = 0; k < REPO_RUNS; k++) {
		long delay = random() % (span * 13 / 10 + 1);
		char old[64], tip[64];
		struct h_result r;

		repo_reset(&rc);
		snprintf(old, sizeof(old), "%s", h_git_out(dir, "rev-parse "
							   "main"));
		run_killed(dir, argv, delay);
		/* the object database is sound */
		assert_int_equal(h_git(&r, dir, "fsck --strict --no-progress"),
				 0);
		assert_null(strstr(r.err.ptr, "error"));
		h_result_release(&r);
		/* the branch is at the old commit or at exactly one new one */
		snprintf(tip, sizeof(tip), "%s", h_git_out(dir, "rev-parse "
							   "main"));
		if (!strcmp(tip, old)) {
			olds++;
		} else {
			assert_string_equal(h_git_out(dir, "rev-parse main^"),
					    old);
			h_assert_contains(h_git_out(dir, "show main:%s", OV),
					  rc.digest);
			news++;
		}
		if (bare) {
			/* a ref lock left over is the next run's to remove */
			if (!exists(dir, "refs/heads/main.lock"))
				continue;
		} else if (settled(dir)) {
			continue;
		}
		/* half-done: the next run must say so and repair it */
		assert_int_equal(h_kpin_run(&r, dir, "set", "--app", "app",
					    "--env", "prd", "--image", "app",
					    "--digest", rc.digest, NULL), 0);
		h_assert_contains(r.err.ptr, "was cut off; repairing");
		if (!bare && !settled(dir))
			fail_msg("not repaired:\n%s\nstatus: %s\n", r.err.ptr,
				 h_git_out(dir, "status --porcelain; ls .git"));
		assert_false(exists(dir, bare ? "refs/heads/main.lock" :
				    ".git/refs/heads/main.lock"));
		h_assert_contains(h_git_out(dir, "show main:%s", OV),
				  rc.digest);
		h_result_release(&r);
		repairs++;
	}
	/* no journal is left once a run has ended */
	repo_reset(&rc);
	assert_int_equal(run_killed(dir, argv, -1), 0);
	assert_false(exists(dir, bare ? "kpin-journal" : ".git/kpin-journal"));
	printf("# %s: run %ld us; %d kills left the old commit, %d the new; "
	       "%d half-done states repaired by the next run\n",
	       bare ? "bare repository" : "checkout", span, olds, news,
	       repairs);
	assert_true(olds > 0 && news > 0);
	h_rmrf(dir);
	free(dir);
}

static void test_crash_bare(void **state)
{
	(void)state;
	crash_repo(true);
}

static void test_crash_checkout(void **state)
{
	(void)state;
	crash_repo(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_file),
		cmocka_unit_test(test_crash_bare),
		cmocka_unit_test(test_crash_checkout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
