/*
 * SSH keys with libcrypto (loaded on first use): private keys in the
 * OpenSSH format ("openssh-key-v1", which OpenSSL cannot read) or in
 * PEM/PKCS#8, public keys as authorized_keys lines, and the SSH signature
 * blobs they make and check. Ed25519, ECDSA P-256/384/521 and RSA
 * (rsa-sha2-512). Included by sign.c, verify.c and their tests.
 */
#ifndef KPIN_SSHKEY_H
#define KPIN_SSHKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "kpin/buf.h"

struct kpin_sshkey;

/*
 * kpin_sshkey_parse_private() - Read a private key
 * @out: receives the key
 * @text: the key file's bytes (OpenSSH or PEM armor)
 * @len: their length
 * @passphrase: for PEM/PKCS#8 keys, or NULL
 * @what: where the key came from, for messages ("KPIN_SIGNING_KEY", a path)
 *
 * An encrypted OpenSSH-format key is returned without its private part
 * (kpin_sshkey_encrypted()): its public key is enough to sign through the
 * agent. No message quotes the key or the passphrase.
 *
 * Returns: 0, KPIN_EINVALID (not a key, unsupported type, wrong
 * passphrase) or KPIN_ERROR (libcrypto missing).
 */
int kpin_sshkey_parse_private(struct kpin_sshkey **out, const char *text,
			      size_t len, const char *passphrase,
			      const char *what);

/* kpin_sshkey_free() - Wipe and free; NULL is a no-op. */
void kpin_sshkey_free(struct kpin_sshkey *key);

/* kpin_sshkey_encrypted() - Whether only the public part could be read. */
bool kpin_sshkey_encrypted(const struct kpin_sshkey *key);

/* kpin_sshkey_public() - The public key blob (borrowed). */
const unsigned char *kpin_sshkey_public(const struct kpin_sshkey *key,
					size_t *len);

/*
 * kpin_sshkey_parse_public() - Read "ssh-ed25519 AAAA... [comment]"
 * @out: receives the public key blob
 *
 * Returns: 0 or KPIN_EINVALID.
 */
int kpin_sshkey_parse_public(struct kpin_buf *out, const char *text,
			     size_t len);

/*
 * kpin_sshkey_sign() - Sign @data
 * @out: receives the SSH signature blob (string algorithm, string bytes)
 * @key: a key with its private part
 *
 * Returns: 0 or KPIN_ERROR.
 */
int kpin_sshkey_sign(struct kpin_buf *out, const struct kpin_sshkey *key,
		     const void *data, size_t len);

/*
 * kpin_sshkey_verify() - Check a signature blob over @data
 * @pub: the public key blob
 * @sig: the SSH signature blob
 *
 * Returns: 0 (good), KPIN_EVERIFY (does not verify) or KPIN_EINVALID
 * (malformed or unsupported key or signature; message says which).
 */
int kpin_sshkey_verify(const unsigned char *pub, size_t publen,
		       const unsigned char *sig, size_t siglen,
		       const void *data, size_t len);

/* kpin_sshkey_is_rsa() - Whether the blob is an "ssh-rsa" key. */
bool kpin_sshkey_is_rsa(const unsigned char *pub, size_t publen);

/*
 * kpin_sshkey_fingerprint() - "SHA256:" and the unpadded base64 of the
 * blob's SHA-256, as ssh-keygen -l prints it.
 *
 * Returns: 0 or KPIN_ERROR (libcrypto missing).
 */
int kpin_sshkey_fingerprint(struct kpin_buf *out, const unsigned char *pub,
			    size_t publen);

/*
 * kpin_sshkey_sha512() - SHA-512 of @data into @out (64 bytes)
 *
 * Returns: 0 or KPIN_ERROR.
 */
int kpin_sshkey_sha512(unsigned char out[64], const void *data, size_t len);

#endif
