/*
 * Dispatch requests. A request is five strings (plus an optional tag and
 * release) however it arrived; every source fills only what the sources
 * before it left unset, so "--environment prd" beats the event file, which
 * beats INPUT_ENVIRONMENT. JSON is parsed by libfyaml in forced JSON mode,
 * and every value must be a JSON string: a digest sent as a number is an
 * error naming the field, never a silently converted value.
 */
#include <libfyaml.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpin/error.h"
#include "kpin/grammar.h"
#include "kpin/request.h"
#include "kpin/xalloc.h"
#include "yaml.h"

/* The fields, their JSON names and the INPUT_ variable names. */
struct field {
	const char *name;	/* as the platform action names it */
	const char *alt;	/* underscore spelling */
	size_t off;		/* offset of the char * in struct kpin_request */
	int required;
};

static const struct field fields[] = {
	{ "repository", NULL, offsetof(struct kpin_request, repository), 1 },
	{ "image-name", "image_name", offsetof(struct kpin_request, image), 1 },
	{ "directory-name", "directory_name",
	  offsetof(struct kpin_request, app), 1 },
	{ "environment", NULL, offsetof(struct kpin_request, env), 1 },
	{ "digest", NULL, offsetof(struct kpin_request, digest), 1 },
	{ "tag", NULL, offsetof(struct kpin_request, tag), 0 },
	{ "release", NULL, offsetof(struct kpin_request, release), 0 },
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static char **slot(struct kpin_request *r, const struct field *f)
{
	return (char **)((char *)r + f->off);
}

static char *const *cslot(const struct kpin_request *r, const struct field *f)
{
	return (char *const *)((const char *)r + f->off);
}

void kpin_request_release(struct kpin_request *r)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++) {
		free(*slot(r, &fields[i]));
		*slot(r, &fields[i]) = NULL;
		free(r->origin[i]);
		r->origin[i] = NULL;
	}
	free(r->where);
	r->where = NULL;
	free(r->error);
	r->error = NULL;
}

void kpin_request_free_all(struct kpin_request *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		kpin_request_release(&v[i]);
	free(v);
}

static const char *type_name(struct fy_node *n)
{
	switch (fy_node_get_type(n)) {
	case FYNT_MAPPING:
		return "an object";
	case FYNT_SEQUENCE:
		return "an array";
	default:
		break;
	}
	if (fy_node_get_style(n) == FYNS_DOUBLE_QUOTED)
		return "a string";
	{
		size_t len;
		const char *s = fy_node_get_scalar(n, &len);

		if (s && ((len == 4 && !memcmp(s, "true", 4)) ||
			  (len == 5 && !memcmp(s, "false", 5))))
			return "a boolean";
		if (s && len == 4 && !memcmp(s, "null", 4))
			return "null";
	}
	return "a number";
}

/*
 * What libfyaml does not check before it builds a document, in one pass
 * over the bytes: nesting deeper than KPIN_JSON_DEPTH_MAX (libfyaml would
 * first scan all of it, over 300 bytes of memory per level, then refuse),
 * and anything after the first value, which it would ignore. Strings are
 * skipped with their escapes; everything else is left to libfyaml. When
 * @lines is not NULL and the value is an array, the line of each of its
 * elements is appended there (1-based).
 */
