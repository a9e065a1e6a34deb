/*
 * SSH keys over libcrypto (src/sshkey.h). OpenSSL reads PEM and PKCS#8
 * keys itself; the OpenSSH format ("openssh-key-v1": magic, cipher, KDF,
 * public keys, then a private section of check integers, key fields,
 * comment and padding) is parsed here and turned into an EVP_PKEY with
 * EVP_PKEY_fromdata(). Signature blobs follow RFC 8709 (Ed25519), RFC
 * 5656 (ECDSA: the DER pair re-encoded as two mpints) and RFC 8332 (RSA
 * with SHA-512). Key material is wiped before it is freed.
 */
#include <stdio.h>
#include <string.h>

#include "crypto-lazy.h"
#include "sshkey.h"
#include "sshsig.h"
#include "kpin/error.h"
#include "kpin/xalloc.h"

#define OPENSSH_MAGIC "openssh-key-v1"
/* OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE */
#define RSA_MIN_BITS 1024

enum key_kind { KIND_ED25519, KIND_ECDSA, KIND_RSA };

struct curve {
	const char *ssh;	/* the curve's SSH name */
	const char *alg;	/* the key and signature type */
	const char *group;	/* OpenSSL's name */
	const char *alias;	/* OpenSSL's other name */
	int bits;
};

static const struct curve curves[] = {
	{ "nistp256", "ecdsa-sha2-nistp256", "P-256", "prime256v1", 256 },
	{ "nistp384", "ecdsa-sha2-nistp384", "P-384", "secp384r1", 384 },
	{ "nistp521", "ecdsa-sha2-nistp521", "P-521", "secp521r1", 521 },
};

struct kpin_sshkey {
	EVP_PKEY *pkey;		/* NULL when only the public part is known */
	struct kpin_buf pub;	/* the public key blob */
	enum key_kind kind;
	const struct curve *curve;	/* for ECDSA */
	bool encrypted;
};

/* The digest an ECDSA curve signs with (RFC 5656 section 6.2.1). */
static const EVP_MD *curve_md(const struct curve *c)
{
	return c->bits <= 256 ? EVP_sha256() : c->bits <= 384 ?
	       EVP_sha384() : EVP_sha512();
}

static const struct curve *curve_by(const char *name, size_t len, bool ssh)
{
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		const char *a = ssh ? curves[i].ssh : curves[i].group;
		const char *b = ssh ? curves[i].alg : curves[i].alias;

		if ((strlen(a) == len && !memcmp(a, name, len)) ||
		    (strlen(b) == len && !memcmp(b, name, len)))
			return &curves[i];
	}
	return NULL;
}

/* Set the error from libcrypto's queue (never key material) and return. */
static int crypto_fail(int code, const char *what)
{
	unsigned long e = ERR_get_error();
	char reason[256];

	ERR_clear_error();
	if (!e)
		return kpin_error_set(code, "%s", what);
	ERR_error_string_n(e, reason, sizeof(reason));
	return kpin_error_set(code, "%s (%s)", what, reason);
}

static void wipe(struct kpin_buf *b)
{
	if (b->ptr)
		OPENSSL_cleanse(b->ptr, b->cap);
	kpin_buf_release(b);
}

/* An unsigned big-endian integer without an mpint's leading zeros. */
static void mpint_trim(const unsigned char **p, size_t *len)
{
	while (*len && !**p) {
		(*p)++;
		(*len)--;
	}
}

/* Push a BIGNUM parameter from big-endian bytes; 0 or -1. */
static int push_bn(OSSL_PARAM_BLD *bld, const char *key,
		   const unsigned char *p, size_t len, BIGNUM **keep)
{
	mpint_trim(&p, &len);
	*keep = BN_bin2bn(p, (int)len, NULL);
	if (!*keep || !OSSL_PARAM_BLD_push_BN(bld, key, *keep))
		return -1;
	return 0;
}

/*
 * struct key_parts - The fields of one key, pointing into wire bytes;
 * private fields are NULL for a public key.
 */
