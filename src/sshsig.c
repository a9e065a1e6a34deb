/*
 * SSH wire encoding, base64 and the sshsig format (src/sshsig.h). The
 * format is OpenSSH's PROTOCOL.sshsig: magic "SSHSIG", version 1, the
 * public key, the namespace, an empty reserved string, the hash algorithm
 * and the signature; the key signs "SSHSIG", namespace, reserved, hash
 * algorithm and the message's hash. ssh-keygen armors the blob in base64
 * lines of 70 characters.
 */
#include <string.h>

#include "sshsig.h"
#include "kpin/error.h"

#define SSHSIG_MAGIC "SSHSIG"
#define SSHSIG_VERSION 1
#define SSHSIG_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define SSHSIG_END "-----END SSH SIGNATURE-----"
#define SSHSIG_COLUMNS 70

void kpin_ssh_reader_init(struct kpin_ssh_reader *r, const void *p,
			  size_t len)
{
	r->p = p;
	r->left = len;
}

int kpin_ssh_get_u32(struct kpin_ssh_reader *r, uint32_t *out)
{
	if (r->left < 4)
		return -1;
	*out = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	       (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return 0;
}

int kpin_ssh_get_u8(struct kpin_ssh_reader *r, unsigned char *out)
{
	if (!r->left)
		return -1;
	*out = *r->p++;
	r->left--;
	return 0;
}

int kpin_ssh_get_string(struct kpin_ssh_reader *r, const unsigned char **p,
			size_t *len)
{
	struct kpin_ssh_reader save = *r;
	uint32_t n;

	if (kpin_ssh_get_u32(r, &n) || n > r->left) {
		*r = save;
		return -1;
	}
	*p = r->p;
	*len = n;
	r->p += n;
	r->left -= n;
	return 0;
}

int kpin_ssh_get_cstring(struct kpin_ssh_reader *r, const char *want)
{
	struct kpin_ssh_reader save = *r;
	const unsigned char *p;
	size_t len;

	if (kpin_ssh_get_string(r, &p, &len) || len != strlen(want) ||
	    memcmp(p, want, len)) {
		*r = save;
		return -1;
	}
	return 0;
}

void kpin_ssh_put_u32(struct kpin_buf *b, uint32_t v)
{
	unsigned char be[4];

	be[0] = (unsigned char)(v >> 24);
	be[1] = (unsigned char)(v >> 16);
	be[2] = (unsigned char)(v >> 8);
	be[3] = (unsigned char)v;
	kpin_buf_add(b, be, 4);
}

void kpin_ssh_put_string(struct kpin_buf *b, const void *p, size_t len)
{
	kpin_ssh_put_u32(b, (uint32_t)len);
	kpin_buf_add(b, p, len);
}

void kpin_ssh_put_cstring(struct kpin_buf *b, const char *s)
{
	kpin_ssh_put_string(b, s, strlen(s));
}

void kpin_ssh_put_mpint(struct kpin_buf *b, const unsigned char *p,
			size_t len)
{
	bool pad;

	while (len && !*p) {
		p++;
		len--;
	}
	pad = len && (*p & 0x80);
	kpin_ssh_put_u32(b, (uint32_t)(len + pad));
	if (pad)
		kpin_buf_addch(b, 0);
	kpin_buf_add(b, p, len);
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void kpin_base64_encode(struct kpin_buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	char q[4];
	size_t i;

	kpin_buf_grow(out, (len + 2) / 3 * 4);
	for (i = 0; i + 2 < len; i += 3) {
		q[0] = b64[p[i] >> 2];
		q[1] = b64[(p[i] & 3) << 4 | p[i + 1] >> 4];
		q[2] = b64[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		q[3] = b64[p[i + 2] & 63];
		kpin_buf_add(out, q, 4);
	}
	if (i < len) {
		q[0] = b64[p[i] >> 2];
		if (i + 1 < len) {
			q[1] = b64[(p[i] & 3) << 4 | p[i + 1] >> 4];
			q[2] = b64[(p[i + 1] & 15) << 2];
		} else {
			q[1] = b64[(p[i] & 3) << 4];
			q[2] = '=';
		}
		q[3] = '=';
		kpin_buf_add(out, q, 4);
	}
}

int kpin_base64_decode(struct kpin_buf *out, const char *s, size_t len)
{
	unsigned acc = 0;
	int bits = 0, pad = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		const char *hit;
		char c = s[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		hit = c ? strchr(b64, c) : NULL;
		if (!hit || pad)
			return -1;
		acc = (acc << 6 | (unsigned)(hit - b64)) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			kpin_buf_addch(out, (int)(acc >> bits) & 0xff);
		}
	}
	/* leftover bits must be zero padding, and '=' must complete a quad */
	if (pad > 2 || (pad && (bits / 2) != pad) ||
	    (acc & ((1u << bits) - 1)))
		return -1;
	return 0;
}

void kpin_sshsig_signed_data(struct kpin_buf *out, const char *ns,
			     const char *hashalg, const unsigned char *hash,
			     size_t hashlen)
{
	kpin_buf_add(out, SSHSIG_MAGIC, 6);
	kpin_ssh_put_cstring(out, ns);
	kpin_ssh_put_string(out, "", 0);
	kpin_ssh_put_cstring(out, hashalg);
	kpin_ssh_put_string(out, hash, hashlen);
}

void kpin_sshsig_armor(struct kpin_buf *out, const unsigned char *pub,
		       size_t publen, const char *ns, const char *hashalg,
		       const unsigned char *sig, size_t siglen)
{
	struct kpin_buf blob = KPIN_BUF_INIT, text = KPIN_BUF_INIT;
	size_t i;

	kpin_buf_add(&blob, SSHSIG_MAGIC, 6);
	kpin_ssh_put_u32(&blob, SSHSIG_VERSION);
	kpin_ssh_put_string(&blob, pub, publen);
	kpin_ssh_put_cstring(&blob, ns);
	kpin_ssh_put_string(&blob, "", 0);
	kpin_ssh_put_cstring(&blob, hashalg);
	kpin_ssh_put_string(&blob, sig, siglen);
	kpin_base64_encode(&text, blob.ptr, blob.len);
	kpin_buf_adds(out, SSHSIG_BEGIN "\n");
	for (i = 0; i < text.len; i += SSHSIG_COLUMNS) {
		size_t n = text.len - i < SSHSIG_COLUMNS ? text.len - i :
			   SSHSIG_COLUMNS;

		kpin_buf_add(out, text.ptr + i, n);
		kpin_buf_addch(out, '\n');
	}
	kpin_buf_adds(out, SSHSIG_END "\n");
	kpin_buf_release(&blob);
	kpin_buf_release(&text);
}

int kpin_ssh_unarmor(struct kpin_buf *out, const char *text, size_t len,
		     const char *label)
{
	size_t llen = strlen(label), body;

	while (len && strchr(" \t\r\n", text[len - 1]))
		len--;
	while (len && strchr(" \t\r\n", *text)) {
		text++;
		len--;
	}
	/* "-----BEGIN " label "-----" ... "-----END " label "-----" */
	if (len < 2 * llen + 30 || memcmp(text, "-----BEGIN ", 11) ||
	    memcmp(text + 11, label, llen) ||
	    memcmp(text + 11 + llen, "-----", 5) ||
	    memcmp(text + len - llen - 14, "-----END ", 9) ||
	    memcmp(text + len - llen - 5, label, llen) ||
	    memcmp(text + len - 5, "-----", 5))
		return -1;
	body = len - 2 * llen - 30;
	if (kpin_base64_decode(out, text + 16 + llen, body))
		return -2;
	return 0;
}

int kpin_sshsig_parse(struct kpin_sshsig *out, const char *text, size_t len)
{
	struct kpin_ssh_reader r;
	const unsigned char *reserved;
	uint32_t version;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = kpin_ssh_unarmor(&out->blob, text, len, "SSH SIGNATURE");
	if (rc == -1) {
		kpin_sshsig_release(out);
		return kpin_error_set(KPIN_EINVALID, "not an SSH signature "
				      "(no SSH SIGNATURE armor)");
	}
	if (rc)
		goto bad;
	kpin_ssh_reader_init(&r, out->blob.ptr, out->blob.len);
	if (r.left < 6 || memcmp(r.p, SSHSIG_MAGIC, 6))
		goto bad;
	r.p += 6;
	r.left -= 6;
	if (kpin_ssh_get_u32(&r, &version))
		goto bad;
	if (version != SSHSIG_VERSION) {
		kpin_sshsig_release(out);
		return kpin_error_set(KPIN_EINVALID, "unsupported SSH signature "
				      "version %u", (unsigned)version);
	}
	if (kpin_ssh_get_string(&r, &out->pub, &out->publen) ||
	    kpin_ssh_get_string(&r, &out->ns, &out->nslen) ||
	    kpin_ssh_get_string(&r, &reserved, &n) ||
	    kpin_ssh_get_string(&r, &out->hashalg, &out->hashalglen) ||
	    kpin_ssh_get_string(&r, &out->sig, &out->siglen) || r.left)
		goto bad;
	return 0;
bad:
	kpin_sshsig_release(out);
	return kpin_error_set(KPIN_EINVALID, "malformed SSH signature");
}

void kpin_sshsig_release(struct kpin_sshsig *s)
{
	kpin_buf_release(&s->blob);
	memset(s, 0, sizeof(*s));
}
