# Helpers shared by bench/check.sh and bench/history.sh (sourced from the
# top of the tree, after B and KPIN are set). Part of the benchmarks, not
# of kpin.
#
#   bench_start NAME              build/bench, the temporary directory T
#                                 (removed on exit), RES: $KPIN_BENCH_RESULTS
#                                 when bench/run.sh runs NAME, else
#                                 build/bench/NAME-results.txt with the
#                                 machine's description (OWN=1)
#   say, skip, result, die, get   as in bench/run.sh and bench/repo.sh
#   bench_tools                   hyperfine, python3 and runseq, or exit 0
#                                 with a "bench: skip:" line
#   hf_pool OUT KEY... -- JSON... the runs of command i of every JSON
#                                 pooled into KEY_i's median, mean,
#                                 stddev, min, max (ms) and runs, and
#                                 its mean user and system CPU time
#   rss_of KEY DIR N CMD...       peak RSS (ru_maxrss, KiB) of N runs of
#                                 CMD in DIR, by runseq: KEY_kib (median)
#                                 and KEY_max_kib
#   bench_git_env                 git without the user's or the system's
#                                 settings (HOME in T)
#   hf_rounds NAME DIR CMD1 CMD2  hyperfine, 3 rounds of $RUNS runs after
#                                 a warm-up, of both commands in DIR:
#                                 $T/hf-NAME-{1,2,3}.json, copied to
#                                 build/bench/hyperfine-NAME-*.json
#   history_repo NAME FILES       $R: a bare clone (--no-local, so its
#                                 pack is what a clone gets) of APPS apps
#                                 and COMMITS more commits; NAME_commits,
#                                 _apps, _pack_kib, _gen_s
#   gen_repo DIR.git AWKVAR...    a bare repository from
#                                 bench/gen-platform.awk (git fast-import),
#                                 HEAD on main

# Commands live in strings split on blanks.
# shellcheck disable=SC2086

