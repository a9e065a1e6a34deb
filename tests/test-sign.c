/*
 * The signing modules on their own: the sshsig envelope and base64, SSH
 * keys in every format and type kpin reads, the agent, and no secret in
 * any message. ssh-keygen and ssh-agent are the witnesses: the Ed25519
 * signature must be byte-identical to ssh-keygen -Y sign's, and every
 * other signature must pass ssh-keygen -Y check-novalidate.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "../src/allowed.h"
#include "../src/sshkey.h"
#include "../src/sshsig.h"

#define PAYLOAD "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n" \
	"author A <a@example.com> 1700000000 +0000\n" \
	"committer A <a@example.com> 1700000000 +0000\n\nsubject\n"
#define PASS "correct-horse-9f3e"

struct world {
	char *dir;
	char *agent_pid;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct kpin_buf p = KPIN_BUF_INIT;

	w->dir = h_tmpdir();
	kpin_buf_adds(&p, h_path(w->dir, "payload"));
	h_writes(p.ptr, PAYLOAD);
	kpin_buf_release(&p);
	*state = w;
	return 0;
}

static void stop_agent(struct world *w)
{
	struct h_result r;

	if (!w->agent_pid)
		return;
	h_sh(&r, NULL, "kill %s", w->agent_pid);
	h_result_release(&r);
	free(w->agent_pid);
	w->agent_pid = NULL;
}

static int teardown(void **state)
{
	struct world *w = *state;

	stop_agent(w);
	h_rmrf(w->dir);
	free(w->dir);
	free(w);
	return 0;
}

/* ssh-keygen makes a key "dir/name" (and name.pub); returns its text. */
static void keygen(struct kpin_buf *out, const struct world *w,
		   const char *name, const char *args)
{
	struct h_result r;

	assert_int_equal(h_sh(&r, w->dir, "ssh-keygen -q %s -C test -f %s",
			      args, name), 0);
	h_result_release(&r);
	assert_int_equal(h_read(out, h_path(w->dir, name)), 0);
}

/* Sign the payload with a signer over @o; the armored text. */
static void sign_with(struct kpin_buf *sig, const struct kpin_sign_opts *o)
{
	struct kpin_signer *s = NULL;
	int rc = kpin_signer_open(&s, o);

	if (rc)
		fail_msg("%s", kpin_error_last()->message);
	rc = kpin_signer_sign(sig, s, PAYLOAD, strlen(PAYLOAD));
	if (rc)
		fail_msg("%s", kpin_error_last()->message);
	kpin_signer_free(s);
}

/* ssh-keygen -Y check-novalidate accepts @sig over the payload. */
static void assert_checks(const struct world *w, const struct kpin_buf *sig)
{
	struct h_result r;

	h_write(h_path(w->dir, "payload.sig"), sig->ptr, sig->len);
	if (h_sh(&r, w->dir, "ssh-keygen -Y check-novalidate -n git "
		 "-s payload.sig <payload"))
		fail_msg("ssh-keygen: %s%s", r.out.ptr, r.err.ptr);
	h_result_release(&r);
}

static void test_sign_ed25519_golden(void **state)
{
	struct world *w = *state;
	struct kpin_buf key = KPIN_BUF_INIT, sig = KPIN_BUF_INIT;
	struct kpin_buf want = KPIN_BUF_INIT;
	struct kpin_sign_opts o = { KPIN_SIGN_SSH, NULL, NULL, NULL, NULL,
				    NULL };
	struct h_result r;

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	assert_int_equal(h_sh(&r, w->dir, "ssh-keygen -q -Y sign -n git "
			      "-f ed payload"), 0);
	h_result_release(&r);
	assert_int_equal(h_read(&want, h_path(w->dir, "payload.sig")), 0);
	o.key_data = key.ptr;
	sign_with(&sig, &o);
	h_assert_same(sig.ptr, sig.len, want.ptr, want.len);
	kpin_buf_release(&key);
	kpin_buf_release(&sig);
	kpin_buf_release(&want);
}

/* A key file of each type, named by user.signingkey. */
static void test_sign_key_types(void **state)
{
	static const char *const types[] = {
		"-t ecdsa -b 256", "-t ecdsa -b 384", "-t ecdsa -b 521",
		"-t rsa -b 2048", "-t ed25519",
	};
	struct world *w = *state;
	struct kpin_sign_opts o = { KPIN_SIGN_SSH, NULL, NULL, NULL, NULL,
				    NULL };
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct kpin_buf key = KPIN_BUF_INIT, sig = KPIN_BUF_INIT;
		struct kpin_buf args = KPIN_BUF_INIT;
		char name[16];

		snprintf(name, sizeof(name), "k%zu", i);
		kpin_buf_addf(&args, "%s -N ''", types[i]);
		keygen(&key, w, name, args.ptr);
		o.signing_key = h_path(w->dir, name);
		sign_with(&sig, &o);
		assert_checks(w, &sig);
		kpin_buf_release(&key);
		kpin_buf_release(&sig);
		kpin_buf_release(&args);
	}
}

/* PEM and PKCS#8, with KPIN_SIGNING_PASSPHRASE; a wrong one says so. */
static void test_sign_pem(void **state)
{
	static const char *const kinds[] = {
		"-t ecdsa -b 256 -m PEM", "-t rsa -b 2048 -m PKCS8",
		"-t ecdsa -b 384 -m PKCS8",
	};
	struct world *w = *state;
	struct kpin_sign_opts o = { KPIN_SIGN_SSH, NULL, NULL, PASS, NULL,
				    NULL };
	struct kpin_signer *s = NULL;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct kpin_buf key = KPIN_BUF_INIT, sig = KPIN_BUF_INIT;
		struct kpin_buf args = KPIN_BUF_INIT;
		char name[16];

		snprintf(name, sizeof(name), "p%zu", i);
		kpin_buf_addf(&args, "%s -N " PASS, kinds[i]);
		keygen(&key, w, name, args.ptr);
		o.key_data = key.ptr;
		o.passphrase = PASS;
		sign_with(&sig, &o);
		assert_checks(w, &sig);
		o.passphrase = "wrong";
		assert_int_equal(kpin_signer_open(&s, &o), KPIN_EINVALID);
		assert_null(s);
		assert_null(strstr(kpin_error_last()->message, "wrong"));
		assert_null(strstr(kpin_error_last()->message, "PRIVATE"));
		o.passphrase = NULL;
		assert_int_equal(kpin_signer_open(&s, &o), KPIN_EINVALID);
		h_assert_contains(kpin_error_last()->message,
				  "KPIN_SIGNING_PASSPHRASE");
		kpin_buf_release(&key);
		kpin_buf_release(&sig);
		kpin_buf_release(&args);
	}
}

/*
 * RSA keys shorter than 1024 bits, which ssh-keygen refuses to make,
 * load or verify by (openssl makes one here): kpin refuses to sign with
 * one, to take one as a public key and to verify by one (it used to).
 */
