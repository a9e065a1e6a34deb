/*
 * The pointers behind src/git-lazy.h, and the one function that fills
 * them: dlopen() of the libgit2 soname kpin was built against, then one
 * dlsym() per function. Processes that never open a repository never
 * load libgit2 and its dependencies.
 */
#define KPIN_GIT_LAZY_IMPL
#include <dlfcn.h>

#include "git-lazy.h"
#include "kpin/error.h"

#ifndef KPIN_GIT2_SONAME
#define KPIN_GIT2_SONAME "libgit2.so"
#endif

#define KPIN_GIT_DEFINE(name) __typeof__(name) *kpin_lazy_##name;
KPIN_GIT_FUNCTIONS(KPIN_GIT_DEFINE)
#undef KPIN_GIT_DEFINE

int kpin_git_load(void)
{
	static int loaded;
	void *lib;

	if (loaded)
		return 0;
	lib = dlopen(KPIN_GIT2_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return kpin_error_set(KPIN_ERROR, "cannot load libgit2 (%s): "
				      "%s; install the Debian package libgit2-1.5",
				      KPIN_GIT2_SONAME, dlerror());
#define KPIN_GIT_RESOLVE(name) \
	*(void **)(&kpin_lazy_##name) = dlsym(lib, #name); \
	if (!kpin_lazy_##name) \
		return kpin_error_set(KPIN_ERROR, "%s lacks %s", \
				      KPIN_GIT2_SONAME, #name);
	KPIN_GIT_FUNCTIONS(KPIN_GIT_RESOLVE)
#undef KPIN_GIT_RESOLVE
	loaded = 1;
	return 0;
}
