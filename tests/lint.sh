#!/bin/sh
# Static checks run by "make lint" from the top of the tree:
#
#   - every man page passes "mandoc -T lint -W style" with no message at all;
#   - no public header under include/ includes <git2.h>;
#   - no object in libkpin.a prints or exits: only src/main.c, src/cli.c and
#     src/cmd-*.c may (STYLE.md, "Module boundaries"), and only xalloc.o may
#     call abort(), for "kpin: out of memory".
#
# Prints one "ok - ..." or "not ok - ..." line per check, with the offending
# output on "# " lines, and exits 1 if any check failed. $LIBKPIN names the
# archive to check (make check-asan: build/asan/libkpin.a).
LC_ALL=C
export LC_ALL
lib=${LIBKPIN:-libkpin.a}

failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

ok() {
	echo "ok - $1"
}

not_ok() {
	echo "not ok - $1"
	failed=1
}

# Print a file as "# " diagnostic lines.
diag() {
	sed 's/^/# /' "$1"
}

if [ ! -f Makefile ] || [ ! -d man ]; then
	echo "tests/lint.sh: run from the top of the kpin tree" >&2
	exit 2
fi

# --- man pages -------------------------------------------------------------

pages=""
for p in man/*.1 man/*.5; do
	[ -f "$p" ] && pages="$pages $p"
done

if ! command -v mandoc >/dev/null 2>&1; then
	not_ok "mandoc is installed (apt-get install mandoc)"
elif [ -z "$pages" ]; then
	not_ok "man pages exist under man/"
else
	# "-W style" checks that every .Xr names an installed page. Install
	# ours in a scratch manpath with its own mandoc.db, searched before
	# the system's, so that kpin-set(1) and friends resolve.
	for p in $pages; do
		sec=${p##*.}
		mkdir -p "$tmp/man/man$sec"
		cp "$p" "$tmp/man/man$sec/"
	done
	makewhatis "$tmp/man" >/dev/null 2>&1
	for p in $pages; do
		MANPATH="$tmp/man:" mandoc -T lint -W style "$p" \
			>"$tmp/out" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ]; then
			ok "mandoc -T lint -W style $p"
		else
			not_ok "mandoc -T lint -W style $p (exit $rc)"
			diag "$tmp/out"
		fi
	done
fi

# --- layering ---------------------------------------------------------------

# include/kpin/ is what a program linking libkpin.a may use: none of it
# may need libgit2's headers (DESIGN.md, section 2). Internal headers that
# do live in src/.
if grep -ln '#include <git2' include/kpin.h include/kpin/*.h >"$tmp/layer" 2>/dev/null; then
	not_ok "include/: no public header includes <git2.h>"
	diag "$tmp/layer"
else
	ok "include/: no public header includes <git2.h>"
fi

# --- banned symbols in libkpin.a -------------------------------------------

# check_symbols WHAT REGEX [ALLOWED-OBJECT]
# Fails if an object of libkpin.a has an undefined reference to a symbol
# matching REGEX (an anchored ERE), except in ALLOWED-OBJECT.
check_symbols() {
	what=$1
	re=$2
	allow=${3:-}
	nm -A "$lib" 2>/dev/null |
	awk -v re="^($re)\$" -v allow="$allow" '
		$(NF - 1) == "U" && $NF ~ re {
			n = split($1, part, ":")
			obj = part[n - 1]
			if (allow != "" && obj == allow)
				next
			print obj ": " $NF
		}' >"$tmp/sym"
	if [ -s "$tmp/sym" ]; then
		not_ok "libkpin.a: $what"
		diag "$tmp/sym"
	else
		ok "libkpin.a: $what"
	fi
}

if [ ! -f "$lib" ]; then
	not_ok "$lib exists (run make first)"
elif ! command -v nm >/dev/null 2>&1; then
	not_ok "nm is installed (apt-get install binutils)"
else
	# The compiler may turn printf() into puts() or putchar() and
	# fprintf() into fwrite() on stderr, and _FORTIFY_SOURCE into the
	# __*_chk forms: anything that names stdout or stderr prints too.
	printing='v?(f|d)?printf|__v?(f|d)?printf_chk|puts|fputs|putchar'
	printing="$printing|perror|stdout|stderr|v?warnx?"
	check_symbols "no printing (printf, puts, fputs, fprintf, stdout...)" \
		"$printing"
	check_symbols "no exit (exit, _exit, _Exit, quick_exit, err...)" \
		'exit|_exit|_Exit|quick_exit|v?errx?'
	check_symbols "abort only in xalloc.o" 'abort' xalloc.o
fi

exit $failed
