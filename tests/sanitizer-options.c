/*
 * Linked into every program of "make check-asan", kpin and the tests:
 * sanitizer options that each process gets however its environment was
 * set (the man page examples run kpin under "env -i"). Reports go to
 * files under KPIN_SAN_LOG, which the Makefile prints and counts, so that
 * a report from a kpin whose stderr a test captured is not lost; and
 * LeakSanitizer reads its suppressions from KPIN_LSAN_SUPP
 * (tests/lsan.supp: the libraries' own leaks, never kpin's).
 */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);

const char *__asan_default_options(void)
{
	return "log_path=" KPIN_SAN_LOG "/asan";
}

const char *__ubsan_default_options(void)
{
	return "print_stacktrace=1:log_path=" KPIN_SAN_LOG "/ubsan";
}

const char *__lsan_default_options(void)
{
	return "suppressions=" KPIN_LSAN_SUPP ":print_suppressions=0";
}
