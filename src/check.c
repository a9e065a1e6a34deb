/*
 * kpin check's rules. The edit core opens the file leniently, which
 * reports structural problems (duplicate keys, a malformed images list,
 * entries without names...) as diagnostics with rule ids; the rules here
 * add what only a checker cares about: digests that are not registered
 * digests or that YAML would not read as strings, digests in newTag,
 * newTag values YAML would retype, names that carry a tag or digest,
 * duplicate names, and (on request) unknown fields and missing digests.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kpin/buf.h"
#include "kpin/check.h"
#include "kpin/error.h"
#include "kpin/grammar.h"
#include "kpin/image.h"
#include "kpin/kust.h"
#include "kpin/xalloc.h"

static const struct kpin_rule rules[] = {
	{ "yaml-syntax", KPIN_SEV_ERROR, "the file is not valid YAML (or not "
	  "UTF-8 text)" },
	{ "multiple-documents", KPIN_SEV_ERROR, "the file holds more than "
	  "one YAML document" },
	{ "root-not-mapping", KPIN_SEV_ERROR, "the root is not a mapping" },
	{ "duplicate-key", KPIN_SEV_ERROR, "a mapping has the same key "
	  "twice" },
	{ "unsupported-key", KPIN_SEV_ERROR, "a mapping key is a collection "
	  "or an alias" },
	{ "images-not-sequence", KPIN_SEV_ERROR, "images is not a sequence of "
	  "mappings" },
	{ "images-alias", KPIN_SEV_ERROR, "images is an alias or anchored" },
	{ "entry-alias", KPIN_SEV_ERROR, "an images entry is an alias" },
	{ "merge-key", KPIN_SEV_ERROR, "an images entry uses a merge key" },
	{ "entry-without-name", KPIN_SEV_ERROR, "an images entry has no "
	  "name" },
	{ "name-not-string", KPIN_SEV_ERROR, "an entry's name is empty or not "
	  "a string" },
	{ "duplicate-name", KPIN_SEV_ERROR, "two images entries have the same "
	  "name" },
	{ "digest-format", KPIN_SEV_ERROR, "a digest is not sha256: with 64 "
	  "or sha512: with 128 lowercase hex digits" },
	{ "digest-not-string", KPIN_SEV_ERROR, "a plain digest YAML reads as "
	  "a number, boolean or null" },
	{ "digest-in-newtag", KPIN_SEV_ERROR, "newTag holds a digest instead "
	  "of a tag" },
	{ "newtag-digest-conflict", KPIN_SEV_ERROR, "newTag holds tag@digest "
	  "and the entry has a digest key too" },
	{ "newtag-not-string", KPIN_SEV_ERROR, "a plain newTag YAML 1.1 or "
	  "1.2 reads as a number, boolean or null" },
	{ "name-with-tag", KPIN_SEV_ERROR, "name holds a tag or digest, which "
	  "kustomize never matches" },
	{ "multiple-kustomizations", KPIN_SEV_ERROR, "a directory has more "
	  "than one kustomization file" },
	{ "policy", KPIN_SEV_ERROR, "the policy file .kpin.yaml, named as a "
	  "path, is invalid" },
	{ "unreadable", KPIN_SEV_ERROR, "the file cannot be read, or is over "
	  "the size limit" },
	{ "missing-digest", KPIN_SEV_ERROR, "an entry pins no digest where "
	  "digests are required" },
	{ "unknown-entry-key", KPIN_SEV_ERROR, "an images entry has a key "
	  "kustomize refuses (a typo such as newTagg)" },
	{ "entry-key-case", KPIN_SEV_WARNING, "an images entry key differs "
	  "from a field only in case (newtag): kustomize reads it, kpin does "
	  "not" },
	{ "name-not-reference", KPIN_SEV_WARNING, "an entry's name is not an "
	  "image reference (kustomize still matches it as text)" },
	{ "unknown-field", KPIN_SEV_WARNING, "a top-level field kustomize "
	  "does not know (--strict)" },
	{ NULL, 0, NULL }
};

const struct kpin_rule *kpin_check_rules(void)
{
	return rules;
}

/* Kustomization fields (kustomize api/types/kustomization.go). */
static const char *const known_fields[] = {
	"apiVersion", "kind", "metadata", "openapi", "namePrefix",
	"nameSuffix", "namespace", "commonLabels", "labels",
	"commonAnnotations", "patchesStrategicMerge", "patchesJson6902",
	"patches", "images", "imageTags", "replacements", "replicas", "vars",
	"sortOptions", "resources", "components", "crds", "bases",
	"configMapGenerator", "secretGenerator", "helmGlobals", "helmCharts",
	"helmChartInflationGenerator", "generatorOptions", "configurations",
	"generators", "transformers", "validators", "buildMetadata", NULL
};

