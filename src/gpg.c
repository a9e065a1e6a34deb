/*
 * OpenPGP through GPGME (src/gpg.h), loaded with dlopen() the first time
 * a commit is signed or verified with OpenPGP, like libcrypto and
 * libgit2. A key given in KPIN_SIGNING_KEY goes into a GNUPGHOME of its
 * own, made here and removed, its gpg-agent stopped, when the signer is
 * freed; the passphrase reaches gpg through loopback pinentry only.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gpgme.h>

#include "gpg.h"
#include "lazy.h"
#include "kpin/error.h"
#include "kpin/xalloc.h"

#define KPIN_GPGME_FUNCTIONS(F) \
	F(gpgme_check_version_internal) \
	F(gpgme_ctx_set_engine_info) \
	F(gpgme_data_new) \
	F(gpgme_data_new_from_mem) \
	F(gpgme_data_release) \
	F(gpgme_data_release_and_get_mem) \
	F(gpgme_free) \
	F(gpgme_get_key) \
	F(gpgme_io_writen) \
	F(gpgme_key_unref) \
	F(gpgme_new) \
	F(gpgme_op_assuan_transact_ext) \
	F(gpgme_op_import) \
	F(gpgme_op_import_result) \
	F(gpgme_op_sign) \
	F(gpgme_op_verify) \
	F(gpgme_op_verify_result) \
	F(gpgme_release) \
	F(gpgme_set_armor) \
	F(gpgme_set_passphrase_cb) \
	F(gpgme_set_pinentry_mode) \
	F(gpgme_set_protocol) \
	F(gpgme_signers_add) \
	F(gpgme_strerror)

#define KPIN_GPGME_POINTER(name) static __typeof__(name) *kpin_lazy_##name;
KPIN_GPGME_FUNCTIONS(KPIN_GPGME_POINTER)
#undef KPIN_GPGME_POINTER

#define gpgme_check_version_internal (*kpin_lazy_gpgme_check_version_internal)
#define gpgme_ctx_set_engine_info (*kpin_lazy_gpgme_ctx_set_engine_info)
#define gpgme_data_new (*kpin_lazy_gpgme_data_new)
#define gpgme_data_new_from_mem (*kpin_lazy_gpgme_data_new_from_mem)
#define gpgme_data_release (*kpin_lazy_gpgme_data_release)
#define gpgme_data_release_and_get_mem (*kpin_lazy_gpgme_data_release_and_get_mem)
#define gpgme_free (*kpin_lazy_gpgme_free)
#define gpgme_get_key (*kpin_lazy_gpgme_get_key)
#define gpgme_io_writen (*kpin_lazy_gpgme_io_writen)
#define gpgme_key_unref (*kpin_lazy_gpgme_key_unref)
#define gpgme_new (*kpin_lazy_gpgme_new)
#define gpgme_op_assuan_transact_ext (*kpin_lazy_gpgme_op_assuan_transact_ext)
#define gpgme_op_import (*kpin_lazy_gpgme_op_import)
#define gpgme_op_import_result (*kpin_lazy_gpgme_op_import_result)
#define gpgme_op_sign (*kpin_lazy_gpgme_op_sign)
#define gpgme_op_verify (*kpin_lazy_gpgme_op_verify)
#define gpgme_op_verify_result (*kpin_lazy_gpgme_op_verify_result)
#define gpgme_release (*kpin_lazy_gpgme_release)
#define gpgme_set_armor (*kpin_lazy_gpgme_set_armor)
#define gpgme_set_passphrase_cb (*kpin_lazy_gpgme_set_passphrase_cb)
#define gpgme_set_pinentry_mode (*kpin_lazy_gpgme_set_pinentry_mode)
#define gpgme_set_protocol (*kpin_lazy_gpgme_set_protocol)
#define gpgme_signers_add (*kpin_lazy_gpgme_signers_add)
#define gpgme_strerror (*kpin_lazy_gpgme_strerror)

#ifndef KPIN_GPGME_SONAME
#define KPIN_GPGME_SONAME "libgpgme.so.11"
#endif

struct kpin_gpg {
	gpgme_ctx_t ctx;
	gpgme_key_t key;	/* the signing key, or NULL for gpg's default */
	char *home;		/* a GNUPGHOME of our own, or NULL */
	char *passphrase;	/* for loopback pinentry, or NULL */
};

/* Load GPGME and initialise it once. */
static int gpg_load(void)
{
#define KPIN_GPGME_SYM(name) { #name, (void **)&kpin_lazy_##name },
	static const struct kpin_lazy_sym syms[] = {
		KPIN_GPGME_FUNCTIONS(KPIN_GPGME_SYM)
	};
#undef KPIN_GPGME_SYM
	static int done, checked;
	int rc = kpin_lazy_load(&done, KPIN_GPGME_SONAME, "libgpgme11", syms,
				sizeof(syms) / sizeof(syms[0]));

	if (rc)
		return rc;
	if (!checked && !gpgme_check_version(NULL))
		return kpin_error_set(KPIN_ERROR, "GPGME refused to start");
	checked = 1;
	return 0;
}