static void test_sign_rsa_too_short(void **state)
{
	struct world *w = *state;
	struct kpin_buf key = KPIN_BUF_INIT, blob = KPIN_BUF_INIT;
	struct kpin_buf line = KPIN_BUF_INIT, pub = KPIN_BUF_INIT;
	struct kpin_sign_opts o = { KPIN_SIGN_SSH, NULL, NULL, NULL, NULL,
				    NULL };
	struct kpin_signer *s = NULL;
	unsigned char n[96];
	struct h_result r;

	assert_int_equal(h_sh(&r, w->dir, "ssh-keygen -q -t rsa -b 768 -N '' "
			      "-f short"), 255);
	h_assert_contains(r.err.ptr, "minimum is 1024");
	h_result_release(&r);
	if (h_sh(&r, w->dir, "openssl genpkey -algorithm RSA -pkeyopt "
		 "rsa_keygen_bits:768 -out short 2>&1"))
		fail_msg("openssl: %s", r.out.ptr);
	h_result_release(&r);
	assert_int_equal(h_read(&key, h_path(w->dir, "short")), 0);
	o.key_data = key.ptr;
	assert_int_equal(kpin_signer_open(&s, &o), KPIN_EINVALID);
	assert_null(s);
	assert_string_equal(kpin_error_last()->message, "the RSA key in "
			    "KPIN_SIGNING_KEY is 768 bits long; OpenSSH "
			    "requires at least 1024 bits");
	/* a public key line of 768 bits, and verifying by that key */
	memset(n, 0xa5, sizeof(n));
	kpin_ssh_put_cstring(&blob, "ssh-rsa");
	kpin_ssh_put_mpint(&blob, (const unsigned char *)"\1\0\1", 3);
	kpin_ssh_put_mpint(&blob, n, sizeof(n));
	kpin_buf_adds(&line, "ssh-rsa ");
	kpin_base64_encode(&line, blob.ptr, blob.len);
	assert_int_equal(kpin_sshkey_parse_public(&pub, line.ptr, line.len),
			 KPIN_EINVALID);
	h_assert_contains(kpin_error_last()->message, "768 bits");
	assert_int_equal(kpin_sshkey_verify((const unsigned char *)blob.ptr,
					    blob.len, (const unsigned char *)
					    "\0\0\0\1x\0\0\0\1y", 10, "m",
					    1), KPIN_EINVALID);
	h_assert_contains(kpin_error_last()->message, "at least 1024 bits");
	kpin_buf_release(&key);
	kpin_buf_release(&blob);
	kpin_buf_release(&line);
	kpin_buf_release(&pub);
}

/* @raw armored as an OpenSSH private key, in dir/@name. */
static void write_openssh_key(const struct world *w, const char *name,
			      const struct kpin_buf *raw)
{
	struct kpin_buf b64 = KPIN_BUF_INIT, text = KPIN_BUF_INIT;
	size_t i;

	kpin_base64_encode(&b64, raw->ptr, raw->len);
	kpin_buf_adds(&text, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	for (i = 0; i < b64.len; i += 70)
		kpin_buf_addf(&text, "%.*s\n", (int)(b64.len - i < 70 ?
						    b64.len - i : 70),
			      b64.ptr + i);
	kpin_buf_adds(&text, "-----END OPENSSH PRIVATE KEY-----\n");
	h_writes(h_path(w->dir, name), text.ptr);
	kpin_buf_release(&b64);
	kpin_buf_release(&text);
}

/*
 * An unencrypted OpenSSH Ed25519 key whose secret part is corrupt: a
 * bit flipped in the seed, or in the public key copied after it. The
 * public key section still matches, so only the secret shows it;
 * ssh-keygen signs with such a key and its own check then refuses the
 * signature (the witness). kpin refuses the key, with a message, rather
 * than sign with it.
 */
static void test_sign_corrupt_ed25519(void **state)
{
	static const char *const names[] = { "seed", "pubhalf" };
	struct world *w = *state;
	struct kpin_buf key = KPIN_BUF_INIT, raw = KPIN_BUF_INIT;
	struct kpin_buf pub = KPIN_BUF_INIT, blob = KPIN_BUF_INIT;
	struct kpin_sign_opts o = { KPIN_SIGN_SSH, NULL, NULL, NULL, NULL,
				    NULL };
	struct kpin_signer *s = NULL;
	struct h_result r;
	size_t i, at = 0, k;

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	assert_int_equal(kpin_ssh_unarmor(&raw, key.ptr, key.len,
					  "OPENSSH PRIVATE KEY"), 0);
	assert_int_equal(h_read(&pub, h_path(w->dir, "ed.pub")), 0);
	assert_int_equal(kpin_sshkey_parse_public(&blob, pub.ptr, pub.len), 0);
	/* the last copy of the public key is the secret's second half */
	for (k = 0; k + 32 <= raw.len; k++)
		if (!memcmp(raw.ptr + k, blob.ptr + blob.len - 32, 32))
			at = k;
	assert_true(at > 32);
	for (i = 0; i < 2; i++) {
		struct kpin_buf bad = KPIN_BUF_INIT;

		kpin_buf_add(&bad, raw.ptr, raw.len);
		bad.ptr[i ? at + 7 : at - 9] ^= 1;
		write_openssh_key(w, names[i], &bad);
		assert_int_equal(h_sh(&r, w->dir, "chmod 600 %s && rm -f "
				      "payload.sig && ssh-keygen -q -Y sign -n "
				      "git -f %s payload && ssh-keygen -Y "
				      "check-novalidate -n git -s payload.sig "
				      "<payload", names[i], names[i]), 255);
		h_assert_contains(r.err.ptr, "incorrect signature");
		h_result_release(&r);
		o.signing_key = h_path(w->dir, names[i]);
		assert_int_equal(kpin_signer_open(&s, &o), KPIN_EINVALID);
		assert_null(s);
		h_assert_contains(kpin_error_last()->message, names[i]);
		h_assert_contains(kpin_error_last()->message, ": corrupt "
				  "Ed25519 private key: its secret part does "
				  "not match its public key");
		kpin_buf_release(&bad);
	}
	kpin_buf_release(&key);
	kpin_buf_release(&raw);
	kpin_buf_release(&pub);
	kpin_buf_release(&blob);
}

/* A throwaway ssh-agent holding "dir/@key"; returns its socket. */
static const char *start_agent(struct world *w, const char *key)
{
	struct h_result r;
	const char *sock = h_path(w->dir, "agent.sock");
	char *pid;

	assert_int_equal(h_sh(&r, w->dir, "ssh-agent -a agent.sock -s | "
			      "sed -n 's/^SSH_AGENT_PID=\\([0-9]*\\);.*/\\1/p'"),
			 0);
	pid = strndup(r.out.ptr, strcspn(r.out.ptr, "\n"));
	h_result_release(&r);
	assert_true(*pid);
	w->agent_pid = pid;
	if (key) {
		assert_int_equal(h_sh(&r, w->dir, "SSH_AUTH_SOCK=agent.sock "
				      "ssh-add -q %s </dev/null", key), 0);
		h_result_release(&r);
	}
	return sock;
}

static void test_sign_agent(void **state)
{
	struct world *w = *state;
	struct kpin_buf key = KPIN_BUF_INIT, pub = KPIN_BUF_INIT;
	struct kpin_buf lit = KPIN_BUF_INIT, sig = KPIN_BUF_INIT;
	struct kpin_sign_opts o = { KPIN_SIGN_SSH, NULL, NULL, NULL, NULL,
				    NULL };
	struct kpin_signer *s = NULL;
	char sock[4096];

	keygen(&key, w, "rsa", "-t rsa -b 2048 -N ''");
	keygen(&key, w, "other", "-t ed25519 -N ''");
	snprintf(sock, sizeof(sock), "%s", start_agent(w, "rsa"));
	o.agent_sock = sock;
	/* a public key file */
	o.signing_key = h_path(w->dir, "rsa.pub");
	sign_with(&sig, &o);
	assert_checks(w, &sig);
	/* key::, as git takes it */
	assert_int_equal(h_read(&pub, h_path(w->dir, "rsa.pub")), 0);
	kpin_buf_addf(&lit, "key::%.*s", (int)strcspn(pub.ptr, "\n"), pub.ptr);
	o.signing_key = lit.ptr;
	kpin_buf_reset(&sig);
	sign_with(&sig, &o);
	assert_checks(w, &sig);
	h_assert_contains(sig.ptr, "-----BEGIN SSH SIGNATURE-----\n");
	/* a key the agent does not hold */
	o.signing_key = h_path(w->dir, "other.pub");
	assert_int_equal(kpin_signer_open(&s, &o), 0);
	kpin_buf_reset(&sig);
	assert_int_equal(kpin_signer_sign(&sig, s, "x", 1), KPIN_ENOTFOUND);
	h_assert_contains(kpin_error_last()->message, "does not hold");
	kpin_signer_free(s);
	/* no agent at all */
	o.agent_sock = NULL;
	assert_int_equal(kpin_signer_open(&s, &o), KPIN_ERROR);
	h_assert_contains(kpin_error_last()->message, "SSH_AUTH_SOCK");
	kpin_buf_release(&key);
	kpin_buf_release(&pub);
	kpin_buf_release(&lit);
	kpin_buf_release(&sig);
}

/* An encrypted OpenSSH key: only through the agent, and it says so. */
static void test_sign_encrypted_openssh(void **state)
{
	struct world *w = *state;
	struct kpin_buf key = KPIN_BUF_INIT, sig = KPIN_BUF_INIT;
	struct kpin_sign_opts o = { KPIN_SIGN_SSH, NULL, NULL, PASS, NULL,
				    NULL };
	struct kpin_signer *s = NULL;
	struct h_result r;
	char sock[4096];

	keygen(&key, w, "enc", "-t ed25519 -N " PASS);
	o.key_data = key.ptr;
	assert_int_equal(kpin_signer_open(&s, &o), KPIN_ERROR);
	h_assert_contains(kpin_error_last()->message, "encrypted");
	h_assert_contains(kpin_error_last()->message, "ssh-agent");
	assert_null(strstr(kpin_error_last()->message, PASS));
	snprintf(sock, sizeof(sock), "%s", start_agent(w, NULL));
	/* ssh-add reads the passphrase from SSH_ASKPASS without a tty */
	h_writes(h_path(w->dir, "askpass"), "#!/bin/sh\necho " PASS "\n");
	assert_int_equal(h_sh(&r, w->dir, "chmod +x askpass && "
			      "SSH_AUTH_SOCK=agent.sock SSH_ASKPASS=./askpass "
			      "SSH_ASKPASS_REQUIRE=force DISPLAY=: "
			      "ssh-add -q enc </dev/null"), 0);
	h_result_release(&r);
	o.agent_sock = sock;
	sign_with(&sig, &o);
	assert_checks(w, &sig);
	kpin_buf_release(&key);
	kpin_buf_release(&sig);
}

/* kpin's verifier takes ssh-keygen's signatures and refuses tampering. */
static void test_sign_verify(void **state)
{
	struct world *w = *state;
	struct kpin_buf key = KPIN_BUF_INIT, text = KPIN_BUF_INIT;
	struct kpin_buf data = KPIN_BUF_INIT;
	struct kpin_sshsig sig;
	unsigned char hash[64];
	struct h_result r;
	const char *types[] = { "-t ecdsa -b 256", "-t rsa -b 2048",
				"-t ed25519", "-t ecdsa -b 521" };
	size_t i;

	for (i = 0; i < 4; i++) {
		char name[16], args[64];

		snprintf(name, sizeof(name), "v%zu", i);
		snprintf(args, sizeof(args), "%s -N ''", types[i]);
		kpin_buf_reset(&key);
		keygen(&key, w, name, args);
		assert_int_equal(h_sh(&r, w->dir, "rm -f payload.sig && "
				      "ssh-keygen -q -Y sign -n git -f %s "
				      "payload", name), 0);
		h_result_release(&r);
		kpin_buf_reset(&text);
		assert_int_equal(h_read(&text, h_path(w->dir, "payload.sig")),
				 0);
		assert_int_equal(kpin_sshsig_parse(&sig, text.ptr, text.len), 0);
		assert_int_equal(sig.nslen, 3);
		assert_int_equal(kpin_sshkey_sha512(hash, PAYLOAD,
						    strlen(PAYLOAD)), 0);
		kpin_buf_reset(&data);
		kpin_sshsig_signed_data(&data, "git", "sha512", hash, 64);
		assert_int_equal(kpin_sshkey_verify(sig.pub, sig.publen,
						    sig.sig, sig.siglen,
						    data.ptr, data.len), 0);
		/* another namespace signs other bytes */
		kpin_buf_reset(&data);
		kpin_sshsig_signed_data(&data, "file", "sha512", hash, 64);
		assert_int_equal(kpin_sshkey_verify(sig.pub, sig.publen,
						    sig.sig, sig.siglen,
						    data.ptr, data.len),
				 KPIN_EVERIFY);
		kpin_sshsig_release(&sig);
	}
	kpin_buf_release(&key);
	kpin_buf_release(&text);
	kpin_buf_release(&data);
}

static void test_sign_base64(void **state)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob",
					  "fooba", "foobar" };
	static const char *const want[] = { "", "Zg==", "Zm8=", "Zm9v",
					    "Zm9vYg==", "Zm9vYmE=",
					    "Zm9vYmFy" };
	size_t i;

	for (i = 0; i < 7; i++) {
		struct kpin_buf e = KPIN_BUF_INIT, d = KPIN_BUF_INIT;

		kpin_base64_encode(&e, in[i], strlen(in[i]));
		assert_string_equal(e.len ? e.ptr : "", want[i]);
		assert_int_equal(kpin_base64_decode(&d, e.ptr, e.len), 0);
		h_assert_same(d.ptr, d.len, in[i], strlen(in[i]));
		kpin_buf_release(&e);
		kpin_buf_release(&d);
	}
	{
		struct kpin_buf d = KPIN_BUF_INIT;

		assert_int_equal(kpin_base64_decode(&d, "Zm9v!", 5), -1);
		kpin_buf_reset(&d);
		assert_int_equal(kpin_base64_decode(&d, "Zh==", 4), -1);
		kpin_buf_release(&d);
	}
	(void)state;
}

