/*
 * Signing through ssh-agent (the agent protocol of
 * draft-miller-ssh-agent: REQUEST_IDENTITIES, SIGN_REQUEST) over the
 * Unix socket $SSH_AUTH_SOCK names. Included by sign.c and its tests.
 */
#ifndef KPIN_SSHAGENT_H
#define KPIN_SSHAGENT_H

#include <stddef.h>

#include "kpin/buf.h"

/*
 * kpin_sshagent_sign() - Have the agent sign @data with the key @pub
 * @out: receives the SSH signature blob
 * @sock: the agent's socket path
 * @pub: the public key blob
 * @publen: its length
 * @data: what to sign
 * @len: its length
 *
 * Lists the agent's keys first, so that a key it does not hold gets a
 * clear message; RSA keys are asked for rsa-sha2-512.
 *
 * Returns: 0, KPIN_ENOTFOUND (the agent does not hold the key) or
 * KPIN_ERROR (no agent there, or it refused).
 */
int kpin_sshagent_sign(struct kpin_buf *out, const char *sock,
		       const unsigned char *pub, size_t publen,
		       const void *data, size_t len);

#endif
