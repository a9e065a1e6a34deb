/*
 * SHA-1: libcrypto's EVP digest when libcrypto can be loaded (on first
 * use, src/crypto-lazy.h, so that commands which never write an index do
 * not pay for it), else the algorithm as FIPS 180-4 section 6.1 defines it: 80
 * rounds over 64-byte blocks, big-endian words, the message padded with
 * 0x80, zeros and its bit length.
 */
#include <string.h>

#include "crypto-lazy.h"
#include "kpin/error.h"
#include "sha1.h"

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[16], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = be32(p + 4 * i);
	for (i = 0; i < 80; i++) {
		uint32_t f, k;

		if (i >= 16) {
			t = w[(i + 13) & 15] ^ w[(i + 8) & 15] ^
			    w[(i + 2) & 15] ^ w[i & 15];
			w[i & 15] = ROL(t, 1);
		}
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = ROL(a, 5) + f + e + k + w[i & 15];
		e = d;
		d = c;
		c = ROL(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

/* libcrypto's context for a new digest, or NULL to use ours. */
static EVP_MD_CTX *evp_start(void)
{
	EVP_MD_CTX *ctx;

	if (kpin_crypto_load()) {
		kpin_error_clear();	/* not an error: the fallback serves */
		return NULL;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

void kpin_sha1_init(struct kpin_sha1 *c, bool builtin)
{
	c->evp = builtin ? NULL : evp_start();
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->h[4] = 0xc3d2e1f0;
	c->len = 0;
}

void kpin_sha1_update(struct kpin_sha1 *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t have = (size_t)(c->len % 64);

	if (c->evp) {
		/* cannot fail once initialised: SHA-1 allocates nothing */
		EVP_DigestUpdate(c->evp, data, len);
		return;
	}
	c->len += len;
	if (have) {
		size_t take = 64 - have < len ? 64 - have : len;

		memcpy(c->buf + have, p, take);
		p += take;
		len -= take;
		if (have + take < 64)
			return;
		block(c->h, c->buf);
	}
	for (; len >= 64; p += 64, len -= 64)
		block(c->h, p);
	memcpy(c->buf, p, len);
}

void kpin_sha1_final(unsigned char out[20], struct kpin_sha1 *c)
{
	unsigned char pad[72];
	uint64_t bits = c->len * 8;
	size_t have = (size_t)(c->len % 64), n, i;
	unsigned int outlen = 20;

	if (c->evp) {
		EVP_DigestFinal_ex(c->evp, out, &outlen);
		EVP_MD_CTX_free(c->evp);
		c->evp = NULL;
		return;
	}
	n = have < 56 ? 56 - have : 120 - have;
	memset(pad, 0, sizeof(pad));
	pad[0] = 0x80;
	for (i = 0; i < 8; i++)
		pad[n + i] = (unsigned char)(bits >> (56 - 8 * i));
	kpin_sha1_update(c, pad, n + 8);
	for (i = 0; i < 5; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}
