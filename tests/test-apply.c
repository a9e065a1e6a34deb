/*
 * kpin apply with the fixtures in testdata/events: a full
 * repository_dispatch event, a bare payload, underscore spellings,
 * flags and INPUT_ variables, stdin, and everything that must be
 * refused (missing fields, a number where a string belongs, invalid or
 * oversize JSON, unsafe values, unknown environments, conflicting or
 * invalid batches) with nothing committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

#define ROOT ".platform/kubernetes/"
#define WEB_PRD ROOT "web/overlays/prd/kustomization.yaml"
#define WEB_STG ROOT "web/overlays/stg/kustomization.yaml"
#define API_PRD ROOT "api/overlays/prd/kustomization.yaml"
#define D1 "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define D2 "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

static const char *const files[] = {
	WEB_PRD, "images:\n- name: web\n  newTag: v1\n",
	WEB_STG, "images:\n- name: web\n  newTag: v1\n",
	API_PRD, "images:\n- name: api\n",
	NULL
};

static int setup(void **state)
{
	char *dir = h_tmpdir();

	h_repo_init(dir, false, files);
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	h_rmrf(*state);
	free(*state);
	return 0;
}

static const char *event(const char *name)
{
	static char path[4][4096];
	static int next;
	char *p = path[next++ % 4];
	char *real;

	snprintf(p, sizeof(path[0]), "%s/events/%s", h_testdata(), name);
	real = realpath(p, NULL);
	assert_non_null(real);
	snprintf(p, sizeof(path[0]), "%s", real);
	free(real);
	return p;
}

/*
 * kpin apply in @dir with no global git config, @env added (NULL-terminated
 * list) and the arguments in @ap.
 */
static int vapply(struct h_result *r, const char *dir, const char *const *env,
		  const char *stdin_data, va_list ap)
{
	const char *argv[32], *e[16];
	int n = 0, k = 0;

	argv[n++] = "kpin";
	argv[n++] = "apply";
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	argv[n] = NULL;
	e[k++] = h_env_home();
	e[k++] = "XDG_CONFIG_HOME=";
	e[k++] = "GITHUB_ACTOR=release-bot";
	for (; env && *env && k < 15; env++)
		e[k++] = *env;
	e[k] = NULL;
	return h_run(r, dir, e, argv, stdin_data);
}

static int apply(struct h_result *r, const char *dir, const char *const *env,
		 const char *stdin_data, ...)
{
	va_list ap;
	int status;

	va_start(ap, stdin_data);
	status = vapply(r, dir, env, stdin_data, ap);
	va_end(ap);
	return status;
}

static int commits(const char *dir)
{
	return atoi(h_git_out(dir, "rev-list --count HEAD"));
}

/* Apply fixture @name in a fresh @dir: one commit, changing only @path. */
static void apply_event(const char *dir, const char *name, const char *path)
{
	struct h_result r;

	assert_int_equal(apply(&r, dir, NULL, NULL, "--event", event(name),
			       NULL), 0);
	h_result_release(&r);
	assert_int_equal(commits(dir), 2);
	assert_string_equal(h_git_out(dir, "diff-tree --no-commit-id "
				      "--name-only -r HEAD"), path);
}

static void test_apply_full_event(void **state)
{
	const char *dir = *state;
	struct h_result r;

	apply_event(dir, "full-event.json", WEB_PRD);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", WEB_PRD),
			  "digest: " D1);
	assert_string_equal(h_git_out(dir, "log -1 '--format=%%(trailers)'"),
			    "Image: web\nDigest: " D1 "\nEnvironment: prd\n"
			    "Source-Repository: acme/web-app\n"
			    "Promoted-By: release-bot");
	/* the same dispatch again: no second commit */
	assert_int_equal(apply(&r, dir, NULL, NULL, "--event",
			       event("full-event.json"), NULL), 0);
	h_assert_contains(r.err.ptr, "unchanged");
	h_result_release(&r);
	assert_int_equal(commits(dir), 2);
}

