/*
 * SHA-1, for the git index checksum that libgit2 does not expose. Not
 * for security: git's index trailer is an integrity check. The digest is
 * OpenSSL's (libcrypto loaded at run time on first use, src/crypto-lazy.h;
 * already mapped in processes that loaded libgit2), about five times
 * faster than the FIPS 180-4 code kept here as the fallback when
 * libcrypto cannot be loaded. Included by index-format and the tests only.
 */
#ifndef KPIN_SHA1_H
#define KPIN_SHA1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kpin_sha1 {
	void *evp;		/* libcrypto's context, or NULL: ours below */
	uint32_t h[5];
	uint64_t len;		/* bytes hashed so far */
	unsigned char buf[64];	/* a partial block */
};

/*
 * kpin_sha1_init() - Start a digest
 * @c: the context; kpin_sha1_final() must follow, it frees what this
 *     allocates
 * @builtin: use the code here even when libcrypto can be loaded (tests)
 */
void kpin_sha1_init(struct kpin_sha1 *c, bool builtin);
void kpin_sha1_update(struct kpin_sha1 *c, const void *data, size_t len);
void kpin_sha1_final(unsigned char out[20], struct kpin_sha1 *c);

#endif
