#!/bin/sh
# Run the EXAMPLES section of every man page as a test (jq man.test;
# STYLE.md, "Tests"). Run from the top of the tree; uses $KPIN, else
# ./kpin.
#
# The pages are read as mdoc source, not as rendered text. In the
# EXAMPLES section, every literal block (.Bd -literal ... .Ed) is read
# with \e taken as \, \& and \c as nothing, \- as - and \(dq as ". Then:
#
#   - If the first block's first line does not start with "$ ", the block
#     is the contents of a file the examples start from. Its name is the
#     last .Pa before the block ("The examples start from this
#     .Pa kustomization.yaml"), or kustomization.yaml if there is none.
#   - Every other block is one example, numbered from 1. A line starting
#     with "$ " is a command; the lines after it, up to the next command
#     or the end of the block, are its exact standard output. A command
#     continues on the next line while its line ends in \, and through
#     the end of a here-document (<<WORD, <<'WORD' or <<-WORD, up to the
#     line WORD).
#   - In expected output, "..." stands for any text, also none: use it
#     for what changes from run to run, such as commit ids. There is no
#     other placeholder, and a page cannot show a literal "..." in
#     expected output.
#   - Setup is not hidden. A page whose examples need a git repository
#     makes it in an example of its own ("$ git init -q -b main" and so
#     on, printing nothing), so that a reader can follow along: what the
#     test runs is exactly what the page shows.
#
# The commands of one page run in order in one sh process, in a new
# scratch directory, as in one terminal session: cd and variables carry
# over from one command to the next. Standard input is /dev/null. The
# environment is emptied (env -i) but for PATH, with a directory holding
# kpin first, HOME (an empty directory), LC_ALL=C and TZ=UTC, so that no
# git identity, GITHUB_ACTOR or INPUT_ variable of the caller leaks in.
# A command passes when it exits 0 and its standard output matches,
# including a final newline; an example passes when all its commands do.
#
# Prints one "ok - PAGE example N" or "not ok - PAGE example N" line per
# example, with details on "# " lines, and exits 1 if any failed.
LC_ALL=C
export LC_ALL

KPIN=${KPIN:-./kpin}
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

if [ ! -d man ]; then
	echo "tests/man-examples.sh: run from the top of the kpin tree" >&2
	exit 2
fi
if [ ! -x "$KPIN" ]; then
	not_ok "$KPIN is an executable (run make first)"
	exit 1
fi
case $KPIN in
/*) ;;
*) KPIN=$(pwd)/$KPIN ;;
esac
mkdir "$tmp/bin" && ln -s "$KPIN" "$tmp/bin/kpin" || exit 1

# plan PAGE DIR: turn PAGE's EXAMPLES into files in DIR:
#   DIR/start.name, DIR/start   the file the examples start from, if any
#   DIR/run.sh                  every command, each writing N.out, N.err
#                               and N.rc into the directory given as $1
#   DIR/N.exp                   command N's expected output
#   DIR/N.cmd                   command N as shown
#   DIR/blocks                  one line per command: N EXAMPLE
plan() {
	awk -v dir="$2" '
	function unescape(s,    out, c, i) {
		out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c != "\\") {
				out = out c
				continue
			}
			c = substr(s, i + 1, 1)
			if (c == "e") {
				out = out "\\"; i++
			} else if (c == "&" || c == "c") {
				i++
			} else if (c == "-") {
				out = out "-"; i++
			} else if (substr(s, i + 1, 3) == "(dq") {
				out = out "\""; i += 3
			} else {
				out = out "\\"
			}
		}
		return out
	}
	# The here-document terminator a command line opens, or "".
	function heredoc(s,    w) {
		if (!match(s, /<<-?[ \t]*["\047]?[A-Za-z_][A-Za-z0-9_]*/))
			return ""
		w = substr(s, RSTART + 2, RLENGTH - 2)
		sub(/^-/, "", w)
		gsub(/[ \t"\047]/, "", w)
		return w
	}
	function flush_block(    i, l, cmd, n, eof) {
		if (nlines == 0)
			return
		if (nblocks == 0 && line[1] !~ /^\$ /) {
			print (startname == "" ? "kustomization.yaml" : startname) \
				> (dir "/start.name")
			for (i = 1; i <= nlines; i++)
				print line[i] > (dir "/start")
			nblocks = 1
			nlines = 0
			return
		}
		if (nblocks == 0)
			nblocks = 1
		example++
		nblocks++
		for (i = 1; i <= nlines; ) {
			l = line[i]
			if (l !~ /^\$ /) {
				print "not-a-command " example " " i \
					> (dir "/errors")
				i++
				continue
			}
			ncmd++
			cmd = substr(l, 3)
			i++
			eof = heredoc(cmd)
			while (cmd ~ /\\$/ && i <= nlines && eof == "") {
				cmd = cmd "\n" line[i]
				eof = heredoc(line[i])
				i++
			}
			if (eof != "") {
				while (i <= nlines) {
					l = line[i++]
					cmd = cmd "\n" l
					sub(/^\t*/, "", l)
					if (l == eof)
						break
				}
			}
			print cmd > (dir "/" ncmd ".cmd")
			close(dir "/" ncmd ".cmd")
			printf "" > (dir "/" ncmd ".exp")
			while (i <= nlines && line[i] !~ /^\$ /)
				print line[i++] > (dir "/" ncmd ".exp")
			close(dir "/" ncmd ".exp")
			print ncmd " " example > (dir "/blocks")
			printf "{\n%s\n} </dev/null >\"$1/%d.out\" 2>\"$1/%d.err\"\n" \
				"echo $? >\"$1/%d.rc\"\n", cmd, ncmd, ncmd, ncmd \
				> (dir "/run.sh")
		}
		nlines = 0
	}
	/^\.Sh / {
		on = ($0 == ".Sh EXAMPLES")
		next
	}
	!on { next }
	/^\.Bd -literal/ { inblock = 1; nlines = 0; next }
	inblock && /^\.Ed/ { inblock = 0; flush_block(); next }
	inblock && /^\.\\"/ { next }
	inblock { line[++nlines] = unescape($0); next }
	/^\.Pa / && nblocks == 0 {
		startname = $2
	}
	END { printf "" > (dir "/blocks") }
	' "$1"
}