static void test_apply_same_result_any_source(void **state)
{
	const char *dir = *state;
	struct h_result r;
	char first[256], payload[512];
	const char *env[] = {
		"INPUT_REPOSITORY=acme/web-app", "INPUT_IMAGE-NAME=web",
		"INPUT_DIRECTORY-NAME=web", "INPUT_ENVIRONMENT=prd",
		"INPUT_DIGEST=" D1, "INPUT_TAG=", NULL
	};
	struct kpin_buf b = KPIN_BUF_INIT;

	assert_int_equal(apply(&r, dir, NULL, NULL, "--event",
			       event("bare-payload.json"), NULL), 0);
	h_result_release(&r);
	snprintf(first, sizeof(first), "%s",
		 h_git_out(dir, "rev-parse HEAD:%s", WEB_PRD));
	/* every other source yields the same file, byte for byte */
	assert_int_equal(h_git(&r, dir, "reset -q --hard HEAD^"), 0);
	h_result_release(&r);
	assert_int_equal(apply(&r, dir, env, NULL, NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD:%s", WEB_PRD),
			    first);
	assert_int_equal(h_git(&r, dir, "reset -q --hard HEAD^"), 0);
	h_result_release(&r);
	assert_int_equal(h_read(&b, event("bare-payload.json")), 0);
	assert_int_equal(apply(&r, dir, NULL, b.ptr, "--retries", "3", "-",
			       "--json", NULL), 0);
	h_assert_contains(r.out.ptr, "\"changed\":true");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD:%s", WEB_PRD),
			    first);
	assert_int_equal(h_git(&r, dir, "reset -q --hard HEAD^"), 0);
	h_result_release(&r);
	snprintf(payload, sizeof(payload), "%.*s", (int)b.len - 1, b.ptr);
	assert_int_equal(apply(&r, dir, NULL, NULL, "--payload", payload,
			       NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD:%s", WEB_PRD),
			    first);
	assert_int_equal(h_git(&r, dir, "reset -q --hard HEAD^"), 0);
	h_result_release(&r);
	assert_int_equal(apply(&r, dir, NULL, NULL, "--repository",
			       "acme/web-app", "--image-name", "web",
			       "--directory-name", "web", "--environment",
			       "prd", "--digest", D1, NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD:%s", WEB_PRD),
			    first);
	kpin_buf_release(&b);
}

static void test_apply_underscores_tag_release(void **state)
{
	const char *dir = *state;
	struct h_result r;
	const char *t;

	assert_int_equal(apply(&r, dir, NULL, NULL, "--event",
			       event("underscores.json"), NULL), 0);
	h_result_release(&r);
	h_assert_contains(h_git_out(dir, "show HEAD:%s", WEB_PRD),
			  "newTag: \"1.10\"\n  digest: " D1);
	t = h_git_out(dir, "log -1 '--format=%%(trailers)'");
	h_assert_contains(t, "Tag: 1.10\n");
	h_assert_contains(t, "Release: 2026.11.3");
}

static void test_apply_precedence(void **state)
{
	const char *dir = *state;
	struct h_result r;
	const char *env[] = { "INPUT_ENVIRONMENT=prd", NULL };

	/* a flag beats the event file, which beats INPUT_ variables */
	assert_int_equal(apply(&r, dir, env, NULL, "--environment", "stg",
			       "--event", event("bare-payload.json"), NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "diff-tree --no-commit-id "
				      "--name-only -r HEAD"), WEB_STG);
}

/* Refusals: exit status, words in stderr, and nothing committed. */
static void refuse(const char *dir, int status, const char *words,
		   const char *const *env, const char *stdin_data, ...)
{
	struct h_result r;
	va_list ap;
	int before = commits(dir);

	va_start(ap, stdin_data);
	vapply(&r, dir, env, stdin_data, ap);
	va_end(ap);
	if (r.status != status)
		fail_msg("exit %d, expected %d: %s", r.status, status,
			 r.err.ptr);
	h_assert_contains(r.err.ptr, words);
	h_result_release(&r);
	assert_int_equal(commits(dir), before);
	assert_string_equal(h_git_out(dir, "status --porcelain"), "");
}

/*
 * A workflow_dispatch event: the fields under "inputs", and a top-level
 * "repository" object that is the GitOps repository, not a field. An
 * event of neither kind is refused with the shapes kpin reads.
 */
static void test_apply_workflow_dispatch(void **state)
{
	const char *dir = *state;

	apply_event(dir, "workflow-dispatch.json", WEB_STG);
	h_assert_contains(h_git_out(dir, "log -1 '--format=%%(trailers)'"),
			  "Source-Repository: acme/web-app\n");
	refuse(dir, 3, "push-event.json: an event without 'client_payload' "
	       "or 'inputs': kpin reads a repository_dispatch event", NULL,
	       NULL, "--event", event("push-event.json"), NULL);
	refuse(dir, 3, "a workflow_dispatch event (under 'inputs')", NULL,
	       NULL, "--event", event("push-event.json"), NULL);
	refuse(dir, 3, "--payload: 'inputs' must be an object, got an array",
	       NULL, NULL, "--payload", "{\"inputs\": []}", NULL);
}

/* Peak RSS of "kpin apply ARG PATH" in @dir, in KiB, or -1 without time. */
static long apply_rss(const char *dir, const char *arg, const char *path)
{
	struct h_result r;
	const char *line;
	long kib = -1;

	if (h_sh(&r, dir, "command -v /usr/bin/time >/dev/null") == 0) {
		h_result_release(&r);
		h_sh(&r, dir, "/usr/bin/time -f 'rss=%%M' '%s' apply %s '%s'",
		     h_kpin(), arg, path);
		assert_int_equal(r.status, 3);
		line = strstr(r.err.ptr, "rss=");
		assert_non_null(line);
		kib = atol(line + 4);
	}
	h_result_release(&r);
	return kib;
}

/*
 * One JSON value, nested at most 64 deep, both checked before libfyaml
 * builds anything: 4 MB of '[' once cost 1.4 GB; a refused input now
 * stays under 64 MB.
 */
static void test_apply_strict_json(void **state)
{
	const char *dir = *state;
	char *tmp = h_tmpdir(), *deep = malloc(KPIN_BATCH_MAX);
	const char *two = h_path(tmp, "two.json");
	const char *path = h_path(tmp, "deep.json");
	const char *p2 = h_path(tmp, "deep2.json");
	const char *ev = h_path(tmp, "ev.json");
	char obj[4096];
	long kib;

	snprintf(obj, sizeof(obj), "{\"repository\": \"a/b\", \"image-name\": "
		 "\"web\", \"directory-name\": \"web\", \"environment\": "
		 "\"prd\", \"digest\": \"%s\"}", D1);
	refuse(dir, 3, "--payload: invalid JSON at line 1, column 4: a second "
	       "value after the first", NULL, NULL, "--payload", "{} [1]",
	       NULL);
	h_writes(ev, obj);
	h_write(two, obj, strlen(obj));
	{
		struct kpin_buf b = KPIN_BUF_INIT;

		kpin_buf_addf(&b, "%s\n%s\n", obj, obj);
		h_write(two, b.ptr, b.len);
		kpin_buf_reset(&b);
		kpin_buf_addf(&b, "[%s]\n  [1]\n", obj);
		h_write(p2, b.ptr, b.len);
		kpin_buf_release(&b);
	}
	refuse(dir, 3, "two.json: invalid JSON at line 2, column 1: a second "
	       "value", NULL, NULL, "--event", two, NULL);
	refuse(dir, 3, "deep2.json: invalid JSON at line 2, column 3: a "
	       "second value", NULL, NULL, "--batch", p2, NULL);
	refuse(dir, 3, "stdin: invalid JSON at line 1, column 3: a second",
	       NULL, "{}{}", "-", NULL);
	/* a JSON lines batch: one value per line */
	refuse(dir, 3, "two.jsonl:1: invalid JSON at line 1, column 4: a "
	       "second value", NULL, NULL, "--batch",
	       (h_writes(h_path(tmp, "two.jsonl"), "{} {}\n"),
		h_path(tmp, "two.jsonl")), NULL);

	memset(deep, '[', KPIN_BATCH_MAX);
	h_write(path, deep, KPIN_BATCH_MAX);
	refuse(dir, 3, "deep.json: invalid JSON at line 1, column 65: nested "
	       "deeper than 64 levels", NULL, NULL, "--batch", path, NULL);
	kib = apply_rss(dir, "--batch", path);
	if (kib >= 64 * 1024)
		fail_msg("a refused 4 MB batch took %ld KiB", kib);
	memset(deep, '{', KPIN_EVENT_MAX);
	h_write(path, deep, KPIN_EVENT_MAX);
	refuse(dir, 3, "nested deeper than 64 levels", NULL, NULL, "--event",
	       path, NULL);
	kib = apply_rss(dir, "--event", path);
	if (kib >= 64 * 1024)
		fail_msg("a refused 1 MB event took %ld KiB", kib);
	h_rmrf(tmp);
	free(tmp);
	free(deep);
}

/*
 * The image name is a lookup key, whichever way the request arrives: an
 * entry named 'dashboardImage' (tektoncd/dashboard) is reachable from a
 * dispatch as it is from kpin set --image.
 */
static void test_apply_name_is_lookup_key(void **state)
{
	const char *dir = *state;
	const char *dash = ROOT "dash/overlays/prd/kustomization.yaml";
	struct h_result r;

	assert_int_equal(mkdir(h_path(dir, ROOT "dash"), 0755), 0);
	assert_int_equal(mkdir(h_path(dir, ROOT "dash/overlays"), 0755), 0);
	assert_int_equal(mkdir(h_path(dir, ROOT "dash/overlays/prd"), 0755),
			 0);
	h_writes(h_path(dir, dash), "images:\n- name: dashboardImage\n");
	assert_int_equal(h_git(&r, dir, "add -A"), 0);
	h_result_release(&r);
	assert_int_equal(h_git(&r, dir, "commit -qm dash"), 0);
	h_result_release(&r);
	assert_int_equal(apply(&r, dir, NULL, NULL, "--payload",
			       "{\"repository\": \"acme/dash\", "
			       "\"image-name\": \"dashboardImage\", "
			       "\"directory-name\": \"dash\", "
			       "\"environment\": \"prd\", "
			       "\"digest\": \"" D1 "\"}", NULL), 0);
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "show HEAD:%s", dash),
			    "images:\n- name: dashboardImage\n  digest: " D1);
}

