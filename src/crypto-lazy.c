/*
 * The pointers behind src/crypto-lazy.h and the call that fills them.
 */
#define KPIN_CRYPTO_LAZY_IMPL
#include "crypto-lazy.h"
#include "lazy.h"

#ifndef KPIN_CRYPTO_SONAME
#define KPIN_CRYPTO_SONAME "libcrypto.so.3"
#endif

#define KPIN_CRYPTO_DEFINE(name) __typeof__(name) *kpin_lazy_##name;
KPIN_CRYPTO_FUNCTIONS(KPIN_CRYPTO_DEFINE)
#undef KPIN_CRYPTO_DEFINE

int kpin_crypto_load(void)
{
#define KPIN_CRYPTO_SYM(name) { #name, (void **)&kpin_lazy_##name },
	static const struct kpin_lazy_sym syms[] = {
		KPIN_CRYPTO_FUNCTIONS(KPIN_CRYPTO_SYM)
	};
#undef KPIN_CRYPTO_SYM
	static int done;

	return kpin_lazy_load(&done, KPIN_CRYPTO_SONAME, "libssl3", syms,
			      sizeof(syms) / sizeof(syms[0]));
}
