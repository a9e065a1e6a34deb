#!/bin/sh
# Keep the man pages in step with the command table (git t0450, curl
# test1139). Run from the top of the tree; uses $KPIN, else ./kpin.
#
# For every command listed under "commands:" by "kpin --help":
#   - man/kpin-<cmd>.1 exists and kpin.1 refers to it;
#   - its SYNOPSIS, as rendered by mandoc, equals the usage that starts
#     "kpin <cmd> -h" (up to its first blank line), form by form,
#     whitespace collapsed;
#   - every option of that usage has a line of its own in the option list
#     that follows, with a description;
#   - "kpin help <cmd>" prints what "kpin <cmd> -h" prints, then names
#     the manual page.
# Also: kpin.1's SYNOPSIS equals the usage at the top of "kpin --help",
# every man/kpin-*.1 belongs to a command, and the exit statuses agree:
# the codes of enum cli_exit in src/cli.h are exactly those of kpin.1's
# EXIT STATUS and of README's "Exit status" table, and every page's EXIT
# STATUS lists only codes of that enum.
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
# without "usage: ", the others without their indentation. The usage ends
# at the first blank line (the option list follows it).
usage() {
	awk '/^[ \t]*$/ { exit } { print }' | sed -e '1s/^usage: //' | normalise
}

# options: the option list of "kpin <cmd> -h" on stdin (after the first
# blank line), as "option<TAB>description" lines: "--file<TAB>the ...".
options() {
	awk 'on && /^  [-a-z]/ {
		line = $0
		sub(/^  /, "", line)
		n = split(line, w, /  +/)
		split(w[1], names, /, /)
		for (i in names) {
			o = names[i]
			sub(/[ [=].*/, "", o)
			print o "\t" (n > 1 ? w[n] : "")
		}
	}
	/^[ \t]*$/ { on = 1 }'
}

# synopsis_options: every option a usage on stdin names ("-f", "--tag").
synopsis_options() {
	grep -oE '(^|[[ |])--?[a-zA-Z][-a-zA-Z]*' | sed 's/^[[ |]//' | sort -u
}

# codes FILE: the exit codes of the EXIT STATUS section of a man page.
codes() {
	awk '/^\.Sh EXIT STATUS/ { on = 1; next }
		on && /^\.Sh / { exit }
		on && /^\.It [0-9]+$/ { print $2 }' "$1" | sort -n | uniq
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
	n=$(wc -l <"$tmp/h")
	if [ "$rc" -eq 0 ] && head -n "$n" "$tmp/help-cmd" | cmp -s "$tmp/h" - &&
	    grep -q "^The manual: man kpin-$cmd" "$tmp/help-cmd"; then
		ok "kpin help $cmd prints kpin $cmd -h and names its manual"
	else
		not_ok "kpin help $cmd prints kpin $cmd -h and names its manual (exit $rc)"
		diff -u -L "kpin $cmd -h" -L "kpin help $cmd" \
			"$tmp/h" "$tmp/help-cmd" | sed 's/^/# /'
	fi

	usage <"$tmp/h" | synopsis_options >"$tmp/opts-want"
	options <"$tmp/h" >"$tmp/opts"
	missing=""
	for o in $(cat "$tmp/opts-want"); do
		[ "$o" = -h ] && continue
		if ! awk -F '\t' -v o="$o" '$1 == o && $2 != "" { f = 1 }
		    END { exit !f }' "$tmp/opts"; then
			missing="$missing $o"
		fi
	done
	if [ -z "$missing" ]; then
		ok "kpin $cmd -h describes every option of its usage"
	else
		not_ok "kpin $cmd -h describes every option of its usage (missing:$missing)"
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

# The exit statuses: src/cli.h's enum, kpin.1, README and every page.
awk '/^enum cli_exit/ { on = 1; next } on && /^};/ { exit }
	on { if (match($0, /= *[0-9]+/)) print substr($0, RSTART + 1) + 0 }' \
	src/cli.h | sort -n | uniq >"$tmp/codes-enum"
awk '/^## Exit status/ { on = 1; next } on && /^## / { exit }
	on && /^\| [0-9]+ \|/ { print $2 }' README.md | sort -n | uniq \
	>"$tmp/codes-readme"
codes man/kpin.1 >"$tmp/codes-kpin1"
if [ ! -s "$tmp/codes-enum" ]; then
	not_ok "src/cli.h has an enum cli_exit"
else
	compare "man/kpin.1 EXIT STATUS lists the codes of enum cli_exit" \
		"$tmp/codes-enum" "$tmp/codes-kpin1" "src/cli.h" "man/kpin.1"
	compare "README's exit status table lists the codes of enum cli_exit" \
		"$tmp/codes-enum" "$tmp/codes-readme" "src/cli.h" "README.md"
fi
for page in man/kpin-*.1; do
	[ -f "$page" ] || continue
	codes "$page" >"$tmp/codes-page"
	extra=$(grep -vxF -f "$tmp/codes-enum" "$tmp/codes-page" | tr '\n' ' ')
	if [ ! -s "$tmp/codes-page" ]; then
		not_ok "$page has an EXIT STATUS list"
	elif [ -z "$extra" ]; then
		ok "$page EXIT STATUS lists only codes of enum cli_exit"
	else
		not_ok "$page EXIT STATUS lists only codes of enum cli_exit (not: $extra)"
	fi
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
