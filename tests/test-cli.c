/*
 * The command line as a user meets it: help (every option described) and
 * version, usage errors (exit 2), -C and -q before and after the command,
 * --json output of set and get, failures as JSON, symlinks and file modes
 * through the CLI, missing files, and a failing stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define OVERLAY "images:\n- name: app\n  newTag: v1\n  digest: %s\n" \
		"- name: bare\n"

static int setup(void **state)
{
	char *dir = h_tmpdir();
	char buf[512];

	snprintf(buf, sizeof(buf), OVERLAY, h_digest(1));
	h_writes(h_path(dir, "kustomization.yaml"), buf);
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	h_rmrf(*state);
	free(*state);
	return 0;
}

static void test_cli_version_and_help(void **state)
{
	struct h_result r, r2;

	(void)state;
	assert_int_equal(h_kpin_run(&r, NULL, "--version", NULL), 0);
	assert_string_equal(r.out.ptr, "kpin " KPIN_VERSION "\n");
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, NULL, "--help", NULL), 0);
	h_assert_contains(r.out.ptr, "usage: kpin");
	h_assert_contains(r.out.ptr, "  set ");
	h_assert_contains(r.out.ptr, "  get ");
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, NULL, "version", NULL), 0);
	assert_string_equal(r.out.ptr, "kpin " KPIN_VERSION "\n");
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, NULL, "set", "-h", NULL), 0);
	h_assert_contains(r.out.ptr, "usage: kpin set -f file --image name");
	/* the options, one line each, after the usage */
	h_assert_contains(r.out.ptr, "\n\n  -f, --file file       the "
			  "kustomization file to edit");
	h_assert_contains(r.out.ptr, "\n  --digest digest       the new "
			  "digest");
	h_assert_contains(r.out.ptr, "\n  --push [remote]       push the "
			  "commit");
	h_assert_contains(r.out.ptr, "\n  -q                    no progress");
	assert_int_equal(h_kpin_run(&r2, NULL, "help", "set", NULL), 0);
	assert_memory_equal(r.out.ptr, r2.out.ptr, r.out.len);
	h_assert_contains(r2.out.ptr + r.out.len, "\nThe manual: man "
			  "kpin-set");
	h_result_release(&r);
	h_result_release(&r2);
}

/* -q and -C work after the command's name as well as before it. */
static void test_cli_global_options_after_command(void **state)
{
	const char *dir = *state;
	struct h_result r;

	assert_int_equal(h_kpin_run(&r, NULL, "set", "-q", "-C", dir, "-f",
				    "kustomization.yaml", "--image", "app",
				    "--digest", h_digest(2), NULL), 0);
	assert_int_equal(r.err.len, 0);
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, NULL, "get", "-f",
				    "kustomization.yaml", "-C", dir, "--image",
				    "app", NULL), 0);
	assert_memory_equal(r.out.ptr, h_digest(2), 71);
	assert_string_equal(r.out.ptr + 71, "\n");
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, dir, "check", "-q",
				    "kustomization.yaml", NULL), 0);
	assert_int_equal(r.err.len, 0);
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, NULL, "get", "-C/nonexistent/dir",
				    "-f", "k.yaml", "--image", "app", NULL), 1);
	h_assert_contains(r.err.ptr, "cannot change to '/nonexistent/dir'");
	h_result_release(&r);
}

/*
 * With --json, a failure is one JSON object on stdout as well as the
 * message on stderr: exit status, message, and where, when known.
 */
