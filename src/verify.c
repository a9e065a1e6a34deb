/*
 * Verifying commit signatures (kpin_verify_commit() in
 * include/kpin/sign.h): the signature header and the bytes it covers come
 * from libgit2, SSH signatures are checked here against an
 * allowed-signers file, OpenPGP ones by gpg.c.
 */
#include <stdlib.h>
#include <string.h>

#include "allowed.h"
#include "gpg.h"
#include "repo-internal.h"
#include "sshkey.h"
#include "sshsig.h"
#include "kpin/error.h"
#include "kpin/file.h"
#include "kpin/sign.h"
#include "kpin/xalloc.h"

#define ALLOWED_SIGNERS_PATH ".kpin/allowed_signers"
#define ALLOWED_SIGNERS_MAX (1024 * 1024)

void kpin_sig_check_release(struct kpin_sig_check *c)
{
	free(c->signer);
	free(c->key);
	free(c->reason);
	memset(c, 0, sizeof(*c));
}

const char *kpin_sig_status_name(enum kpin_sig_status s)
{
	switch (s) {
	case KPIN_SIG_GOOD:
		return "good";
	case KPIN_SIG_BAD:
		return "bad";
	case KPIN_SIG_UNKNOWN_KEY:
		return "unknown key";
	default:
		return "unsigned";
	}
}

static int bad(struct kpin_sig_check *out, const char *why)
{
	out->status = KPIN_SIG_BAD;
	out->reason = xstrdup(why);
	return 0;
}

/* The allowed-signers file: the configured one, or the parent's. */
static int allowed_file(struct kpin_buf *out, bool *have,
			struct kpin_repo *repo, git_commit *c,
			const char *path)
{
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	int rc;

	*have = false;
	if (path) {
		rc = kpin_file_read(out, path, ALLOWED_SIGNERS_MAX, NULL);
		if (rc)
			return kpin_error_prefix("gpg.ssh.allowedSignersFile: ");
		*have = true;
		return 0;
	}
	if (git_commit_parentcount(c) == 0)
		return 0;
	rc = git_commit_parent(&parent, c, 0);
	if (!rc)
		rc = git_commit_tree(&tree, parent);
	if (rc) {
		rc = kpin_git_fail(rc, "cannot read the parent of %s",
				   git_oid_tostr_s(git_commit_id(c)));
		goto out;
	}
	rc = repo_read_blob(out, NULL, repo, tree, ALLOWED_SIGNERS_PATH,
			    ALLOWED_SIGNERS_MAX);
	if (rc == KPIN_ENOTFOUND) {
		kpin_error_clear();
		rc = 0;
	} else if (!rc) {
		*have = true;
	}
out:
	git_tree_free(tree);
	git_commit_free(parent);
	return rc;
}

static int verify_ssh(struct kpin_sig_check *out, struct kpin_repo *repo,
		      git_commit *c, const git_buf *sig,
		      const git_buf *signed_data, const char *allowed)
{
	struct kpin_sshsig s;
	struct kpin_buf data = KPIN_BUF_INIT, fp = KPIN_BUF_INIT;
	struct kpin_buf file = KPIN_BUF_INIT, why = KPIN_BUF_INIT;
	struct kpin_allowed verdict = { KPIN_ALLOWED_NONE, NULL, NULL };
	unsigned char hash[64];
	bool have;
	int rc;

	if (kpin_sshsig_parse(&s, sig->ptr, sig->size))
		return bad(out, kpin_error_last()->message);
	rc = kpin_sshkey_fingerprint(&fp, s.pub, s.publen);
	if (rc)
		goto out;
	out->key = kpin_buf_detach(&fp, NULL);
	if (s.nslen != 3 || memcmp(s.ns, "git", 3)) {
		kpin_buf_addf(&why, "signed in namespace '%.*s', not 'git'",
			      (int)(s.nslen < 32 ? s.nslen : 32), s.ns);
		rc = bad(out, why.ptr);
		goto out;
	}
	if (s.hashalglen != 6 || memcmp(s.hashalg, "sha512", 6)) {
		rc = bad(out, "unsupported hash algorithm (kpin checks sha512)");
		goto out;
	}
	rc = kpin_sshkey_sha512(hash, signed_data->ptr, signed_data->size);
	if (rc)
		goto out;
	kpin_sshsig_signed_data(&data, "git", "sha512", hash, sizeof(hash));
	rc = kpin_sshkey_verify(s.pub, s.publen, s.sig, s.siglen, data.ptr,
				data.len);
	if (rc == KPIN_EVERIFY || rc == KPIN_EINVALID) {
		rc = bad(out, kpin_error_last()->message);
		goto out;
	}
	if (rc)
		goto out;
	rc = allowed_file(&file, &have, repo, c, allowed);
	if (rc)
		goto out;
	if (have)
		kpin_allowed_lookup(&verdict, file.ptr, file.len, s.pub,
				    s.publen, KPIN_SSHSIG_NAMESPACE,
				    (long long)git_commit_time(c));
	switch (verdict.status) {
	case KPIN_ALLOWED_YES:
		out->status = KPIN_SIG_GOOD;
		out->signer = verdict.principals;
		verdict.principals = NULL;
		break;
	case KPIN_ALLOWED_NAMESPACE:
		out->status = KPIN_SIG_BAD;
		break;
	default:
		out->status = KPIN_SIG_UNKNOWN_KEY;
	}
	if (verdict.why) {
		kpin_buf_addf(&why, "allowed signer %s: ", verdict.principals);
		kpin_buf_adds(&why, verdict.why);
		out->reason = kpin_buf_detach(&why, NULL);
	}
out:
	kpin_allowed_release(&verdict);
	kpin_sshsig_release(&s);
	kpin_buf_release(&data);
	kpin_buf_release(&fp);
	kpin_buf_release(&file);
	kpin_buf_release(&why);
	return rc;
}

