/*
 * The one dlopen()/dlsym() loop behind the lazily loaded signing
 * libraries (src/lazy.h).
 */
#include <dlfcn.h>

#include "lazy.h"
#include "kpin/error.h"

int kpin_lazy_load(int *done, const char *soname, const char *package,
		   const struct kpin_lazy_sym *syms, size_t n)
{
	void *lib;
	size_t i;

	if (*done)
		return 0;
	lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return kpin_error_set(KPIN_ERROR, "cannot load %s: %s; install "
				      "the Debian package %s", soname,
				      dlerror(), package);
	for (i = 0; i < n; i++) {
		*syms[i].slot = dlsym(lib, syms[i].name);
		if (!*syms[i].slot)
			return kpin_error_set(KPIN_ERROR, "%s lacks %s", soname,
					      syms[i].name);
	}
	*done = 1;
	return 0;
}