static int gpg_fail(int code, const char *what, gpgme_error_t err)
{
	return kpin_error_set(code, "%s: %s", what, gpgme_strerror(err));
}

/* Hands gpg the passphrase through loopback pinentry, never twice. */
static gpgme_error_t passphrase_cb(void *hook, const char *uid_hint,
				   const char *info, int prev_was_bad, int fd)
{
	const char *pass = hook;

	if (prev_was_bad || !pass)
		return gpgme_error(GPG_ERR_CANCELED);
	if (gpgme_io_writen(fd, pass, strlen(pass)) ||
	    gpgme_io_writen(fd, "\n", 1))
		return gpgme_error(GPG_ERR_CANCELED);
	return 0;
}

/* A new OpenPGP context, armored, using @home when set. */
static int new_ctx(gpgme_ctx_t *out, const char *home)
{
	gpgme_error_t err = gpgme_new(out);

	if (!err)
		err = gpgme_set_protocol(*out, GPGME_PROTOCOL_OpenPGP);
	if (!err && home)
		err = gpgme_ctx_set_engine_info(*out, GPGME_PROTOCOL_OpenPGP,
						NULL, home);
	if (err)
		return gpg_fail(KPIN_ERROR, "cannot start GPGME", err);
	gpgme_set_armor(*out, 1);
	return 0;
}

/* Remove a directory tree made by us (gpg's files inside it). */
static void remove_tree(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		unlinkat(parent, name, 0);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(fd, e->d_name, 0))
			remove_tree(fd, e->d_name);
	}
	closedir(d);
	unlinkat(parent, name, AT_REMOVEDIR);
}

/* Stop the gpg-agent of @home (KILLAGENT over its socket), best effort. */
static void stop_agent(const char *home)
{
	struct kpin_buf sock = KPIN_BUF_INIT;
	gpgme_ctx_t ctx = NULL;
	gpgme_error_t op_err;

	kpin_buf_addf(&sock, "%s/S.gpg-agent", home);
	if (!access(sock.ptr, F_OK) && !gpgme_new(&ctx) &&
	    !gpgme_set_protocol(ctx, GPGME_PROTOCOL_ASSUAN) &&
	    !gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_ASSUAN, sock.ptr,
				       home))
		gpgme_op_assuan_transact_ext(ctx, "KILLAGENT", NULL, NULL, NULL,
					     NULL, NULL, NULL, &op_err);
	gpgme_release(ctx);
	kpin_buf_release(&sock);
}

/* A fresh GNUPGHOME of our own, mode 0700, in g->home. */
static int make_home(struct kpin_gpg *g)
{
	const char *tmp = getenv("TMPDIR");
	struct kpin_buf home = KPIN_BUF_INIT;
	int rc;

	kpin_buf_addf(&home, "%s/kpin-gnupg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(home.ptr)) {
		rc = kpin_error_set(KPIN_ERROR, "cannot make a GNUPGHOME in "
				    "'%s'", tmp && *tmp ? tmp : "/tmp");
		kpin_buf_release(&home);
		return rc;
	}
	g->home = kpin_buf_detach(&home, NULL);
	return 0;
}

/* Import the armored secret key into g->ctx's keyring; set g->key. */
static int import_key(struct kpin_gpg *g, const char *key_data)
{
	gpgme_data_t in = NULL;
	gpgme_import_result_t res;
	gpgme_import_status_t st;
	gpgme_error_t err;

	err = gpgme_data_new_from_mem(&in, key_data, strlen(key_data), 0);
	if (!err)
		err = gpgme_op_import(g->ctx, in);
	gpgme_data_release(in);
	if (err)
		return gpg_fail(KPIN_EINVALID, "cannot import the OpenPGP key in "
				"KPIN_SIGNING_KEY", err);
	res = gpgme_op_import_result(g->ctx);
	if (!res || !res->secret_imported)
		return kpin_error_set(KPIN_EINVALID, "KPIN_SIGNING_KEY holds no "
				      "OpenPGP secret key (expected the output "
				      "of gpg --armor --export-secret-keys)");
	for (st = res->imports; st; st = st->next) {
		if (!st->fpr || !(st->status & GPGME_IMPORT_SECRET))
			continue;
		err = gpgme_get_key(g->ctx, st->fpr, &g->key, 1);
		if (!err)
			return 0;
	}
	return kpin_error_set(KPIN_EINVALID, "the OpenPGP key in "
			      "KPIN_SIGNING_KEY cannot sign");
}

