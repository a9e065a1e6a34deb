/*
 * What runs where: the app x environment board of a platform repository,
 * read from a branch tip, with, for every image, the commit that set its
 * pin and how it stands against the environment before it in the
 * policy's order. Included by the CLI (kpin status).
 */
#ifndef KPIN_STATUS_H
#define KPIN_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "kust.h"
#include "policy.h"
#include "repo.h"
#include "sign.h"

/*
 * enum kpin_drift - How an overlay's image stands against the previous
 * environment (the nearest earlier one, in the policy's order, whose
 * overlay of the same app has the image)
 * @KPIN_DRIFT_FIRST: there is no previous environment to compare with
 * @KPIN_DRIFT_SYNC: the same digest and tag as the previous environment
 * @KPIN_DRIFT_BEHIND: a digest the previous environment held before it
 *                     moved on: releases are pending
 * @KPIN_DRIFT_UNPROMOTED: a digest the previous environment never held:
 *                         a hotfix or a skipped stage (anomaly)
 * @KPIN_DRIFT_TAG_ONLY: no digest pinned (anomaly)
 * @KPIN_DRIFT_MISMATCH: the same digest under another tag, or the same
 *                       tag with another digest, as the previous
 *                       environment (anomaly)
 * @KPIN_DRIFT_MISSING: the app has no overlay for this environment
 *                      (anomaly)
 */
enum kpin_drift {
	KPIN_DRIFT_FIRST,
	KPIN_DRIFT_SYNC,
	KPIN_DRIFT_BEHIND,
	KPIN_DRIFT_UNPROMOTED,
	KPIN_DRIFT_TAG_ONLY,
	KPIN_DRIFT_MISMATCH,
	KPIN_DRIFT_MISSING,
};

/* kpin_drift_name() - "first", "in-sync", "behind", "unpromoted"... */
const char *kpin_drift_name(enum kpin_drift d);

/* kpin_drift_anomaly() - Is @d one that "kpin status --check" fails on? */
bool kpin_drift_anomaly(enum kpin_drift d);

/*
 * struct kpin_status_row - One image of one overlay (or a missing overlay)
 * @app: the application
 * @env: the environment
 * @image: the entry's name; NULL for a missing overlay
 * @file: the overlay's repository-relative path; NULL when missing
 * @pin: what the entry pins at the tip
 * @since_commit: the commit that set that pin, in hex
 * @since_time: its commit time
 * @since_author: its author, "Name <email>"
 * @since_by: its Promoted-By trailer, else the author's name
 * @drift: how it stands against @against
 * @against: the previous environment compared with, or NULL
 * @behind: with KPIN_DRIFT_BEHIND, how many releases (distinct digests)
 *          @against took since it held this one
 * @pending_since: with KPIN_DRIFT_BEHIND, when @against took the first
 *                 of them
 * @sig: after kpin_status_verify(), the verdict on @since_commit's
 *       signature (left "unsigned", with no key, when there is none)
 */
struct kpin_status_row {
	char *app;
	char *env;
	char *image;
	char *file;
	struct kpin_pin pin;
	char since_commit[41];
	long long since_time;
	char *since_author;
	char *since_by;
	enum kpin_drift drift;
	char *against;
	size_t behind;
	long long pending_since;
	struct kpin_sig_check sig;
};

/*
 * struct kpin_status - The board
 * @branch: the branch read, full ref name
 * @tip: its tip, in hex
 * @rows: by app (as the tree sorts them), then environment in the
 *        policy's order, then image in file order
 * @n: how many
 * @anomalies: how many rows have an anomaly
 * @truncated: the walk stopped at a commit whose parent is missing (a
 *             shallow clone): dates, "behind" and "unpromoted" only see
 *             the history down to there
 * @verified: kpin_status_verify() filled each row's @sig
 */
struct kpin_status {
	char *branch;
	char tip[41];
	struct kpin_status_row *rows;
	size_t n;
	size_t anomalies;
	bool truncated;
	bool verified;
};

/*
 * kpin_repo_status() - Read the board at a branch tip
 * @out: receives the board
 * @repo: the repository (after kpin_repo_fetch_view(), the remote's tip)
 * @branch: branch name, NULL for HEAD's branch
 * @policy: the environments and their order, and the root
 * @root: the overlay root, NULL for @policy's
 * @app: only this application, or NULL
 * @env: only rows of this environment (drift is still computed against
 *       the one before it), or NULL
 *
 * An application is a directory under the root with an overlay
 * (overlays/ENV holding one kustomization file) for at least one
 * environment of the policy. Every overlay's history comes from one
 * first-parent walk from the tip over all of them, which reads each
 * commit's tree only where it differs from the commit before.
 *
 * Returns: 0, KPIN_ENOTFOUND (no such branch, or @app is not an
 * application), KPIN_EINVALID (unsafe names) or KPIN_ERROR.
 * Release @out with kpin_status_release(), also after an error.
 */
int kpin_repo_status(struct kpin_status *out, struct kpin_repo *repo,
		     const char *branch, const struct kpin_policy *policy,
		     const char *root, const char *app, const char *env);

/*
 * kpin_status_verify() - Check the signature of each row's since_commit
 * @s: the board, from kpin_repo_status()
 * @repo: the repository it was read from
 * @allowed_signers: as for kpin_verify_commit()
 *
 * Each distinct commit is checked once, with kpin_verify_commits().
 *
 * Returns: 0 (every row's @sig is set, @s->verified), or as
 * kpin_verify_commit().
 */
int kpin_status_verify(struct kpin_status *s, struct kpin_repo *repo,
		       const char *allowed_signers);

void kpin_status_release(struct kpin_status *s);

#endif
