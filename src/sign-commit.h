/*
 * Writing a signed commit object with libgit2. Included by update.c.
 */
#ifndef KPIN_SIGN_COMMIT_H
#define KPIN_SIGN_COMMIT_H

#include <git2.h>

#include "kpin/sign.h"

/*
 * kpin_sign_commit_create() - git_commit_create(), signed by @signer
 * @out: the new commit's id
 * @repo: where to write it (no ref is moved)
 * @signer: the signer; NULL writes an unsigned commit
 * (the others as for git_commit_create() with one parent)
 *
 * Builds the unsigned commit with git_commit_create_buffer(), signs
 * exactly those bytes, drops the signature's final newline (libgit2
 * would otherwise end the gpgsig header with a line holding one space,
 * which git does not write) and writes it with
 * git_commit_create_with_signature(). Each call signs afresh, so a retry
 * on a new tip carries its own signature.
 *
 * Returns: 0 or a negative kpin error code (message set).
 */
int kpin_sign_commit_create(git_oid *out, git_repository *repo,
			    struct kpin_signer *signer,
			    const git_signature *sig, const char *message,
			    const git_tree *tree, const git_commit *parent);

#endif
