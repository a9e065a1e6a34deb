/*
 * Opening a signer and signing a payload (include/kpin/sign.h): finding
 * the SSH key (KPIN_SIGNING_KEY, a key file, "key::" or a public key the
 * agent holds), hashing, the sshsig envelope; OpenPGP is handed to gpg.c.
 * Also reads git's signing settings.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <git2.h>
#include "git-lazy.h"

#include "gpg.h"
#include "repo-internal.h"
#include "sign-commit.h"
#include "sshagent.h"
#include "sshkey.h"
#include "sshsig.h"
#include "kpin/error.h"
#include "kpin/file.h"
#include "kpin/repo.h"
#include "kpin/sign.h"
#include "kpin/xalloc.h"

#define KEY_FILE_MAX (64 * 1024)

struct kpin_signer {
	enum kpin_sign_format format;
	struct kpin_sshkey *key;	/* a private key in memory, or NULL */
	struct kpin_buf pub;		/* SSH: the public key blob */
	char *agent_sock;		/* SSH without a private key */
	struct kpin_gpg *gpg;		/* OpenPGP */
};

/* git's boolean spellings; -1 for anything else. */
static int parse_bool(const char *v)
{
	if (!*v || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on") || !strcmp(v, "1"))
		return 1;
	if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "off") || !strcmp(v, "0"))
		return 0;
	return -1;
}

static char *config_string(git_config *cfg, const char *name)
{
	git_buf v = GIT_BUF_INIT;
	char *s = NULL;

	if (!git_config_get_string_buf(&v, cfg, name))
		s = xstrdup(v.ptr);
	git_buf_dispose(&v);
	git_error_clear();
	return s;
}

/* "~/x" -> "$HOME/x", as git expands paths in its configuration. */
static char *expand_home(const char *path)
{
	const char *home = getenv("HOME");
	struct kpin_buf b = KPIN_BUF_INIT;

	if (path[0] != '~' || path[1] != '/' || !home)
		return xstrdup(path);
	kpin_buf_addf(&b, "%s%s", home, path + 1);
	return kpin_buf_detach(&b, NULL);
}

int kpin_sign_config_read(struct kpin_sign_config *out,
			  struct kpin_repo *repo)
{
	git_config *cfg = NULL;
	char *v;
	int b, rc = 0;

	memset(out, 0, sizeof(*out));
	out->format = KPIN_SIGN_OPENPGP;
	if (git_repository_config_snapshot(&cfg, kpin_repo_git(repo))) {
		git_error_clear();
		return 0;
	}
	v = config_string(cfg, "commit.gpgsign");
	if (v) {
		b = parse_bool(v);
		if (b < 0)
			rc = kpin_error_set(KPIN_EINVALID, "bad boolean config "
					    "value '%s' for 'commit.gpgsign'",
					    v);
		out->gpgsign = b > 0;
		free(v);
	}
	v = config_string(cfg, "gpg.format");
	if (v && !rc) {
		out->format_set = true;
		if (!strcmp(v, "ssh"))
			out->format = KPIN_SIGN_SSH;
		else if (strcmp(v, "openpgp"))
			rc = kpin_error_set(KPIN_EINVALID, "unsupported "
					    "gpg.format '%s' (kpin signs with "
					    "ssh and openpgp)", v);
	}
	free(v);
	out->signing_key = config_string(cfg, "user.signingkey");
	v = config_string(cfg, "gpg.ssh.allowedSignersFile");
	if (v) {
		out->allowed_signers = expand_home(v);
		free(v);
	}
	git_config_free(cfg);
	if (rc)
		kpin_sign_config_release(out);
	return rc;
}

void kpin_sign_config_release(struct kpin_sign_config *c)
{
	free(c->signing_key);
	free(c->allowed_signers);
	c->signing_key = c->allowed_signers = NULL;
}

/* Sign through the agent with @s->pub; says why when there is no agent. */
static int use_agent(struct kpin_signer *s, const struct kpin_sign_opts *o,
		     const char *why)
{
	if (!o->agent_sock || !*o->agent_sock)
		return kpin_error_set(KPIN_ERROR, "%s, and SSH_AUTH_SOCK is "
				      "not set: start ssh-agent and add the "
				      "key with ssh-add", why);
	s->agent_sock = xstrdup(o->agent_sock);
	return 0;
}

/* A private key from bytes; an encrypted OpenSSH key goes to the agent. */
static int ssh_private(struct kpin_signer *s, const struct kpin_sign_opts *o,
		       const char *text, size_t len, const char *what)
{
	struct kpin_buf why = KPIN_BUF_INIT;
	const unsigned char *pub;
	size_t publen;
	int rc;

	rc = kpin_sshkey_parse_private(&s->key, text, len, o->passphrase,
				       what);
	if (rc)
		return rc;
	pub = kpin_sshkey_public(s->key, &publen);
	kpin_buf_add(&s->pub, pub, publen);
	if (!kpin_sshkey_encrypted(s->key))
		return 0;
	kpin_sshkey_free(s->key);
	s->key = NULL;
	kpin_buf_addf(&why, "the OpenSSH key in %s is encrypted, which kpin "
		      "reads only through ssh-agent", what);
	rc = use_agent(s, o, why.ptr);
	kpin_buf_release(&why);
	return rc;
}

