/*
 * libFuzzer target for the SSH signature and key parsers (src/sshsig.c,
 * src/sshkey.c), whose input comes from commits and files in the
 * repository that history --verify reads. The first byte picks what the
 * rest is:
 *
 *   's'  an armored sshsig signature: parsed, re-armored and parsed again
 *        to the same parts, then verified (libcrypto) over a fixed payload
 *   'k'  a public key line ("ssh-ed25519 AAAA... comment"): the blob,
 *        written back as a line, parses to the same bytes; then checked
 *        against a fixed signature
 *   'a'  an allowed-signers file, looked up with the key of its last line
 *        (a public key line): principals, when given, are one word of
 *        the file, and a refusal says why
 *   'p'  a private key file (openssh-key-v1, PEM): its public blob
 *        re-encodes to the same bytes; an Ed25519 key signs
 *
 * Nothing may crash, leak or read out of bounds; libcrypto is loaded by
 * the first call that needs it, as in kpin. Seeds: testdata/sshsig/ and
 * keys ssh-keygen makes (tests/fuzz/run.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kpin.h"
#include "../../src/allowed.h"
#include "../../src/sshkey.h"
#include "../../src/sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char payload[] = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
			      "\nfuzz\n";

/* Whether two spans hold the same bytes. */
static int same(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (!alen || !memcmp(a, b, alen));
}

/* A NUL-terminated copy of a span, or NULL when it holds a NUL. */
static char *cstr(const unsigned char *p, size_t len)
{
	char *s;

	if (memchr(p, 0, len))
		return NULL;
	s = malloc(len + 1);
	memcpy(s, p, len);
	s[len] = 0;
	return s;
}

/* Check @sig by @pub over the fixed payload as history --verify does. */
static void verify(const unsigned char *pub, size_t publen,
		   const unsigned char *sig, size_t siglen)
{
	struct kpin_buf signed_data = KPIN_BUF_INIT, fp = KPIN_BUF_INIT;
	unsigned char hash[64];

	if (kpin_sshkey_sha512(hash, payload, sizeof(payload) - 1))
		abort();	/* libcrypto must load */
	kpin_sshsig_signed_data(&signed_data, "git", "sha512", hash,
				sizeof(hash));
	(void)kpin_sshkey_verify(pub, publen, sig, siglen, signed_data.ptr,
				 signed_data.len);
	if (kpin_sshkey_fingerprint(&fp, pub, publen) ||
	    strncmp(fp.ptr, "SHA256:", 7) || fp.len != 7 + 43)
		abort();
	kpin_error_clear();
	kpin_buf_release(&signed_data);
	kpin_buf_release(&fp);
}

static void signature(const char *text, size_t len)
{
	struct kpin_sshsig s, again;
	struct kpin_buf armor = KPIN_BUF_INIT;
	char *ns, *hashalg;

	if (kpin_sshsig_parse(&s, text, len))
		return;
	ns = cstr(s.ns, s.nslen);
	hashalg = cstr(s.hashalg, s.hashalglen);
	if (ns && hashalg) {
		kpin_sshsig_armor(&armor, s.pub, s.publen, ns, hashalg, s.sig,
				  s.siglen);
		if (kpin_sshsig_parse(&again, armor.ptr, armor.len) ||
		    !same(again.pub, again.publen, s.pub, s.publen) ||
		    !same(again.ns, again.nslen, s.ns, s.nslen) ||
		    !same(again.hashalg, again.hashalglen, s.hashalg,
			  s.hashalglen) ||
		    !same(again.sig, again.siglen, s.sig, s.siglen))
			abort();
		kpin_sshsig_release(&again);
	}
	verify(s.pub, s.publen, s.sig, s.siglen);
	free(ns);
	free(hashalg);
	kpin_buf_release(&armor);
	kpin_sshsig_release(&s);
}

/*
 * @blob, a public key blob kpin accepted, written as a key line must
 * parse to the same bytes.
 */