static void test_sign_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
		"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n"
		"-----END SSH SIGNATURE-----\n",
		"-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAg==\n"
		"-----END SSH SIGNATURE-----\n",
		"-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----",
	};
	struct kpin_sshsig sig;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kpin_sshsig_parse(&sig, bad[i], strlen(bad[i])),
				 KPIN_EINVALID);
	(void)state;
}

/* The public key blob of testdata/sshsig/@name.pub. */
static void testdata_key(struct kpin_buf *blob, const char *name)
{
	struct kpin_buf text = KPIN_BUF_INIT;
	char path[4096];

	snprintf(path, sizeof(path), "%s/sshsig/%s.pub", h_testdata(), name);
	assert_int_equal(h_read(&text, path), 0);
	kpin_buf_reset(blob);
	assert_int_equal(kpin_sshkey_parse_public(blob, text.ptr, text.len),
			 0);
	kpin_buf_release(&text);
}

/*
 * A public key line is read within its length: a key that ends exactly
 * there is accepted whatever follows in memory (strcspn() used to run
 * on, reading past the end, and refused it).
 */
static void test_sign_public_key_bounds(void **state)
{
	struct kpin_buf text = KPIN_BUF_INIT, blob = KPIN_BUF_INIT;
	struct kpin_buf want = KPIN_BUF_INIT;
	char path[4096];
	char *nl;

	snprintf(path, sizeof(path), "%s/sshsig/ed25519.pub", h_testdata());
	assert_int_equal(h_read(&text, path), 0);
	nl = strchr(text.ptr, ' ');
	assert_non_null(nl);
	nl = strchr(nl + 1, ' ');	/* the comment */
	assert_non_null(nl);
	*nl = 'X';
	assert_int_equal(kpin_sshkey_parse_public(&blob, text.ptr,
						  (size_t)(nl - text.ptr)), 0);
	testdata_key(&want, "ed25519");
	h_assert_same(blob.ptr, blob.len, want.ptr, want.len);
	/* the whole line with 'X' glued on is no key */
	kpin_buf_reset(&blob);
	assert_int_equal(kpin_sshkey_parse_public(&blob, text.ptr, text.len),
			 KPIN_EINVALID);
	kpin_buf_release(&text);
	kpin_buf_release(&blob);
	kpin_buf_release(&want);
	(void)state;
}

/* The commit time the allowed-signers tests check keys at (2023-11-14). */
#define WHEN 1700000000LL

/*
 * Who testdata/sshsig/allowed_signers says key @name is, with a line of
 * @extra (principals and options) and that key appended when not "";
 * NULL unless a line allows it.
 */
