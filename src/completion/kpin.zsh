#compdef kpin
# zsh completion for kpin(1). The commands are those "kpin --help" lists
# and the options of a command those "kpin <command> -h" lists, with
# their descriptions, asked of the kpin being completed. Installed by
# "make install" as _kpin in a directory of $fpath.

# _kpin_described KPIN [CMD]: "name:description" lines, of the commands
# (no CMD) or of CMD's options.
_kpin_described() {
	if (( $# == 1 )); then
		$1 --help 2>/dev/null | awk '
			/^commands:$/ { on = 1; next }
			on && /^[ \t]*$/ { exit }
			on {
				sub(/^ +/, "")
				n = index($0, " ")
				d = substr($0, n)
				sub(/^ +/, "", d)
				print substr($0, 1, n - 1) ":" d
			}'
		print -r -- "help:show a command's usage, options and manual"
		print -r -- "version:print the version"
		return
	fi
	$1 $2 -h 2>/dev/null | awk '
		on && /^  -/ {
			sub(/^  /, "")
			m = split($0, w, /  +/)
			n = split(w[1], names, /, /)
			for (i = 1; i <= n; i++) {
				o = names[i]
				sub(/[ [=].*/, "", o)
				print o ":" (m > 1 ? w[m] : "")
			}
		}
		/^[ \t]*$/ { on = 1 }'
}

_kpin() {
	local kpin=${words[1]} cmd i
	local -a described

	for (( i = 2; i < CURRENT; i++ )); do
		case ${words[i]} in
		-C) (( i++ )) ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done
	case ${words[CURRENT-1]} in
	-C) _files -/; return ;;
	-f|--file|--event|--batch) _files; return ;;
	esac
	if [[ -z $cmd && $PREFIX == -* ]]; then
		compadd -- -C -q -h --help --version
	elif [[ -z $cmd || $cmd == help ]]; then
		described=(${(f)"$(_kpin_described $kpin)"})
		_describe command described
	elif [[ $PREFIX == -* ]]; then
		described=(${(f)"$(_kpin_described $kpin $cmd)"})
		_describe option described
	else
		_files
	fi
}

_kpin "$@"
