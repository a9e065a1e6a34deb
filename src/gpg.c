/*
 * OpenPGP through GPGME (src/gpg.h).
 */
#include "gpg.h"
#include "kpin/error.h"

int kpin_gpg_open(struct kpin_gpg **out, const struct kpin_sign_opts *o)
{
	*out = NULL;
	return kpin_error_set(KPIN_ERROR, "OpenPGP signing is not supported "
			      "yet: set gpg.format = ssh");
}

int kpin_gpg_sign(struct kpin_buf *out, struct kpin_gpg *g, const void *data,
		  size_t len)
{
	return kpin_error_set(KPIN_ERROR, "OpenPGP signing is not supported");
}

int kpin_gpg_verify(struct kpin_buf *signer, struct kpin_buf *key,
		    const char *sig, size_t siglen, const void *data,
		    size_t len)
{
	return kpin_error_set(KPIN_ERROR, "OpenPGP verification is not "
			      "supported");
}

void kpin_gpg_free(struct kpin_gpg *g)
{
}