static int json_prescan(const char *buf, size_t len, const char *origin,
			size_t **lines, size_t *nlines)
{
	size_t i, line = 1, bol = 0, depth = 0;
	bool done = false, in_scalar = false, array = false, expect = false;

	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\n') {
			line++;
			bol = i + 1;
		}
		if (strchr(" \t\r\n", c)) {
			in_scalar = false;
			continue;
		}
		if (done && !in_scalar)
			return kpin_error_set_at(KPIN_EINVALID, (int)line,
				(int)(i - bol + 1), "%s: invalid JSON at line "
				"%zu, column %zu: a second value after the "
				"first (one JSON value expected)", origin, line,
				i - bol + 1);
		if (lines && array && depth == 1 && expect && c != ']') {
			*lines = xreallocarray(*lines, *nlines + 1,
					       sizeof(**lines));
			(*lines)[(*nlines)++] = line;
		}
		expect = depth == 1 && c == ',';
		if (c == '"') {
			for (i++; i < len && buf[i] != '"'; i++) {
				if (buf[i] == '\\')
					i++;
				else if (buf[i] == '\n')
					line++, bol = i + 1;
			}
			in_scalar = false;
			done = depth == 0;
		} else if (c == '[' || c == '{') {
			if (depth == 0)
				array = c == '[';
			if (++depth > KPIN_JSON_DEPTH_MAX)
				return kpin_error_set_at(KPIN_EINVALID,
					(int)line, (int)(i - bol + 1), "%s: "
					"invalid JSON at line %zu, column %zu: "
					"nested deeper than %d levels", origin,
					line, i - bol + 1, KPIN_JSON_DEPTH_MAX);
			expect = depth == 1;
			in_scalar = false;
		} else if (c == ']' || c == '}') {
			if (depth == 0)
				return 0;	/* libfyaml says what is wrong */
			done = --depth == 0;
			in_scalar = false;
		} else if (c == ',' || c == ':') {
			in_scalar = false;
		} else if (!in_scalar) {
			in_scalar = true;	/* a number, true, false, null */
			done = depth == 0;
		}
	}
	return 0;
}

/*
 * Parse @buf as JSON through the adapter (src/yaml.h), after
 * json_prescan(); *@root is the value, which lives until the returned
 * parser is closed. NULL, with the error set and prefixed by @origin, on
 * failure.
 */
static struct kpin_yaml *parse_json(struct fy_node **root, const char *buf,
				    size_t len, const char *origin,
				    size_t **lines, size_t *nlines)
{
	struct kpin_yaml *y = NULL;
	struct kpin_buf m = KPIN_BUF_INIT;
	const struct kpin_error *e;
	int rc;

	*root = NULL;
	if (json_prescan(buf, len, origin, lines, nlines))
		return NULL;
	rc = kpin_yaml_open(&y, buf, len, KPIN_YAML_JSON);
	if (!rc)
		rc = kpin_yaml_load(y, root);
	if (!rc && !*root)
		rc = kpin_error_set(KPIN_EINVALID, "empty JSON document");
	if (!rc)
		return y;
	e = kpin_error_last();
	kpin_buf_addf(&m, "%s: %s", origin, e->message);
	kpin_error_set_at(e->code, e->line, e->col, "%s", m.ptr);
	kpin_buf_release(&m);
	kpin_yaml_close(y);
	return NULL;
}

/* Member @key of object @obj when it is an object too; NULL with an error. */
static struct fy_node *object_member(struct fy_node *obj, const char *key,
				     const char *origin)
{
	struct fy_node *n = fy_node_mapping_lookup_by_string(obj, key, -1);

	if (n && fy_node_get_type(n) != FYNT_MAPPING) {
		kpin_error_set(KPIN_EINVALID, "%s: '%s' must be an object, got "
			       "%s", origin, key, type_name(n));
		return NULL;
	}
	return n;
}

/*
 * The payload object: client_payload of a repository_dispatch event,
 * inputs of a workflow_dispatch event, or the root itself when it is a
 * bare payload. A root that looks like an event (a "repository" object,
 * a "sender") but has neither is refused with the shapes kpin reads.
 */
static struct fy_node *payload_of(struct fy_node *root, const char *origin)
{
	static const char *const event_keys[] = { "sender", "workflow",
		"action", "installation" };
	struct fy_node *n;
	size_t i;
	bool event;

	if (fy_node_get_type(root) != FYNT_MAPPING) {
		kpin_error_set(KPIN_EINVALID, "%s: expected a JSON object, got "
			       "%s", origin, type_name(root));
		return NULL;
	}
	if (fy_node_mapping_lookup_by_string(root, "client_payload", -1))
		return object_member(root, "client_payload", origin);
	if (fy_node_mapping_lookup_by_string(root, "inputs", -1))
		return object_member(root, "inputs", origin);
	n = fy_node_mapping_lookup_by_string(root, "repository", -1);
	event = n && fy_node_get_type(n) == FYNT_MAPPING;
	for (i = 0; !event && i < sizeof(event_keys) / sizeof(*event_keys);
	     i++)
		event = fy_node_mapping_lookup_by_string(root, event_keys[i],
							 -1) != NULL;
	if (!event)
		return root;
	kpin_error_set(KPIN_EINVALID, "%s: an event without 'client_payload' "
		       "or 'inputs': kpin reads a repository_dispatch event "
		       "(the fields under 'client_payload'), a "
		       "workflow_dispatch event (under 'inputs') or a bare "
		       "payload object ('repository', 'image-name', "
		       "'directory-name', 'environment', 'digest')", origin);
	return NULL;
}