/*
 * The keys of an images entry (kustomize api/types/image.go). kustomize
 * decodes the entry as JSON into that struct, refusing unknown fields but
 * matching field names without regard to case.
 */
static const char *const entry_keys[] = {
	"name", "newName", "newTag", "digest", "tagSuffix", NULL
};

static bool known(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (!strcmp(*list, name))
			return true;
	return false;
}

void kpin_findings_add(struct kpin_findings *f, const char *file, int line,
		       int col, int severity, const char *rule,
		       const char *fmt, ...)
{
	struct kpin_finding *x;
	struct kpin_buf msg = KPIN_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	kpin_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	ALLOC_GROW(f->v, f->n + 1, f->alloc);
	x = &f->v[f->n++];
	x->file = xstrdup(file);
	x->line = line > 0 ? line : 1;
	x->col = col > 0 ? col : 1;
	x->severity = severity;
	x->rule = rule;
	x->message = kpin_buf_detach(&msg, NULL);
}

static int by_position(const void *a, const void *b)
{
	const struct kpin_finding *x = a, *y = b;
	int c = strcmp(x->file, y->file);

	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return strcmp(x->rule, y->rule);
}

void kpin_findings_sort(struct kpin_findings *f)
{
	if (f->n > 1)
		qsort(f->v, f->n, sizeof(*f->v), by_position);
}

void kpin_findings_release(struct kpin_findings *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->v[i].file);
		free(f->v[i].message);
	}
	free(f->v);
	f->v = NULL;
	f->n = f->alloc = 0;
}

bool kpin_check_env_of(const char *path, char *env, size_t size)
{
	const char *p = path, *hit = NULL, *end;

	/* the last "overlays/<env>/" part of the path */
	while ((p = strstr(p, "overlays/")) != NULL) {
		if (p == path || p[-1] == '/')
			hit = p + 9;
		p += 9;
	}
	if (!hit || !(end = strchr(hit, '/')) || end == hit ||
	    (size_t)(end - hit) >= size)
		return false;
	memcpy(env, hit, (size_t)(end - hit));
	env[end - hit] = '\0';
	return true;
}

/* What value is this, for messages: at most 80 bytes, quoted. */
static const char *shown(const struct kpin_field *f, char *tmp, size_t size)
{
	snprintf(tmp, size, "'%.*s%s'", f->len > 76 ? 76 : (int)f->len,
		 f->value, f->len > 76 ? "..." : "");
	return tmp;
}

static void check_digest(struct kpin_findings *out, const char *file,
			 const struct kpin_image *img)
{
	const struct kpin_field *d = &img->digest;
	char tmp[96];

	if (d->style == KPIN_STYLE_NONE)
		return;
	if (d->style == KPIN_STYLE_NULL) {
		kpin_findings_add(out, file, d->line, d->col, KPIN_SEV_ERROR,
				  "digest-format", "digest of image '%s' is "
				  "empty", img->name.value);
		return;
	}
	if (!d->value)
		return;	/* an alias or collection: reported structurally */
	if (d->style == KPIN_STYLE_PLAIN &&
	    !kpin_grammar_plain_is_string(d->value, d->len)) {
		kpin_findings_add(out, file, d->line, d->col, KPIN_SEV_ERROR,
				  "digest-not-string", "digest %s of image '%s' "
				  "is read by YAML as a number, boolean or "
				  "null, not a string", shown(d, tmp,
				  sizeof(tmp)), img->name.value);
		return;
	}
	if (kpin_grammar_check(KPIN_GRAMMAR_DIGEST, "digest", d->value))
		kpin_findings_add(out, file, d->line, d->col, KPIN_SEV_ERROR,
				  "digest-format", "image '%s': %s",
				  img->name.value, kpin_error_last()->message);
}

