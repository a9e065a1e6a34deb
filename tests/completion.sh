#!/bin/sh
# The shell completion of src/completion against the kpin built here
# ($KPIN, else ./kpin): bash completes the commands, each command's
# options (every one its -h lists) and the global options; zsh, when it
# is installed, the commands and options with their descriptions. Run
# from the top of the tree.
#
# Prints one "ok - ..." or "not ok - ..." line per check and exits 1 if
# any check failed.
LC_ALL=C
export LC_ALL

KPIN=${KPIN:-./kpin}
failed=0

ok() {
	echo "ok - $1"
}

not_ok() {
	echo "not ok - $1"
	failed=1
}

if ! command -v bash >/dev/null 2>&1; then
	echo "ok - # SKIP bash is not installed"
	exit 0
fi

# complete WORD...: what bash completes for the last word, one per line.
complete_words() {
	bash -c '. src/completion/kpin.bash
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_kpin
		printf "%s\n" "${COMPREPLY[@]}"' kpin "$@" | sort
}

# expect WHAT WANT WORD...: the completions of WORD... are exactly WANT.
expect() {
	what=$1
	want=$(printf '%s\n' $2 | sort)
	shift 2
	got=$(complete_words "$@")
	if [ "$got" = "$want" ]; then
		ok "$what"
	else
		not_ok "$what"
		printf '# want: %s\n# got:  %s\n' "$(echo $want)" "$(echo $got)"
	fi
}

expect "commands" "set" "$KPIN" se
expect "every command, help and version" \
	"$("$KPIN" --help | awk '/^commands:$/ { on = 1; next }
		on && /^[ \t]*$/ { exit } on { print $1 }') help version" \
	"$KPIN" ""
expect "global options" "--help --version" "$KPIN" --
expect "a command after global options" "history" "$KPIN" -q -C . hi
expect "a command's options" "--digest --dry-run" "$KPIN" set --d
expect "options after other options" "--image-name" "$KPIN" apply \
	--event e.json --image-n
expect "help completes commands" "promote" "$KPIN" help pro

# every option that "kpin <cmd> -h" lists is offered
for cmd in $("$KPIN" --help | awk '/^commands:$/ { on = 1; next }
	on && /^[ \t]*$/ { exit } on { print $1 }'); do
	want=$("$KPIN" "$cmd" -h | awk 'on && /^  -/ { print }
		/^[ \t]*$/ { on = 1 }' | grep -oE '(^|, )--?[a-zA-Z][-a-zA-Z]*' |
		sed 's/^, //' | sort -u)
	got=$(complete_words "$KPIN" "$cmd" -)
	missing=$(printf '%s\n' $want | grep -vxF -e "$(echo "$got")" |
		tr '\n' ' ')
	if [ -n "$want" ] && [ -n "$got" ] && [ -z "$missing" ]; then
		ok "kpin $cmd: every option of -h completes"
	else
		not_ok "kpin $cmd: every option of -h completes (missing: $missing)"
	fi
done

# zsh: compsys's _describe, compadd and _files are stubbed to print what
# they are given, one per line.
zcomplete() {
	zsh -c '_describe() { print -rl -- "${(@P)2}" }
		compadd() { shift; print -rl -- "$@" }
		_files() { print -r -- "<files $*>" }
		words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}
		. src/completion/kpin.zsh' kpin "$@"
}

if command -v zsh >/dev/null 2>&1; then
	if ! zsh -n src/completion/kpin.zsh; then
		not_ok "zsh parses src/completion/kpin.zsh"
	elif zcomplete "$KPIN" "" | grep -qx "set:set an image's digest.*" &&
	    zcomplete "$KPIN" help "" | grep -qx "version:print the version" &&
	    zcomplete "$KPIN" set --d | grep -qx -- "--digest:the new digest.*" &&
	    zcomplete "$KPIN" -q -C . history - | grep -qx -- "-n:at most.*" &&
	    zcomplete "$KPIN" apply --event "" | grep -qx "<files >"; then
		ok "zsh completes commands and options, with descriptions"
	else
		not_ok "zsh completes commands and options, with descriptions"
	fi
else
	echo "ok - # SKIP zsh is not installed"
fi

exit $failed