static void test_cli_json_failure(void **state)
{
	const char *dir = *state;
	struct h_result r;

	h_writes(h_path(dir, "bad.yaml"), "images:\n- name: app\n"
		 "  digest: [x\n");
	assert_int_equal(h_kpin_run(&r, dir, "set", "-f", "bad.yaml",
				    "--image", "app", "--digest", h_digest(2),
				    "--json", NULL), 3);
	h_assert_contains(r.out.ptr, "{\"code\":3,\"message\":\"");
	h_assert_contains(r.out.ptr, "\",\"file\":\"bad.yaml\",\"line\":");
	assert_null(strstr(r.out.ptr, "\"line\":null"));
	assert_int_equal(strchr(r.out.ptr, '\n') - r.out.ptr + 1,
			 (long)r.out.len);
	h_assert_contains(r.err.ptr, "bad.yaml:");
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, dir, "get", "--json", "-f", "no.yaml",
				    "--image", "app", NULL), 4);
	h_assert_contains(r.out.ptr, "{\"code\":4,");
	h_assert_contains(r.out.ptr, "\"file\":\"no.yaml\",\"line\":null,"
			  "\"column\":null}\n");
	h_result_release(&r);
	/* a usage error found before --json was read */
	assert_int_equal(h_kpin_run(&r, dir, "get", "--bogus", "--json",
				    NULL), 2);
	h_assert_contains(r.out.ptr, "{\"code\":2,\"message\":\"unknown or "
			  "incomplete option '--bogus'\",\"file\":null,");
	h_assert_contains(r.err.ptr, "usage:");
	h_result_release(&r);
	/* without --json, stdout stays empty */
	assert_int_equal(h_kpin_run(&r, dir, "get", "-f", "no.yaml",
				    "--image", "app", NULL), 4);
	assert_int_equal(r.out.len, 0);
	h_result_release(&r);
}

/* set -f --dry-run --json: one JSON object, the diff inside it. */
static void test_cli_dry_run_json(void **state)
{
	const char *dir = *state;
	struct h_result r;
	struct kpin_buf want = KPIN_BUF_INIT;

	assert_int_equal(h_kpin_run(&r, dir, "set", "-f", "kustomization.yaml",
				    "--image", "app", "--digest", h_digest(2),
				    "--dry-run", "--json", NULL), 0);
	assert_int_equal(r.out.ptr[0], '{');
	h_assert_contains(r.out.ptr, "\"changed\":true,");
	kpin_buf_addf(&want, ",\"dry_run\":true,\"diff\":\"--- "
		      "a/kustomization.yaml\\n+++ b/kustomization.yaml\\n"
		      "@@ -1,5 +1,5 @@\\n images:\\n - name: app\\n   newTag: "
		      "v1\\n-  digest: %s\\n+  digest: %s\\n - name: bare\\n\"}"
		      "\n", h_digest(1), h_digest(2));
	h_assert_contains(r.out.ptr, want.ptr);
	h_result_release(&r);
	kpin_buf_release(&want);
	assert_int_equal(h_kpin_run(&r, dir, "get", "-f", "kustomization.yaml",
				    "--image", "app", NULL), 0);
	assert_memory_equal(r.out.ptr, h_digest(1), 71);
	h_result_release(&r);
}

static void test_cli_usage_errors(void **state)
{
	static const char *const cases[][6] = {
		{ NULL },
		{ "frobnicate", NULL },
		{ "--bogus", NULL },
		{ "-C", NULL },
		{ "set", NULL },
		{ "set", "-f", "x.yaml", NULL },
		{ "set", "-f", "x.yaml", "--image", "app", NULL },
		{ "set", "-f", "x.yaml", "--image", "app", "--bogus" },
		{ "set", "--max-size", "lots", NULL },
		{ "get", "--image", "app", NULL },
		{ "get", "-f", "x.yaml", "--app", "web", NULL },
		{ "get", "-f", "x.yaml", "--image", "app", "extra" },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[8] = { "kpin" };
		struct h_result r;

		for (j = 0; j < 6 && cases[i][j]; j++)
			argv[j + 1] = cases[i][j];
		h_run(&r, NULL, NULL, argv, NULL);
		if (r.status != 2)
			fail_msg("case %zu: exit %d, expected 2: %s", i,
				 r.status, r.err.ptr);
		h_assert_contains(r.err.ptr, "usage:");
		assert_int_equal(r.out.len, 0);
		h_result_release(&r);
	}
}

/*
 * The usage errors that end every command's option parsing, each worded
 * once in src/cli.c: the exact first line, then the command's usage.
 */