struct key_parts {
	enum key_kind kind;
	const struct curve *curve;
	const unsigned char *a, *b, *d;	/* ed25519: a=pub; ecdsa: a=Q, d;
					 * rsa: a=e, b=n, d */
	size_t alen, blen, dlen;
	const unsigned char *iqmp, *p, *q;	/* RSA's CRT, or NULL */
	size_t iqmplen, plen, qlen;
};

/*
 * Push RSA's CRT parameters: p, q, d mod (p-1), d mod (q-1) and iqmp,
 * which OpenSSH keys lack two of; without them every signature takes a
 * full-size exponentiation, several times slower. 0 or -1.
 */
static int push_crt(OSSL_PARAM_BLD *bld, const struct key_parts *k,
		    BIGNUM **keep)
{
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *d = NULL, *pm1 = NULL, *qm1 = NULL;
	int rc = -1;

	if (!ctx || push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, k->p, k->plen,
			    &keep[0]) ||
	    push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, k->q, k->qlen,
		    &keep[1]) ||
	    push_bn(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, k->iqmp, k->iqmplen,
		    &keep[2]))
		goto out;
	d = BN_bin2bn(k->d, (int)k->dlen, NULL);
	pm1 = BN_dup(keep[0]);
	qm1 = BN_dup(keep[1]);
	keep[3] = BN_new();
	keep[4] = BN_new();
	if (!d || !pm1 || !qm1 || !keep[3] || !keep[4] ||
	    !BN_sub_word(pm1, 1) || !BN_sub_word(qm1, 1) ||
	    !BN_div(NULL, keep[3], d, pm1, ctx) ||
	    !BN_div(NULL, keep[4], d, qm1, ctx) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1,
				    keep[3]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2,
				    keep[4]))
		goto out;
	rc = 0;
out:
	BN_clear_free(d);
	BN_clear_free(pm1);
	BN_clear_free(qm1);
	BN_CTX_free(ctx);
	return rc;
}

/*
 * An Ed25519 EVP_PKEY from @k. A private key is 64 bytes, the seed and
 * the public key again: both that copy and the key derived from the seed
 * must be @k->a, or the key is corrupt (signatures by it would not
 * verify with the public key the file and the signer name).
 */
static int ed25519_pkey(EVP_PKEY **out, const struct key_parts *k)
{
	unsigned char derived[32];
	size_t len = sizeof(derived);

	if (k->alen != 32 || (k->d && k->dlen != 64))
		return kpin_error_set(KPIN_EINVALID, "malformed Ed25519 key");
	*out = k->d ?
	       EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->d, 32) :
	       EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->a, 32);
	if (!*out)
		return crypto_fail(KPIN_EINVALID, "invalid Ed25519 key");
	if (k->d && (memcmp(k->d + 32, k->a, 32) ||
		     EVP_PKEY_get_raw_public_key(*out, derived, &len) != 1 ||
		     len != 32 || memcmp(derived, k->a, 32))) {
		EVP_PKEY_free(*out);
		*out = NULL;
		ERR_clear_error();
		return kpin_error_set(KPIN_EINVALID, "corrupt Ed25519 private "
				      "key: its secret part does not match "
				      "its public key");
	}
	return 0;
}

/* The number of bits of the big-endian unsigned integer @p. */
static int bit_length(const unsigned char *p, size_t len)
{
	unsigned c;
	int bits;

	mpint_trim(&p, &len);
	if (!len)
		return 0;
	bits = (int)(len - 1) * 8;
	for (c = *p; c; c >>= 1)
		bits++;
	return bits;
}

/*
 * Refuse an RSA key shorter than OpenSSH takes (ssh-keygen will neither
 * make, load, sign with nor verify by one). @what names it, or is NULL.
 */
static int rsa_size_ok(const struct key_parts *k, const char *what)
{
	int bits;

	if (k->kind != KIND_RSA)
		return 0;
	bits = bit_length(k->b, k->blen);
	if (bits >= RSA_MIN_BITS)
		return 0;
	return kpin_error_set(KPIN_EINVALID, "the RSA key%s%s is %d bits "
			      "long; OpenSSH requires at least %d bits",
			      what ? " in " : "", what ? what : "", bits,
			      RSA_MIN_BITS);
}