static int field_error(struct fy_node *v, const char *file, size_t line0,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Where value @v is: "@file:line:col", the line counted from @line0 when
 * that is not 0 (a line of JSON lines, parsed alone).
 */
static char *position(struct fy_node *v, const char *file, size_t line0)
{
	struct kpin_buf b = KPIN_BUF_INIT;
	int line, col;

	kpin_yaml_node_pos(v, &line, &col);
	kpin_buf_addf(&b, "%s:%zu:%d", file, line0 ? line0 : (size_t)line,
		      col);
	return kpin_buf_detach(&b, NULL);
}

/*
 * Fill unset fields of @r from payload object @p; @file and @line0 say
 * where positions are (see position()).
 */
static int fill_from(struct kpin_request *r, struct fy_node *p,
		     const char *file, size_t line0)
{
	struct kpin_buf text = KPIN_BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		struct fy_node *v = fy_node_mapping_lookup_by_string(p, f->name,
								     -1);
		struct fy_node *alt = f->alt ?
			fy_node_mapping_lookup_by_string(p, f->alt, -1) : NULL;
		const char *used = v ? f->name : f->alt;

		if (!v)
			v = alt;
		if (!v || *slot(r, f))
			continue;
		if (fy_node_get_type(v) != FYNT_SCALAR ||
		    fy_node_get_style(v) != FYNS_DOUBLE_QUOTED)
			rc = field_error(v, file, line0, "field '%s' must be a "
					 "string, got %s", used, type_name(v));
		else if (!kpin_yaml_scalar(&text, v))
			rc = field_error(v, file, line0, "field '%s' holds a "
					 "NUL character", used);
		else if (text.len || f->required) {
			/* "tag": "" means no tag */
			*slot(r, f) = kpin_buf_detach(&text, NULL);
			r->origin[i] = position(v, file, line0);
		}
	}
	kpin_buf_release(&text);
	return rc;
}

/* An error about value @v, prefixed with its position. */
static int field_error(struct fy_node *v, const char *file, size_t line0,
		       const char *fmt, ...)
{
	struct kpin_buf m = KPIN_BUF_INIT;
	char *where = position(v, file, line0);
	va_list ap;
	int rc;

	va_start(ap, fmt);
	kpin_buf_vaddf(&m, fmt, ap);
	va_end(ap);
	rc = kpin_error_set(KPIN_EINVALID, "%s: %s", where, m.ptr);
	free(where);
	kpin_buf_release(&m);
	return rc;
}

int kpin_request_fill_json(struct kpin_request *r, const char *buf,
			   size_t len, const char *origin)
{
	struct fy_node *root, *p;
	struct kpin_yaml *y = parse_json(&root, buf, len, origin, NULL, NULL);
	int rc;

	if (!y)
		return kpin_error_last()->code;
	p = payload_of(root, origin);
	rc = p ? fill_from(r, p, origin, 0) : KPIN_EINVALID;
	kpin_yaml_close(y);
	return rc;
}

void kpin_request_fill(struct kpin_request *r, const char *field,
		       const char *value, const char *origin)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i].name, field) && value &&
		    !*slot(r, &fields[i])) {
			*slot(r, &fields[i]) = xstrdup(value);
			r->origin[i] = xstrdup(origin);
		}
}

