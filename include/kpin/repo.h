/*
 * The repository engine: read overlays from a branch tip, run the edit
 * core, write blob -> tree -> commit straight into the object database
 * and move the branch by compare-and-swap; keep a checked-out branch's
 * index and worktree in step. Works on bare repositories and needs no
 * checkout. libgit2 only. Included by the CLI and by remote.
 */
#ifndef KPIN_REPO_H
#define KPIN_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "kust.h"
#include "policy.h"

struct kpin_repo;
struct kpin_signer;

#define KPIN_ROOT_DEFAULT ".platform/kubernetes"
#define KPIN_RETRIES_DEFAULT 10
#define KPIN_TIMEOUT_DEFAULT 120	/* seconds a network operation may stall */

/*
 * struct kpin_origin - Where one change's image came from
 * @source_repository: the repository it was built from, or NULL
 * @release: the release it belongs to, or NULL
 */
struct kpin_origin {
	const char *source_repository;
	const char *release;
};

/*
 * struct kpin_target - The changes to make in one overlay
 * @app: the directory name under the root (one safe path segment)
 * @env: the environment directory under overlays/ (one safe segment)
 * @changes: what to set, one per image
 * @nchanges: how many
 * @origins: per change, where its image came from, or NULL (then
 *           struct kpin_meta's source_repository and release apply)
 * @flags: enum kpin_kust_edit_flags (KPIN_KUST_CREATE)
 * @file: out: the repository-relative path that was (or would be) edited
 * @old: out: per change, what the entry pinned before (NULL members when
 *       the entry did not exist)
 * @changed: out: whether this file changed
 */
struct kpin_target {
	const char *app;
	const char *env;
	const struct kpin_change *changes;
	size_t nchanges;
	const struct kpin_origin *origins;
	unsigned flags;
	char *file;
	struct kpin_pin *old;
	bool changed;
};

/* kpin_target_release() - Free what the engine filled in. */
void kpin_target_release(struct kpin_target *t);

/*
 * struct kpin_meta - What the commit message records besides the change
 * @subject: replaces the generated subject line (--message), or NULL
 * @source_repository: the repository the image was built from
 * @promoted_by: who promoted it
 * @release: a release name, or NULL
 * @reason: why (--reason): a Reason trailer, and the reason recorded in
 *          a Policy-Override trailer
 * @run: the CI run that made the commit (a URL), or NULL
 * @trailers: extra "Key: value" trailers, in order
 * @ntrailers: how many
 */
struct kpin_meta {
	const char *subject;
	const char *source_repository;
	const char *promoted_by;
	const char *release;
	const char *reason;
	const char *run;
	const char *const *trailers;
	size_t ntrailers;
};

/*
 * kpin_message_build() - The commit message for a set of targets
 * @out: receives subject, blank line, body and trailers
 * @targets: with @old filled in (only changed ones are described)
 * @n: how many
 * @meta: the extra facts, may be NULL
 *
 * One change: "app/env: set image to sha256:3f1c2a9b0d4e". Several:
 * "kpin: apply N updates" and one body line per change. Trailers: per
 * change a group Image, Digest, Environment (and Tag); then
 * Source-Repository and Release, once when every change shares the value,
 * else inside each change's group as "VALUE (for APP/ENV IMAGE)" so that
 * each trailer names its target; then Promoted-By, Reason, Run and
 * @meta's trailers.
 */
void kpin_message_build(struct kpin_buf *out,
			const struct kpin_target *targets, size_t n,
			const struct kpin_meta *meta);

/*
 * kpin_hook_fn - For tests: called with the attempt number before each
 * CAS, or after an attempt read the local tip (under index.lock).
 */
typedef void (*kpin_hook_fn)(struct kpin_repo *repo, int attempt, void *arg);