static char *signer_of(const char *name, const char *extra)
{
	struct kpin_buf file = KPIN_BUF_INIT, blob = KPIN_BUF_INIT;
	struct kpin_allowed a;
	char path[4096], *who;

	snprintf(path, sizeof(path), "%s/sshsig/allowed_signers",
		 h_testdata());
	assert_int_equal(h_read(&file, path), 0);
	snprintf(path, sizeof(path), "%s/sshsig/%s.pub", h_testdata(), name);
	if (*extra) {
		assert_int_equal(h_read(&blob, path), 0);
		kpin_buf_adds(&file, extra);
		kpin_buf_add(&file, blob.ptr, blob.len);
	}
	testdata_key(&blob, name);
	kpin_allowed_lookup(&a, file.ptr, file.len,
			    (const unsigned char *)blob.ptr, blob.len, "git",
			    WHEN);
	who = a.status == KPIN_ALLOWED_YES ? a.principals : NULL;
	if (who)
		a.principals = NULL;
	kpin_allowed_release(&a);
	kpin_buf_release(&file);
	kpin_buf_release(&blob);
	return who;
}

/*
 * Allowed-signers lines: principals, options, key. A cert-authority key
 * signs certificates, not commits, wherever the option stands (alone it
 * used to be missed); a namespaces pattern list must match "git"; an
 * option OpenSSH does not know, or a clause given twice, makes the line
 * not count (they used to be ignored).
 */
static void test_sign_allowed_signers(void **state)
{
	static const char *const cases[][3] = {
		{ "ed25519", "", "alice@example.org" },
		{ "ecdsa256", "", "bob@example.org,\"carol@example.org\"" },
		{ "rsa", "", NULL },		/* cert-authority alone */
		{ "ecdsa384", "", NULL },	/* namespaces="file" */
		{ "ecdsa521", "", "erin@example.org" },
		{ "rsa", "frank namespaces=\"a,git\",cert-authority ", NULL },
		{ "rsa", "ivan cert-authority,namespaces=\"git\" ", NULL },
		{ "rsa", "ivan CERT-Authority ", NULL },
		{ "rsa", "judy ", "judy" },
		{ "ecdsa384", "gina namespaces=\"gitx,xgit\" ", NULL },
		{ "ecdsa384", "gina namespaces=\"\" ", NULL },
		{ "ecdsa384", "gina namespaces=\"*,!git\" ", NULL },
		{ "ecdsa384", "hank namespaces=\"file,git\" ", "hank" },
		{ "ecdsa384", "hank namespaces=\"g*\" ", "hank" },
		{ "ecdsa384", "hank Namespaces=\"g?t\" ", "hank" },
		{ "rsa", "kim bogus ", NULL },
		{ "rsa", "kim no-touch-required ", NULL },
		{ "rsa", "kim namespaces=\"git\",bogus ", NULL },
		{ "rsa", "kim namespaces=\"git\",namespaces=\"git\" ", NULL },
		{ "rsa", "kim namespaces=git ", NULL },
		{ "rsa", "kim namespaces=\"git\", ", NULL },
		{ "rsa", "kim namespaces=\"git\"x ", NULL },
		{ "rsa", "kim valid-after=\"20230101\",valid-after=\"20230101\" ",
		  NULL },
		{ "rsa", "kim valid-before=\"20200101Z\",valid-after=\"20210101Z\" ",
		  NULL },
		{ "rsa", "kim valid-after=\"2023010\" ", NULL },
		{ "rsa", "leo valid-after=\"20230101Z\",valid-before=\"20240101Z\" ",
		  "leo" },
		{ "rsa", "leo valid-after=\"20231114221320Z\" ", "leo" },
		{ "rsa", "kim valid-after=\"20231114221321Z\" ", NULL },
		{ "rsa", "leo valid-before=\"20231114221320Z\" ", "leo" },
		{ "rsa", "kim valid-before=\"20231114221319Z\" ", NULL },
		{ "rsa", "leo namespaces=\"gi\\\"t,git\" ", "leo" },
	};
	struct kpin_buf file = KPIN_BUF_INIT, blob = KPIN_BUF_INIT;
	struct kpin_allowed a;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *who = signer_of(cases[i][0], cases[i][1]);

		if (!cases[i][2] && who)
			fail_msg("case %zu: signer '%s', want none", i, who);
		if (cases[i][2] && (!who || strcmp(who, cases[i][2])))
			fail_msg("case %zu: signer '%s', want '%s'", i,
				 who ? who : "(none)", cases[i][2]);
		free(who);
	}
	/* principals holding a NUL (found by tests/fuzz/fuzz-sshsig) */
	kpin_buf_add(&file, "\0\0al ", 5);
	assert_int_equal(h_read(&blob, h_path(h_testdata(),
					      "sshsig/ed25519.pub")), 0);
	kpin_buf_add(&file, blob.ptr, blob.len);
	testdata_key(&blob, "ed25519");
	kpin_allowed_lookup(&a, file.ptr, file.len,
			    (const unsigned char *)blob.ptr, blob.len, "git",
			    WHEN);
	assert_int_equal(a.status, KPIN_ALLOWED_NONE);
	kpin_buf_release(&file);
	kpin_buf_release(&blob);
	(void)state;
}