/* An EVP_PKEY from @k (a key pair when @k->d is set). */
static int make_pkey(EVP_PKEY **out, const struct key_parts *k)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *bn[8] = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	int rc = KPIN_ERROR, i;

	*out = NULL;
	if (k->kind == KIND_ED25519)
		return ed25519_pkey(out, k);
	bld = OSSL_PARAM_BLD_new();
	if (!bld)
		goto out;
	if (k->kind == KIND_ECDSA) {
		if (!OSSL_PARAM_BLD_push_utf8_string(bld,
			OSSL_PKEY_PARAM_GROUP_NAME, k->curve->group, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld,
			OSSL_PKEY_PARAM_PUB_KEY, k->a, k->alen) ||
		    (k->d && push_bn(bld, OSSL_PKEY_PARAM_PRIV_KEY, k->d,
				     k->dlen, &bn[0])))
			goto out;
	} else if (push_bn(bld, OSSL_PKEY_PARAM_RSA_E, k->a, k->alen,
			   &bn[0]) ||
		   push_bn(bld, OSSL_PKEY_PARAM_RSA_N, k->b, k->blen,
			   &bn[1]) ||
		   (k->d && push_bn(bld, OSSL_PKEY_PARAM_RSA_D, k->d, k->dlen,
				    &bn[2])) ||
		   (k->d && k->p && push_crt(bld, k, &bn[3]))) {
		goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, k->kind == KIND_ECDSA ? "EC" :
					 "RSA", NULL);
	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, out, k->d ? EVP_PKEY_KEYPAIR :
			      EVP_PKEY_PUBLIC_KEY, params) == 1)
		rc = 0;
out:
	if (rc)
		rc = crypto_fail(KPIN_EINVALID, k->kind == KIND_ECDSA ?
				 "invalid ECDSA key" : "invalid RSA key");
	for (i = 0; i < 8; i++)
		BN_clear_free(bn[i]);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/*
 * Read a key type and its public fields (and with @private, the private
 * ones that follow in an OpenSSH private section). 0 or -1.
 */
static int read_parts(struct key_parts *k, struct kpin_ssh_reader *r,
		      bool private)
{
	const unsigned char *t, *x;
	size_t tlen, xlen;

	memset(k, 0, sizeof(*k));
	if (kpin_ssh_get_string(r, &t, &tlen))
		return -1;
	if (tlen == 11 && !memcmp(t, "ssh-ed25519", 11)) {
		k->kind = KIND_ED25519;
		return kpin_ssh_get_string(r, &k->a, &k->alen) ||
		       (private && kpin_ssh_get_string(r, &k->d, &k->dlen)) ?
		       -1 : 0;
	}
	if (tlen == 7 && !memcmp(t, "ssh-rsa", 7)) {
		k->kind = KIND_RSA;
		if (!private)
			return kpin_ssh_get_string(r, &k->a, &k->alen) ||
			       kpin_ssh_get_string(r, &k->b, &k->blen) ? -1 : 0;
		/* n, e, d, iqmp, p, q */
		return kpin_ssh_get_string(r, &k->b, &k->blen) ||
		       kpin_ssh_get_string(r, &k->a, &k->alen) ||
		       kpin_ssh_get_string(r, &k->d, &k->dlen) ||
		       kpin_ssh_get_string(r, &k->iqmp, &k->iqmplen) ||
		       kpin_ssh_get_string(r, &k->p, &k->plen) ||
		       kpin_ssh_get_string(r, &k->q, &k->qlen) ? -1 : 0;
	}
	k->curve = curve_by((const char *)t, tlen, true);
	if (!k->curve || kpin_ssh_get_string(r, &x, &xlen) ||
	    curve_by((const char *)x, xlen, true) != k->curve)
		return -1;
	k->kind = KIND_ECDSA;
	return kpin_ssh_get_string(r, &k->a, &k->alen) ||
	       (private && kpin_ssh_get_string(r, &k->d, &k->dlen)) ? -1 : 0;
}