int kpin_gpg_open(struct kpin_gpg **out, const struct kpin_sign_opts *o)
{
	struct kpin_gpg *g;
	gpgme_error_t err;
	int rc;

	*out = NULL;
	rc = gpg_load();
	if (rc)
		return rc;
	g = xcalloc(1, sizeof(*g));
	if (o->passphrase)
		g->passphrase = xstrdup(o->passphrase);
	rc = o->key_data ? make_home(g) : 0;
	if (!rc)
		rc = new_ctx(&g->ctx, g->home);
	if (!rc && g->passphrase) {
		err = gpgme_set_pinentry_mode(g->ctx,
					      GPGME_PINENTRY_MODE_LOOPBACK);
		if (err)
			rc = gpg_fail(KPIN_ERROR, "loopback pinentry", err);
		gpgme_set_passphrase_cb(g->ctx, passphrase_cb, g->passphrase);
	}
	if (!rc && o->key_data) {
		rc = import_key(g, o->key_data);
	} else if (!rc && o->signing_key) {
		err = gpgme_get_key(g->ctx, o->signing_key, &g->key, 1);
		if (err)
			rc = kpin_error_set(KPIN_EINVALID, "no OpenPGP secret key "
					    "'%s' (user.signingkey): %s",
					    o->signing_key, gpgme_strerror(err));
	}
	if (!rc && g->key)
		rc = gpgme_signers_add(g->ctx, g->key) ?
		     kpin_error_set(KPIN_EINVALID, "the OpenPGP key cannot "
				    "sign") : 0;
	if (rc) {
		kpin_gpg_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

int kpin_gpg_sign(struct kpin_buf *out, struct kpin_gpg *g, const void *data,
		  size_t len)
{
	gpgme_data_t in = NULL, sig = NULL;
	gpgme_error_t err;
	char *mem;
	size_t n;

	err = gpgme_data_new_from_mem(&in, data, len, 0);
	if (!err)
		err = gpgme_data_new(&sig);
	if (!err)
		err = gpgme_op_sign(g->ctx, in, sig, GPGME_SIG_MODE_DETACH);
	gpgme_data_release(in);
	if (err) {
		gpgme_data_release(sig);
		return gpg_fail(KPIN_ERROR, "cannot sign with OpenPGP", err);
	}
	mem = gpgme_data_release_and_get_mem(sig, &n);
	if (!mem || !n) {
		gpgme_free(mem);
		return kpin_error_set(KPIN_ERROR, "gpg made an empty signature");
	}
	kpin_buf_add(out, mem, n);
	gpgme_free(mem);
	return 0;
}

int kpin_gpg_verify(struct kpin_buf *signer, struct kpin_buf *key,
		    const char *sig, size_t siglen, const void *data,
		    size_t len)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t s = NULL, d = NULL;
	gpgme_verify_result_t res;
	gpgme_signature_t v;
	gpgme_key_t k = NULL;
	gpgme_error_t err;
	int rc;

	rc = gpg_load();
	if (!rc)
		rc = new_ctx(&ctx, NULL);
	if (rc)
		return rc;
	err = gpgme_data_new_from_mem(&s, sig, siglen, 0);
	if (!err)
		err = gpgme_data_new_from_mem(&d, data, len, 0);
	if (!err)
		err = gpgme_op_verify(ctx, s, d, NULL);
	res = err ? NULL : gpgme_op_verify_result(ctx);
	v = res ? res->signatures : NULL;
	if (err) {
		rc = gpg_fail(KPIN_EVERIFY, "malformed OpenPGP signature", err);
	} else if (!v) {
		rc = kpin_error_set(KPIN_EVERIFY, "no OpenPGP signature");
	} else {
		if (v->fpr)
			kpin_buf_adds(key, v->fpr);
		switch (gpgme_err_code(v->status)) {
		case GPG_ERR_NO_ERROR:
		case GPG_ERR_KEY_EXPIRED:
		case GPG_ERR_SIG_EXPIRED:
			if (v->fpr && !gpgme_get_key(ctx, v->fpr, &k, 0) &&
			    k->uids && k->uids->uid)
				kpin_buf_adds(signer, k->uids->uid);
			rc = 0;
			break;
		case GPG_ERR_NO_PUBKEY:
			rc = KPIN_ENOTFOUND;
			break;
		default:
			rc = gpg_fail(KPIN_EVERIFY, "the signature does not "
				      "verify", v->status);
		}
	}
	gpgme_key_unref(k);
	gpgme_data_release(s);
	gpgme_data_release(d);
	gpgme_release(ctx);
	return rc;
}

void kpin_gpg_free(struct kpin_gpg *g)
{
	if (!g)
		return;
	gpgme_key_unref(g->key);
	gpgme_release(g->ctx);
	if (g->home) {
		stop_agent(g->home);
		remove_tree(AT_FDCWD, g->home);
		free(g->home);
	}
	if (g->passphrase) {
		explicit_bzero(g->passphrase, strlen(g->passphrase));
		free(g->passphrase);
	}
	free(g);
}