static void test_apply_refusals(void **state)
{
	const char *dir = *state;
	char *big = malloc(KPIN_EVENT_MAX + 64), *bigdir = h_tmpdir();
	const char *big_path = h_path(bigdir, "big.json");

	refuse(dir, 3, "field 'environment' is missing", NULL, NULL,
	       "--event", event("missing-fields.json"), NULL);
	refuse(dir, 3, "field 'digest' is missing", NULL, NULL,
	       "--event", event("missing-fields.json"), NULL);
	refuse(dir, 3, "field 'digest' must be a string, got a number", NULL,
	       NULL, "--event", event("number-digest.json"), NULL);
	refuse(dir, 3, "invalid JSON", NULL, NULL, "--event",
	       event("invalid.json"), NULL);
	refuse(dir, 3, "'client_payload' must be an object", NULL, NULL,
	       "--event", event("payload-not-object.json"), NULL);
	refuse(dir, 3, "field 'directory-name'", NULL, NULL, "--event",
	       event("injection.json"), NULL);
	refuse(dir, 3, "field 'digest': invalid digest", NULL, NULL,
	       "--event", event("injection.json"), NULL);
	refuse(dir, 3, "unknown environment 'qa'", NULL, NULL, "--event",
	       event("unknown-environment.json"), NULL);
	refuse(dir, 3, "--payload: invalid JSON", NULL, NULL, "--payload",
	       "{\"digest\": ", NULL);
	refuse(dir, 3, "stdin: expected a JSON object, got an array", NULL,
	       "[1, 2]", "-", NULL);
	refuse(dir, 3, "field 'image-name' is missing", NULL, NULL, NULL);
	refuse(dir, 4, "no directory '.platform/kubernetes/nope'", NULL, NULL,
	       "--event", event("bare-payload.json"), "--directory-name",
	       "nope", NULL);
	memset(big, ' ', KPIN_EVENT_MAX + 63);
	big[0] = '{';
	big[KPIN_EVENT_MAX + 62] = '}';
	h_write(big_path, big, KPIN_EVENT_MAX + 63);
	refuse(dir, 3, "over the limit", NULL, NULL, "--event", big_path,
	       NULL);
	h_rmrf(bigdir);
	free(bigdir);
	free(big);
}