# matches EXP OUT: do the lines of OUT match those of EXP, where "..."
# in EXP stands for any text?
matches() {
	awk '
	function match_line(pat, s,    n, part, i, at) {
		n = split(pat, part, /\.\.\./)
		if (n == 1)
			return pat == s
		if (substr(s, 1, length(part[1])) != part[1])
			return 0
		s = substr(s, length(part[1]) + 1)
		for (i = 2; i < n; i++) {
			at = index(s, part[i])
			if (at == 0)
				return 0
			s = substr(s, at + length(part[i]))
		}
		return length(s) >= length(part[n]) &&
		    substr(s, length(s) - length(part[n]) + 1) == part[n]
	}
	FILENAME == ARGV[1] { want[++ne] = $0; next }
	{ got[++ng] = $0 }
	END {
		if (ne != ng)
			exit 1
		for (i = 1; i <= ne; i++)
			if (!match_line(want[i], got[i]))
				exit 1
	}' "$1" "$2"
}

# check_page PAGE: run PAGE's examples and report them.
check_page() {
	page=$1
	p=$tmp/page
	rm -rf "$p"
	mkdir -p "$p/plan" "$p/out" "$p/work" "$p/home" || exit 1
	plan "$page" "$p/plan"
	if [ ! -s "$p/plan/blocks" ]; then
		if grep -q '^\.Sh EXAMPLES$' "$page"; then
			not_ok "$page has examples that run"
		fi
		return
	fi
	if [ -s "$p/plan/errors" ]; then
		not_ok "$page examples are commands and their output"
		sed 's/^not-a-command \([0-9]*\) \([0-9]*\)/# example \1, line \2 comes before any "$ " command/' \
			"$p/plan/errors"
		return
	fi
	if [ -f "$p/plan/start.name" ]; then
		cp "$p/plan/start" "$p/work/$(cat "$p/plan/start.name")" || exit 1
	fi
	(cd "$p/work" && env -i PATH="$tmp/bin:$PATH" HOME="$p/home" \
		LC_ALL=C TZ=UTC sh "$p/plan/run.sh" "$p/out" \
		>"$p/run.out" 2>&1)
	last=0
	bad=0
	while read -r n ex; do
		if [ "$ex" != "$last" ]; then
			[ "$last" -ne 0 ] && report "$page" "$last" "$bad"
			last=$ex
			bad=0
			: >"$p/diag"
		fi
		if [ ! -f "$p/out/$n.rc" ]; then
			bad=1
			{
				echo "command did not finish (exit or a syntax error):"
				sed 's/^/  /' "$p/plan/$n.cmd"
				sed 's/^/  /' "$p/run.out"
			} >>"$p/diag"
			continue
		fi
		rc=$(cat "$p/out/$n.rc")
		nl=y
		if [ -s "$p/out/$n.out" ] &&
		    [ "$(tail -c 1 "$p/out/$n.out" | od -An -c | tr -d ' ')" != '\n' ]; then
			nl=n
		fi
		if [ "$rc" -eq 0 ] && [ "$nl" = y ] &&
		    matches "$p/plan/$n.exp" "$p/out/$n.out"; then
			continue
		fi
		bad=1
		{
			echo "\$ $(cat "$p/plan/$n.cmd")"
			[ "$rc" -eq 0 ] || echo "exit status $rc"
			[ "$nl" = y ] || echo "no newline at the end of the output"
			diff -u -L expected -L actual "$p/plan/$n.exp" \
				"$p/out/$n.out" | sed 's/^/  /'
			if [ -s "$p/out/$n.err" ]; then
				echo "standard error:"
				sed 's/^/  /' "$p/out/$n.err"
			fi
		} >>"$p/diag"
	done <"$p/plan/blocks"
	[ "$last" -ne 0 ] && report "$page" "$last" "$bad"
}

# report PAGE EXAMPLE BAD
report() {
	if [ "$3" -eq 0 ]; then
		ok "$1 example $2"
	else
		not_ok "$1 example $2"
		sed 's/^/# /' "$p/diag"
	fi
}

for page in man/*.1 man/*.5; do
	[ -f "$page" ] && check_page "$page"
done

exit $failed
