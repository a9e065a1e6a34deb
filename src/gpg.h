/*
 * OpenPGP signing and verification through GPGME, loaded on first use.
 * Included by sign.c and verify.c.
 */
#ifndef KPIN_GPG_H
#define KPIN_GPG_H

#include <stddef.h>

#include "kpin/buf.h"
#include "kpin/sign.h"

struct kpin_gpg;

/*
 * kpin_gpg_open() - A GPGME context for signing
 * @out: receives it
 * @o: @signing_key selects the key (NULL: gpg's default key); with
 *     @key_data, a temporary GNUPGHOME is made, the key imported with
 *     @passphrase through loopback pinentry, and all of it removed (the
 *     agent stopped) by kpin_gpg_free()
 *
 * Returns: 0, KPIN_EINVALID (key unusable) or KPIN_ERROR.
 */
int kpin_gpg_open(struct kpin_gpg **out, const struct kpin_sign_opts *o);

/* kpin_gpg_sign() - A detached armored signature of @data. */
int kpin_gpg_sign(struct kpin_buf *out, struct kpin_gpg *g, const void *data,
		  size_t len);

/*
 * kpin_gpg_verify() - Check a detached signature with the user's keyring
 * @signer: receives the signer's user id, when known
 * @key: receives the key's fingerprint, when known
 *
 * Returns: 0 (good), KPIN_EVERIFY (bad), KPIN_ENOTFOUND (key unknown) or
 * KPIN_ERROR.
 */
int kpin_gpg_verify(struct kpin_buf *signer, struct kpin_buf *key,
		    const char *sig, size_t siglen, const void *data,
		    size_t len);

void kpin_gpg_free(struct kpin_gpg *g);

#endif
