/*
 * Remotes: fetch one branch, push one commit fast-forward only, supply a
 * token from the environment, and keep that token and any user info in
 * URLs out of every message. libgit2 only. Included by repo and the CLI.
 */
#ifndef KPIN_REMOTE_H
#define KPIN_REMOTE_H

#include <git2.h>
#include <stdbool.h>

#include "kpin/buf.h"

#define KPIN_TOKEN_USER "x-access-token"

struct kpin_remote;

/*
 * kpin_remote_open() - Prepare a remote for fetch and push
 * @out: receives the remote
 * @repo: the repository
 * @name: a configured remote's name, or a URL or path
 * @token_env: the environment variable holding the token; NULL means
 *             KPIN_TOKEN, then GITHUB_TOKEN
 *
 * Returns: 0, KPIN_ENOTFOUND (no such remote) or KPIN_ERROR.
 */
int kpin_remote_open(struct kpin_remote **out, git_repository *repo,
		     const char *name, const char *token_env);
void kpin_remote_free(struct kpin_remote *r);

/*
 * kpin_remote_set_timeout() - Bound each network operation
 * @r: the remote
 * @seconds: give up on a fetch or push when nothing has come or gone for
 *           this long; 0: KPIN_TIMEOUT_DEFAULT (also until set);
 *           negative: no bound
 *
 * An operation cut off fails with KPIN_ERROR, which is not retried.
 */
void kpin_remote_set_timeout(struct kpin_remote *r, int seconds);

/* kpin_remote_url() - The remote's URL with any user info redacted. */
const char *kpin_remote_url(const struct kpin_remote *r);

/*
 * kpin_remote_fetch() - Fetch one branch
 * @r: the remote
 * @branch: its name on the remote
 * @tip: receives the remote's tip
 * @track: also store it in the remote-tracking ref,
 *         refs/remotes/<name>/<branch> (refs/kpin/fetched/<branch> for a
 *         URL); without, only objects are written (for dry runs)
 *
 * Returns: 0, KPIN_ENOTFOUND (no such branch there), KPIN_EAUTH,
 * KPIN_ENETWORK (worth retrying) or KPIN_ERROR.
 */
int kpin_remote_fetch(struct kpin_remote *r, const char *branch, git_oid *tip,
		      bool track);

/*
 * kpin_remote_push() - Push @commit to @branch, fast-forward only
 *
 * Never forces. A rejection by the server arrives as a status for the
 * ref, not as an error from libgit2; any such status, whatever its
 * wording, is KPIN_EREJECTED, as is a push that is not a fast-forward.
 * A repository on this machine (a path or file:// URL) gets the missing
 * objects copied and its branch moved by compare-and-swap against the
 * fetched tip, as receive-pack would do.
 *
 * Returns: 0, KPIN_EREJECTED, KPIN_EAUTH, KPIN_ENETWORK or KPIN_ERROR.
 */
int kpin_remote_push(struct kpin_remote *r, const git_oid *commit,
		     const char *branch);

/*
 * kpin_redact() - Copy @text with secrets hidden
 * @out: receives the text
 * @text: a message or URL
 * @secret: a token to hide wherever it appears, or NULL
 *
 * User info in URLs ("https://user:pass@host") is replaced by "***".
 */
void kpin_redact(struct kpin_buf *out, const char *text, const char *secret);

#endif