/* The public key blob of @k. */
static void put_public(struct kpin_buf *out, const struct key_parts *k)
{
	switch (k->kind) {
	case KIND_ED25519:
		kpin_ssh_put_cstring(out, "ssh-ed25519");
		kpin_ssh_put_string(out, k->a, k->alen);
		break;
	case KIND_ECDSA:
		kpin_ssh_put_cstring(out, k->curve->alg);
		kpin_ssh_put_cstring(out, k->curve->ssh);
		kpin_ssh_put_string(out, k->a, k->alen);
		break;
	case KIND_RSA:
		kpin_ssh_put_cstring(out, "ssh-rsa");
		kpin_ssh_put_mpint(out, k->a, k->alen);
		kpin_ssh_put_mpint(out, k->b, k->blen);
		break;
	}
}

/* The private section of an unencrypted openssh-key-v1 file. */
static int openssh_private(struct kpin_sshkey *key, const unsigned char *p,
			   size_t len, const char *what)
{
	struct kpin_ssh_reader r;
	struct key_parts k;
	struct kpin_buf pub = KPIN_BUF_INIT;
	uint32_t c1, c2;
	int rc;

	kpin_ssh_reader_init(&r, p, len);
	if (kpin_ssh_get_u32(&r, &c1) || kpin_ssh_get_u32(&r, &c2) ||
	    c1 != c2 || read_parts(&k, &r, true))
		return kpin_error_set(KPIN_EINVALID, "malformed private key in "
				      "%s", what);
	put_public(&pub, &k);
	if (pub.len != key->pub.len || memcmp(pub.ptr, key->pub.ptr, pub.len)) {
		kpin_buf_release(&pub);
		return kpin_error_set(KPIN_EINVALID, "the private key in %s "
				      "does not match its public key", what);
	}
	kpin_buf_release(&pub);
	key->kind = k.kind;
	key->curve = k.curve;
	rc = make_pkey(&key->pkey, &k);
	if (rc)
		kpin_error_prefix("%s: ", what);
	return rc;
}

/* An "-----BEGIN OPENSSH PRIVATE KEY-----" file. */
static int parse_openssh(struct kpin_sshkey *key, const struct kpin_buf *raw,
			 const char *what)
{
	struct kpin_ssh_reader r, pr;
	const unsigned char *cipher, *kdf, *opts, *pub, *priv;
	size_t clen, kdflen, olen, publen, privlen;
	struct key_parts k;
	uint32_t nkeys;

	kpin_ssh_reader_init(&r, raw->ptr, raw->len);
	if (r.left < sizeof(OPENSSH_MAGIC) ||
	    memcmp(r.p, OPENSSH_MAGIC, sizeof(OPENSSH_MAGIC)))
		goto bad;
	r.p += sizeof(OPENSSH_MAGIC);
	r.left -= sizeof(OPENSSH_MAGIC);
	if (kpin_ssh_get_string(&r, &cipher, &clen) ||
	    kpin_ssh_get_string(&r, &kdf, &kdflen) ||
	    kpin_ssh_get_string(&r, &opts, &olen) ||
	    kpin_ssh_get_u32(&r, &nkeys) || nkeys != 1 ||
	    kpin_ssh_get_string(&r, &pub, &publen) ||
	    kpin_ssh_get_string(&r, &priv, &privlen))
		goto bad;
	kpin_ssh_reader_init(&pr, pub, publen);
	if (read_parts(&k, &pr, false) || pr.left)
		return kpin_error_set(KPIN_EINVALID, "unsupported key type in "
				      "%s (kpin signs with Ed25519, ECDSA "
				      "and RSA keys)", what);
	if (rsa_size_ok(&k, what))
		return KPIN_EINVALID;
	put_public(&key->pub, &k);
	key->kind = k.kind;
	key->curve = k.curve;
	if (clen != 4 || memcmp(cipher, "none", 4)) {
		key->encrypted = true;
		return 0;
	}
	return openssh_private(key, priv, privlen, what);
bad:
	return kpin_error_set(KPIN_EINVALID, "malformed OpenSSH private key in "
			      "%s", what);
}