static void test_cli_getopt_tails(void **state)
{
	static const char *const cases[][5] = {
		{ "set", "--bogus", NULL,
		  "kpin: unknown or incomplete option '--bogus'\n" },
		{ "set", "extra", NULL, "kpin: unexpected argument 'extra'\n" },
		{ "set", "--retries=x", NULL, "kpin: invalid --retries 'x'\n" },
		{ "get", "--retries=x", NULL,
		  "kpin: unknown or incomplete option '--retries=x'\n" },
		{ "get", "extra", NULL, "kpin: unexpected argument 'extra'\n" },
		{ "apply", "--bogus", NULL,
		  "kpin: unknown or incomplete option '--bogus'\n" },
		{ "apply", "extra", NULL,
		  "kpin: unexpected argument 'extra'\n" },
		{ "apply", "-", "extra", "kpin: unexpected argument 'extra'\n" },
		{ "apply", "--retries=x", NULL,
		  "kpin: invalid --retries 'x'\n" },
		{ "check", "--retries=x", NULL,
		  "kpin: unknown or incomplete option '--retries=x'\n" },
		{ "history", "--bogus", NULL,
		  "kpin: unknown or incomplete option '--bogus'\n" },
		{ "history", "extra", NULL,
		  "kpin: unexpected argument 'extra'\n" },
		{ "history", "--json", "--markdown",
		  "kpin: --json and --markdown cannot be combined\n" },
		{ "promote", "--app", NULL,
		  "kpin: unknown or incomplete option '--app'\n" },
		{ "promote", "extra", NULL,
		  "kpin: unexpected argument 'extra'\n" },
		{ "promote", "--retries=x", NULL,
		  "kpin: invalid --retries 'x'\n" },
		{ "rollback", "--bogus", NULL,
		  "kpin: unknown or incomplete option '--bogus'\n" },
		{ "rollback", "extra", NULL,
		  "kpin: unexpected argument 'extra'\n" },
		{ "rollback", "--push=", NULL,
		  "kpin: --push needs a remote name or URL\n" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[5] = { "kpin", cases[i][0], cases[i][1],
					cases[i][2], NULL };
		const char *want = cases[i][3];
		char usage[64];
		struct h_result r;

		h_run(&r, NULL, NULL, argv, NULL);
		if (r.status != 2 || strncmp(r.err.ptr, want, strlen(want)))
			fail_msg("case %zu: exit %d, stderr %s", i, r.status,
				 r.err.ptr);
		snprintf(usage, sizeof(usage), "\nusage: kpin %s ",
			 cases[i][0]);
		h_assert_contains(r.err.ptr, usage);
		/* with --json, the failure's object goes to stdout */
		if (strcmp(cases[i][1], "--json"))
			assert_int_equal(r.out.len, 0);
		h_result_release(&r);
	}
}

static void test_cli_dash_c_and_quiet(void **state)
{
	const char *dir = *state;
	struct h_result r;
	struct kpin_buf b = KPIN_BUF_INIT;

	assert_int_equal(h_kpin_run(&r, NULL, "-C", dir, "set", "-f",
				    "kustomization.yaml", "--image", "app",
				    "--digest", h_digest(2), NULL), 0);
	h_assert_contains(r.err.ptr, "digest");
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, NULL, "-q", "-C", dir, "set", "-f",
				    "kustomization.yaml", "--image", "app",
				    "--digest", h_digest(3), NULL), 0);
	assert_int_equal(r.err.len, 0);
	assert_int_equal(r.out.len, 0);
	h_result_release(&r);
	assert_int_equal(h_read(&b, h_path(dir, "kustomization.yaml")), 0);
	h_assert_contains(b.ptr, h_digest(3));
	kpin_buf_release(&b);
	assert_int_equal(h_kpin_run(&r, NULL, "-C", "/nonexistent/dir", "get",
				    NULL), 1);
	h_assert_contains(r.err.ptr, "cannot change to '/nonexistent/dir'");
	h_result_release(&r);
}

static void test_cli_set_json(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char want[1024];

	assert_int_equal(h_kpin_run(&r, dir, "set", "-f", "kustomization.yaml",
				    "--image", "app", "--digest", h_digest(2),
				    "--json", NULL), 0);
	snprintf(want, sizeof(want), "{\"changed\":true,\"commit\":null,"
		 "\"branch\":null,\"file\":\"kustomization.yaml\","
		 "\"image\":\"app\",\"old_digest\":\"%s\",", h_digest(1));
	h_assert_contains(r.out.ptr, want);
	snprintf(want, sizeof(want), "\"new_digest\":\"%s\",\"old_tag\":"
		 "\"v1\",\"new_tag\":\"v1\"}\n", h_digest(2));
	h_assert_contains(r.out.ptr, want);
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, dir, "set", "-f", "kustomization.yaml",
				    "--image", "app", "--digest", h_digest(2),
				    "--json", NULL), 0);
	h_assert_contains(r.out.ptr, "{\"changed\":false,");
	h_result_release(&r);
}