static int ssh_open(struct kpin_signer *s, const struct kpin_sign_opts *o)
{
	const char *k = o->signing_key;
	struct kpin_buf text = KPIN_BUF_INIT, why = KPIN_BUF_INIT;
	char *path;
	int rc;

	if (o->key_data && *o->key_data)
		return ssh_private(s, o, o->key_data, strlen(o->key_data),
				   "KPIN_SIGNING_KEY");
	if (!k || !*k)
		return kpin_error_set(KPIN_ENOTFOUND, "no SSH signing key: set "
				      "user.signingkey or KPIN_SIGNING_KEY");
	if (!strncmp(k, "key::", 5) || !strncmp(k, "ssh-", 4) ||
	    !strncmp(k, "ecdsa-", 6)) {
		if (!strncmp(k, "key::", 5))
			k += 5;
		rc = kpin_sshkey_parse_public(&s->pub, k, strlen(k));
		if (rc)
			return kpin_error_prefix("user.signingkey: ");
		return use_agent(s, o, "user.signingkey is a public key, "
				 "signed with through ssh-agent");
	}
	path = expand_home(k);
	kpin_buf_grow(&text, 8192);
	rc = kpin_file_read(&text, path, KEY_FILE_MAX, NULL);
	if (rc) {
		kpin_error_prefix("user.signingkey: ");
	} else if (strstr(text.ptr, "PRIVATE KEY-----")) {
		rc = ssh_private(s, o, text.ptr, text.len, path);
	} else {
		rc = kpin_sshkey_parse_public(&s->pub, text.ptr, text.len);
		if (rc)
			kpin_error_prefix("%s: ", path);
		kpin_buf_addf(&why, "%s is a public key, signed with through "
			      "ssh-agent", path);
		if (!rc)
			rc = use_agent(s, o, why.ptr);
	}
	explicit_bzero(text.ptr, text.cap);
	kpin_buf_release(&text);
	kpin_buf_release(&why);
	free(path);
	return rc;
}

int kpin_signer_open(struct kpin_signer **out,
		     const struct kpin_sign_opts *o)
{
	struct kpin_signer *s = xcalloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	s->format = o->format;
	rc = o->format == KPIN_SIGN_SSH ? ssh_open(s, o) :
	     kpin_gpg_open(&s->gpg, o);
	if (rc) {
		kpin_signer_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int kpin_signer_sign(struct kpin_buf *out, struct kpin_signer *s,
		     const void *payload, size_t len)
{
	struct kpin_buf data = KPIN_BUF_INIT, sig = KPIN_BUF_INIT;
	unsigned char hash[64];
	int rc;

	if (s->format == KPIN_SIGN_OPENPGP)
		return kpin_gpg_sign(out, s->gpg, payload, len);
	rc = kpin_sshkey_sha512(hash, payload, len);
	if (rc)
		return rc;
	kpin_sshsig_signed_data(&data, KPIN_SSHSIG_NAMESPACE, KPIN_SSHSIG_HASH,
				hash, sizeof(hash));
	rc = s->key ? kpin_sshkey_sign(&sig, s->key, data.ptr, data.len) :
	     kpin_sshagent_sign(&sig, s->agent_sock,
				(const unsigned char *)s->pub.ptr, s->pub.len,
				data.ptr, data.len);
	if (!rc)
		kpin_sshsig_armor(out, (const unsigned char *)s->pub.ptr,
				  s->pub.len, KPIN_SSHSIG_NAMESPACE,
				  KPIN_SSHSIG_HASH,
				  (const unsigned char *)sig.ptr, sig.len);
	kpin_buf_release(&data);
	kpin_buf_release(&sig);
	return rc;
}

void kpin_signer_free(struct kpin_signer *s)
{
	if (!s)
		return;
	kpin_sshkey_free(s->key);
	kpin_buf_release(&s->pub);
	free(s->agent_sock);
	kpin_gpg_free(s->gpg);
	free(s);
}

int kpin_sign_commit_create(git_oid *out, git_repository *repo,
			    struct kpin_signer *signer,
			    const git_signature *sig, const char *message,
			    const git_tree *tree, const git_commit *parent)
{
	git_buf raw = GIT_BUF_INIT;
	struct kpin_buf armor = KPIN_BUF_INIT;
	int rc;

	if (!signer) {
		rc = git_commit_create(out, repo, NULL, sig, sig, NULL, message,
				       tree, 1, &parent);
		return rc ? kpin_git_fail(rc, "cannot write the commit") : 0;
	}
	rc = git_commit_create_buffer(&raw, repo, sig, sig, NULL, message, tree,
				      1, &parent);
	if (rc)
		return kpin_git_fail(rc, "cannot write the commit");
	rc = kpin_signer_sign(&armor, signer, raw.ptr, raw.size);
	if (!rc) {
		if (armor.len && armor.ptr[armor.len - 1] == '\n')
			armor.ptr[--armor.len] = '\0';
		rc = git_commit_create_with_signature(out, repo, raw.ptr,
						      armor.ptr, NULL);
		if (rc)
			rc = kpin_git_fail(rc, "cannot write the signed commit");
	}
	git_buf_dispose(&raw);
	kpin_buf_release(&armor);
	return rc;
}