/* Whether @needle occurs in the @len bytes at @text. */
static bool contains(const char *text, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= len; i++)
		if (!memcmp(text + i, needle, n))
			return true;
	return false;
}

/* Hands OpenSSL the passphrase, never prompting on a terminal. */
static int passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	size_t n = u ? strlen(u) : 0;

	if (!u || n >= (size_t)size)
		return -1;
	memcpy(buf, u, n);
	return (int)n;
}

/* Fill @key->pub (and kind, curve) from a key OpenSSL read. */
static int public_of_pkey(struct kpin_sshkey *key, const char *what)
{
	struct key_parts k;
	unsigned char raw[160], *e = NULL, *n = NULL;
	char group[64];
	size_t rawlen = 0;
	BIGNUM *bn_e = NULL, *bn_n = NULL;
	int rc = KPIN_EINVALID;

	memset(&k, 0, sizeof(k));
	switch (EVP_PKEY_get_base_id(key->pkey)) {
	case EVP_PKEY_ED25519:
		k.kind = KIND_ED25519;
		rawlen = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &rawlen) != 1)
			goto out;
		break;
	case EVP_PKEY_EC:
		k.kind = KIND_ECDSA;
		if (EVP_PKEY_get_utf8_string_param(key->pkey,
			OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
			NULL) != 1)
			goto out;
		k.curve = curve_by(group, strlen(group), false);
		if (!k.curve ||
		    EVP_PKEY_get_octet_string_param(key->pkey,
			OSSL_PKEY_PARAM_PUB_KEY, raw, sizeof(raw),
			&rawlen) != 1)
			goto out;
		break;
	case EVP_PKEY_RSA:
		k.kind = KIND_RSA;
		if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E,
					  &bn_e) != 1 ||
		    EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N,
					  &bn_n) != 1)
			goto out;
		k.alen = (size_t)(BN_num_bits(bn_e) + 7) / 8;
		k.blen = (size_t)(BN_num_bits(bn_n) + 7) / 8;
		e = xmalloc(k.alen + 1);
		n = xmalloc(k.blen + 1);
		BN_bn2bin(bn_e, e);
		BN_bn2bin(bn_n, n);
		k.a = e;
		k.b = n;
		break;
	default:
		goto out;
	}
	if (k.kind != KIND_RSA) {
		k.a = raw;
		k.alen = rawlen;
	}
	rc = rsa_size_ok(&k, what);
	if (rc)
		goto done;
	put_public(&key->pub, &k);
	key->kind = k.kind;
	key->curve = k.curve;
out:
	if (rc)
		kpin_error_set(rc, "unsupported key type in %s (kpin signs "
			       "with Ed25519, ECDSA P-256/384/521 and RSA "
			       "keys)", what);
done:
	BN_free(bn_e);
	BN_free(bn_n);
	free(e);
	free(n);
	return rc;
}

/* A PEM or PKCS#8 key, read by OpenSSL. */
static int parse_pem(struct kpin_sshkey *key, const char *text, size_t len,
		     const char *passphrase, const char *what)
{
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	char msg[512];

	if (!bio)
		return crypto_fail(KPIN_ERROR, "out of memory in libcrypto");
	key->pkey = PEM_read_bio_PrivateKey(bio, NULL, passphrase_cb,
					    (void *)passphrase);
	BIO_free(bio);
	if (!key->pkey) {
		if (!passphrase && contains(text, len, "ENCRYPTED")) {
			ERR_clear_error();
			return kpin_error_set(KPIN_EINVALID, "the private key "
					      "in %s is encrypted: set "
					      "KPIN_SIGNING_PASSPHRASE", what);
		}
		snprintf(msg, sizeof(msg), "cannot read the private key in %s%s",
			 what, passphrase ? " (is KPIN_SIGNING_PASSPHRASE "
			 "right?)" : "");
		return crypto_fail(KPIN_EINVALID, msg);
	}
	return public_of_pkey(key, what);
}

