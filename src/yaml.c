/*
 * The libfyaml adapter (src/yaml.h): every parser kpin creates is set up
 * here, quiet and collecting its diagnostics, and every workaround for
 * libfyaml 0.7.12 lives here, so that moving to another libfyaml means
 * reading one file.
 */
#include <stdlib.h>
#include <string.h>

#include "kpin/error.h"
#include "kpin/xalloc.h"
#include "yaml.h"

/*
 * The Makefile pins the one libfyaml version (LIBFYAML_VERSION) whose
 * behaviour the workarounds below were written against.
 */
#ifndef KPIN_LIBFYAML_VERSION
#error "KPIN_LIBFYAML_VERSION must be defined by the Makefile"
#endif

struct kpin_yaml {
	struct fy_parser *fyp;
	struct fy_diag *diag;
	struct fy_document *doc;	/* from kpin_yaml_load(), or NULL */
	unsigned flags;			/* enum kpin_yaml_flags */
};

/*
 * libfyaml 0.7.12 crashes in fy_parser_destroy() (fy_indent_vacuum_internal)
 * once it has reported a tab before a block entry inside an explicit key
 * ("?\n  a:\t- b"; found by fuzz-kust, testdata/kust/refuse-tab-before-
 * entry-in-explicit-key). Such a parser is kept, reachable from this list,
 * instead of destroyed: a few kilobytes for a file kpin refuses anyway,
 * rather than a crash.
 */
struct wreck {
	struct wreck *next;
	struct kpin_yaml *y;
};
static _Thread_local struct wreck *wrecks;

static bool is_wrecked(struct fy_diag *diag)
{
	void *iter = NULL;
	struct fy_diag_error *err;

	while ((err = fy_diag_errors_iterate(diag, &iter)) != NULL)
		if (err->msg && strstr(err->msg, "cannot use tab for "
				       "indentation of block entry"))
			return true;
	return false;
}

/* 0 when the libfyaml loaded is the one kpin was built for. */
static int check_version(void)
{
	const char *v = fy_library_version();

	if (v && !strcmp(v, KPIN_LIBFYAML_VERSION))
		return 0;
	return kpin_error_set(KPIN_ERROR, "libfyaml %s is loaded, but kpin "
			      "was built for libfyaml %s (its YAML workarounds "
			      "are for that version): rebuild kpin",
			      v ? v : "(unknown)", KPIN_LIBFYAML_VERSION);
}

int kpin_yaml_open(struct kpin_yaml **out, const char *buf, size_t len,
		   unsigned flags)
{
	struct kpin_yaml *y;
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg cfg;

	*out = NULL;
	if (check_version())
		return KPIN_ERROR;
	y = xcalloc(1, sizeof(*y));
	y->flags = flags;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.colorize = false;
	y->diag = fy_diag_create(&dcfg);
	if (!y->diag) {
		free(y);
		return kpin_error_set(KPIN_ERROR, "cannot create YAML diag");
	}
	fy_diag_set_collect_errors(y->diag, true);
	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = FYPCF_QUIET;
	if (flags & KPIN_YAML_JSON)
		cfg.flags |= FYPCF_JSON_FORCE;
	cfg.diag = y->diag;
	y->fyp = fy_parser_create(&cfg);
	if (!y->fyp || fy_parser_set_string(y->fyp, buf, len)) {
		kpin_yaml_close(y);
		return kpin_error_set(KPIN_ERROR, "cannot create YAML parser");
	}
	*out = y;
	return 0;
}

struct fy_parser *kpin_yaml_parser(struct kpin_yaml *y)
{
	return y->fyp;
}

int kpin_yaml_load(struct kpin_yaml *y, struct fy_node **root)
{
	*root = NULL;
	y->doc = fy_parse_load_document(y->fyp);
	if (fy_parser_get_stream_error(y->fyp) ||
	    (!y->doc && fy_diag_got_error(y->diag)))
		return kpin_yaml_error(y);
	*root = y->doc ? fy_document_root(y->doc) : NULL;
	return 0;
}

int kpin_yaml_error(struct kpin_yaml *y)
{
	void *iter = NULL;
	struct fy_diag_error *e = fy_diag_errors_iterate(y->diag, &iter);
	int line = e ? e->line : 1, col = e ? e->column : 1;
	const char *msg = e && e->msg ? e->msg : "cannot parse";

	if (y->flags & KPIN_YAML_JSON)
		return kpin_error_set_at(KPIN_EINVALID, line, col, "invalid "
					 "JSON at line %d, column %d: %s",
					 line, col, msg);
	if (!e)
		return kpin_error_set(KPIN_EINVALID, "invalid YAML");
	return kpin_error_set_at(KPIN_EINVALID, line, col, "invalid YAML: %s",
				 msg);
}

void kpin_yaml_close(struct kpin_yaml *y)
{
	struct wreck *w;

	if (!y)
		return;
	if (y->diag && is_wrecked(y->diag)) {
		w = xmalloc(sizeof(*w));
		w->y = y;
		w->next = wrecks;
		wrecks = w;
		return;
	}
	if (y->doc)
		fy_parse_document_destroy(y->fyp, y->doc);
	fy_parser_destroy(y->fyp);
	fy_diag_destroy(y->diag);
	free(y);
}

bool kpin_yaml_token_text(struct kpin_buf *out, struct fy_token *tok)
{
	struct fy_token_iter *it = tok ? fy_token_iter_create(tok) : NULL;
	const struct fy_iter_chunk *ic = NULL;
	size_t start = out->len;
	int err = 0;

	if (!it)
		return false;
	while ((ic = fy_token_iter_chunk_next(it, ic, &err)) != NULL)
		kpin_buf_add(out, ic->str, ic->len);
	fy_token_iter_destroy(it);
	if (err) {
		out->len = start;
		if (out->ptr)
			out->ptr[start] = '\0';
		return false;
	}
	kpin_buf_grow(out, 0);		/* NUL-terminated even when empty */
	out->ptr[out->len] = '\0';
	return true;
}

bool kpin_yaml_scalar(struct kpin_buf *out, struct fy_node *n)
{
	kpin_buf_reset(out);
	if (!n || fy_node_get_type(n) != FYNT_SCALAR ||
	    fy_node_get_style(n) == FYNS_ALIAS)
		return false;
	if (!kpin_yaml_token_text(out, fy_node_get_scalar_token(n))) {
		/* an empty value has no token: its text is "" */
		if (fy_node_get_scalar_token(n))
			return false;
		kpin_buf_grow(out, 0);
		out->ptr[0] = '\0';
		return true;
	}
	return !memchr(out->ptr, '\0', out->len);
}

void kpin_yaml_node_pos(struct fy_node *n, int *line, int *col)
{
	struct fy_token *t = n ? fy_node_get_scalar_token(n) : NULL;
	const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;

	*line = m ? m->line + 1 : 1;
	*col = m ? m->column + 1 : 1;
}
