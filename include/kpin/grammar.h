/*
 * Validators: PCRE2 patterns compiled once per process (JIT when
 * available), each input length-checked before matching. Knows nothing
 * about YAML files or git. Included by kust, request, overlay, check and the
 * CLI.
 */
#ifndef KPIN_GRAMMAR_H
#define KPIN_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>

enum kpin_grammar {
	KPIN_GRAMMAR_DIGEST,	/* sha256:<64 hex> or sha512:<128 hex>, lowercase */
	KPIN_GRAMMAR_DIGEST_OCI,	/* the general OCI algorithm:encoded grammar */
	KPIN_GRAMMAR_TAG,	/* [\w][\w.-]{0,127} */
	KPIN_GRAMMAR_NAME,	/* distribution reference name, at most 255 */
	KPIN_GRAMMAR_KEY,	/* an images[].name to look up: no control char or line break */
	KPIN_GRAMMAR_SEGMENT,	/* one safe path segment: app or environment */
	KPIN_GRAMMAR_NONSTRING,	/* a plain scalar YAML 1.1 or 1.2 reads as non-string */
	KPIN_GRAMMAR__COUNT
};

/*
 * kpin_grammar_match() - Does @s match grammar @g exactly?
 * @g: which grammar
 * @s: the subject, need not be NUL-terminated
 * @len: its length
 *
 * Returns: 1 on a match, 0 on none, KPIN_ERROR when PCRE2 itself failed
 * (message set).
 */
int kpin_grammar_match(enum kpin_grammar g, const char *s, size_t len);

/*
 * kpin_grammar_check() - Validate @s, stating the rule when it fails
 * @g: which grammar
 * @what: the noun used in the message ("digest", "--tag", "environment")
 * @s: NUL-terminated subject
 *
 * Returns: 0, KPIN_EINVALID with a message that quotes @s and states the
 * rule, or KPIN_ERROR.
 */
int kpin_grammar_check(enum kpin_grammar g, const char *what, const char *s);

/*
 * kpin_grammar_check_path() - Validate a relative directory path
 * @what: the noun for the message ("root")
 * @path: "a/b/c": segments of the SEGMENT grammar, no empty segment, not
 *        absolute, no trailing slash
 *
 * Returns: 0 or KPIN_EINVALID.
 */
int kpin_grammar_check_path(const char *what, const char *path);

/*
 * kpin_grammar_plain_is_string() - Would a plain scalar @s load as a string?
 *
 * False for what YAML 1.1 or 1.2 resolves to null, bool, int, float or (1.1)
 * a timestamp: "1.10", "0e5", "yes", "~", "" and the like.
 */
bool kpin_grammar_plain_is_string(const char *s, size_t len);

/* kpin_grammar_cleanup() - Free the compiled patterns (for leak checkers). */
void kpin_grammar_cleanup(void);

#endif
