/*
 * The rules of "kpin check": findings about one kustomization's bytes
 * (syntax, duplicate keys and names, digests, tags YAML would retype,
 * names carrying tags) and about a directory's file names. No I/O.
 * Included by the CLI.
 */
#ifndef KPIN_CHECK_H
#define KPIN_CHECK_H

#include <stdbool.h>
#include <stddef.h>

enum kpin_severity {
	KPIN_SEV_ERROR,
	KPIN_SEV_WARNING
};

/*
 * struct kpin_finding - One problem
 * @file: the path as given (owned)
 * @line: 1-based line
 * @col: 1-based column
 * @severity: enum kpin_severity
 * @rule: static rule id, as documented in kpin-check(1)
 * @message: what is wrong (owned)
 */
struct kpin_finding {
	char *file;
	int line;
	int col;
	int severity;
	const char *rule;
	char *message;
};

struct kpin_findings {
	struct kpin_finding *v;
	size_t n;
	size_t alloc;
};

/*
 * struct kpin_check_opts - What to check besides the rules that always apply
 * @strict: warn about unknown top-level fields and unknown keys of images
 *          entries
 * @require_digest: every images entry must pin a digest
 */
struct kpin_check_opts {
	bool strict;
	bool require_digest;
};

/*
 * struct kpin_rule - A rule, for documentation and --list-rules
 * @id: the rule id
 * @severity: its default severity
 * @summary: one line
 */
struct kpin_rule {
	const char *id;
	int severity;
	const char *summary;
};

/* kpin_check_rules() - Every rule, NULL-terminated by id. */
const struct kpin_rule *kpin_check_rules(void);

/*
 * kpin_check_bytes() - Check one kustomization file's contents
 * @out: findings are appended here
 * @file: the path to report
 * @buf: the bytes
 * @len: their length
 * @o: options
 */
void kpin_check_bytes(struct kpin_findings *out, const char *file,
		      const char *buf, size_t len,
		      const struct kpin_check_opts *o);

/*
 * kpin_check_env_of() - The environment an overlay path belongs to
 * @path: ".../overlays/<env>/kustomization.yaml"
 * @env: receives <env>, NUL-terminated
 * @size: room in @env
 *
 * Returns: true when the path has an overlays/<env>/ part.
 */
bool kpin_check_env_of(const char *path, char *env, size_t size);

void kpin_findings_add(struct kpin_findings *f, const char *file, int line,
		       int col, int severity, const char *rule,
		       const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* kpin_findings_sort() - Order by file, line, column. */
void kpin_findings_sort(struct kpin_findings *f);
void kpin_findings_release(struct kpin_findings *f);

#endif
