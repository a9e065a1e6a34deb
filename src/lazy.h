/*
 * Loading a shared library on first use and resolving a table of its
 * functions into pointers; the pattern of src/git-lazy.h, shared by the
 * signing back ends (libcrypto, GPGME) so that commands that do not sign
 * never load them. Included by crypto-lazy.c and gpg.c.
 */
#ifndef KPIN_LAZY_H
#define KPIN_LAZY_H

#include <stddef.h>

/*
 * struct kpin_lazy_sym - One function to resolve
 * @name: its symbol name
 * @slot: where its address goes
 */
struct kpin_lazy_sym {
	const char *name;
	void **slot;
};

/*
 * kpin_lazy_load() - dlopen() @soname once and resolve @syms
 * @done: a flag kept by the caller, set on success
 * @soname: the library's soname
 * @package: the Debian package to name when it is missing
 * @syms: the functions
 * @n: how many
 *
 * Returns: 0 or KPIN_ERROR (message says which library or symbol).
 */
int kpin_lazy_load(int *done, const char *soname, const char *package,
		   const struct kpin_lazy_sym *syms, size_t n);

#endif