static void check_new_tag(struct kpin_findings *out, const char *file,
			  const struct kpin_image *img)
{
	const struct kpin_field *t = &img->new_tag;
	const char *at;
	char tmp[96];

	if (!t->value || t->style == KPIN_STYLE_NULL)
		return;
	at = strchr(t->value, '@');
	if (t->value[0] == '@' ||
	    (strchr(t->value, ':') &&
	     kpin_grammar_match(KPIN_GRAMMAR_DIGEST_OCI, t->value,
				t->len) == 1)) {
		kpin_findings_add(out, file, t->line, t->col, KPIN_SEV_ERROR,
				  "digest-in-newtag", "newTag of image '%s' is "
				  "%s, a digest; put it under digest:",
				  img->name.value, shown(t, tmp, sizeof(tmp)));
		return;
	}
	if (at && img->digest.style != KPIN_STYLE_NONE) {
		kpin_findings_add(out, file, t->line, t->col, KPIN_SEV_ERROR,
				  "newtag-digest-conflict", "newTag of image '%s' "
				  "holds tag@digest and the entry has a digest "
				  "key too; keep one", img->name.value);
		return;
	}
	if (at && kpin_grammar_check(KPIN_GRAMMAR_DIGEST, "digest in newTag",
				     at + 1)) {
		kpin_findings_add(out, file, t->line, t->col, KPIN_SEV_ERROR,
				  "digest-format", "image '%s': %s",
				  img->name.value, kpin_error_last()->message);
		return;
	}
	if (t->style == KPIN_STYLE_PLAIN &&
	    !kpin_grammar_plain_is_string(t->value, t->len))
		kpin_findings_add(out, file, t->line, t->col, KPIN_SEV_ERROR,
				  "newtag-not-string", "newTag %s of image '%s' "
				  "is read by YAML 1.1 or 1.2 as a number, "
				  "boolean or null; quote it", shown(t, tmp,
				  sizeof(tmp)), img->name.value);
}

static void check_name(struct kpin_findings *out, const char *file,
		       const struct kpin_image *img)
{
	struct kpin_imageref ref;

	if (!img->name.value)
		return;
	kpin_image_split(&ref, img->name.value, img->name.len);
	if (ref.tag.len || ref.digest.len)
		kpin_findings_add(out, file, img->name.line, img->name.col,
				  KPIN_SEV_ERROR, "name-with-tag", "name '%s' "
				  "holds a %s; kustomize matches names without "
				  "tag or digest (use newTag or digest)",
				  img->name.value, ref.digest.len ? "digest" :
				  "tag");
	else if (img->name.len && kpin_grammar_match(KPIN_GRAMMAR_NAME,
						     img->name.value,
						     img->name.len) == 0)
		kpin_findings_add(out, file, img->name.line, img->name.col,
				  KPIN_SEV_WARNING, "name-not-reference",
				  "name '%s' is not an image reference; "
				  "kustomize matches it only where a container "
				  "image is exactly that text", img->name.value);
}

/*
 * The keys of entry @img that are not its fields: kustomize refuses an
 * unknown key, and reads one that differs from a field only in case as
 * that field, which kpin does not.
 */
static void check_entry_keys(struct kpin_findings *out, const char *file,
			     const struct kpin_image *img)
{
	size_t j, f;

	for (j = 0; j < img->nother; j++) {
		const struct kpin_key *key = &img->other[j];

		if (!*key->name || !strcmp(key->name, "<<") ||
		    known(entry_keys, key->name))
			continue;	/* empty and merge keys: structurally */
		for (f = 0; entry_keys[f]; f++)
			if (!strcasecmp(entry_keys[f], key->name))
				break;
		if (entry_keys[f])
			kpin_findings_add(out, file, key->line, key->col,
					  KPIN_SEV_WARNING, "entry-key-case",
					  "images entry '%s' has key '%s': "
					  "kustomize reads it as %s (it "
					  "ignores case), kpin does not; "
					  "spell it %s", img->name.value,
					  key->name, entry_keys[f],
					  entry_keys[f]);
		else
			kpin_findings_add(out, file, key->line, key->col,
					  KPIN_SEV_ERROR, "unknown-entry-key",
					  "images entry '%s' has unknown key "
					  "'%s'; kustomize refuses the file "
					  "(known: name, newName, newTag, "
					  "digest, tagSuffix)", img->name.value,
					  key->name);
	}
}

