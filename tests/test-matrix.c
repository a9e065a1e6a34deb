/*
 * The bad-input matrix: every refusal of the earlier issues, in file mode
 * (set -f), repository mode (set --app ... --push to a bare remote) and
 * through apply, from one table. For each row: the exit status, words
 * that name the file or field and the position, and proof that nothing
 * changed: the file's bytes and mtime and the directory's entries in file
 * mode; refs, the index file, the worktree (bytes and mtimes of every
 * overlay) and the remote's refs in repository mode.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define ROOT ".platform/kubernetes/"
#define OV(app) ROOT app "/overlays/prd/kustomization.yaml"
#define GOOD "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define TOKEN "kpin-matrix-token"
/* kpin set -f of image web */
#define SET_FILE { "set", "-f", "@F", "--image", "web", "--digest", GOOD }
/* kpin set of image web in an overlay of the repository, pushing */
#define SET_PUSH(app, env, digest) \
	{ "set", "--app", app, "--env", env, "--image", "web", \
	  "--digest", digest, "--push" }

enum mode { M_FILE, M_REPO, M_APPLY };
enum where { W_CHECKOUT, W_ANON, W_HTTP };

/*
 * One row. In @args, "@F" is the file (file mode), "@E" the event file
 * written from @input (apply mode); @input is also the file's content in
 * file mode, with "@BINARY" and "@BIG" made by the test.
 */
struct row {
	const char *name;
	enum mode mode;
	enum where where;
	const char *input;
	const char *args[14];
	int status;
	const char *words[3];
};

#define ENTRY "images:\n- name: web\n  digest: " GOOD "\n"