/* OpenSSH's pattern lists: '*', '?', and '!' refusing what it matches. */
static void test_sign_allowed_patterns(void **state)
{
	static const struct {
		const char *list;
		bool match;
	} cases[] = {
		{ "git", true }, { "g*", true }, { "gi?", true },
		{ "*t", true }, { "**", true }, { "g*i*t*", true },
		{ "file,git", true }, { "file,!x*,g*", true },
		{ "GIT", false }, { "gitx", false }, { "g?", false },
		{ "", false }, { "!file", false }, { "*,!git", false },
		{ "!g*,git", false }, { "git,!gi?", false }, { ",", false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (kpin_allowed_match_list("git", cases[i].list,
					    strlen(cases[i].list)) !=
		    cases[i].match)
			fail_msg("'%s': want %s", cases[i].list,
				 cases[i].match ? "a match" : "none");
	(void)state;
}

/* Set TZ to @tz; returns the old value for tz_restore(). */
static char *tz_set(const char *tz)
{
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;

	setenv("TZ", tz, 1);
	tzset();
	return saved;
}

/* Put back the TZ tz_set() saved (unset when it was). */
static void tz_restore(char *saved)
{
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

/*
 * valid-after and valid-before times: YYYYMMDD[HHMM[SS]], in UTC with
 * "Z" or "UTC", else in local time; what OpenSSH refuses is refused.
 */
static void test_sign_allowed_times(void **state)
{
	static const struct {
		const char *text;
		long long want;		/* -1: refused */
	} cases[] = {
		{ "20240101Z", 1704067200 }, { "20240101z", 1704067200 },
		{ "20240101UTC", 1704067200 }, { "202401010000Z", 1704067200 },
		{ "20240101000001Z", 1704067201 },
		{ "20240229Z", 1709164800 },
		{ "20230230Z", 1677715200 },	/* March 2nd, as mktime */
		{ "20231231235961Z", 1704067201 },
		{ "2024010Z", -1 }, { "2024010100Z", -1 }, { "Z", -1 },
		{ "20241301Z", -1 }, { "20240132Z", -1 }, { "20240101240000Z",
		  -1 }, { "20240101000062Z", -1 }, { "2024-101Z", -1 },
		{ " 2024010Z", -1 }, { "19700101Z", -1 }, { "19691231Z", -1 },
		{ "20240101ZZ", -1 },
	};
	char *saved;
	long long t;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = -1;
		if (kpin_allowed_parse_time(&t, cases[i].text,
					    strlen(cases[i].text)))
			t = -1;
		if (t != cases[i].want)
			fail_msg("'%s': %lld, want %lld", cases[i].text, t,
				 cases[i].want);
	}
	/* without "Z", local time (five hours behind UTC here) */
	saved = tz_set("EST5");
	assert_int_equal(kpin_allowed_parse_time(&t, "20240101", 8), 0);
	assert_true(t == 1704067200 + 5 * 3600);
	assert_int_equal(kpin_allowed_parse_time(&t, "202401010030", 12), 0);
	assert_true(t == 1704067200 + 5 * 3600 + 30 * 60);
	tz_restore(saved);
	(void)state;
}

/*
 * Validity times at and around their bounds, in UTC and in local time
 * (TZ=EST5 for both): kpin allows the key exactly when ssh-keygen -Y
 * find-principals -Overify-time (what git runs) finds its principal.
 */
static void test_sign_allowed_time_bounds(void **state)
{
	static const char *const opts[] = {
		"valid-after=\"20231114221320Z\"",
		"valid-before=\"20231114221320Z\"",
		"valid-after=\"20231114171320\"",
		"valid-before=\"202311141713\"",
		"valid-after=\"20231114\",valid-before=\"20231115Z\"",
	};
	struct world *w = *state;
	struct kpin_buf key = KPIN_BUF_INIT, pub = KPIN_BUF_INIT;
	struct kpin_buf blob = KPIN_BUF_INIT, file = KPIN_BUF_INIT;
	char *saved;
	struct h_result r;
	size_t i;
	int d;

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	assert_int_equal(h_read(&pub, h_path(w->dir, "ed.pub")), 0);
	assert_int_equal(kpin_sshkey_parse_public(&blob, pub.ptr, pub.len), 0);
	assert_int_equal(h_sh(&r, w->dir, "ssh-keygen -q -Y sign -n git -f ed "
			      "payload"), 0);
	h_result_release(&r);
	saved = tz_set("EST5");
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		kpin_buf_reset(&file);
		kpin_buf_addf(&file, "t@example.com %s %s", opts[i], pub.ptr);
		h_writes(h_path(w->dir, "allowed"), file.ptr);
		for (d = -1; d <= 1; d++) {
			struct kpin_allowed a;
			char at[32];
			time_t t = (time_t)(WHEN + d);
			struct tm tm;
			int found;

			gmtime_r(&t, &tm);
			strftime(at, sizeof(at), "%Y%m%d%H%M%SZ", &tm);
			found = !h_sh(&r, w->dir, "TZ=EST5 ssh-keygen -Y "
				      "find-principals -f allowed -s "
				      "payload.sig -Overify-time=%s", at);
			h_result_release(&r);
			kpin_allowed_lookup(&a, file.ptr, file.len,
					    (const unsigned char *)blob.ptr,
					    blob.len, "git", WHEN + d);
			if (found != (a.status == KPIN_ALLOWED_YES))
				fail_msg("%s at %s: ssh-keygen %s, kpin %d",
					 opts[i], at, found ? "finds it" :
					 "does not", (int)a.status);
			kpin_allowed_release(&a);
		}
	}
	tz_restore(saved);
	kpin_buf_release(&key);
	kpin_buf_release(&pub);
	kpin_buf_release(&blob);
	kpin_buf_release(&file);
}

/* ---- commits ------------------------------------------------------ */

#define OVERLAY ".platform/kubernetes/web/overlays/prd/kustomization.yaml"

static const char *const repo_files[] = {
	OVERLAY, "images:\n- name: web\n  newTag: v1\n",
	NULL
};

/* A repository "dir/repo" with git configured for SSH signing. */
static const char *make_repo(const struct world *w)
{
	static char dir[4200];
	struct h_result r;

	snprintf(dir, sizeof(dir), "%s", h_path(w->dir, "repo"));
	h_repo_init(dir, false, repo_files);
	assert_int_equal(h_git(&r, dir, "config gpg.format ssh && git config "
			       "gpg.ssh.allowedSignersFile ../allowed"), 0);
	h_result_release(&r);
	return dir;
}

/*
 * kpin set in @dir with the extra environment @env (NULL-terminated,
 * after HOME and the agent/key variables are cleared) and the words
 * after "set --app web --env prd --image web --digest <digest>".
 */
static int kpin_set(struct h_result *r, const char *dir,
		    const char *const *env, unsigned seed, ...)
{
	const char *argv[32] = { "kpin", "set", "--app", "web", "--env", "prd",
				 "--image", "web", "--digest", h_digest(seed) };
	const char *envv[16] = { h_env_home(), "XDG_CONFIG_HOME=",
				 "GIT_CONFIG_NOSYSTEM=1", "SSH_AUTH_SOCK=",
				 "KPIN_SIGNING_KEY=", "KPIN_SIGNING_PASSPHRASE=" };
	size_t n = 10, e = 6;
	const char *a;
	va_list ap;

	va_start(ap, seed);
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = a;
	va_end(ap);
	while (env && *env && e < 15)
		envv[e++] = *env++;
	return h_run(r, dir, envv, argv, NULL);
}

/* Allow @pubfile ("dir/name.pub") for t@example.com in dir/allowed. */
static void allow(const struct world *w, const char *name)
{
	struct kpin_buf pub = KPIN_BUF_INIT, line = KPIN_BUF_INIT;
	struct kpin_buf all = KPIN_BUF_INIT;
	char file[64];

	snprintf(file, sizeof(file), "%s.pub", name);
	assert_int_equal(h_read(&pub, h_path(w->dir, file)), 0);
	h_read(&all, h_path(w->dir, "allowed"));
	kpin_buf_addf(&all, "t@example.com %s", pub.ptr);
	h_write(h_path(w->dir, "allowed"), all.ptr, all.len);
	kpin_buf_release(&pub);
	kpin_buf_release(&line);
	kpin_buf_release(&all);
}

/* git verify-commit HEAD says good, and no line is a lone space. */
static void assert_git_verifies(const char *dir)
{
	struct h_result r;
	const char *raw;

	if (h_git(&r, dir, "verify-commit HEAD"))
		fail_msg("git verify-commit: %s", r.err.ptr);
	h_assert_contains(r.err.ptr, "Good \"git\" signature for "
			  "t@example.com");
	h_result_release(&r);
	raw = h_git_out(dir, "cat-file commit HEAD");
	h_assert_contains(raw, "\ngpgsig -----BEGIN SSH SIGNATURE-----\n");
	assert_null(strstr(raw, "\n \n"));
}

/* Ed25519 file, ECDSA in KPIN_SIGNING_KEY, RSA through the agent. */
static void test_sign_commit_git_verifies(void **state)
{
	struct world *w = *state;
	const char *dir = make_repo(w);
	struct kpin_buf key = KPIN_BUF_INIT, env = KPIN_BUF_INIT;
	struct kpin_buf sock = KPIN_BUF_INIT;
	struct h_result r;
	const char *e[3] = { NULL, NULL, NULL };

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	keygen(&key, w, "ec", "-t ecdsa -b 256 -N ''");
	keygen(&key, w, "rsa", "-t rsa -b 3072 -N ''");
	allow(w, "ed");
	allow(w, "ec");
	allow(w, "rsa");
	/* a key file named by user.signingkey */
	assert_int_equal(h_git(&r, dir, "config user.signingkey ../ed"), 0);
	h_result_release(&r);
	if (kpin_set(&r, dir, NULL, 1, "--sign", NULL))
		fail_msg("kpin: %s", r.err.ptr);
	h_result_release(&r);
	assert_git_verifies(dir);
	/* the key itself in KPIN_SIGNING_KEY wins */
	kpin_buf_reset(&key);
	assert_int_equal(h_read(&key, h_path(w->dir, "ec")), 0);
	kpin_buf_addf(&env, "KPIN_SIGNING_KEY=%s", key.ptr);
	e[0] = env.ptr;
	if (kpin_set(&r, dir, e, 2, "--sign", NULL))
		fail_msg("kpin: %s", r.err.ptr);
	h_result_release(&r);
	assert_git_verifies(dir);
	h_assert_contains(h_git_out(dir, "log -1 --format=%%GK"), "SHA256:");
	/* ssh-agent, the key named by its public half */
	kpin_buf_addf(&sock, "SSH_AUTH_SOCK=%s", start_agent(w, "rsa"));
	e[0] = sock.ptr;
	assert_int_equal(h_git(&r, dir, "config user.signingkey ../rsa.pub"),
			 0);
	h_result_release(&r);
	if (kpin_set(&r, dir, e, 3, "--sign", NULL))
		fail_msg("kpin: %s", r.err.ptr);
	h_result_release(&r);
	assert_git_verifies(dir);
	assert_int_equal(atoi(h_git_out(dir, "rev-list --count HEAD")), 4);
	kpin_buf_release(&key);
	kpin_buf_release(&env);
	kpin_buf_release(&sock);
}

/* The signed commit is the unsigned one plus its signature header. */
static void test_sign_commit_same_as_unsigned(void **state)
{
	struct world *w = *state;
	const char *dir = make_repo(w);
	struct kpin_buf key = KPIN_BUF_INIT;
	char copy[4200], a[8192];
	struct h_result r;

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	snprintf(copy, sizeof(copy), "%s", h_path(w->dir, "copy"));
	assert_int_equal(h_sh(&r, w->dir, "cp -a repo copy"), 0);
	h_result_release(&r);
	assert_int_equal(h_git(&r, dir, "config user.signingkey ../ed && "
			       "git config commit.gpgsign true"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_set(&r, dir, NULL, 4, NULL), 0);
	h_result_release(&r);
	assert_int_equal(kpin_set(&r, copy, NULL, 4, NULL), 0);
	h_result_release(&r);
	snprintf(a, sizeof(a), "%s",
		 h_git_out(dir, "log -1 --format='%%T %%P%%n%%an <%%ae>%%n%%B'"));
	assert_string_equal(a, h_git_out(copy, "log -1 --format='%%T %%P%%n"
					 "%%an <%%ae>%%n%%B'"));
	h_assert_contains(h_git_out(dir, "cat-file commit HEAD"), "gpgsig ");
	assert_null(strstr(h_git_out(copy, "cat-file commit HEAD"), "gpgsig"));
	/* --no-sign wins over commit.gpgsign */
	assert_int_equal(kpin_set(&r, dir, NULL, 5, "--no-sign", NULL), 0);
	h_result_release(&r);
	assert_null(strstr(h_git_out(dir, "cat-file commit HEAD"), "gpgsig"));
	kpin_buf_release(&key);
}

/* signing: required refuses an unsigned commit with exit 6. */
static void test_sign_commit_policy(void **state)
{
	struct world *w = *state;
	const char *dir = make_repo(w);
	static const char *const policy[] = {
		".kpin.yaml", "signing: required\n", NULL
	};
	static const char *const bad[] = {
		".kpin.yaml", "signing: yes\n", NULL
	};
	struct kpin_buf key = KPIN_BUF_INIT;
	char head[64];
	struct h_result r;

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	allow(w, "ed");
	h_repo_commit(dir, "refs/heads/main", policy);
	assert_int_equal(h_git(&r, dir, "reset -q --hard && git config "
			       "user.signingkey ../ed"), 0);
	h_result_release(&r);
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	assert_int_equal(kpin_set(&r, dir, NULL, 6, NULL), 6);
	h_assert_contains(r.err.ptr, "signing: required");
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	assert_string_equal(h_git_out(dir, "status --porcelain"), "");
	assert_int_equal(kpin_set(&r, dir, NULL, 6, "--sign", NULL), 0);
	h_result_release(&r);
	assert_git_verifies(dir);
	/* a bad value is a policy file error with its position */
	h_repo_commit(dir, "refs/heads/main", bad);
	assert_int_equal(kpin_set(&r, dir, NULL, 7, "--sign", NULL), 3);
	h_assert_contains(r.err.ptr, ".kpin.yaml:1:10: error: 'signing' must "
			  "be required or optional, not 'yes'");
	h_result_release(&r);
	kpin_buf_release(&key);
}

/* No key or passphrase in any output, message or commit. */
static void test_sign_commit_no_secret(void **state)
{
	struct world *w = *state;
	const char *dir = make_repo(w);
	struct kpin_buf key = KPIN_BUF_INIT, env = KPIN_BUF_INIT;
	struct kpin_buf all = KPIN_BUF_INIT;
	char chunk[33], head[64];
	const char *e[3] = { NULL, NULL, NULL };
	const char *body;
	struct h_result r;

	keygen(&key, w, "pem", "-t ecdsa -b 384 -m PKCS8 -N " PASS);
	allow(w, "pem");
	body = strchr(key.ptr, '\n') + 1;
	snprintf(chunk, sizeof(chunk), "%.32s", body + 40);
	kpin_buf_addf(&env, "KPIN_SIGNING_KEY=%s", key.ptr);
	e[0] = env.ptr;
	e[1] = "KPIN_SIGNING_PASSPHRASE=wrong-" PASS;
	snprintf(head, sizeof(head), "%s", h_git_out(dir, "rev-parse HEAD"));
	assert_int_not_equal(kpin_set(&r, dir, e, 7, "--sign", NULL), 0);
	h_assert_contains(r.err.ptr, "KPIN_SIGNING_KEY");
	assert_null(strstr(r.err.ptr, PASS));
	assert_null(strstr(r.err.ptr, chunk));
	h_result_release(&r);
	assert_string_equal(h_git_out(dir, "rev-parse HEAD"), head);
	e[1] = "KPIN_SIGNING_PASSPHRASE=" PASS;
	if (kpin_set(&r, dir, e, 7, "--sign", "--json", NULL))
		fail_msg("kpin: %s", r.err.ptr);
	kpin_buf_add(&all, r.out.ptr, r.out.len);
	kpin_buf_add(&all, r.err.ptr, r.err.len);
	h_result_release(&r);
	assert_git_verifies(dir);
	kpin_buf_adds(&all, h_git_out(dir, "cat-file commit HEAD"));
	assert_null(strstr(all.ptr, PASS));
	assert_null(strstr(all.ptr, chunk));
	/* nothing of it left in the repository's files either */
	assert_int_equal(h_sh(&r, dir, "grep -rlF -e '%s' -e '%s' . || true",
			      PASS, chunk), 0);
	assert_string_equal(r.out.len ? r.out.ptr : "", "");
	h_result_release(&r);
	kpin_buf_release(&key);
	kpin_buf_release(&env);
	kpin_buf_release(&all);
}

/* Library: every attempt after a lost race signs its own commit. */
struct race {
	const char *dir;
	int lost;
};

static void move_branch(struct kpin_repo *repo, int attempt, void *arg)
{
	struct race *race = arg;
	char content[64];
	const char *files[] = { "other.txt", content, NULL };

	(void)repo;
	if (attempt >= race->lost)
		return;
	snprintf(content, sizeof(content), "outside writer %d\n", attempt);
	h_repo_commit(race->dir, "refs/heads/main", files);
}

static void test_sign_commit_retry_resigns(void **state)
{
	struct world *w = *state;
	const char *dir = make_repo(w);
	struct kpin_buf key = KPIN_BUF_INIT;
	struct kpin_sign_opts so = { KPIN_SIGN_SSH, NULL, NULL, NULL, NULL,
				     NULL };
	struct kpin_change c = { "web", NULL, NULL, NULL };
	struct race race = { dir, 2 };
	struct kpin_repo *repo = NULL;
	struct kpin_repo_result res;
	struct kpin_repo_opts o;
	struct kpin_target t;

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	allow(w, "ed");
	memset(&t, 0, sizeof(t));
	t.app = "web";
	t.env = "prd";
	c.digest = h_digest(8);
	t.changes = &c;
	t.nchanges = 1;
	memset(&o, 0, sizeof(o));
	o.author_name = "T";
	o.author_email = "t@example.com";
	o.retries = 5;
	o.before_cas = move_branch;
	o.hook_arg = &race;
	so.key_data = key.ptr;
	assert_int_equal(kpin_signer_open(&o.signer, &so), 0);
	assert_int_equal(kpin_repo_open(&repo, dir), 0);
	assert_int_equal(kpin_repo_update(repo, &t, 1, &o, &res), 0);
	assert_int_equal(res.attempts, 3);
	kpin_repo_result_release(&res);
	kpin_target_release(&t);
	kpin_repo_free(repo);
	kpin_signer_free(o.signer);
	assert_git_verifies(dir);
	assert_string_equal(h_git_out(dir, "show HEAD:other.txt"),
			    "outside writer 1");
	kpin_buf_release(&key);
}

/* kpin history --verify in @dir; its status, output in @r. */
static int history_verify(struct h_result *r, const char *dir)
{
	const char *argv[] = { "kpin", "history", "--app", "web", "--env",
			       "prd", "--verify", NULL };
	const char *env[] = { h_env_home(), "XDG_CONFIG_HOME=",
			      "GIT_CONFIG_NOSYSTEM=1", NULL };

	return h_run(r, dir, env, argv, NULL);
}

/* Write @raw as a commit object and make main point at it. */
static void replace_head(const struct world *w, const char *dir,
			 const char *raw)
{
	struct h_result r;

	h_writes(h_path(w->dir, "raw"), raw);
	assert_int_equal(h_git(&r, dir, "update-ref refs/heads/main $(git "
			       "hash-object -t commit -w ../raw) && git reset "
			       "-q --hard"), 0);
	h_result_release(&r);
}

static void test_sign_history_verify(void **state)
{
	struct world *w = *state;
	const char *dir = make_repo(w);
	struct kpin_buf key = KPIN_BUF_INIT, raw = KPIN_BUF_INIT;
	struct kpin_buf sock = KPIN_BUF_INIT;
	struct h_result r;
	char *p;

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	keygen(&key, w, "stranger", "-t ecdsa -N ''");
	allow(w, "ed");
	assert_int_equal(h_git(&r, dir, "config user.signingkey ../ed"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_set(&r, dir, NULL, 1, "--sign", NULL), 0);
	h_result_release(&r);
	assert_int_equal(kpin_set(&r, dir, NULL, 2, NULL), 0);
	h_result_release(&r);
	assert_int_equal(h_git(&r, dir, "config user.signingkey "
			       "../stranger"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_set(&r, dir, NULL, 3, "--sign", NULL), 0);
	h_result_release(&r);
	if (history_verify(&r, dir))
		fail_msg("history: %s", r.err.ptr);
	h_assert_contains(r.out.ptr, "  signed by an unknown key SHA256:");
	h_assert_contains(r.out.ptr, "  unsigned\n");
	h_assert_contains(r.out.ptr, "  signed by t@example.com\n");
	h_result_release(&r);
	/* a tampered message: the signature no longer covers it */
	assert_int_equal(h_git(&r, dir, "reset -q --hard HEAD~2"), 0);
	h_result_release(&r);
	kpin_buf_adds(&raw, h_git_out(dir, "cat-file commit HEAD"));
	p = strstr(raw.ptr, "\n\nweb/prd:");
	assert_non_null(p);
	p[3] = 'W';
	kpin_buf_addch(&raw, '\n');
	replace_head(w, dir, raw.ptr);
	assert_int_equal(history_verify(&r, dir), 1);
	h_assert_contains(r.out.ptr, "  BAD signature: the signature does not "
			  "verify\n");
	h_assert_contains(r.err.ptr, "badly signed");
	h_result_release(&r);
	kpin_buf_release(&key);
	kpin_buf_release(&raw);
	kpin_buf_release(&sock);
}

/*
 * Allowed-signers options as git verify-commit reads them (through
 * ssh-keygen, the witness): for each line, history --verify says what
 * git log's %G? says: G good, U an unknown key (a line OpenSSH refuses,
 * or a key outside its validity at the commit's time), B bad (a
 * namespaces list that refuses "git"). The commit is made now.
 */
static void test_sign_history_allowed_options(void **state)
{
	static const char *const opts[] = {
		"namespaces=\"g*\"", "namespaces=\"*,!git\"",
		"namespaces=\"GIT\"", "namespaces=\"file\"",
		"NAMESPACES=\"git\"", "namespaces=\"gi\\\"t\"", "bogus",
		"Cert-Authority", "namespaces=git", "namespaces=\"git\",",
		",namespaces=\"git\"",
		"valid-after=\"20000101\"", "valid-after=\"20990101Z\"",
		"valid-before=\"20000101Z\"", "valid-before=\"20990101\"",
		"valid-after=\"20000101\",valid-after=\"20000102\"",
		"valid-after=\"2000010\"", "valid-after=\"20000101UTC\"",
		"valid-before=\"20990101\",valid-after=\"20990102\"",
		"valid-after=\"20000101000061\"",
		"valid-after=\"20000101000062\"",
		"namespaces=\"file\",valid-before=\"20000101Z\"",
	};
	struct world *w = *state;
	const char *dir = make_repo(w);
	struct kpin_buf key = KPIN_BUF_INIT, pub = KPIN_BUF_INIT;
	struct kpin_buf wrong = KPIN_BUF_INIT;
	struct h_result r;
	size_t i;

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	assert_int_equal(h_read(&pub, h_path(w->dir, "ed.pub")), 0);
	assert_int_equal(h_git(&r, dir, "config user.signingkey ../ed"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_set(&r, dir, NULL, 1, "--sign", NULL), 0);
	h_result_release(&r);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		struct kpin_buf line = KPIN_BUF_INIT;
		const char *want;
		char g;
		int rc;

		kpin_buf_addf(&line, "t@example.com %s %s", opts[i], pub.ptr);
		h_writes(h_path(w->dir, "allowed"), line.ptr);
		kpin_buf_release(&line);
		g = *h_git_out(dir, "log -1 --format=%%G?");
		want = g == 'G' ? "  signed by t@example.com\n" :
		       g == 'U' ? "  signed by an unknown key SHA256:" :
		       "  BAD signature: ";
		rc = history_verify(&r, dir);
		if (!strstr(r.out.ptr, want) || rc != (g == 'B'))
			kpin_buf_addf(&wrong, "\n%s: git says %c, kpin (%d): "
				      "%.*s", opts[i], g, rc,
				      (int)strcspn(r.out.ptr, "\n"), r.out.ptr);
		h_result_release(&r);
	}
	if (wrong.len)
		fail_msg("%s", wrong.ptr);
	/* the reason, in words */
	kpin_buf_addf(&wrong, "t@example.com valid-before=\"20000101Z\" %s",
		      pub.ptr);
	h_writes(h_path(w->dir, "allowed"), wrong.ptr);
	assert_int_equal(history_verify(&r, dir), 0);
	h_assert_contains(r.out.ptr, " (allowed signer t@example.com: key "
			  "has expired: commit time 20");
	h_assert_contains(r.out.ptr, "Z > valid-before 2000-01-01T00:00:00Z)\n");
	h_result_release(&r);
	kpin_buf_release(&key);
	kpin_buf_release(&pub);
	kpin_buf_release(&wrong);
}

/*
 * Replace HEAD of w->dir/repo by the same commit signed by key "ed" in
 * namespace @ns (a shell word) with ssh-keygen.
 */
static void resign_head(const struct world *w, const char *ns)
{
	struct h_result r;

	assert_int_equal(h_sh(&r, w->dir, "cd repo && git cat-file commit HEAD "
			      "| awk '/^gpgsig /{s=1;next} s&&/^ /{next} "
			      "{s=0;print}' >../unsigned && cd .. && "
			      "rm -f unsigned.sig && "
			      "ssh-keygen -q -Y sign -n %s -f ed unsigned && "
			      "awk 'NR==FNR{sig=sig (n++?\"\\n \":\"\") $0;next} "
			      "/^committer /&&!done{print;print \"gpgsig \" sig;"
			      "done=1;next} {print}' unsigned.sig unsigned "
			      ">raw && cd repo && git update-ref refs/heads/main "
			      "$(git hash-object -t commit -w ../raw)", ns), 0);
	h_result_release(&r);
}

/*
 * A signature made for another namespace (ssh-keygen -Y sign -n file)
 * over the same bytes is refused; .kpin/allowed_signers counts as the
 * parent has it; signing: required fails on an unsigned commit.
 */
static void test_sign_history_namespace_policy(void **state)
{
	struct world *w = *state;
	const char *dir = make_repo(w);
	struct kpin_buf key = KPIN_BUF_INIT, allowed = KPIN_BUF_INIT;
	struct h_result r;
	const char *files[] = { ".kpin/allowed_signers", NULL, NULL };

	keygen(&key, w, "ed", "-t ed25519 -N ''");
	allow(w, "ed");
	assert_int_equal(h_read(&allowed, h_path(w->dir, "allowed")), 0);
	files[1] = allowed.ptr;
	h_repo_commit(dir, "refs/heads/main", files);
	assert_int_equal(h_git(&r, dir, "reset -q --hard && git config --unset "
			       "gpg.ssh.allowedSignersFile && git config "
			       "user.signingkey ../ed"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_set(&r, dir, NULL, 1, "--sign", NULL), 0);
	h_result_release(&r);
	if (history_verify(&r, dir))
		fail_msg("history: %s", r.err.ptr);
	h_assert_contains(r.out.ptr, "  signed by t@example.com\n");
	h_result_release(&r);
	/* the same commit bytes, signed in the namespace "file" */
	resign_head(w, "file");
	assert_int_equal(history_verify(&r, dir), 1);
	h_assert_contains(r.out.ptr, "  BAD signature: signed in namespace "
			  "'file', not 'git'\n");
	h_result_release(&r);
	/*
	 * the signature comes from the repository: a terminal escape in it
	 * is not printed as is (it could rewrite the line above)
	 */
	resign_head(w, "\"$(printf '\\033[1Afile')\"");
	assert_int_equal(history_verify(&r, dir), 1);
	h_assert_contains(r.out.ptr, "  BAD signature: signed in namespace "
			  "'?[1Afile', not 'git'\n");
	assert_null(strchr(r.out.ptr, '\033'));
	h_result_release(&r);
	/* signing: required: an unsigned commit fails the listing */
	assert_int_equal(h_git(&r, dir, "reset -q --hard HEAD~1"), 0);
	h_result_release(&r);
	{
		const char *policy[] = { ".kpin.yaml", "signing: required\n",
					 NULL };

		h_repo_commit(dir, "refs/heads/main", policy);
	}
	assert_int_equal(h_git(&r, dir, "reset -q --hard"), 0);
	h_result_release(&r);
	assert_int_equal(kpin_set(&r, dir, NULL, 2, "--sign", NULL), 0);
	h_result_release(&r);
	/* the fixture's own commit, which made the entry, is unsigned */
	assert_int_equal(history_verify(&r, dir), 1);
	h_assert_contains(r.out.ptr, "  signed by t@example.com\n");
	h_assert_contains(r.out.ptr, "  unsigned\n");
	h_assert_contains(r.err.ptr, "signing: required");
	h_result_release(&r);
	kpin_buf_release(&key);
	kpin_buf_release(&allowed);
}

/* OpenPGP: a key made by gpg, given as KPIN_SIGNING_KEY with its passphrase. */
static void test_sign_commit_openpgp(void **state)
{
	struct world *w = *state;
	const char *dir = make_repo(w);
	struct kpin_buf key = KPIN_BUF_INIT, env = KPIN_BUF_INIT;
	struct kpin_buf tmp = KPIN_BUF_INIT, home = KPIN_BUF_INIT;
	const char *e[5] = { NULL, NULL, NULL, NULL, NULL };
	const char *argv[] = { "kpin", "history", "--app", "web", "--env",
			       "prd", "--verify", NULL };
	struct h_result r;

	if (h_sh(&r, w->dir, "mkdir -m 700 gnupg tmp && GNUPGHOME=gnupg "
		 "gpg -q --batch --pinentry-mode loopback --passphrase " PASS
		 " --quick-gen-key 'T <t@example.com>' ed25519 sign never && "
		 "GNUPGHOME=gnupg gpg -q --batch --pinentry-mode loopback "
		 "--passphrase " PASS " --armor --export-secret-keys "
		 "t@example.com >secret.asc"))
		fail_msg("gpg: %s", r.err.ptr);
	h_result_release(&r);
	assert_int_equal(h_read(&key, h_path(w->dir, "secret.asc")), 0);
	assert_int_equal(h_git(&r, dir, "config --unset gpg.format"), 0);
	h_result_release(&r);
	kpin_buf_addf(&env, "KPIN_SIGNING_KEY=%s", key.ptr);
	kpin_buf_addf(&tmp, "TMPDIR=%s", h_path(w->dir, "tmp"));
	kpin_buf_addf(&home, "GNUPGHOME=%s", h_path(w->dir, "gnupg"));
	e[0] = env.ptr;
	e[1] = "KPIN_SIGNING_PASSPHRASE=" PASS;
	e[2] = tmp.ptr;
	if (kpin_set(&r, dir, e, 1, "--sign", NULL))
		fail_msg("kpin: %s", r.err.ptr);
	assert_null(strstr(r.err.ptr, PASS));
	h_result_release(&r);
	h_assert_contains(h_git_out(dir, "cat-file commit HEAD"),
			  "\ngpgsig -----BEGIN PGP SIGNATURE-----\n");
	/* the armor's blank line is " " as git writes it; none at the end */
	h_assert_contains(h_git_out(dir, "cat-file commit HEAD"),
			  "-----END PGP SIGNATURE-----\n\nweb/prd: ");
	if (h_sh(&r, dir, "GNUPGHOME=../gnupg git verify-commit HEAD"))
		fail_msg("git verify-commit: %s", r.err.ptr);
	h_assert_contains(r.err.ptr, "Good signature from \"T <t@example.com>\"");
	h_result_release(&r);
	/*
	 * The temporary GNUPGHOME is gone, and its agent with it (this
	 * test's: other tests may run theirs at the same time).
	 */
	assert_int_equal(h_sh(&r, w->dir, "ls -A tmp; pgrep -f "
			      "'[g]pg-agent.*%s/kpin-gnupg' || true",
			      h_path(w->dir, "tmp")), 0);
	assert_string_equal(r.out.len ? r.out.ptr : "", "");
	h_result_release(&r);
	/* history --verify checks it with the user's keyring */
	e[0] = h_env_home();
	e[1] = home.ptr;
	e[2] = NULL;
	if (h_run(&r, dir, e, argv, NULL))
		fail_msg("history: %s", r.err.ptr);
	h_assert_contains(r.out.ptr, "  signed by T <t@example.com>\n");
	h_result_release(&r);
	h_sh(&r, w->dir, "gpgconf --homedir gnupg --kill gpg-agent");
	h_result_release(&r);
	kpin_buf_release(&key);
	kpin_buf_release(&env);
	kpin_buf_release(&tmp);
	kpin_buf_release(&home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_base64),
		cmocka_unit_test(test_sign_parse_malformed),
		cmocka_unit_test(test_sign_public_key_bounds),
		cmocka_unit_test(test_sign_allowed_signers),
		cmocka_unit_test(test_sign_allowed_patterns),
		cmocka_unit_test(test_sign_allowed_times),
		cmocka_unit_test_setup_teardown(test_sign_ed25519_golden, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sign_key_types, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sign_pem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_rsa_too_short, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sign_corrupt_ed25519,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_allowed_time_bounds,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_agent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sign_encrypted_openssh,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_verify, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sign_commit_git_verifies,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sign_commit_same_as_unsigned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_commit_policy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sign_commit_no_secret,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_commit_retry_resigns,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_history_verify, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_sign_history_namespace_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sign_history_allowed_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_commit_openpgp, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("sign", tests, NULL, NULL);
}
