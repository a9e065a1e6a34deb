#!/bin/sh
# Keep the man pages in step with the command table (git t0450, curl
# test1139). Run from the top of the tree; uses $KPIN, else ./kpin.
#
# For every command listed under "commands:" by "kpin --help":
#   - man/kpin-<cmd>.1 exists and kpin.1 refers to it;
#   - its SYNOPSIS, as rendered by mandoc, equals "kpin <cmd> -h", form by
#     form, whitespace collapsed;
#   - "kpin help <cmd>" prints exactly what "kpin <cmd> -h" prints.
# Also: kpin.1's SYNOPSIS equals the usage at the top of "kpin --help", and
# every man/kpin-*.1 belongs to a command.
#
# Prints one "ok - ..." or "not ok - ..." line per check, with details on
# "# " lines, and exits 1 if any check failed.
LC_ALL=C
export LC_ALL

KPIN=${KPIN:-./kpin}
failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
bs=$(printf '\b')

ok() {
	echo "ok - $1"
}

not_ok() {
	echo "not ok - $1"
	failed=1
}

if [ ! -d man ]; then
	echo "tests/doc-sync.sh: run from the top of the kpin tree" >&2
	exit 2
fi
if [ ! -x "$KPIN" ]; then
	not_ok "$KPIN is an executable (run make first)"
	exit 1
fi
if ! command -v mandoc >/dev/null 2>&1; then
	not_ok "mandoc is installed (apt-get install mandoc)"
	exit 1
fi

# synopsis PAGE: the forms of PAGE's SYNOPSIS, one per line, whitespace
# collapsed. mandoc starts each form at the section's indentation and
# indents the lines a long form wraps onto further.
synopsis() {
	mandoc -T ascii "$1" | sed "s/.$bs//g" | awk '
		/^SYNOPSIS$/ { on = 1; next }
		on && /^[^ ]/ { exit }
		!on || /^[ \t]*$/ { next }
		{
			match($0, /^ */)
			if (form != "" && RLENGTH > base) {
				form = form " " $0
				next
			}
			if (form != "")
				print form
			if (base == 0)
				base = RLENGTH
			form = $0
		}
		END { if (form != "") print form }' | normalise
}

# usage: the forms of a usage message on stdin, one per line: the first
# without "usage: ", the others without their indentation.
usage() {
	sed -e '1s/^usage: //' | awk 'NF' | normalise
}

# normalise: collapse runs of blanks, trim each line.
normalise() {
	sed -e 's/[ \t][ \t]*/ /g' -e 's/^ //' -e 's/ $//'
}

# compare WHAT EXPECTED-FILE ACTUAL-FILE EXPECTED-LABEL ACTUAL-LABEL
compare() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diff -u -L "$4" -L "$5" "$2" "$3" | sed 's/^/# /'
	fi
}

"$KPIN" --help >"$tmp/help" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	not_ok "kpin --help exits 0 (exit $rc)"
	sed 's/^/# /' "$tmp/help"
	exit 1
fi

# The command names: the first word of each line of the "commands:"
# block, which ends at a blank line.
cmds=$(awk '/^commands:$/ { on = 1; next }
	on && /^[ \t]*$/ { exit }
	on { print $1 }' "$tmp/help")
if [ -z "$cmds" ]; then
	not_ok "kpin --help lists commands"
	exit 1
fi

# kpin.1 against the usage at the top of "kpin --help".
if [ -f man/kpin.1 ]; then
	awk '/^[ \t]*$/ { exit } { print }' "$tmp/help" | usage >"$tmp/want"
	synopsis man/kpin.1 >"$tmp/got"
	compare "man/kpin.1 SYNOPSIS matches 'kpin --help'" \
		"$tmp/want" "$tmp/got" "kpin --help" "man/kpin.1 SYNOPSIS"
else
	not_ok "man/kpin.1 exists"
fi

for cmd in $cmds; do
	page=man/kpin-$cmd.1

	"$KPIN" "$cmd" -h >"$tmp/h" 2>"$tmp/h.err"
	rc=$?
	if [ "$rc" -eq 0 ] && [ -s "$tmp/h" ] && [ ! -s "$tmp/h.err" ]; then
		ok "kpin $cmd -h prints its usage on stdout and exits 0"
	else
		not_ok "kpin $cmd -h prints its usage on stdout and exits 0 (exit $rc)"
		sed 's/^/# /' "$tmp/h.err"
	fi

	"$KPIN" help "$cmd" >"$tmp/help-cmd" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && cmp -s "$tmp/h" "$tmp/help-cmd"; then
		ok "kpin help $cmd equals kpin $cmd -h"
	else
		not_ok "kpin help $cmd equals kpin $cmd -h (exit $rc)"
		diff -u -L "kpin $cmd -h" -L "kpin help $cmd" \
			"$tmp/h" "$tmp/help-cmd" | sed 's/^/# /'
	fi

	if [ ! -f "$page" ]; then
		not_ok "$page exists"
		continue
	fi
	ok "$page exists"

	if grep -q "^\.Xr kpin-$cmd 1" man/kpin.1 2>/dev/null; then
		ok "man/kpin.1 refers to kpin-$cmd(1)"
	else
		not_ok "man/kpin.1 refers to kpin-$cmd(1)"
	fi

	usage <"$tmp/h" >"$tmp/want"
	synopsis "$page" >"$tmp/got"
	compare "$page SYNOPSIS matches 'kpin $cmd -h'" \
		"$tmp/want" "$tmp/got" "kpin $cmd -h" "$page SYNOPSIS"
done

# No page for a command that does not exist.
for page in man/kpin-*.1; do
	[ -f "$page" ] || continue
	cmd=${page#man/kpin-}
	cmd=${cmd%.1}
	if printf '%s\n' $cmds | grep -qx -e "$cmd"; then
		ok "$page documents a command in kpin --help"
	else
		not_ok "$page documents a command in kpin --help"
	fi
done

exit $failed