int kpin_sshkey_parse_private(struct kpin_sshkey **out, const char *text,
			      size_t len, const char *passphrase,
			      const char *what)
{
	struct kpin_sshkey *key;
	struct kpin_buf raw = KPIN_BUF_INIT;
	int rc;

	*out = NULL;
	rc = kpin_crypto_load();
	if (rc)
		return rc;
	key = xcalloc(1, sizeof(*key));
	kpin_buf_grow(&raw, len);	/* no copies left behind by growth */
	rc = kpin_ssh_unarmor(&raw, text, len, "OPENSSH PRIVATE KEY");
	if (!rc)
		rc = parse_openssh(key, &raw, what);
	else if (rc == -2)
		rc = kpin_error_set(KPIN_EINVALID, "malformed OpenSSH private "
				    "key in %s (bad base64)", what);
	else if (contains(text, len, "-----BEGIN ") &&
		 contains(text, len, "PRIVATE KEY-----"))
		rc = parse_pem(key, text, len, passphrase, what);
	else
		rc = kpin_error_set(KPIN_EINVALID, "%s holds no private key "
				    "(OpenSSH, PEM or PKCS#8)", what);
	wipe(&raw);
	if (rc) {
		kpin_sshkey_free(key);
		return rc;
	}
	*out = key;
	return 0;
}

void kpin_sshkey_free(struct kpin_sshkey *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	kpin_buf_release(&key->pub);
	free(key);
}

bool kpin_sshkey_encrypted(const struct kpin_sshkey *key)
{
	return key->encrypted;
}

const unsigned char *kpin_sshkey_public(const struct kpin_sshkey *key,
					size_t *len)
{
	*len = key->pub.len;
	return (const unsigned char *)key->pub.ptr;
}

/* How many of the @len bytes at @s come before a NUL or one of @stop. */
static size_t span(const char *s, size_t len, const char *stop)
{
	size_t n = 0;

	while (n < len && !strchr(stop, s[n]))
		n++;
	return n;
}

