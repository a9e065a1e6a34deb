/*
 * libcrypto (OpenSSL 3), loaded only when kpin signs or verifies an SSH
 * signature or hashes an index file it writes, as src/git-lazy.h loads
 * libgit2: "kpin set -f" and "kpin check" never map it. Each function the SSH key code calls is listed
 * once; the names are then macros for pointers kpin_crypto_load() fills.
 * Included, after nothing else from OpenSSL, by sshkey.c and sha1.c only.
 */
#ifndef KPIN_CRYPTO_LAZY_H
#define KPIN_CRYPTO_LAZY_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#define KPIN_CRYPTO_FUNCTIONS(F) \
	F(BIO_free) \
	F(BIO_new_mem_buf) \
	F(BN_bin2bn) \
	F(BN_bn2bin) \
	F(BN_sub_word) \
	F(BN_new) \
	F(BN_dup) \
	F(BN_div) \
	F(BN_CTX_new) \
	F(BN_CTX_free) \
	F(BN_clear_free) \
	F(BN_free) \
	F(BN_num_bits) \
	F(ERR_clear_error) \
	F(ERR_error_string_n) \
	F(ERR_get_error) \
	F(EVP_Digest) \
	F(EVP_DigestFinal_ex) \
	F(EVP_DigestInit_ex) \
	F(EVP_DigestSign) \
	F(EVP_DigestSignInit) \
	F(EVP_DigestUpdate) \
	F(EVP_DigestVerify) \
	F(EVP_DigestVerifyInit) \
	F(EVP_MD_CTX_free) \
	F(EVP_MD_CTX_new) \
	F(EVP_PKEY_CTX_free) \
	F(EVP_PKEY_CTX_new_from_name) \
	F(EVP_PKEY_free) \
	F(EVP_PKEY_fromdata) \
	F(EVP_PKEY_fromdata_init) \
	F(EVP_PKEY_get_base_id) \
	F(EVP_PKEY_get_bn_param) \
	F(EVP_PKEY_get_octet_string_param) \
	F(EVP_PKEY_get_raw_public_key) \
	F(EVP_PKEY_get_utf8_string_param) \
	F(EVP_PKEY_new_raw_private_key) \
	F(EVP_PKEY_new_raw_public_key) \
	F(EVP_sha1) \
	F(EVP_sha256) \
	F(EVP_sha384) \
	F(EVP_sha512) \
	F(OPENSSL_cleanse) \
	F(OSSL_PARAM_BLD_free) \
	F(OSSL_PARAM_BLD_new) \
	F(OSSL_PARAM_BLD_push_BN) \
	F(OSSL_PARAM_BLD_push_octet_string) \
	F(OSSL_PARAM_BLD_push_utf8_string) \
	F(OSSL_PARAM_BLD_to_param) \
	F(OSSL_PARAM_free) \
	F(PEM_read_bio_PrivateKey)

#define KPIN_CRYPTO_POINTER(name) extern __typeof__(name) *kpin_lazy_##name;
KPIN_CRYPTO_FUNCTIONS(KPIN_CRYPTO_POINTER)
#undef KPIN_CRYPTO_POINTER

/*
 * kpin_crypto_load() - Load libcrypto and resolve every function listed
 *
 * Idempotent.
 *
 * Returns: 0 or KPIN_ERROR (message says which library or symbol).
 */
int kpin_crypto_load(void);