static void test_apply_batch(void **state)
{
	const char *dir = *state;
	struct h_result r;

	assert_int_equal(apply(&r, dir, NULL, NULL, "--batch",
			       event("batch.json"), "--json", NULL), 0);
	h_assert_contains(r.out.ptr, "\"updates\":[{\"file\":\"" WEB_STG);
	h_result_release(&r);
	assert_int_equal(commits(dir), 2);
	assert_string_equal(h_git_out(dir, "diff-tree --no-commit-id "
				      "--name-only -r HEAD"),
			    API_PRD "\n" WEB_PRD "\n" WEB_STG);
	assert_string_equal(h_git_out(dir, "log -1 --format=%%s"),
			    "kpin: apply 3 updates");
	/* each change says where its own image came from */
	h_assert_contains(h_git_out(dir, "log -1 '--format=%%(trailers:key="
				    "Source-Repository,valueonly)'"),
			  "acme/web-app (for web/stg web)\nacme/web-app (for "
			  "web/prd web)\nacme/api (for api/prd api)");
	assert_string_equal(h_git_out(dir, "status --porcelain"), "");
}

static void test_apply_batch_duplicates_collapse(void **state)
{
	const char *dir = *state;
	struct h_result r;

	assert_int_equal(apply(&r, dir, NULL, NULL, "--batch",
			       event("batch-duplicates.jsonl"), NULL), 0);
	h_result_release(&r);
	assert_int_equal(commits(dir), 2);
	assert_string_equal(h_git_out(dir, "log -1 --format=%%s"),
			    "web/prd: set web to sha256:9f86d081884c");
}

