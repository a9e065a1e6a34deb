/*
 * The SSH wire encoding (RFC 4251 strings, integers, mpints), base64,
 * and the sshsig format of OpenSSH's PROTOCOL.sshsig: what a key signs,
 * the signature blob and its armor. Pure: bytes in, bytes out, no I/O
 * and no crypto, so it is unit-tested and fuzzed on bytes. Included by
 * the SSH key, agent and signing modules and by their tests.
 */
#ifndef KPIN_SSHSIG_H
#define KPIN_SSHSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpin/buf.h"

/* struct kpin_ssh_reader - A cursor over wire-encoded bytes. */
struct kpin_ssh_reader {
	const unsigned char *p;
	size_t left;
};

void kpin_ssh_reader_init(struct kpin_ssh_reader *r, const void *p,
			  size_t len);
/* Each returns 0, or -1 when the input is short (nothing consumed). */
int kpin_ssh_get_u32(struct kpin_ssh_reader *r, uint32_t *out);
int kpin_ssh_get_u8(struct kpin_ssh_reader *r, unsigned char *out);
int kpin_ssh_get_string(struct kpin_ssh_reader *r, const unsigned char **p,
			size_t *len);
/* kpin_ssh_get_cstring() - A string that must equal @want. */
int kpin_ssh_get_cstring(struct kpin_ssh_reader *r, const char *want);

void kpin_ssh_put_u32(struct kpin_buf *b, uint32_t v);
void kpin_ssh_put_string(struct kpin_buf *b, const void *p, size_t len);
void kpin_ssh_put_cstring(struct kpin_buf *b, const char *s);
/* kpin_ssh_put_mpint() - An unsigned big-endian integer as an mpint. */
void kpin_ssh_put_mpint(struct kpin_buf *b, const unsigned char *p,
			size_t len);

/* kpin_base64_encode() - Standard base64 with padding, no line breaks. */
void kpin_base64_encode(struct kpin_buf *out, const void *p, size_t len);
/*
 * kpin_base64_decode() - Decode, skipping white space
 *
 * Returns: 0 or -1 (a character outside the alphabet, bad padding).
 */
int kpin_base64_decode(struct kpin_buf *out, const char *s, size_t len);

/*
 * kpin_ssh_unarmor() - Decode "-----BEGIN @label-----" ... "-----END
 * @label-----" (white space around it is ignored)
 *
 * Returns: 0, -1 (no such armor) or -2 (bad base64 inside).
 */
int kpin_ssh_unarmor(struct kpin_buf *out, const char *text, size_t len,
		     const char *label);

#define KPIN_SSHSIG_NAMESPACE "git"
#define KPIN_SSHSIG_HASH "sha512"

/*
 * kpin_sshsig_signed_data() - The bytes the key signs
 * @out: receives "SSHSIG", namespace, reserved, hash algorithm, H(message)
 * @ns: the namespace ("git")
 * @hashalg: "sha512" or "sha256"
 * @hash: the message's hash
 * @hashlen: its length
 */
void kpin_sshsig_signed_data(struct kpin_buf *out, const char *ns,
			     const char *hashalg, const unsigned char *hash,
			     size_t hashlen);

/*
 * kpin_sshsig_armor() - The armored signature, as ssh-keygen writes it
 * @out: receives "-----BEGIN SSH SIGNATURE-----\n", the blob in base64
 *       wrapped at 70 columns, "-----END SSH SIGNATURE-----\n"
 * @pub: the signer's public key blob
 * @publen: its length
 * @ns: namespace
 * @hashalg: hash algorithm
 * @sig: the SSH signature blob (string algorithm, string signature)
 * @siglen: its length
 */
void kpin_sshsig_armor(struct kpin_buf *out, const unsigned char *pub,
		       size_t publen, const char *ns, const char *hashalg,
		       const unsigned char *sig, size_t siglen);

/*
 * struct kpin_sshsig - A parsed signature; the spans point into @blob
 * @blob: the decoded bytes
 */
struct kpin_sshsig {
	struct kpin_buf blob;
	const unsigned char *pub;
	size_t publen;
	const unsigned char *ns;
	size_t nslen;
	const unsigned char *hashalg;
	size_t hashalglen;
	const unsigned char *sig;
	size_t siglen;
};

/*
 * kpin_sshsig_parse() - Read an armored signature
 * @out: receives the parts (release with kpin_sshsig_release())
 * @text: the armored text (with or without a final newline)
 * @len: its length
 *
 * Returns: 0 or KPIN_EINVALID (message says what is wrong).
 */
int kpin_sshsig_parse(struct kpin_sshsig *out, const char *text, size_t len);
void kpin_sshsig_release(struct kpin_sshsig *s);

#endif