/*
 * struct kpin_repo_opts - How to commit
 * @branch: branch name (without refs/heads/); NULL: the branch HEAD names
 * @root: overlay root inside the repository (default KPIN_ROOT_DEFAULT)
 * @author_name: author and committer name
 * @author_email: author and committer email
 * @meta: what the message records
 * @retries: how many times to re-read and retry after losing a race
 * @max_size: refuse overlay blobs larger than this (0: the default)
 * @dry_run: do everything but write objects and move refs
 * @push_remote: push to this remote (a name, URL or path): fetch its
 *               branch first, build on its tip, push fast-forward only,
 *               retry on rejection; NULL for a local commit only
 * @token_env: the variable holding the push token (NULL: KPIN_TOKEN,
 *             then GITHUB_TOKEN)
 * @timeout: give up a fetch or push that has made no progress for this
 *           many seconds, without retrying (0: KPIN_TIMEOUT_DEFAULT;
 *           negative: no bound)
 * @policy: the promotion policy to enforce, or NULL
 * @force: let requests the policy refuses pass, recording a
 *         Policy-Override trailer (with @meta's reason)
 * @signer: sign each commit (every attempt afresh), or NULL
 * @before_cas: test hook
 * @after_read: test hook
 * @hook_arg: their argument
 */
struct kpin_repo_opts {
	const char *branch;
	const char *root;
	const char *author_name;
	const char *author_email;
	const struct kpin_meta *meta;
	int retries;
	size_t max_size;
	bool dry_run;
	const char *push_remote;
	const char *token_env;
	int timeout;
	const struct kpin_policy *policy;
	bool force;
	struct kpin_signer *signer;
	kpin_hook_fn before_cas;
	kpin_hook_fn after_read;
	void *hook_arg;
};

/*
 * struct kpin_repo_result - What happened
 * @commit: the new commit's id in hex, "" when nothing was committed
 * @parent: the commit it was built on, in hex
 * @branch: the branch's full ref name
 * @message: the commit message (also for dry runs)
 * @diff: for dry runs, a unified diff of every changed file
 * @attempts: how many attempts the CAS loop needed
 * @synced: whether the checkout's index and worktree were updated
 * @remote_url: the remote pushed to, redacted ("" without --push)
 * @local_moved: pushed, but something other than kpin moved the local
 *               branch meanwhile; it and its checkout were left alone
 * @notes: lines for the user: what was repaired after a killed kpin
 */
struct kpin_repo_result {
	char commit[41];
	char parent[41];
	char *branch;
	struct kpin_buf message;
	struct kpin_buf diff;
	int attempts;
	bool synced;
	char remote_url[512];
	bool local_moved;
	struct kpin_buf notes;
};

void kpin_repo_result_release(struct kpin_repo_result *res);

/*
 * kpin_repo_open() - Open the repository containing @path
 * @out: receives the repository
 * @path: a directory inside it (bare or not); "." for the current one
 *
 * Returns: 0, KPIN_ENOTFOUND (no repository) or KPIN_ERROR.
 */
int kpin_repo_open(struct kpin_repo **out, const char *path);
void kpin_repo_free(struct kpin_repo *repo);
bool kpin_repo_is_bare(const struct kpin_repo *repo);

/*
 * kpin_repo_default_identity() - Who commits, when no --author is given
 * @name: receives the name
 * @email: receives the email
 * @repo: the repository, for user.name and user.email
 * @actor: the value of GITHUB_ACTOR, or NULL
 * @actor_id: the value of GITHUB_ACTOR_ID (digits), or NULL
 *
 * Git config first; else "<actor> <<actor_id>+<actor>@users.noreply.
 * github.com>", GitHub's noreply address, which links the commit to the
 * account (without @actor_id: "<actor>@users.noreply.github.com").
 *
 * Returns: 0 or KPIN_ENOTFOUND (message says what to set).
 */
int kpin_repo_default_identity(struct kpin_buf *name, struct kpin_buf *email,
			       struct kpin_repo *repo, const char *actor,
			       const char *actor_id);