static void test_apply_batch_refused(void **state)
{
	const char *dir = *state;
	char *tmp = h_tmpdir();
	const char *mixed = h_path(tmp, "mixed.jsonl");
	const char *envs = h_path(tmp, "envs.jsonl");

	h_writes(mixed, "{\"repository\": \"a/b\", \"image-name\": \"web\", "
		 "\"directory-name\": \"web\", \"environment\": \"prd\", "
		 "\"digest\": \"" D1 "\"}\n"
		 "{\"repository\": \"a/b\", \"image-name\": \"web\", "
		 "\"directory-name\": \"web\", \"environment\": \"prd\", "
		 "\"digest\": \"" D2 "\"}\n"
		 "{\"repository\": \"a/b\", \"image-name\": \"api\", "
		 "\"directory-name\": \"api\", \"environment\": \"prd\", "
		 "\"digest\": \"sha256:1\"}\n");
	refuse(dir, 3, "mixed.jsonl:2: sets image 'web' in web/prd", NULL, NULL,
	       "--batch", mixed, NULL);
	refuse(dir, 3, "mixed.jsonl:3:102: field 'digest': invalid digest", NULL,
	       NULL, "--batch", mixed, NULL);
	h_writes(envs, "{\"repository\": \"a/b\", \"image-name\": \"web\", "
		 "\"directory-name\": \"web\", \"environment\": \"qa\", "
		 "\"digest\": \"" D1 "\"}\n"
		 "{\"repository\": \"a/b\", \"image-name\": \"web\", "
		 "\"directory-name\": \"web\", \"environment\": \"uat\", "
		 "\"digest\": \"" D1 "\"}\n");
	refuse(dir, 3, "unknown environment 'qa'", NULL, NULL, "--batch", envs,
	       NULL);
	refuse(dir, 3, "unknown environment 'uat'", NULL, NULL, "--batch",
	       envs, NULL);
	h_rmrf(tmp);
	free(tmp);

	refuse(dir, 3, "batch-conflict.jsonl:2: sets image 'web' in web/prd "
	       "differently from", NULL, NULL, "--batch",
	       event("batch-conflict.jsonl"), NULL);
	/* every problem is listed, not only the first */
	refuse(dir, 3, "batch-invalid.json:2:113: field 'digest': invalid digest", NULL, NULL,
	       "--batch", event("batch-invalid.json"), NULL);
	refuse(dir, 3, "batch-invalid.json:3: field 'digest' is missing", NULL,
	       NULL, "--batch", event("batch-invalid.json"), NULL);
	refuse(dir, 3, "batch-invalid.json:4:108: field 'digest' must be a string", NULL,
	       NULL, "--batch", event("batch-invalid.json"), NULL);
	refuse(dir, 3, "3 problems; nothing committed", NULL, NULL, "--batch",
	       event("batch-invalid.json"), NULL);
	/* a request source that cannot be read is bad input, not "not found" */
	refuse(dir, 3, "--event /nonexistent.json: cannot open", NULL, NULL,
	       "--event", "/nonexistent.json", NULL);
	refuse(dir, 3, "--batch /nonexistent.json: cannot open", NULL, NULL,
	       "--batch", "/nonexistent.json", NULL);
}

