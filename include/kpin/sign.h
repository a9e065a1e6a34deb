/*
 * Signing commits in-process: SSH signatures (sshsig, namespace "git")
 * with a key from KPIN_SIGNING_KEY, a key file or ssh-agent, and OpenPGP
 * signatures through GPGME. libcrypto and GPGME are loaded only when a
 * signer is opened. Included by the CLI and by the repository engine.
 */
#ifndef KPIN_SIGN_H
#define KPIN_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct kpin_repo;
struct kpin_signer;

enum kpin_sign_format {
	KPIN_SIGN_SSH,
	KPIN_SIGN_OPENPGP
};

/*
 * struct kpin_sign_config - What git's configuration says about signing
 * @gpgsign: commit.gpgsign
 * @format: gpg.format ("openpgp" when unset)
 * @format_set: whether gpg.format is set
 * @signing_key: user.signingkey, or NULL
 * @allowed_signers: gpg.ssh.allowedSignersFile, or NULL
 */
struct kpin_sign_config {
	bool gpgsign;
	enum kpin_sign_format format;
	bool format_set;
	char *signing_key;
	char *allowed_signers;
};

/*
 * kpin_sign_config_read() - Read the signing settings of @repo's config
 *
 * Returns: 0 or KPIN_EINVALID (a value git would refuse too, such as
 * gpg.format = x509, which kpin does not support).
 */
int kpin_sign_config_read(struct kpin_sign_config *out,
			  struct kpin_repo *repo);
void kpin_sign_config_release(struct kpin_sign_config *c);

/*
 * struct kpin_sign_opts - Where the key comes from
 * @format: SSH or OpenPGP
 * @signing_key: user.signingkey: for SSH a key file (private or public,
 *               "~/" expanded), "key::<public key>" or a literal public
 *               key; for OpenPGP a key id or fingerprint; NULL for none
 * @key_data: a private key itself (KPIN_SIGNING_KEY), or NULL; wins over
 *            @signing_key
 * @passphrase: its passphrase (KPIN_SIGNING_PASSPHRASE), or NULL
 * @agent_sock: ssh-agent's socket (SSH_AUTH_SOCK), or NULL
 * @gnupghome: GNUPGHOME for the user's keyring, or NULL for the default
 */
struct kpin_sign_opts {
	enum kpin_sign_format format;
	const char *signing_key;
	const char *key_data;
	const char *passphrase;
	const char *agent_sock;
	const char *gnupghome;
};

/*
 * kpin_signer_open() - Find and load the signing key
 * @out: receives the signer
 * @o: where the key comes from
 *
 * Reads and checks the key now, so that a missing key or agent is
 * reported before anything is written. Messages never quote a key or
 * passphrase.
 *
 * Returns: 0, KPIN_EINVALID (unreadable key, wrong passphrase),
 * KPIN_ENOTFOUND (no key configured) or KPIN_ERROR (library missing).
 */
int kpin_signer_open(struct kpin_signer **out,
		     const struct kpin_sign_opts *o);

/*
 * kpin_signer_sign() - Sign @payload
 * @out: receives the armored signature, ending with a newline, as
 *       ssh-keygen -Y sign or gpg --detach-sign --armor write it
 * @s: the signer
 * @payload: the exact bytes to sign (an unsigned commit object)
 * @len: their length
 *
 * Returns: 0, KPIN_ENOTFOUND (the agent lacks the key) or KPIN_ERROR.
 */
int kpin_signer_sign(struct kpin_buf *out, struct kpin_signer *s,
		     const void *payload, size_t len);

/* kpin_signer_free() - Wipe key material, clean up; NULL is a no-op. */
void kpin_signer_free(struct kpin_signer *s);

/* enum kpin_sig_status - What a commit's signature says */
enum kpin_sig_status {
	KPIN_SIG_UNSIGNED,	/* no signature */
	KPIN_SIG_GOOD,		/* verifies, by an allowed signer */
	KPIN_SIG_UNKNOWN_KEY,	/* verifies, but no allowed signer has the key */
	KPIN_SIG_BAD		/* does not verify, or is malformed */
};

/*
 * struct kpin_sig_check - The verdict on one commit
 * @status: the verdict
 * @signer: the allowed signer's principals (SSH) or the key's user id
 *          (OpenPGP); NULL when unknown
 * @key: the key: "SHA256:..." (SSH) or the fingerprint (OpenPGP); NULL
 *       when unsigned
 * @reason: why it is bad, or NULL
 */
struct kpin_sig_check {
	enum kpin_sig_status status;
	char *signer;
	char *key;
	char *reason;
};

void kpin_sig_check_release(struct kpin_sig_check *c);

/* kpin_sig_status_name() - "good", "bad", "unsigned" or "unknown key". */
const char *kpin_sig_status_name(enum kpin_sig_status s);

/*
 * kpin_verify_commit() - Check a commit's signature
 * @out: the verdict
 * @repo: the repository
 * @commit: the commit's id in hex
 * @allowed_signers: gpg.ssh.allowedSignersFile ("~/" expanded), or NULL
 *                   to use .kpin/allowed_signers as the commit's first
 *                   parent has it (so a commit cannot let itself in)
 *
 * SSH signatures must be in the namespace "git" and verify over the
 * commit without its signature header; the signer is looked up by key
 * in the allowed-signers file (lines "principals [options] keytype
 * base64", as ssh-keygen reads them; cert-authority lines and lines whose
 * namespaces= leave out "git" do not count). OpenPGP signatures are
 * checked by GPGME against the user's keyring.
 *
 * Returns: 0 (the verdict is in @out), KPIN_EINVALID (the allowed-signers
 * file cannot be read) or KPIN_ERROR.
 */
int kpin_verify_commit(struct kpin_sig_check *out, struct kpin_repo *repo,
		       const char *commit, const char *allowed_signers);

/*
 * kpin_verify_commits() - kpin_verify_commit() for a list of commits
 * @out: @n verdicts, one per commit, in order
 * @commits: @n commit ids in hex; an empty one is left unchecked (its
 *           verdict stays "unsigned", with no key)
 *
 * A commit listed more than once is checked once.
 *
 * Returns: as kpin_verify_commit(); after an error, @out holds nothing
 * to release.
 */
int kpin_verify_commits(struct kpin_sig_check *out, struct kpin_repo *repo,
			const char *const *commits, size_t n,
			const char *allowed_signers);

#endif