/*
 * kpin_repo_parse_ident() - Split "Name <email>"
 *
 * Returns: 0 or KPIN_EINVALID.
 */
int kpin_repo_parse_ident(struct kpin_buf *name, struct kpin_buf *email,
			  const char *ident);

/*
 * kpin_repo_update() - Apply @targets as one commit on a branch
 * @repo: the repository
 * @targets: one per overlay file; two targets naming one file are merged
 * @n: how many
 * @o: options
 * @res: what happened
 *
 * Reads each overlay from the branch tip (never from the worktree),
 * refusing unsafe paths (a segment that is not a plain name, a symlink or
 * submodule on the way), more than one kustomization file in a directory,
 * and, in a checkout of that branch, an overlay with staged or unstaged
 * changes. Edits with kpin_kust_edit(), writes blobs, one tree and one
 * commit whose only changes are those files, and moves the branch with
 * git_reference_create_matching() against the tip it read. When another
 * writer won (the branch moved or its lock is held) it re-reads and
 * re-edits, with jittered backoff, up to @o->retries times. Writers that
 * are kpin serialise on a lock file in the git directory, so they do not
 * race each other at all. After the move, a checkout of that branch gets
 * the new file in its index and worktree; other changes there are kept.
 *
 * Returns: 0 (committed, or dry run), KPIN_EUNCHANGED (every change was
 * already in place: nothing committed), KPIN_EMODIFIED (retries ran out),
 * KPIN_EINVALID, KPIN_ENOTFOUND, KPIN_EAMBIGUOUS, KPIN_EVERIFY or
 * KPIN_ERROR. On any error nothing is changed.
 */
int kpin_repo_update(struct kpin_repo *repo, struct kpin_target *targets,
		     size_t n, const struct kpin_repo_opts *o,
		     struct kpin_repo_result *res);

/*
 * kpin_repo_fetch_view() - Read a branch as a remote has it
 * @repo: the repository
 * @branch: branch name, NULL for HEAD's branch
 * @remote: a configured remote's name, or a URL or path
 * @token_env: as for kpin_remote_open()
 * @track: update the remote-tracking ref (false for dry runs)
 * @retries: how many times to retry after a network error
 * @timeout: as in struct kpin_repo_opts
 *
 * Fetches @branch from @remote; from then on kpin_repo_read_file(),
 * kpin_repo_overlay_path() and kpin_repo_history() read that branch at
 * the remote's tip instead of the local one, so that a stale clone about
 * to push reads the policy and a promotion's source as the remote has
 * them. kpin_repo_update() is unaffected: it fetches on every attempt.
 *
 * Returns: as kpin_remote_fetch().
 */
int kpin_repo_fetch_view(struct kpin_repo *repo, const char *branch,
			 const char *remote, const char *token_env, bool track,
			 int retries, int timeout);

/*
 * kpin_repo_read_file() - Read a file at a branch tip
 * @out: its bytes
 * @repo: the repository
 * @branch: branch name, NULL for HEAD's branch
 * @path: repository-relative path
 * @max: size cap
 *
 * Returns: 0, KPIN_ENOTFOUND or KPIN_EINVALID (not a regular file, too
 * large).
 */
int kpin_repo_read_file(struct kpin_buf *out, struct kpin_repo *repo,
			const char *branch, const char *path, size_t max);

/*
 * kpin_repo_overlay_path() - Resolve app and env to a file at the tip
 * @out: receives the repository-relative path
 * @repo: the repository
 * @branch: branch name, NULL for HEAD's branch
 * @root: the overlay root
 * @app: directory name
 * @env: environment
 *
 * Returns: 0, KPIN_EINVALID (unsafe names or path, two kustomization
 * files) or KPIN_ENOTFOUND.
 */
int kpin_repo_overlay_path(struct kpin_buf *out, struct kpin_repo *repo,
			   const char *branch, const char *root,
			   const char *app, const char *env);