#ifndef KPIN_CRYPTO_LAZY_IMPL
#define BIO_free (*kpin_lazy_BIO_free)
#define BIO_new_mem_buf (*kpin_lazy_BIO_new_mem_buf)
#define BN_bin2bn (*kpin_lazy_BN_bin2bn)
#define BN_bn2bin (*kpin_lazy_BN_bn2bin)
#define BN_sub_word (*kpin_lazy_BN_sub_word)
#define BN_new (*kpin_lazy_BN_new)
#define BN_dup (*kpin_lazy_BN_dup)
#define BN_div (*kpin_lazy_BN_div)
#define BN_CTX_new (*kpin_lazy_BN_CTX_new)
#define BN_CTX_free (*kpin_lazy_BN_CTX_free)
#define BN_clear_free (*kpin_lazy_BN_clear_free)
#define BN_free (*kpin_lazy_BN_free)
#define BN_num_bits (*kpin_lazy_BN_num_bits)
#define ERR_clear_error (*kpin_lazy_ERR_clear_error)
#define ERR_error_string_n (*kpin_lazy_ERR_error_string_n)
#define ERR_get_error (*kpin_lazy_ERR_get_error)
#define EVP_Digest (*kpin_lazy_EVP_Digest)
#define EVP_DigestFinal_ex (*kpin_lazy_EVP_DigestFinal_ex)
#define EVP_DigestInit_ex (*kpin_lazy_EVP_DigestInit_ex)
#define EVP_DigestSign (*kpin_lazy_EVP_DigestSign)
#define EVP_DigestSignInit (*kpin_lazy_EVP_DigestSignInit)
#define EVP_DigestUpdate (*kpin_lazy_EVP_DigestUpdate)
#define EVP_DigestVerify (*kpin_lazy_EVP_DigestVerify)
#define EVP_DigestVerifyInit (*kpin_lazy_EVP_DigestVerifyInit)
#define EVP_MD_CTX_free (*kpin_lazy_EVP_MD_CTX_free)
#define EVP_MD_CTX_new (*kpin_lazy_EVP_MD_CTX_new)
#define EVP_PKEY_CTX_free (*kpin_lazy_EVP_PKEY_CTX_free)
#define EVP_PKEY_CTX_new_from_name (*kpin_lazy_EVP_PKEY_CTX_new_from_name)
#define EVP_PKEY_free (*kpin_lazy_EVP_PKEY_free)
#define EVP_PKEY_fromdata (*kpin_lazy_EVP_PKEY_fromdata)
#define EVP_PKEY_fromdata_init (*kpin_lazy_EVP_PKEY_fromdata_init)
#define EVP_PKEY_get_base_id (*kpin_lazy_EVP_PKEY_get_base_id)
#define EVP_PKEY_get_bn_param (*kpin_lazy_EVP_PKEY_get_bn_param)
#define EVP_PKEY_get_octet_string_param (*kpin_lazy_EVP_PKEY_get_octet_string_param)
#define EVP_PKEY_get_raw_public_key (*kpin_lazy_EVP_PKEY_get_raw_public_key)
#define EVP_PKEY_get_utf8_string_param (*kpin_lazy_EVP_PKEY_get_utf8_string_param)
#define EVP_PKEY_new_raw_private_key (*kpin_lazy_EVP_PKEY_new_raw_private_key)
#define EVP_PKEY_new_raw_public_key (*kpin_lazy_EVP_PKEY_new_raw_public_key)
#define EVP_sha1 (*kpin_lazy_EVP_sha1)
#define EVP_sha256 (*kpin_lazy_EVP_sha256)
#define EVP_sha384 (*kpin_lazy_EVP_sha384)
#define EVP_sha512 (*kpin_lazy_EVP_sha512)
#define OPENSSL_cleanse (*kpin_lazy_OPENSSL_cleanse)
#define OSSL_PARAM_BLD_free (*kpin_lazy_OSSL_PARAM_BLD_free)
#define OSSL_PARAM_BLD_new (*kpin_lazy_OSSL_PARAM_BLD_new)
#define OSSL_PARAM_BLD_push_BN (*kpin_lazy_OSSL_PARAM_BLD_push_BN)
#define OSSL_PARAM_BLD_push_octet_string (*kpin_lazy_OSSL_PARAM_BLD_push_octet_string)
#define OSSL_PARAM_BLD_push_utf8_string (*kpin_lazy_OSSL_PARAM_BLD_push_utf8_string)
#define OSSL_PARAM_BLD_to_param (*kpin_lazy_OSSL_PARAM_BLD_to_param)
#define OSSL_PARAM_free (*kpin_lazy_OSSL_PARAM_free)
#define PEM_read_bio_PrivateKey (*kpin_lazy_PEM_read_bio_PrivateKey)
#endif

#endif