static void same_line(const unsigned char *blob, size_t len)
{
	struct kpin_ssh_reader r;
	struct kpin_buf line = KPIN_BUF_INIT, again = KPIN_BUF_INIT;
	const unsigned char *type;
	size_t tlen;

	kpin_ssh_reader_init(&r, blob, len);
	if (kpin_ssh_get_string(&r, &type, &tlen))
		abort();
	kpin_buf_add(&line, type, tlen);
	kpin_buf_addch(&line, ' ');
	kpin_base64_encode(&line, blob, len);
	kpin_buf_adds(&line, " comment");
	if (kpin_sshkey_parse_public(&again, line.ptr, line.len) ||
	    !same(again.ptr, again.len, blob, len))
		abort();
	kpin_buf_release(&line);
	kpin_buf_release(&again);
}

static void public_key(const char *text, size_t len)
{
	static const unsigned char sig[] = {
		0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5',
		'1', '9', 0, 0, 0, 4, 1, 2, 3, 4,
	};
	struct kpin_buf blob = KPIN_BUF_INIT;

	if (!kpin_sshkey_parse_public(&blob, text, len)) {
		same_line((const unsigned char *)blob.ptr, blob.len);
		verify((const unsigned char *)blob.ptr, blob.len, sig,
		       sizeof(sig));
	}
	kpin_error_clear();
	kpin_buf_release(&blob);
}

/* Whether the string @s occurs in the @len bytes at @text. */
static int occurs(const char *text, size_t len, const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i + n <= len; i++)
		if (!memcmp(text + i, s, n))
			return 1;
	return 0;
}

static void allowed_signers(const char *text, size_t len)
{
	struct kpin_buf blob = KPIN_BUF_INIT;
	struct kpin_allowed a;
	const char *last = text + len;
	const char *who;

	while (last > text && last[-1] != '\n')
		last--;
	if (!kpin_sshkey_parse_public(&blob, last,
				      (size_t)(text + len - last))) {
		kpin_allowed_lookup(&a, text, len,
				    (const unsigned char *)blob.ptr, blob.len,
				    "git", 1700000000);
		who = a.principals;
		if ((a.status == KPIN_ALLOWED_NONE) != !who ||
		    (a.status > KPIN_ALLOWED_YES) != !!a.why)
			abort();
		if (who && (!*who || strchr(who, '\n') || *who == ' ' ||
			    *who == '#' || !occurs(text, len, who)))
			abort();
		kpin_allowed_release(&a);
	}
	kpin_error_clear();
	kpin_buf_release(&blob);
}

static void private_key(const char *text, size_t len)
{
	struct kpin_sshkey *key;
	struct kpin_buf sig = KPIN_BUF_INIT;
	const unsigned char *pub;
	size_t publen;

	if (!kpin_sshkey_parse_private(&key, text, len, NULL, "fuzz")) {
		pub = kpin_sshkey_public(key, &publen);
		same_line(pub, publen);
		if (!kpin_sshkey_encrypted(key) && publen > 15 &&
		    !memcmp(pub + 4, "ssh-ed25519", 11) &&
		    !kpin_sshkey_sign(&sig, key, payload, sizeof(payload) - 1))
			verify(pub, publen, (const unsigned char *)sig.ptr,
			       sig.len);
		kpin_sshkey_free(key);
	}
	kpin_error_clear();
	kpin_buf_release(&sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (!size)
		return 0;
	/* an exact-size copy, so that a read past the end is caught */
	text = malloc(size - 1 ? size - 1 : 1);
	memcpy(text, data + 1, size - 1);
	switch (data[0]) {
	case 's':
		signature(text, size - 1);
		break;
	case 'k':
		public_key(text, size - 1);
		break;
	case 'a':
		allowed_signers(text, size - 1);
		break;
	case 'p':
		private_key(text, size - 1);
		break;
	}
	kpin_error_clear();
	free(text);
	return 0;
}