int kpin_sshkey_parse_public(struct kpin_buf *out, const char *text,
			     size_t len)
{
	struct kpin_ssh_reader r;
	struct key_parts k;
	struct kpin_buf blob = KPIN_BUF_INIT;
	size_t tlen, blen;
	const char *b;
	int rc;

	while (len && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	tlen = span(text, len, " \t");
	if (tlen >= len)
		goto bad;
	b = text + tlen;
	while (b < text + len && (*b == ' ' || *b == '\t'))
		b++;
	blen = span(b, (size_t)(text + len - b), " \t\r\n");
	if (kpin_base64_decode(&blob, b, blen))
		goto bad;
	kpin_ssh_reader_init(&r, blob.ptr, blob.len);
	if (read_parts(&k, &r, false) || r.left ||
	    blob.len < 4 + tlen || memcmp(blob.ptr + 4, text, tlen))
		goto bad;
	rc = rsa_size_ok(&k, NULL);
	if (!rc)
		kpin_buf_add(out, blob.ptr, blob.len);
	kpin_buf_release(&blob);
	return rc;
bad:
	kpin_buf_release(&blob);
	return kpin_error_set(KPIN_EINVALID, "not an SSH public key: '%.*s'",
			      (int)(len < 40 ? len : 40), text);
}

bool kpin_sshkey_is_rsa(const unsigned char *pub, size_t publen)
{
	struct kpin_ssh_reader r;

	kpin_ssh_reader_init(&r, pub, publen);
	return !kpin_ssh_get_cstring(&r, "ssh-rsa");
}

/* Read a DER length; 0 or -1. */
static int der_len(struct kpin_ssh_reader *r, size_t *len)
{
	unsigned char c, n;

	if (kpin_ssh_get_u8(r, &c))
		return -1;
	if (c < 0x80) {
		*len = c;
		return 0;
	}
	n = c & 0x7f;
	if (n < 1 || n > 2)
		return -1;
	*len = 0;
	while (n--) {
		if (kpin_ssh_get_u8(r, &c))
			return -1;
		*len = *len << 8 | c;
	}
	return *len > r->left ? -1 : 0;
}

/* One DER INTEGER, as an SSH mpint. */
static int der_int_to_mpint(struct kpin_buf *out, struct kpin_ssh_reader *r)
{
	unsigned char tag;
	size_t len;

	if (kpin_ssh_get_u8(r, &tag) || tag != 0x02 || der_len(r, &len) ||
	    len > r->left)
		return -1;
	kpin_ssh_put_mpint(out, r->p, len);
	r->p += len;
	r->left -= len;
	return 0;
}

static void der_put_len(struct kpin_buf *b, size_t len)
{
	if (len >= 0x100) {
		kpin_buf_addch(b, 0x82);
		kpin_buf_addch(b, (int)(len >> 8));
	} else if (len >= 0x80) {
		kpin_buf_addch(b, 0x81);
	}
	kpin_buf_addch(b, (int)(len & 0xff));
}

/* An SSH mpint (positive) as a DER INTEGER. */
static void der_put_int(struct kpin_buf *b, const unsigned char *p,
			size_t len)
{
	bool pad;

	mpint_trim(&p, &len);
	pad = !len || (*p & 0x80);
	kpin_buf_addch(b, 0x02);
	der_put_len(b, len + pad);
	if (pad)
		kpin_buf_addch(b, 0);
	kpin_buf_add(b, p, len);
}

int kpin_sshkey_sign(struct kpin_buf *out, const struct kpin_sshkey *key,
		     const void *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	struct kpin_ssh_reader r;
	struct kpin_buf rs = KPIN_BUF_INIT;
	size_t seqlen;
	unsigned char tag;
	int rc = KPIN_ERROR;

	if (!key->pkey)
		return kpin_error_set(KPIN_ERROR, "no private key to sign with");
	if (key->kind == KIND_ECDSA)
		md = curve_md(key->curve);
	else if (key->kind == KIND_RSA)
		md = EVP_sha512();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, key->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, data, len) != 1)
		goto out;
	sig = xmalloc(siglen);
	if (EVP_DigestSign(ctx, sig, &siglen, data, len) != 1)
		goto out;
	switch (key->kind) {
	case KIND_ED25519:
		kpin_ssh_put_cstring(out, "ssh-ed25519");
		kpin_ssh_put_string(out, sig, siglen);
		break;
	case KIND_RSA:
		kpin_ssh_put_cstring(out, "rsa-sha2-512");
		kpin_ssh_put_string(out, sig, siglen);
		break;
	case KIND_ECDSA:
		kpin_ssh_reader_init(&r, sig, siglen);
		if (kpin_ssh_get_u8(&r, &tag) || tag != 0x30 ||
		    der_len(&r, &seqlen) || der_int_to_mpint(&rs, &r) ||
		    der_int_to_mpint(&rs, &r)) {
			kpin_buf_release(&rs);
			goto out;
		}
		kpin_ssh_put_cstring(out, key->curve->alg);
		kpin_ssh_put_string(out, rs.ptr, rs.len);
		kpin_buf_release(&rs);
		break;
	}
	rc = 0;
out:
	if (rc)
		rc = crypto_fail(KPIN_ERROR, "cannot sign");
	free(sig);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Decode the signature blob for @k: the digest and the bytes to check. */