/* FNV-1a of @len bytes at @s. */
static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/*
 * The duplicate-name rule in one pass: an open-addressing table of entry
 * indexes keyed by name, so 20,000 entries cost 20,000 lookups rather
 * than 200 million comparisons.
 */
static void check_duplicates(struct kpin_findings *out, const char *file,
			     const struct kpin_kust *k)
{
	size_t n = kpin_kust_image_count(k), cap = 16, i, slot;
	size_t *table;		/* entry index + 1; 0 is empty */

	while (cap < 2 * n)
		cap *= 2;
	table = xcalloc(cap, sizeof(*table));
	for (i = 0; i < n; i++) {
		const struct kpin_image *img = kpin_kust_image(k, i);
		const struct kpin_image *prev = NULL;

		if (!img->name.value)
			continue;
		slot = hash_bytes(img->name.value, img->name.len) & (cap - 1);
		for (; table[slot]; slot = (slot + 1) & (cap - 1)) {
			prev = kpin_kust_image(k, table[slot] - 1);
			if (prev->name.len == img->name.len &&
			    !memcmp(prev->name.value, img->name.value,
				    img->name.len))
				break;
			prev = NULL;
		}
		if (!prev) {
			table[slot] = i + 1;
			continue;
		}
		kpin_findings_add(out, file, img->line, img->col,
				  KPIN_SEV_ERROR, "duplicate-name", "image '%s' "
				  "has a second entry (the first is at %d:%d); "
				  "kustomize applies both", img->name.value,
				  prev->line, prev->col);
	}
	free(table);
}

/* Map a failed open (syntax, second document) to one finding. */
static void open_failure(struct kpin_findings *out, const char *file)
{
	const struct kpin_error *e = kpin_error_last();
	const char *rule = strstr(e->message, "more than one YAML document") ?
			   "multiple-documents" :
			   strstr(e->message, "root of a kustomization") ||
			   strstr(e->message, "no YAML document") ?
			   "root-not-mapping" : "yaml-syntax";

	kpin_findings_add(out, file, e->line, e->col, KPIN_SEV_ERROR, rule,
			  "%s", e->message);
}

void kpin_check_bytes(struct kpin_findings *out, const char *file,
		      const char *buf, size_t len,
		      const struct kpin_check_opts *o)
{
	struct kpin_kust *k = NULL;
	size_t i;

	if (kpin_kust_open(&k, buf, len, KPIN_KUST_LENIENT)) {
		open_failure(out, file);
		return;
	}
	for (i = 0; i < kpin_kust_diag_count(k); i++) {
		const struct kpin_diag *d = kpin_kust_diag(k, i);

		kpin_findings_add(out, file, d->line, d->col, KPIN_SEV_ERROR,
				  d->rule, "%s", d->message);
	}
	for (i = 0; i < kpin_kust_image_count(k); i++) {
		const struct kpin_image *img = kpin_kust_image(k, i);
		size_t dlen;

		if (!img->name.value)
			continue;
		check_name(out, file, img);
		check_digest(out, file, img);
		check_new_tag(out, file, img);
		if (o->require_digest &&
		    !kpin_kust_effective_digest(img, &dlen))
			kpin_findings_add(out, file, img->line, img->col,
					  KPIN_SEV_ERROR, "missing-digest",
					  "image '%s' pins no digest",
					  img->name.value);
		check_entry_keys(out, file, img);
	}
	check_duplicates(out, file, k);
	for (i = 0; o->strict && i < kpin_kust_key_count(k); i++) {
		const struct kpin_key *key = kpin_kust_key(k, i);

		if (!known(known_fields, key->name))
			kpin_findings_add(out, file, key->line, key->col,
					  KPIN_SEV_WARNING, "unknown-field",
					  "unknown kustomization field '%s'",
					  key->name);
	}
	kpin_kust_free(k);
}