/* Each of @want[0..n) in @text, in that order; returns what follows. */
static const char *in_order(const char *text, const char *const *want,
			    size_t n)
{
	const char *at = text;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *hit = strstr(at, want[i]);

		if (!hit)
			fail_msg("'%s' missing or out of order in:\n%s",
				 want[i], text);
		at = hit + strlen(want[i]);
	}
	return at;
}

/*
 * Every problem in one pass, in input order, each with file:line: what
 * the request says (a bad digest), and what the repository says about
 * it (an environment the policy lacks, an app without an overlay).
 */
static void test_apply_batch_all_problems(void **state)
{
	const char *dir = *state;
	char *tmp = h_tmpdir();
	const char *b = h_path(tmp, "b.jsonl");
	static const char *const order[] = {
		"b.jsonl:1:102: field 'digest': invalid digest",
		"b.jsonl:2:85: unknown environment 'qa'",
		"b.jsonl:3:63: no directory '.platform/kubernetes/nope'",
		"b.jsonl:5: field 'digest' is missing",
		"kpin: 4 problems; nothing committed",
	};
	struct h_result r;

	h_writes(b, "{\"repository\": \"a/b\", \"image-name\": \"web\", "
		 "\"directory-name\": \"web\", \"environment\": \"prd\", "
		 "\"digest\": \"sha256:1\"}\n"
		 "{\"repository\": \"a/b\", \"image-name\": \"web\", "
		 "\"directory-name\": \"web\", \"environment\": \"qa\", "
		 "\"digest\": \"" D1 "\"}\n"
		 "{\"repository\": \"a/b\", \"image-name\": \"web\", "
		 "\"directory-name\": \"nope\", \"environment\": \"prd\", "
		 "\"digest\": \"" D1 "\"}\n"
		 "{\"repository\": \"a/b\", \"image-name\": \"api\", "
		 "\"directory-name\": \"api\", \"environment\": \"prd\", "
		 "\"digest\": \"" D2 "\"}\n"
		 "{\"repository\": \"a/b\", \"image-name\": \"web\", "
		 "\"directory-name\": \"web\", \"environment\": \"stg\"}\n");
	assert_int_equal(apply(&r, dir, NULL, NULL, "--batch", b, NULL), 3);
	in_order(r.err.ptr, order, sizeof(order) / sizeof(*order));
	h_result_release(&r);
	assert_int_equal(commits(dir), 1);
	/* --json: the same problems, in the same order, in one object */
	assert_int_equal(apply(&r, dir, NULL, NULL, "--batch", b, "--json",
			       NULL), 3);
	h_assert_contains(r.out.ptr, "{\"code\":3,\"message\":\"4 problems; "
			  "nothing committed\",\"file\":null,\"line\":null,"
			  "\"column\":null,\"problems\":[\"");
	h_assert_contains(in_order(r.out.ptr, order, 4), "\"]}\n");
	h_result_release(&r);
	/* only overlays missing: exit 4, as for one request */
	h_writes(b, "{\"repository\": \"a/b\", \"image-name\": \"web\", "
		 "\"directory-name\": \"nope\", \"environment\": \"prd\", "
		 "\"digest\": \"" D1 "\"}\n");
	refuse(dir, 4, "b.jsonl:1:63: no directory", NULL, NULL, "--batch", b,
	       NULL);
	h_rmrf(tmp);
	free(tmp);
	refuse(dir, 2, "--batch takes no other request source", NULL, NULL,
	       "--batch", event("batch.json"), "--digest", D2, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_full_event, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_apply_same_result_any_source, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_apply_underscores_tag_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_precedence, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_apply_name_is_lookup_key,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_apply_workflow_dispatch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_strict_json, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_apply_batch_all_problems,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_batch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_apply_batch_duplicates_collapse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_batch_refused,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("apply", tests, NULL, NULL);
}