static int signature_for(const EVP_MD **md, struct kpin_buf *raw,
			 const struct key_parts *k,
			 const unsigned char *sig, size_t siglen)
{
	struct kpin_ssh_reader r, rs;
	const unsigned char *alg, *bytes, *x, *y;
	size_t alen, blen, xlen, ylen;

	kpin_ssh_reader_init(&r, sig, siglen);
	if (kpin_ssh_get_string(&r, &alg, &alen) ||
	    kpin_ssh_get_string(&r, &bytes, &blen) || r.left)
		return kpin_error_set(KPIN_EINVALID, "malformed signature");
	*md = NULL;
	switch (k->kind) {
	case KIND_ED25519:
		if (alen != 11 || memcmp(alg, "ssh-ed25519", 11))
			break;
		kpin_buf_add(raw, bytes, blen);
		return 0;
	case KIND_RSA:
		if (alen == 12 && !memcmp(alg, "rsa-sha2-512", 12))
			*md = EVP_sha512();
		else if (alen == 12 && !memcmp(alg, "rsa-sha2-256", 12))
			*md = EVP_sha256();
		else
			break;
		kpin_buf_add(raw, bytes, blen);
		return 0;
	case KIND_ECDSA:
		if (alen != strlen(k->curve->alg) ||
		    memcmp(alg, k->curve->alg, alen))
			break;
		kpin_ssh_reader_init(&rs, bytes, blen);
		if (kpin_ssh_get_string(&rs, &x, &xlen) ||
		    kpin_ssh_get_string(&rs, &y, &ylen) || rs.left ||
		    xlen > 80 || ylen > 80)
			return kpin_error_set(KPIN_EINVALID, "malformed ECDSA "
					      "signature");
		{
			struct kpin_buf ints = KPIN_BUF_INIT;

			der_put_int(&ints, x, xlen);
			der_put_int(&ints, y, ylen);
			kpin_buf_addch(raw, 0x30);
			der_put_len(raw, ints.len);
			kpin_buf_add(raw, ints.ptr, ints.len);
			kpin_buf_release(&ints);
		}
		*md = curve_md(k->curve);
		return 0;
	}
	return kpin_error_set(KPIN_EINVALID, "unsupported signature algorithm "
			      "'%.*s' for this key", (int)(alen < 40 ? alen : 40),
			      (const char *)alg);
}

int kpin_sshkey_verify(const unsigned char *pub, size_t publen,
		       const unsigned char *sig, size_t siglen,
		       const void *data, size_t len)
{
	struct kpin_ssh_reader r;
	struct key_parts k;
	struct kpin_buf raw = KPIN_BUF_INIT;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *ctx = NULL;
	const EVP_MD *md;
	int rc, ok;

	rc = kpin_crypto_load();
	if (rc)
		return rc;
	kpin_ssh_reader_init(&r, pub, publen);
	if (read_parts(&k, &r, false) || r.left)
		return kpin_error_set(KPIN_EINVALID, "unsupported or malformed "
				      "public key");
	if (rsa_size_ok(&k, NULL))
		return KPIN_EINVALID;
	rc = signature_for(&md, &raw, &k, sig, siglen);
	if (!rc)
		rc = make_pkey(&pkey, &k);
	if (rc)
		goto out;
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 ?
	     EVP_DigestVerify(ctx, (const unsigned char *)raw.ptr, raw.len,
			      data, len) : -1;
	ERR_clear_error();
	rc = ok == 1 ? 0 : kpin_error_set(KPIN_EVERIFY, "the signature does "
					  "not verify");
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	kpin_buf_release(&raw);
	return rc;
}

int kpin_sshkey_sha512(unsigned char out[64], const void *data, size_t len)
{
	int rc = kpin_crypto_load();

	if (rc)
		return rc;
	if (EVP_Digest(data, len, out, NULL, EVP_sha512(), NULL) != 1)
		return crypto_fail(KPIN_ERROR, "cannot hash");
	return 0;
}

int kpin_sshkey_fingerprint(struct kpin_buf *out, const unsigned char *pub,
			    size_t publen)
{
	unsigned char md[32];
	size_t start;
	int rc = kpin_crypto_load();

	if (rc)
		return rc;
	if (EVP_Digest(pub, publen, md, NULL, EVP_sha256(), NULL) != 1)
		return crypto_fail(KPIN_ERROR, "cannot hash");
	kpin_buf_adds(out, "SHA256:");
	start = out->len;
	kpin_base64_encode(out, md, sizeof(md));
	while (out->len > start && out->ptr[out->len - 1] == '=')
		out->ptr[--out->len] = 0;
	return 0;
}
