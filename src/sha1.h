/*
 * SHA-1 (FIPS 180-4), for the git index checksum that libgit2 does not
 * expose. Not for security: git's index trailer is an integrity check.
 * Included by gitindex only.
 */
#ifndef KPIN_SHA1_H
#define KPIN_SHA1_H

#include <stddef.h>
#include <stdint.h>

struct kpin_sha1 {
	uint32_t h[5];
	uint64_t len;		/* bytes hashed so far */
	unsigned char buf[64];	/* a partial block */
};

void kpin_sha1_init(struct kpin_sha1 *c);
void kpin_sha1_update(struct kpin_sha1 *c, const void *data, size_t len);
void kpin_sha1_final(unsigned char out[20], struct kpin_sha1 *c);

#endif