static void test_cli_get(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char want[512];

	assert_int_equal(h_kpin_run(&r, dir, "get", "-f", "kustomization.yaml",
				    "--image", "app", NULL), 0);
	snprintf(want, sizeof(want), "%s\n", h_digest(1));
	assert_string_equal(r.out.ptr, want);
	h_result_release(&r);
	/* an entry without a digest prints nothing and succeeds */
	assert_int_equal(h_kpin_run(&r, dir, "get", "-f", "kustomization.yaml",
				    "--image", "bare", NULL), 0);
	assert_int_equal(r.out.len, 0);
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, dir, "get", "-f", "kustomization.yaml",
				    "--image", "app", "--json", NULL), 0);
	snprintf(want, sizeof(want), "{\"file\":\"kustomization.yaml\","
		 "\"name\":\"app\",\"newName\":null,\"newTag\":\"v1\","
		 "\"digest\":\"%s\",\"reference\":\"app:v1@%s\",\"line\":2}\n",
		 h_digest(1), h_digest(1));
	assert_string_equal(r.out.ptr, want);
	h_result_release(&r);
	assert_int_equal(h_kpin_run(&r, dir, "get", "-f", "kustomization.yaml",
				    "--image", "none", NULL), 4);
	h_assert_contains(r.err.ptr, "kustomization.yaml");
	h_assert_contains(r.err.ptr, "'none'");
	h_result_release(&r);
}

static void test_cli_symlink_and_mode(void **state)
{
	const char *dir = *state;
	struct h_result r;
	struct stat st;
	struct kpin_buf b = KPIN_BUF_INIT;

	assert_int_equal(chmod(h_path(dir, "kustomization.yaml"), 0600), 0);
	assert_int_equal(symlink("kustomization.yaml",
				 h_path(dir, "link.yaml")), 0);
	assert_int_equal(h_kpin_run(&r, dir, "set", "-f", "link.yaml",
				    "--image", "app", "--digest", h_digest(5),
				    NULL), 0);
	h_result_release(&r);
	assert_int_equal(lstat(h_path(dir, "link.yaml"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(stat(h_path(dir, "kustomization.yaml"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(h_read(&b, h_path(dir, "kustomization.yaml")), 0);
	h_assert_contains(b.ptr, h_digest(5));
	kpin_buf_release(&b);
}

static void test_cli_missing_file(void **state)
{
	const char *dir = *state;
	struct h_result r;

	assert_int_equal(h_kpin_run(&r, dir, "set", "-f", "nope.yaml",
				    "--image", "app", "--digest", h_digest(1),
				    NULL), 4);
	h_assert_contains(r.err.ptr, "nope.yaml: cannot open");
	h_result_release(&r);
	/* a bad digest is refused before the file is even read */
	assert_int_equal(h_kpin_run(&r, dir, "set", "-f", "nope.yaml",
				    "--image", "app", "--digest", "sha256:1",
				    NULL), 3);
	h_assert_contains(r.err.ptr, "kpin: invalid digest 'sha256:1'");
	h_result_release(&r);
}

static void test_cli_stdout_failure(void **state)
{
	struct h_result r;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	h_sh(&r, NULL, "'%s' --version > /dev/full", h_kpin());
	assert_int_equal(r.status, 1);
	h_assert_contains(r.err.ptr, "cannot write to stdout");
	h_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_version_and_help),
		cmocka_unit_test_setup_teardown(
			test_cli_global_options_after_command, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_cli_json_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cli_dry_run_json, setup,
						teardown),
		cmocka_unit_test(test_cli_usage_errors),
		cmocka_unit_test(test_cli_getopt_tails),
		cmocka_unit_test_setup_teardown(test_cli_dash_c_and_quiet,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_set_json, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cli_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_symlink_and_mode,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_missing_file, setup,
						teardown),
		cmocka_unit_test(test_cli_stdout_failure),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
