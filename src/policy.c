/*
 * .kpin.yaml: a small YAML mapping read with libfyaml's document API.
 * Everything in it is validated; nothing unknown is silently ignored,
 * because a typo in a policy file must not quietly switch a guard off.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpin/error.h"
#include "kpin/grammar.h"
#include "kpin/kust.h"
#include "kpin/policy.h"
#include "kpin/xalloc.h"
#include "yaml.h"

static const char *const default_envs[] = { "dev", "stg", "prd" };

void kpin_policy_init(struct kpin_policy *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->root = xstrdup(".platform/kubernetes");
	p->nenvs = 3;
	p->envs = xcalloc(3, sizeof(*p->envs));
	for (i = 0; i < 3; i++)
		p->envs[i] = xstrdup(default_envs[i]);
}

static void free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void kpin_policy_release(struct kpin_policy *p)
{
	free(p->root);
	free_list(p->envs, p->nenvs);
	free_list(p->require_digest, p->nrequire);
	memset(p, 0, sizeof(*p));
}

/* Report an error at node @n (its token's position). */
static int fail_at(struct fy_node *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail_at(struct fy_node *n, const char *fmt, ...)
{
	char msg[512];
	int line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kpin_yaml_node_pos(n, &line, &col);
	return kpin_error_set_at(KPIN_EINVALID, line, col, "%s", msg);
}

/*
 * A string value (plain or quoted), NUL-terminated in @text, or NULL
 * after setting an error.
 */
static const char *string_of(struct kpin_buf *text, struct fy_node *key,
			     struct fy_node *val, const char *what)
{
	if (!val || fy_node_get_type(val) != FYNT_SCALAR ||
	    fy_node_get_style(val) == FYNS_ALIAS) {
		fail_at(key, "'%s' must be a string", what);
		return NULL;
	}
	if (!kpin_yaml_scalar(text, val) || !text->len) {
		fail_at(val, "'%s' must be a non-empty string", what);
		return NULL;
	}
	return text->ptr;
}

/* A sequence of environment names, each one safe and listed once. */
static int env_list(char ***out, size_t *nout, struct fy_node *key,
		    struct fy_node *val, const char *what,
		    const struct kpin_policy *known)
{
	struct fy_node *item;
	struct kpin_buf text = KPIN_BUF_INIT;
	void *iter = NULL;
	char **v = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (!val || fy_node_get_type(val) != FYNT_SEQUENCE)
		return fail_at(key, "'%s' must be a list of environments",
			       what);
	while (!rc && (item = fy_node_sequence_iterate(val, &iter)) != NULL) {
		if (!kpin_yaml_scalar(&text, item) ||
		    kpin_grammar_match(KPIN_GRAMMAR_SEGMENT, text.ptr,
				       text.len) != 1) {
			rc = fail_at(item, "invalid environment in '%s': it "
				     "must be one path segment of letters, "
				     "digits, '.', '_' and '-'", what);
			break;
		}
		for (i = 0; i < n; i++)
			if (!strcmp(v[i], text.ptr))
				break;
		if (i < n) {
			rc = fail_at(item, "environment listed twice in '%s'",
				     what);
			break;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(text.ptr);
		if (known && kpin_policy_env_index(known, v[n - 1]) < 0)
			rc = fail_at(item, "'%s' names an environment that "
				     "'environments' does not list", what);
	}
	kpin_buf_release(&text);
	if (!rc && !n)
		rc = fail_at(key, "'%s' must not be empty", what);
	if (rc) {
		free_list(v, n);
		return rc;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* Only blank lines and comments? */
static bool blank(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		while (i < len && (buf[i] == ' ' || buf[i] == '\t' ||
				   buf[i] == '\r'))
			i++;
		if (i < len && buf[i] == '#')
			while (i < len && buf[i] != '\n')
				i++;
		if (i < len && buf[i] != '\n')
			return false;
		i++;
	}
	return true;
}

int kpin_policy_parse(struct kpin_policy *p, const char *buf, size_t len)
{
	struct kpin_yaml *y = NULL;
	struct kpin_buf text = KPIN_BUF_INIT;
	struct fy_node *root, *key, *val, *req_key = NULL, *req_val = NULL;
	struct fy_node_pair *pair;
	struct kpin_kust *kust = NULL;
	void *iter = NULL;
	int rc = KPIN_EINVALID;

	if (blank(buf, len)) {
		rc = 0;		/* nothing but comments: the defaults */
		p->from_file = true;
		goto out;
	}
	/* The edit core's parse first: it refuses what kustomize would. */
	rc = kpin_kust_open(&kust, buf, len, KPIN_KUST_LENIENT);
	kpin_kust_free(kust);
	if (!rc)
		rc = kpin_yaml_open(&y, buf, len, 0);
	if (!rc)
		rc = kpin_yaml_load(y, &root);
	if (rc)
		goto out;
	rc = KPIN_EINVALID;
	if (!root || (fy_node_get_type(root) == FYNT_SCALAR &&
		      fy_node_get_scalar_length(root) == 0)) {
		rc = 0;		/* an empty policy file: the defaults */
		p->from_file = true;
		goto out;
	}
	if (fy_node_get_type(root) != FYNT_MAPPING) {
		rc = kpin_error_set_at(KPIN_EINVALID, 1, 1, "the policy must "
				       "be a mapping");
		goto out;
	}
	while ((pair = fy_node_mapping_iterate(root, &iter)) != NULL) {
		const char *k, *s;
		size_t klen;

		key = fy_node_pair_key(pair);
		val = fy_node_pair_value(pair);
		k = key && fy_node_get_type(key) == FYNT_SCALAR ?
		    fy_node_get_scalar(key, &klen) : NULL;
		if (!k) {
			rc = fail_at(key, "policy keys must be strings");
			goto out;
		}
		if (klen == 4 && !memcmp(k, "root", 4)) {
			s = string_of(&text, key, val, "root");
			if (!s)
				goto out;
			if (kpin_grammar_check_path("'root'", s)) {
				rc = fail_at(val, "%s", kpin_error_last()->message);
				goto out;
			}
			free(p->root);
			p->root = xstrdup(s);
		} else if (klen == 12 && !memcmp(k, "environments", 12)) {
			char **v;
			size_t n;

			rc = env_list(&v, &n, key, val, "environments", NULL);
			if (rc)
				goto out;
			free_list(p->envs, p->nenvs);
			p->envs = v;
			p->nenvs = n;
		} else if (klen == 14 && !memcmp(k, "require-digest", 14)) {
			req_key = key;	/* checked once environments are known */
			req_val = val;
		} else if (klen == 9 && !memcmp(k, "promotion", 9)) {
			s = string_of(&text, key, val, "promotion");
			if (!s)
				goto out;
			if (!strcmp(s, "ordered")) {
				p->ordered = true;
			} else if (!strcmp(s, "free")) {
				p->ordered = false;
			} else {
				rc = fail_at(val, "'promotion' must be ordered "
					     "or free, not '%s'", s);
				goto out;
			}
		} else if (klen == 7 && !memcmp(k, "signing", 7)) {
			s = string_of(&text, key, val, "signing");
			if (!s)
				goto out;
			if (strcmp(s, "required") && strcmp(s, "optional")) {
				rc = fail_at(val, "'signing' must be required "
					     "or optional, not '%s'", s);
				goto out;
			}
			p->signing_required = !strcmp(s, "required");
		} else {
			char name[64];

			snprintf(name, sizeof(name), "%.*s",
				 (int)(klen < 60 ? klen : 60), k);
			rc = fail_at(key, "unknown policy key '%s' (known: root, "
				     "environments, require-digest, promotion, "
				     "signing)", name);
			goto out;
		}
	}
	if (req_key) {
		rc = env_list(&p->require_digest, &p->nrequire, req_key,
			      req_val, "require-digest", p);
		if (rc)
			goto out;
	}
	p->from_file = true;
	rc = 0;
out:
	kpin_buf_release(&text);
	kpin_yaml_close(y);
	return rc;
}

int kpin_policy_env_index(const struct kpin_policy *p, const char *env)
{
	size_t i;

	for (i = 0; i < p->nenvs; i++)
		if (!strcmp(p->envs[i], env))
			return (int)i;
	return -1;
}

int kpin_policy_check_env(const struct kpin_policy *p, const char *env)
{
	char known[512] = "";
	size_t i;

	if (kpin_policy_env_index(p, env) >= 0)
		return 0;
	for (i = 0; i < p->nenvs; i++) {
		if (i)
			strncat(known, ", ", sizeof(known) - strlen(known) - 1);
		strncat(known, p->envs[i], sizeof(known) - strlen(known) - 1);
	}
	return kpin_error_set(KPIN_EINVALID, "unknown environment '%s' "
			      "(known: %s; list more under 'environments' in "
			      "%s)", env, known, KPIN_POLICY_FILE);
}
