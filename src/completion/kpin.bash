# bash completion for kpin(1). The commands are those "kpin --help" lists
# and the options of a command those "kpin <command> -h" lists, asked of
# the kpin being completed, so the completion follows the binary.
# Installed by "make install" as kpin in bash-completion's completions
# directory.

# _kpin_options KPIN CMD: the options of CMD, one per line ("--file").
_kpin_options()
{
	"$1" "$2" -h 2>/dev/null | awk '
		on && /^  -/ {
			sub(/^  /, "")
			split($0, w, /  +/)
			n = split(w[1], names, /, /)
			for (i = 1; i <= n; i++) {
				o = names[i]
				sub(/[ [=].*/, "", o)
				print o
			}
		}
		/^[ \t]*$/ { on = 1 }'
}

# _kpin_commands KPIN: the commands, then help and version.
_kpin_commands()
{
	"$1" --help 2>/dev/null | awk '
		/^commands:$/ { on = 1; next }
		on && /^[ \t]*$/ { exit }
		on { print $1 }'
	printf '%s\n' help version
}

_kpin()
{
	local kpin=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]}
	local prev=${COMP_WORDS[COMP_CWORD - 1]} cmd= i

	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-C) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
	-C)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	-f|--file|--event|--batch)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	esac
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-C -q -h --help --version' \
				-- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_kpin_commands "$kpin")" \
				-- "$cur"))
		fi
	elif [ "$cmd" = help ]; then
		COMPREPLY=($(compgen -W "$(_kpin_commands "$kpin")" -- "$cur"))
	elif [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_kpin_options "$kpin" "$cmd")" \
			-- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

complete -F _kpin kpin