static const struct row rows[] = {
	/* the file itself */
	{ "malformed YAML", M_FILE, W_CHECKOUT,
	  "images:\n- name: web\n  digest: [unclosed\n",
	  SET_FILE, 3,
	  { "kustomization.yaml:4:1", "flow sequence" } },
	{ "duplicate key", M_FILE, W_CHECKOUT, ENTRY "  digest: " GOOD "\n",
	  SET_FILE, 3,
	  { "kustomization.yaml:4:3", "duplicate" } },
	{ "multi-document", M_FILE, W_CHECKOUT, ENTRY "---\n" ENTRY,
	  SET_FILE, 3,
	  { "kustomization.yaml:", "document" } },
	{ "anchor and alias", M_FILE, W_CHECKOUT,
	  "images:\n- &w\n  name: web\n  digest: " GOOD "\n- *w\n",
	  SET_FILE, 3,
	  { "kustomization.yaml:", "alias" } },
	{ "block scalar value", M_FILE, W_CHECKOUT,
	  "images:\n- name: web\n  digest: |\n    " GOOD "\n",
	  SET_FILE, 3,
	  { "kustomization.yaml:4:1", "block scalar" } },
	{ "tagged value", M_FILE, W_CHECKOUT,
	  "images:\n- name: web\n  digest: !!str " GOOD "\n",
	  SET_FILE, 3,
	  { "kustomization.yaml:3:", "tag" } },
	{ "ambiguous name", M_FILE, W_CHECKOUT, ENTRY "- name: web\n",
	  SET_FILE, 3,
	  { "kustomization.yaml:", "web" } },
	{ "binary input", M_FILE, W_CHECKOUT, "@BINARY",
	  SET_FILE, 3,
	  { "kustomization.yaml", "NUL" } },
	{ "oversize input", M_FILE, W_CHECKOUT, "@BIG",
	  SET_FILE, 3,
	  { "kustomization.yaml", "over the limit" } },
	/* the values asked for */
	{ "short digest", M_FILE, W_CHECKOUT, ENTRY,
	  { "set", "-f", "@F", "--image", "web", "--digest", "sha256:abc" },
	  3, { "digest", "3 hex digits" } },
	{ "uppercase digest", M_FILE, W_CHECKOUT, ENTRY,
	  { "set", "-f", "@F", "--image", "web", "--digest",
	    "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
	  3, { "digest", "uppercase" } },
	{ "unknown algorithm", M_FILE, W_CHECKOUT, ENTRY,
	  { "set", "-f", "@F", "--image", "web", "--digest",
	    "md5:0123456789abcdef0123456789abcdef" }, 3,
	  { "digest", "algorithm" } },
	{ "newline injection", M_FILE, W_CHECKOUT, ENTRY,
	  { "set", "-f", "@F", "--image", "web", "--digest",
	    GOOD "\n  newName: evil" }, 3, { "digest" } },
	{ "bad image name", M_FILE, W_CHECKOUT, ENTRY,
	  { "set", "-f", "@F", "--image", "web\n- name: x", "--digest",
	    GOOD }, 3, { "name" } },
	{ "image name kpin would create", M_FILE, W_CHECKOUT, ENTRY,
	  { "set", "-f", "@F", "--image", "Web Server", "--create",
	    "--digest", GOOD }, 3, { "name to create" } },
	{ "bad tag", M_FILE, W_CHECKOUT, ENTRY,
	  { "set", "-f", "@F", "--image", "web", "--tag", "v1 2" }, 3,
	  { "tag" } },
	/* repository mode: the same refusals, with a remote that must
	 * not move */
	{ "malformed YAML", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("broken", "prd", GOOD), 3,
	  { OV("broken") ":4:1" } },
	{ "duplicate key", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("dup", "prd", GOOD), 3, { OV("dup") ":4:3" } },
	{ "anchor and alias", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("alias", "prd", GOOD), 3, { OV("alias") ":" } },
	{ "bad digest", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("web", "prd", "sha256:abc"), 3, { "digest" } },
	{ "path traversal in app", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("../web", "prd", GOOD), 3, { "../web" } },
	{ "path traversal in env", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("web", "prd/../../x", GOOD), 3, { "prd/../../x" } },
	{ "symlinked overlay", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("link", "prd", GOOD), 3, { OV("link"), "link" } },
	{ "oversize overlay", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("big", "prd", GOOD), 3, { OV("big") } },
	{ "binary overlay", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("binary", "prd", GOOD), 3, { OV("binary") } },
	{ "unknown environment", M_REPO, W_CHECKOUT, NULL,
	  SET_PUSH("web", "qa", GOOD), 3, { "'qa'" } },
	{ "missing identity", M_REPO, W_ANON, NULL,
	  SET_PUSH("web", "prd", GOOD), 2, { "identity" } },
	{ "wrong token", M_REPO, W_HTTP, NULL,
	  SET_PUSH("web", "prd", GOOD), 7,
	  { "authentication failed", "127.0.0.1" } },
	/* through apply */
	{ "malformed event JSON", M_APPLY, W_CHECKOUT,
	  "{\"client_payload\": {\"repository\": \"acme/web\",",
	  { "apply", "--event", "@E", "--push" }, 3, { "event.json:" } },
	{ "event value not a string", M_APPLY, W_CHECKOUT,
	  "{\"client_payload\": {\"repository\": \"acme/web\", "
	  "\"image-name\": \"web\", \"directory-name\": \"web\", "
	  "\"environment\": \"prd\", \"digest\": 42}}",
	  { "apply", "--event", "@E", "--push" }, 3,
	  { "event.json:", "digest" } },
	{ "oversize event JSON", M_APPLY, W_CHECKOUT, "@BIGJSON",
	  { "apply", "--event", "@E", "--push" }, 3,
	  { "event.json:1:33: field 'release' must be at most 256" } },
	{ "bad digest in event", M_APPLY, W_CHECKOUT,
	  "{\"client_payload\": {\"repository\": \"acme/web\", "
	  "\"image-name\": \"web\", \"directory-name\": \"web\", "
	  "\"environment\": \"prd\", \"digest\": \"sha256:abc\"}}",
	  { "apply", "--event", "@E", "--push" }, 3,
	  { "event.json:1:126: field 'digest': invalid digest" } },
	{ "traversal in event", M_APPLY, W_CHECKOUT,
	  "{\"client_payload\": {\"repository\": \"acme/web\", "
	  "\"image-name\": \"web\", \"directory-name\": \"../web\", "
	  "\"environment\": \"prd\", \"digest\": \"" GOOD "\"}}",
	  { "apply", "--event", "@E", "--push" }, 3, { "../web" } },
	{ "unknown environment in event", M_APPLY, W_CHECKOUT,
	  "{\"client_payload\": {\"repository\": \"acme/web\", "
	  "\"image-name\": \"web\", \"directory-name\": \"web\", "
	  "\"environment\": \"qa\", \"digest\": \"" GOOD "\"}}",
	  { "apply", "--event", "@E", "--push" }, 3, { "'qa'" } },
};

static const char *const files[] = {
	OV("web"), "# the good one\n" ENTRY,
	OV("broken"), "images:\n- name: web\n  digest: [unclosed\n",
	OV("dup"), ENTRY "  digest: " GOOD "\n",
	OV("alias"), "images:\n- &w\n  name: web\n  digest: " GOOD "\n- *w\n",
	"README.md", "platform\n",
	NULL
};

struct world {
	char *top;		/* scratch */
	char co[4200];		/* the checkout */
	char anon[4200];	/* a checkout without an identity */
	char http[4200];	/* a checkout whose origin is served over HTTP */
	char remote[4200];	/* its bare remote */
	char served[4200];	/* the HTTP server's directory */
	int port;
};

static void sh_ok(const char *dir, const char *cmd)
{
	struct h_result r;

	if (h_sh(&r, dir, "%s", cmd))
		fail_msg("%s: %s", cmd, r.err.ptr);
	h_result_release(&r);
}

static void big_file(const char *path, bool binary)
{
	FILE *fp = fopen(path, "wb");
	long i;

	assert_non_null(fp);
	fputs(ENTRY, fp);
	if (binary) {
		fputs("# a NUL follows\n", fp);
		fputc('\0', fp);
		fputs("\n", fp);
	} else {
		for (i = 0; i < 5 * 1024 * 1024 / 32; i++)
			fputs("# padding to over four MiB ....\n", fp);
	}
	assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct h_result r;

	w->top = h_tmpdir();
	snprintf(w->co, sizeof(w->co), "%s/co", w->top);
	snprintf(w->anon, sizeof(w->anon), "%s/anon", w->top);
	snprintf(w->http, sizeof(w->http), "%s/http-co", w->top);
	snprintf(w->remote, sizeof(w->remote), "%s/remote.git", w->top);
	snprintf(w->served, sizeof(w->served), "%s/srv", w->top);
	h_repo_init(w->co, false, files);
	/* overlays git must add itself: a symlink, binary and big files */
	sh_ok(w->co, "mkdir -p " ROOT "link/overlays/prd " ROOT
	      "binary/overlays/prd " ROOT "big/overlays/prd && ln -s "
	      "../../../web/overlays/prd/kustomization.yaml " OV("link"));
	big_file(h_path(w->co, OV("binary")), true);
	big_file(h_path(w->co, OV("big")), false);
	sh_ok(w->co, "git add -A && git commit -qm 'hard cases'");
	sh_ok(w->top, "git clone -q --bare co remote.git && git -C co remote "
	      "add origin ../remote.git && git -C co fetch -q origin && git "
	      "clone -q remote.git anon");
	if (h_sh(&r, NULL, "command -v lighttpd || test -x /usr/sbin/lighttpd")
	    == 0) {
		h_result_release(&r);
		assert_int_equal(h_sh(&r, NULL, "sh tests/http-git.sh start "
				      "'%s' " TOKEN, w->served), 0);
		w->port = atoi(r.out.ptr);
		h_result_release(&r);
		sh_ok(w->top, "git clone -q --bare co srv/repos/p.git && git "
		      "-C srv/repos/p.git config http.receivepack true && git "
		      "clone -q co http-co && git -C http-co config user.name "
		      "H && git -C http-co config user.email h@h");
		{
			char cmd[128];

			snprintf(cmd, sizeof(cmd), "git remote set-url origin "
				 "http://127.0.0.1:%d/git/p.git", w->port);
			sh_ok(w->http, cmd);
		}
	} else {
		h_result_release(&r);
	}
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	struct h_result r;

	if (w->port) {
		h_sh(&r, NULL, "sh tests/http-git.sh stop '%s'", w->served);
		h_result_release(&r);
	}
	h_rmrf(w->top);
	free(w->top);
	free(w);
	return 0;
}

/* ---- snapshots of everything a refusal must leave alone ---------------- */

static void add_file(struct kpin_buf *s, const char *path)
{
	struct kpin_buf bytes = KPIN_BUF_INIT;
	struct stat st;

	if (lstat(path, &st) < 0) {
		kpin_buf_addf(s, "%s: absent\n", path);
		return;
	}
	kpin_buf_addf(s, "%s: %lld bytes, mtime %lld.%09ld, ino %llu\n", path,
		      (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		      st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
	if (S_ISREG(st.st_mode) && h_read(&bytes, path) == 0) {
		kpin_buf_add(s, bytes.ptr, bytes.len);
		kpin_buf_addch(s, '\n');
	}
	kpin_buf_release(&bytes);
}

static void add_dir(struct kpin_buf *s, const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		kpin_buf_addf(s, "entry %s\n", de->d_name);
	closedir(d);
}

static void snapshot_repo(struct kpin_buf *s, const char *co,
			  const char *remote)
{
	static const char *const overlays[] = {
		OV("web"), OV("broken"), OV("dup"), OV("alias"), OV("link"),
		OV("binary"), OV("big"), NULL
	};
	size_t i;

	kpin_buf_reset(s);
	/* the index file's bytes first: status must not refresh it */
	add_file(s, h_path(co, ".git/index"));
	kpin_buf_addf(s, "refs:\n%s\n", h_git_out(co, "for-each-ref "
						  "--format='%%(refname) "
						  "%%(objectname)'; git "
						  "symbolic-ref HEAD"));
	kpin_buf_addf(s, "status:\n%s\n", h_git_out(co, "--no-optional-locks "
						    "status --porcelain "
						    "--untracked-files=all"));
	for (i = 0; overlays[i]; i++)
		add_file(s, h_path(co, overlays[i]));
	add_dir(s, h_path(co, ".git"));
	if (remote)
		kpin_buf_addf(s, "remote:\n%s\n", h_git_out(remote, "for-each-ref "
						  "--format='%%(refname) "
						  "%%(objectname)'"));
}

/* ---- running a row ------------------------------------------------------ */

static const char *mode_name(enum mode m)
{
	return m == M_FILE ? "file" : m == M_REPO ? "repository" : "apply";
}

/* Check one row; returns 0, or 1 after printing what was wrong. */
static int run_row(const struct world *w, const struct row *row)
{
	int bad = 0;
	struct kpin_buf before = KPIN_BUF_INIT, after = KPIN_BUF_INIT;
	const char *argv[20];
	char tok[64], file[4200], event[4200];
	const char *env[] = { h_env_home(), "XDG_CONFIG_HOME=",
			      "GITHUB_ACTOR=", "GITHUB_TOKEN=", tok, NULL };
	const char *dir = row->where == W_ANON ? w->anon :
			  row->where == W_HTTP ? w->http : w->co;
	const char *remote = row->where == W_HTTP ?
			     h_path(w->served, "repos/p.git") : w->remote;
	char remote_copy[4200];
	struct h_result r;
	size_t i, n = 0;

	snprintf(remote_copy, sizeof(remote_copy), "%s", remote);
	snprintf(tok, sizeof(tok), "KPIN_TOKEN=%s",
		 row->where == W_HTTP ? "not-the-token" : "");
	snprintf(file, sizeof(file), "%s/file/kustomization.yaml", w->top);
	snprintf(event, sizeof(event), "%s/event.json", w->top);
	if (row->mode == M_FILE) {
		h_rmrf(h_path(w->top, "file"));
		assert_int_equal(mkdir(h_path(w->top, "file"), 0755), 0);
		if (!strcmp(row->input, "@BINARY") ||
		    !strcmp(row->input, "@BIG"))
			big_file(file, !strcmp(row->input, "@BINARY"));
		else
			h_writes(file, row->input);
	} else if (row->mode == M_APPLY) {
		if (!strcmp(row->input, "@BIGJSON")) {
			struct kpin_buf j = KPIN_BUF_INIT;

			kpin_buf_adds(&j, "{\"client_payload\": {\"release\": \"");
			while (j.len < 100 * 1024)
				kpin_buf_adds(&j, "0123456789abcdef");
			kpin_buf_adds(&j, "\"}}");
			h_writes(event, j.ptr);
			kpin_buf_release(&j);
		} else {
			h_writes(event, row->input);
		}
	}
	argv[n++] = "kpin";
	for (i = 0; row->args[i]; i++)
		argv[n++] = !strcmp(row->args[i], "@F") ? file :
			    !strcmp(row->args[i], "@E") ? event : row->args[i];
	argv[n] = NULL;
	if (row->mode == M_FILE) {
		kpin_buf_reset(&before);
		add_file(&before, file);
		add_dir(&before, h_path(w->top, "file"));
	} else {
		snapshot_repo(&before, dir, remote_copy);
	}
	h_run(&r, row->mode == M_FILE ? h_path(w->top, "file") : dir, env,
	      argv, NULL);
	if (r.status != row->status) {
		printf("# %s (%s): exit %d, expected %d\n", row->name,
		       mode_name(row->mode), r.status, row->status);
		bad = 1;
	}
	for (i = 0; i < 3 && row->words[i]; i++)
		if (!strstr(r.err.ptr, row->words[i])) {
			printf("# %s (%s): no '%s' in the message\n",
			       row->name, mode_name(row->mode), row->words[i]);
			bad = 1;
		}
	/* an error on stderr, nothing on stdout */
	if (!r.err.len || r.out.len) {
		printf("# %s (%s): stdout '%s'\n", row->name,
		       mode_name(row->mode), r.out.ptr);
		bad = 1;
	}
	if (bad)
		printf("#   stderr: %s", r.err.ptr);
	if (row->mode == M_FILE) {
		kpin_buf_reset(&after);
		add_file(&after, file);
		add_dir(&after, h_path(w->top, "file"));
	} else {
		snapshot_repo(&after, dir, remote_copy);
	}
	if (strcmp(before.ptr, after.ptr)) {
		printf("# %s (%s): something changed:\n--- before\n%.3000s\n"
		       "--- after\n%.3000s\n", row->name, mode_name(row->mode),
		       before.ptr, after.ptr);
		bad = 1;
	}
	h_result_release(&r);
	kpin_buf_release(&before);
	kpin_buf_release(&after);
	return bad;
}

static void test_matrix(void **state)
{
	struct world *w = *state;
	size_t i, ran = 0;
	int bad = 0;

	for (i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		if (rows[i].where == W_HTTP && !w->port) {
			printf("# skip: %s (lighttpd is not installed)\n",
			       rows[i].name);
			continue;
		}
		bad += run_row(w, &rows[i]);
		ran++;
	}
	if (bad)
		fail_msg("%d of %zu rows failed", bad, ran);
	printf("# %zu refusals, each leaving everything as it was\n", ran);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_matrix, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