/*
 * Per-change attribution in a batch commit's trailers: "Source-Repository:
 * VALUE (for APP/ENV IMAGE)". A value without it applies to every change.
 */
#define KPIN_TRAILER_FOR "(for "

/*
 * struct kpin_history_entry - A commit that changed what an image pins
 * @commit: its id in hex
 * @time: commit time, seconds since the epoch
 * @depth: first-parent commits from the branch tip (0: the tip), which
 *	orders entries of different overlays of one branch
 * @author: "Name <email>"
 * @subject: the first line of its message
 * @app: the overlay's app
 * @env: the overlay's environment
 * @image: the entry's name
 * @pin: what the entry pinned after this commit (NULL members: nothing)
 * @promoted_by: the Promoted-By trailer, or NULL
 * @source_repository: the Source-Repository trailer for this change, or
 *                     NULL (also when an old-format batch commit lists
 *                     several without saying which is whose)
 * @release: the Release trailer for this change, or NULL
 * @promoted_from: the Promoted-From trailer (the source environment)
 * @rollback_from: the Rollback-From trailer (the digest rolled back)
 * @rollback_to: the Rollback-To trailer
 * @reason: the Reason trailer
 * @run: the Run trailer (the CI run's URL)
 * @overrides: the Policy-Override trailers about this change (or naming
 *             no change), in order
 * @noverrides: how many
 * @trailers: every other trailer, "Key: value", in order (--trailer's)
 * @ntrailers: how many
 */
struct kpin_history_entry {
	char commit[41];
	long long time;
	size_t depth;
	char *author;
	char *subject;
	char *app;
	char *env;
	char *image;
	struct kpin_pin pin;
	char *promoted_by;
	char *source_repository;
	char *release;
	char *promoted_from;
	char *rollback_from;
	char *rollback_to;
	char *reason;
	char *run;
	char **overrides;
	size_t noverrides;
	char **trailers;
	size_t ntrailers;
};

/*
 * kpin_message_read() - Fill @e's trailer fields from a commit message
 * @e: with @app, @env and @image set; the trailer fields must be NULL
 * @msg: the whole commit message
 *
 * Reads the trailers as git does (git_message_trailers) and keeps those
 * about @e's change: per-change values ("... (for APP/ENV IMAGE)") of
 * its own target, else a value that names no target when it is the only
 * one. Free with kpin_history_free().
 */
void kpin_message_read(struct kpin_history_entry *e, const char *msg);

/*
 * kpin_repo_history() - Where an overlay's images changed
 * @out: receives the entries, newest first
 * @n: how many
 * @repo: the repository
 * @branch: branch name, NULL for HEAD's branch
 * @root: overlay root
 * @app: directory name
 * @env: environment
 * @image: only this image, or NULL for all
 * @max: stop after this many entries (0: all)
 *
 * Walks the branch's first-parent history from its tip and reads the
 * overlay at each commit, so hand edits and merges count as well as
 * kpin's own commits. A commit is listed for an image when the entry's
 * digest or tag differs from the commit before it (or the entry is new).
 *
 * Returns: 0, KPIN_EINVALID (unsafe names) or KPIN_ERROR.
 */
int kpin_repo_history(struct kpin_history_entry **out, size_t *n,
		      struct kpin_repo *repo, const char *branch,
		      const char *root, const char *app, const char *env,
		      const char *image, size_t max);

void kpin_history_free(struct kpin_history_entry *v, size_t n);

/* kpin_repo_git() - The underlying git_repository, for remote and tests. */
struct git_repository *kpin_repo_git(struct kpin_repo *repo);

/*
 * kpin_repo_branch_ref() - The full ref name for @branch (or HEAD's)
 *
 * Returns: 0, KPIN_EINVALID (detached HEAD, not a branch) or
 * KPIN_ENOTFOUND.
 */
int kpin_repo_branch_ref(struct kpin_buf *out, struct kpin_repo *repo,
			 const char *branch);

#endif