say() { printf '%s\n' "$*"; }
result() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }
skip() { printf 'bench: skip: %s\n' "$*"; printf 'skip=%s\n' "$*" >>"$RES"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
get() { sed -n "s/^$1=//p" "$RES" | tail -n 1; }

bench_start() {
	mkdir -p "$B" || exit 1
	T=$(mktemp -d "${TMPDIR:-/tmp}/kpin-bench-$1.XXXXXX") || exit 1
	trap 'rm -rf "$T"' EXIT
	trap 'rm -rf "$T"; exit 130' INT TERM
	if [ -n "${KPIN_BENCH_RESULTS:-}" ]; then
		RES=$KPIN_BENCH_RESULTS
		OWN=0
	else
		RES=$B/$1-results.txt
		OWN=1
		: >"$RES"
	fi
	[ -x "$KPIN" ] || die "build ./kpin first (make)"
	[ $OWN = 1 ] || return 0
	result date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	result host "$(uname -srm)"
	result cpus "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')"
	result cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
	result kpin_version "$("$KPIN" --version 2>&1)"
}

bench_tools() {
	PY=${KPIN_BENCH_PYTHON:-python3}
	RUNSEQ=$B/runseq
	command -v hyperfine >/dev/null 2>&1 || {
		skip "$1: hyperfine not found (apt-get install hyperfine)"
		exit 0
	}
	command -v "$PY" >/dev/null 2>&1 || {
		skip "$1: $PY not found, needed to read hyperfine's JSON"
		exit 0
	}
	command -v git >/dev/null 2>&1 || die "git not found"
	if ! "${CC:-cc}" -O2 -std=c11 -Wall -o "$RUNSEQ" bench/runseq.c \
	    2>"$T/cc.log"; then
		sed 's/^/  cc: /' "$T/cc.log" | head -n 5
		skip "$1: cannot build bench/runseq.c with ${CC:-cc}"
		exit 0
	fi
}

hf_pool() {
	"$PY" - "$@" >>"$RES" <<'EOF'
import json, statistics, sys
args = sys.argv[1:]
sep = args.index("--")
keys, files = args[:sep], args[sep + 1:]
pooled = [[] for _ in keys]
cpu = [[0.0, 0.0, 0] for _ in keys]
for f in files:
    for i, r in enumerate(json.load(open(f))["results"]):
        pooled[i].extend(r["times"])
        n = len(r["times"])
        cpu[i][0] += r["user"] * n
        cpu[i][1] += r["system"] * n
        cpu[i][2] += n
for key, t, c in zip(keys, pooled, cpu):
    if not t:
        continue
    print("%s_user_ms=%.3f" % (key, c[0] / c[2] * 1e3))
    print("%s_system_ms=%.3f" % (key, c[1] / c[2] * 1e3))
    t = sorted(x * 1e3 for x in t)
    print("%s_median_ms=%.3f" % (key, statistics.median(t)))
    print("%s_mean_ms=%.3f" % (key, statistics.mean(t)))
    print("%s_stddev_ms=%.3f" % (key, statistics.stdev(t) if len(t) > 1 else 0))
    print("%s_min_ms=%.3f" % (key, t[0]))
    print("%s_max_ms=%.3f" % (key, t[-1]))
    print("%s_runs=%d" % (key, len(t)))
EOF
}

rss_of() {
	rss_key=$1 rss_dir=$2 rss_n=$3
	shift 3
	if (cd "$rss_dir" && exec "$TOP/$RUNSEQ" -n "$rss_n" -- "$@") \
	    >"$T/rss.txt" 2>"$T/rss.log"; then
		sort -n -k 3 "$T/rss.txt" | awk -v k="$rss_key" '
		{ r[NR] = $3 }
		END { if (NR) printf "%s_kib=%d\n%s_max_kib=%d\n", k, r[int((NR + 1) / 2)], k, r[NR] }' >>"$RES"
	else
		say "bench: peak RSS of $*:"
		sed 's/^/  /' "$T/rss.log" | head -n 3
	fi
}

gen_repo() {
	gen_dir=$1
	shift
	gen_vars=
	for a in "$@"; do
		gen_vars="$gen_vars -v $a"
	done
	rm -rf "$gen_dir"
	git init -q --bare "$gen_dir" &&
	    git -C "$gen_dir" symbolic-ref HEAD refs/heads/main || return 1
	# glibc trims its heap after each of fast-import's zlib buffers unless
	# told not to (see bench/repo.sh)
	awk $gen_vars -f bench/gen-platform.awk |
	    GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=67108864 \
	    git -C "$gen_dir" fast-import --quiet
}

# the load on the machine, as a result: others' work skews the medians
bench_git_env() {
	mkdir -p "$T/home"
	HOME=$T/home
	GIT_CONFIG_NOSYSTEM=1
	export HOME GIT_CONFIG_NOSYSTEM
	unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY 2>/dev/null
}

history_repo() {
	R=$T/$1.git
	hr_t0=$(date +%s)
	gen_repo "$T/src.git" apps="$APPS" files="$2" commits="$COMMITS" &&
	    git clone -q --bare --no-local "$T/src.git" "$R" ||
	    die "cannot make the repository"
	rm -rf "$T/src.git"
	hr_n=$(git -C "$R" rev-list --count main)
	[ "$hr_n" -eq $((COMMITS + 1)) ] ||
	    die "the repository has $hr_n commits, not $((COMMITS + 1))"
	result "$1_commits" "$COMMITS"
	result "$1_apps" "$APPS"
	result "$1_pack_kib" "$(du -sk "$R" | awk '{ print $1 }')"
	result "$1_gen_s" "$(($(date +%s) - hr_t0))"
}

hf_rounds() {
	for hf_r in 1 2 3; do
		(cd "$2" && hyperfine -N --style none --warmup 1 --runs "$RUNS" \
		    --export-json "$T/hf-$1-$hf_r.json" "$3" "$4") \
		    >"$T/hf.log" 2>&1 || {
			sed 's/^/  hyperfine: /' "$T/hf.log" | tail -n 5
			die "hyperfine could not time $3"
		}
		cp "$T/hf-$1-$hf_r.json" "$B/hyperfine-$1-$hf_r.json"
	done
}

loadavg() { result "$1" "$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null)"; }