void kpin_request_fill_env(struct kpin_request *r)
{
	char name[64];
	size_t i, j;

	for (i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		const char *v;

		if (*slot(r, f))
			continue;
		/* INPUT_IMAGE-NAME as the runner sets it, then IMAGE_NAME */
		for (j = 0; j < 2; j++) {
			const char *src = j ? f->alt : f->name;
			char *p;

			if (!src)
				continue;
			snprintf(name, sizeof(name), "INPUT_%s", src);
			for (p = name; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
			v = getenv(name);
			if (v && *v) {
				*slot(r, f) = xstrdup(v);
				r->origin[i] = xstrdup(name);
				break;
			}
		}
	}
}

/* Printable, no control characters: safe to put in a commit trailer. */
static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

size_t kpin_request_check(const struct kpin_request *r, const char *what,
			  struct kpin_buf *problems)
{
	static const enum kpin_grammar g[] = {
		[1] = KPIN_GRAMMAR_KEY, [2] = KPIN_GRAMMAR_SEGMENT,
		[3] = KPIN_GRAMMAR_SEGMENT, [4] = KPIN_GRAMMAR_DIGEST,
		[5] = KPIN_GRAMMAR_TAG,
	};
	size_t i, n = 0;

	for (i = 0; i < NFIELDS; i++) {
		const char *v = *cslot(r, &fields[i]);
		const char *at = r->origin[i] ? r->origin[i] : what;

		if (!v) {
			if (fields[i].required) {
				kpin_buf_addf(problems, "%s: field '%s' is "
					      "missing\n", at, fields[i].name);
				n++;
			}
			continue;
		}
		if (!*v) {
			kpin_buf_addf(problems, "%s: field '%s' is empty\n", at,
				      fields[i].name);
			n++;
		} else if (i >= 1 && i <= 5) {
			if (kpin_grammar_check(g[i], fields[i].name, v)) {
				kpin_buf_addf(problems, "%s: field '%s': %s\n",
					      at, fields[i].name,
					      kpin_error_last()->message);
				n++;
			}
		} else if (!printable(v) || strlen(v) > 256) {
			kpin_buf_addf(problems, "%s: field '%s' must be at most "
				      "256 printable characters\n", at,
				      fields[i].name);
			n++;
		}
	}
	return n;
}

/*
 * Append one element of a batch to the array: the request its payload
 * (an event's or a bare one) makes, or, when that cannot be read, an
 * element whose @error says why. @where names it ("b.json:3").
 */
static void batch_add(struct kpin_request **v, size_t *n, struct fy_node *el,
		      const char *where, const char *file, size_t line0)
{
	struct fy_node *p = el ? payload_of(el, where) : NULL;
	struct kpin_request r;

	memset(&r, 0, sizeof(r));
	if (!p || fill_from(&r, p, file, line0)) {
		kpin_request_release(&r);
		r.error = xstrdup(kpin_error_last()->message);
	}
	r.where = xstrdup(where);
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = r;
}

int kpin_request_batch(struct kpin_request **out, size_t *n, const char *buf,
		       size_t len, const char *origin)
{
	struct kpin_request *v = NULL;
	struct kpin_yaml *y;
	struct fy_node *root;
	char where[512];
	size_t i = 0, lineno = 0;

	*out = NULL;
	*n = 0;
	while (i < len && strchr(" \t\r\n", buf[i]))
		i++;
	if (i < len && buf[i] == '[') {
		struct fy_node *item;
		size_t *lines = NULL, nlines = 0, k = 0;
		void *iter = NULL;

		y = parse_json(&root, buf, len, origin, &lines, &nlines);
		if (!y) {
			free(lines);
			return kpin_error_last()->code;
		}
		while ((item = fy_node_sequence_iterate(root, &iter)) != NULL) {
			snprintf(where, sizeof(where), "%s:%zu", origin,
				 k < nlines ? lines[k] : 1);
			k++;
			batch_add(&v, n, item, where, origin, 0);
		}
		kpin_yaml_close(y);
		free(lines);
	} else {
		/* JSON lines: one payload per non-empty line */
		for (i = 0; i < len;) {
			const char *nl = memchr(buf + i, '\n', len - i);
			size_t end = nl ? (size_t)(nl - buf) : len, j = i;

			lineno++;
			while (j < end && strchr(" \t\r", buf[j]))
				j++;
			if (j < end) {
				snprintf(where, sizeof(where), "%s:%zu", origin,
					 lineno);
				y = parse_json(&root, buf + i, end - i, where,
					       NULL, NULL);
				batch_add(&v, n, root, where, origin, lineno);
				kpin_yaml_close(y);
			}
			i = end + 1;
		}
	}
	*out = v;
	if (!*n)
		return kpin_error_set(KPIN_EINVALID, "%s: the batch is empty",
				      origin);
	return 0;
}
