/*
 * Promotion requests, however they arrive: flags named like the platform
 * action's inputs, a repository_dispatch event file, a payload, stdin,
 * INPUT_* environment variables, or a batch of payloads. JSON is read
 * with libfyaml in JSON mode. Included by the CLI.
 */
#ifndef KPIN_REQUEST_H
#define KPIN_REQUEST_H

#include <stddef.h>
#include "buf.h"

#define KPIN_PAYLOAD_MAX (64u * 1024)		/* GitHub's own limit */
#define KPIN_EVENT_MAX (1024u * 1024)		/* a whole event file */
#define KPIN_BATCH_MAX (4u * 1024 * 1024)
#define KPIN_JSON_DEPTH_MAX 64			/* arrays and objects */

#define KPIN_REQUEST_FIELDS 7

/*
 * struct kpin_request - One dispatched update (all strings owned)
 * @repository: the repository the image was built from ("repository")
 * @image: "image-name"
 * @app: "directory-name"
 * @env: "environment"
 * @digest: "digest"
 * @tag: "tag", optional
 * @release: "release", optional
 * @where: for batch entries, where it came from ("b.json:3", the line
 *         the element starts on, or "b.jsonl:7"); for one request, the
 *         source its missing fields are blamed on
 * @error: for batch entries that could not be read, why (a message that
 *         starts with @where or the position of the value at fault);
 *         the fields are then all NULL
 * @origin: for each field, in the order above, where its value came
 *          from, for messages: "e.json:1:160" (file, line and column of
 *          the JSON value), "--digest", "INPUT_DIGEST"; NULL when unset
 */
struct kpin_request {
	char *repository;
	char *image;
	char *app;
	char *env;
	char *digest;
	char *tag;
	char *release;
	char *where;
	char *error;
	char *origin[KPIN_REQUEST_FIELDS];
};

void kpin_request_release(struct kpin_request *r);

/*
 * kpin_request_fill_json() - Fill the fields still unset from JSON
 * @r: the request; fields already set win (they came from a source of
 *     higher precedence)
 * @buf: a repository_dispatch event (fields under client_payload), a
 *       workflow_dispatch event (fields under inputs) or a bare payload
 *       object; exactly one JSON value, nested at most
 *       KPIN_JSON_DEPTH_MAX deep (checked before it is parsed)
 * @len: its length
 * @origin: how to name the source in messages, and the file that the
 *          fields' positions refer to ("e.json", "--payload")
 *
 * Hyphenated and underscore spellings are accepted ("image-name",
 * "image_name"). Every field read must be a JSON string.
 *
 * Returns: 0 or KPIN_EINVALID naming the field and the source, or the
 * shapes kpin reads when an event has neither client_payload nor inputs.
 */
int kpin_request_fill_json(struct kpin_request *r, const char *buf,
			   size_t len, const char *origin);

/*
 * kpin_request_fill_env() - Fill unset fields from INPUT_<NAME> variables
 *
 * As GitHub passes action inputs: INPUT_IMAGE-NAME keeps the hyphen
 * (INPUT_IMAGE_NAME is read too). Empty values count as unset.
 */
void kpin_request_fill_env(struct kpin_request *r);

/*
 * kpin_request_fill() - Fill an unset field from elsewhere (a flag)
 * @r: the request
 * @field: its JSON name ("image-name")
 * @value: the value, copied; NULL leaves the field alone
 * @origin: where it came from, for messages ("--image-name")
 */
void kpin_request_fill(struct kpin_request *r, const char *field,
		       const char *value, const char *origin);

/*
 * kpin_request_check() - Validate a complete request
 * @r: the request
 * @what: how to name it in messages when a field has no origin
 *        ("request", "batch entry 3")
 * @problems: each problem is appended as one line, after the origin of
 *            the field at fault
 *
 * Returns: the number of problems found.
 */
size_t kpin_request_check(const struct kpin_request *r, const char *what,
			  struct kpin_buf *problems);

/*
 * kpin_request_batch() - Parse a batch: a JSON array or JSON lines
 * @out: receives one request per element, in input order; an element
 *       that could not be read has its @error set
 * @n: how many
 * @buf: the batch
 * @len: its length
 * @origin: the source's name for messages
 *
 * Returns: 0 (even with unreadable elements, so that the caller can list
 * every problem at once, in input order), or KPIN_EINVALID when the
 * batch as a whole cannot be read (invalid JSON array, too deep, a second
 * value, empty batch).
 */
int kpin_request_batch(struct kpin_request **out, size_t *n, const char *buf,
		       size_t len, const char *origin);

/* kpin_request_free_all() - Release and free an array of requests. */
void kpin_request_free_all(struct kpin_request *v, size_t n);

#endif
