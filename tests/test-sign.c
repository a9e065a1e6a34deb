/*
 * The signing modules on their own: the sshsig envelope and base64, SSH
 * keys in every format and type kpin reads, the agent, and no secret in
 * any message. ssh-keygen and ssh-agent are the witnesses: the Ed25519
 * signature must be byte-identical to ssh-keygen -Y sign's, and every
 * other signature must pass ssh-keygen -Y check-novalidate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_base64),
		cmocka_unit_test(test_sign_parse_malformed),
		cmocka_unit_test_setup_teardown(test_sign_ed25519_golden, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sign_key_types, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sign_pem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_agent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sign_encrypted_openssh,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_verify, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("sign", tests, NULL, NULL);
}