static int verify_openpgp(struct kpin_sig_check *out, const git_buf *sig,
			  const git_buf *signed_data)
{
	struct kpin_buf who = KPIN_BUF_INIT, key = KPIN_BUF_INIT;
	int rc;

	rc = kpin_gpg_verify(&who, &key, sig->ptr, sig->size, signed_data->ptr,
			     signed_data->size);
	if (key.len)
		out->key = kpin_buf_detach(&key, NULL);
	if (!rc) {
		out->status = KPIN_SIG_GOOD;
		out->signer = who.len ? kpin_buf_detach(&who, NULL) : NULL;
	} else if (rc == KPIN_ENOTFOUND) {
		out->status = KPIN_SIG_UNKNOWN_KEY;
		rc = 0;
	} else if (rc == KPIN_EVERIFY) {
		rc = bad(out, kpin_error_last()->message);
	}
	kpin_buf_release(&who);
	kpin_buf_release(&key);
	return rc;
}

int kpin_verify_commit(struct kpin_sig_check *out, struct kpin_repo *repo,
		       const char *commit, const char *allowed_signers)
{
	git_buf sig = GIT_BUF_INIT, signed_data = GIT_BUF_INIT;
	git_commit *c = NULL;
	git_oid id;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = git_oid_fromstr(&id, commit);
	if (!rc)
		rc = git_commit_lookup(&c, repo->git, &id);
	if (rc)
		return kpin_git_fail(rc, "cannot read commit '%s'", commit);
	rc = git_commit_extract_signature(&sig, &signed_data, repo->git, &id,
					  NULL);
	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		rc = 0;		/* unsigned */
	} else if (rc) {
		rc = kpin_git_fail(rc, "cannot read the signature of '%s'",
				   commit);
	} else if (!strncmp(sig.ptr, "-----BEGIN SSH SIGNATURE-----", 29)) {
		rc = verify_ssh(out, repo, c, &sig, &signed_data,
				allowed_signers);
	} else if (!strncmp(sig.ptr, "-----BEGIN PGP SIGNATURE-----", 29)) {
		rc = verify_openpgp(out, &sig, &signed_data);
	} else {
		rc = bad(out, "unsupported signature type");
	}
	git_buf_dispose(&sig);
	git_buf_dispose(&signed_data);
	git_commit_free(c);
	if (rc)
		kpin_sig_check_release(out);
	return rc;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int kpin_verify_commits(struct kpin_sig_check *out, struct kpin_repo *repo,
			const char *const *commits, size_t n,
			const char *allowed_signers)
{
	size_t i, j;
	int rc = 0;

	memset(out, 0, n * sizeof(*out));
	for (i = 0; i < n && !rc; i++) {
		if (!commits[i][0])
			continue;
		for (j = 0; j < i && strcmp(commits[j], commits[i]); j++)
			;
		if (j == i) {
			rc = kpin_verify_commit(&out[i], repo, commits[i],
						allowed_signers);
			continue;
		}
		out[i].status = out[j].status;
		out[i].signer = dup_or_null(out[j].signer);
		out[i].key = dup_or_null(out[j].key);
		out[i].reason = dup_or_null(out[j].reason);
	}
	for (i = 0; rc && i < n; i++)
		kpin_sig_check_release(&out[i]);
	return rc;
}
