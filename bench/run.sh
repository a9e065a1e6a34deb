#!/bin/sh
# kpin benchmarks: `make bench` runs this from the top of the tree after
# building ./kpin and libkpin.a. Not a test: it prints numbers and exits 0
# unless kpin itself is missing or breaks; a comparison whose tool is
# missing is skipped with a "bench: skip:" line.
#
#  1. whole-process time (hyperfine, medians) of one digest edit of
#     bench/data/overlay.yaml: kpin set -f, a ruamel.yaml round-trip script
#     (bench/ruamel-set.py), an eemeli/yaml script (bench/yaml-set.mjs), and
#     kpin --version as kpin's start-up floor; every edit starts from the
#     original file (hyperfine --prepare)
#  2. peak RSS of the same commands (build/bench/rss, wait4's ru_maxrss)
#  3. the edit core in-process on generated files of 2 KB, 200 KB and 4 MiB
#     (build/bench/edit-loop)
#  4. minimal diffs over ../shared/corpus/files (bench/corpus-diff.py)
#  5. the repository engine (bench/repo.sh): kpin set --app commits in
#     synthetic 1k- and 100k-file repositories, bare and checked out, vs
#     the git CLI, and the push race over a local path and HTTP
#  6. kpin check over 102 and 10,002 overlays (bench/check.sh)
#  7. kpin history over 10,000 commits vs git log (bench/history.sh)
#  8. kpin status over 1,000 apps x 3 environments, 10,000 commits, vs
#     git log (bench/status.sh)
#  8. one table in Markdown (bench/table.awk), for README's "Performance":
#     build/bench/table.md (and table.txt, the same), and every raw number
#     in build/bench/results.txt
#
# Each of bench/repo.sh, bench/check.sh and bench/history.sh also runs on
# its own, with its own results file and table.
#
# Environment: KPIN_BENCH_RUNS (peer runs, default 50), KPIN_BENCH_KPIN_RUNS
# (kpin runs per round, 3 rounds, default 100), KPIN_CORPUS (default
# ../shared/corpus/files), CC (default cc), KPIN_BENCH_PYTHON (default
# /usr/bin/python3, Debian's, which has python3-ruamel.yaml); bench/repo.sh,
# bench/check.sh and bench/history.sh read their own KPIN_BENCH_* variables
# (see their headers). Every benchmark runs a copy of ./kpin made at the
# start (handed to the others as KPIN_BENCH_KPIN), so a rebuild while they
# run changes nothing.

# Commands are kept in plain strings and split on purpose (the same strings
# go to hyperfine); temporary paths come from mktemp and hold no spaces.
# shellcheck disable=SC2086
set -u
cd "$(dirname "$0")/.." || exit 1

PY=${KPIN_BENCH_PYTHON:-/usr/bin/python3}
B=build/bench
RES=$B/results.txt
RUNS=${KPIN_BENCH_RUNS:-50}
KRUNS=${KPIN_BENCH_KPIN_RUNS:-100}
CORPUS=${KPIN_CORPUS:-../shared/corpus/files}
CC=${CC:-cc}
DEPS="libfyaml libgit2 libpcre2-8"
OVERLAY=bench/data/overlay.yaml
IMAGE=ghcr.io/example/checkout-migrations
DIGEST=sha256:5e1f0c4ad3b2c2a8f3d6b1e0a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0

say() { printf '%s\n' "$*"; }
skip() { printf 'bench: skip: %s\n' "$*"; printf 'skip=%s\n' "$*" >>"$RES"; }
result() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

if [ ! -x ./kpin ] || [ ! -f ./libkpin.a ]; then
	die "build ./kpin and libkpin.a first (make)"
fi
mkdir -p "$B" || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/kpin-bench.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'rm -rf "$T"; exit 130' INT TERM
# every benchmark runs this copy of ./kpin: a rebuild while they run
# (make in another shell) neither breaks them nor mixes two builds
mkdir -p "$T/bin" && cp ./kpin "$T/bin/kpin" && "$T/bin/kpin" --version >/dev/null 2>&1 ||
    die "cannot copy ./kpin (being rebuilt? run again)"
KPIN=$T/bin/kpin
KPIN_BENCH_KPIN=$KPIN
export KPIN_BENCH_KPIN

: >"$RES"
result date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
result host "$(uname -srm)"
result cpus "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')"
result cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
result kpin_version "$("$KPIN" --version 2>&1)"
result tmpdir "$T ($(df -PT "$T" 2>/dev/null | awk 'NR == 2 { print $2 }'))"
# the load on the machine: others' work skews the medians
result loadavg_start "$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null)"
START=$(date +%s)

# ---- tools ---------------------------------------------------------------
HAVE_HF=0 HAVE_PY=0 HAVE_RUAMEL=0 HAVE_NODE=0 HAVE_CC=0
if command -v hyperfine >/dev/null 2>&1; then
	HAVE_HF=1
	result hyperfine "$(hyperfine --version)"
fi
if [ -x "$PY" ]; then
	HAVE_PY=1
	if v=$("$PY" -c 'import ruamel.yaml; print(ruamel.yaml.__version__)' 2>/dev/null); then
		HAVE_RUAMEL=1
		result ruamel_yaml "$v"
	fi
fi
if command -v node >/dev/null 2>&1; then
	if [ ! -f bench/node_modules/yaml/package.json ] &&
	    command -v npm >/dev/null 2>&1; then
		say "bench: installing npm package yaml into bench/node_modules"
		npm install --prefix bench --no-save --no-audit --no-fund yaml \
		    >"$T/npm.log" 2>&1 || sed 's/^/  npm: /' "$T/npm.log" | tail -n 5
	fi
	if [ -f bench/node_modules/yaml/package.json ]; then
		HAVE_NODE=1
		result node "$(node --version)"
		result npm_yaml "$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
		    bench/node_modules/yaml/package.json | head -n 1)"
	fi
fi
CFLAGS_DEPS=$(pkg-config --cflags $DEPS 2>/dev/null)
LIBS_DEPS=$(pkg-config --libs $DEPS 2>/dev/null)
if "$CC" -O2 -std=c11 -Wall -o "$B/rss" bench/rss.c 2>"$T/cc.log" &&
    "$CC" -O2 -std=c11 -Wall -Iinclude $CFLAGS_DEPS -o "$B/edit-loop" \
    bench/edit-loop.c libkpin.a $LIBS_DEPS -lpthread 2>>"$T/cc.log" &&
    printf 'int main(void) { return 0; }\n' >"$T/bare.c" &&
    "$CC" -O2 -o "$B/bare" "$T/bare.c" 2>>"$T/cc.log"; then
	HAVE_CC=1
else
	sed 's/^/  cc: /' "$T/cc.log" | head -n 10
fi

[ $HAVE_HF = 1 ] || skip "whole-process timing: hyperfine not found (apt-get install hyperfine)"
[ $HAVE_PY = 1 ] || skip "whole-process timing and corpus: $PY not found (apt-get install python3)"
[ $HAVE_RUAMEL = 1 ] || skip "ruamel.yaml comparison and corpus: $PY cannot import ruamel.yaml (apt-get install python3-ruamel.yaml)"
[ $HAVE_NODE = 1 ] || skip "eemeli/yaml comparison: node or the npm package yaml unavailable (apt-get install nodejs npm; network for npm install)"
[ $HAVE_CC = 1 ] || skip "in-process loop and peak RSS: cannot build bench/edit-loop.c or bench/rss.c with $CC"

# ---- does every tool really make the edit? -------------------------------
cp "$OVERLAY" "$T/orig.yaml"
grep -q "$DIGEST" "$T/orig.yaml" && die "$OVERLAY already holds $DIGEST"
# check NAME CMD...: run CMD on a fresh copy at $T/work.yaml, expect DIGEST
check() {
	name=$1
	shift
	cp "$T/orig.yaml" "$T/work.yaml"
	if "$@" >"$T/check.log" 2>&1 && grep -q "$DIGEST" "$T/work.yaml"; then
		n=$(diff "$T/orig.yaml" "$T/work.yaml" | grep -c '^[<>]')
		result "overlay_diff_lines_$name" "$n"
		return 0
	fi
	say "bench: $name did not edit $OVERLAY:"
	sed 's/^/  /' "$T/check.log" | head -n 5
	return 1
}
KPIN_SET="$KPIN set -f $T/work.yaml --image $IMAGE --digest $DIGEST"
RUAMEL_SET="$PY bench/ruamel-set.py $T/work.yaml $IMAGE $DIGEST"
YAML_SET="node bench/yaml-set.mjs $T/work.yaml $IMAGE $DIGEST"
check kpin $KPIN_SET || die "kpin set failed on $OVERLAY"
if [ $HAVE_RUAMEL = 1 ] && ! check ruamel $RUAMEL_SET; then
	HAVE_RUAMEL=0
	skip "ruamel.yaml comparison: bench/ruamel-set.py failed"
fi
if [ $HAVE_NODE = 1 ] && ! check yaml $YAML_SET; then
	HAVE_NODE=0
	skip "eemeli/yaml comparison: bench/yaml-set.mjs failed"
fi

# ---- 1. whole-process time -------------------------------------------------
# hf TAG RUNS [--prepare P] CMD ...: hyperfine without a shell, JSON kept
hf() {
	tag=$1 runs=$2
	shift 2
	hyperfine -N --style none --warmup 5 --runs "$runs" \
	    --export-json "$T/hf-$tag.json" "$@" >"$T/hf-$tag.log" 2>&1 || {
		sed 's/^/  hyperfine: /' "$T/hf-$tag.log" | tail -n 5
		return 1
	}
	cp "$T/hf-$tag.json" "$B/hyperfine-$tag.json"
}
# stats KEY JSON...: pool the runs of command i of every JSON into KEY_i's
# median, mean, stddev, min, max (ms) and runs
stats() {
	"$PY" - "$@" >>"$RES" <<'EOF'
import json, statistics, sys
key, files = sys.argv[1], sys.argv[2:]
pooled = {}
for f in files:
    for r in json.load(open(f))["results"]:
        pooled.setdefault(r["command"], []).extend(r["times"])
for cmd, t in pooled.items():
    t = sorted(x * 1e3 for x in t)
    print("# %s" % cmd)
    name = key if len(pooled) == 1 else None
    if name is None:
        name = key + "_" + ("version" if cmd.endswith("--version") else
                            "set" if " set " in cmd else "bare")
    print("%s_median_ms=%.3f" % (name, statistics.median(t)))
    print("%s_mean_ms=%.3f" % (name, statistics.mean(t)))
    print("%s_stddev_ms=%.3f" % (name, statistics.stdev(t) if len(t) > 1 else 0))
    print("%s_min_ms=%.3f" % (name, t[0]))
    print("%s_max_ms=%.3f" % (name, t[-1]))
    print("%s_runs=%d" % (name, len(t)))
EOF
}
get() { sed -n "s/^$1=//p" "$RES" | tail -n 1; }

if [ $HAVE_HF = 1 ] && [ $HAVE_PY = 1 ]; then
	PREP="cp $T/orig.yaml $T/work.yaml"
	say "bench: whole-process time of one digest edit of $OVERLAY ($(wc -l <"$OVERLAY") lines)"
	# kpin set and kpin --version in alternating rounds, runs pooled
	ok=1
	# and, for scale, a C program that does nothing (build/bench/bare)
	set -- --prepare "$PREP" "$KPIN_SET" --prepare true "$KPIN --version"
	[ $HAVE_CC = 1 ] && set -- "$@" --prepare true "$B/bare"
	hf k1 "$KRUNS" "$@" || ok=0
	hf k2 "$KRUNS" --prepare true "$KPIN --version" --prepare "$PREP" "$KPIN_SET" || ok=0
	hf k3 "$KRUNS" "$@" || ok=0
	grep -q "$DIGEST" "$T/work.yaml" || ok=0
	[ $ok = 1 ] || die "hyperfine could not time kpin"
	stats kpin "$T/hf-k1.json" "$T/hf-k2.json" "$T/hf-k3.json"
	say "  kpin set -f     $(get kpin_set_median_ms) ms median ($(get kpin_set_runs) runs)"
	say "  kpin --version  $(get kpin_version_median_ms) ms median ($(get kpin_version_runs) runs)"
	[ $HAVE_CC = 1 ] && say "  bare C program  $(get kpin_bare_median_ms) ms median ($(get kpin_bare_runs) runs): this machine's process floor"
	if [ -d /dev/shm ] && [ -w /dev/shm ] && S=$(mktemp -d /dev/shm/kpin-bench.XXXXXX); then
		cp "$T/orig.yaml" "$S/orig.yaml"
		if hf shm "$KRUNS" --prepare "cp $S/orig.yaml $S/work.yaml" \
		    "$KPIN set -f $S/work.yaml --image $IMAGE --digest $DIGEST"; then
			stats kpin_set_tmpfs "$T/hf-shm.json"
			say "  kpin set -f     $(get kpin_set_tmpfs_median_ms) ms median on tmpfs (/dev/shm: fsync is free)"
		fi
		rm -rf "$S"
	fi
	if [ $HAVE_RUAMEL = 1 ]; then
		if hf ruamel "$RUNS" --prepare "$PREP" "$RUAMEL_SET" &&
		    grep -q "$DIGEST" "$T/work.yaml"; then
			stats ruamel "$T/hf-ruamel.json"
			say "  ruamel.yaml     $(get ruamel_median_ms) ms median ($(get ruamel_runs) runs)"
		else
			skip "ruamel.yaml timing failed"
		fi
	fi
	if [ $HAVE_NODE = 1 ]; then
		if hf yaml "$RUNS" --prepare "$PREP" "$YAML_SET" &&
		    grep -q "$DIGEST" "$T/work.yaml"; then
			stats yaml "$T/hf-yaml.json"
			say "  eemeli/yaml     $(get yaml_median_ms) ms median ($(get yaml_runs) runs)"
		else
			skip "eemeli/yaml timing failed"
		fi
	fi
fi

# ---- 2. peak RSS -------------------------------------------------------------
# rss KEY [-c SRC -o DST] -- CMD...: median and max ru_maxrss (KiB) of 5 runs
rss() {
	key=$1
	shift
	if out=$("$B/rss" -n 5 "$@" 2>"$T/rss.log"); then
		result "rss_${key}_kib" "${out% *}"
		result "rss_${key}_max_kib" "${out#* }"
	else
		say "bench: peak RSS of $key failed:"
		sed 's/^/  /' "$T/rss.log" | head -n 3
	fi
}
if [ $HAVE_CC = 1 ]; then
	say "bench: peak RSS (ru_maxrss, median of 5 runs)"
	rss kpin_set -c "$T/orig.yaml" -o "$T/work.yaml" -- $KPIN_SET
	rss kpin_version -- "$KPIN" --version
	[ $HAVE_RUAMEL = 1 ] && rss ruamel -c "$T/orig.yaml" -o "$T/work.yaml" -- $RUAMEL_SET
	[ $HAVE_NODE = 1 ] && rss yaml -c "$T/orig.yaml" -o "$T/work.yaml" -- $YAML_SET
	for k in kpin_set kpin_version ruamel yaml; do
		v=$(get "rss_${k}_kib")
		[ -n "$v" ] && say "  $k: $v KiB"
	done
fi

# ---- 3. the edit core in-process ---------------------------------------------
if [ $HAVE_CC = 1 ]; then
	say "bench: in-process kpin_kust_set() loop (median ms per edit)"
	if "$B/edit-loop" "$B" typical-1k "$OVERLAY" "$IMAGE" >"$T/loop.txt" 2>"$T/loop.log"; then
		:
	else
		say "bench: edit-loop failed:"
		sed 's/^/  /' "$T/loop.log" | head -n 5
	fi
	while read -r label bytes iters med min p90; do
		say "  $label ($bytes bytes): $med ms median, $min min, $p90 p90 ($iters edits)"
		k=$(printf '%s' "$label" | tr -c 'A-Za-z0-9\n' '_')
		result "loop_${k}_bytes" "$bytes"
		result "loop_${k}_iterations" "$iters"
		result "loop_${k}_median_ms" "$med"
		result "loop_${k}_min_ms" "$min"
		result "loop_${k}_p90_ms" "$p90"
	done <"$T/loop.txt"
	# whole-process peak RSS on the largest inputs (images near the end)
	for f in patch-4m images-4m; do
		[ -f "$B/$f.yaml" ] || continue
		name=$(sed -n 's/^  - name: //p' "$B/$f.yaml" | tail -n 1)
		rss "kpin_set_$(printf '%s' "$f" | tr - _)" -c "$B/$f.yaml" \
		    -o "$T/big.yaml" -- "$KPIN" set -f "$T/big.yaml" --image "$name" \
		    --digest "$DIGEST"
	done
fi

# ---- 4. minimal diffs over the corpus ------------------------------------------
if [ ! -d "$CORPUS" ]; then
	skip "corpus minimal-diff comparison: $CORPUS not found"
elif [ $HAVE_RUAMEL = 0 ]; then
	skip "corpus minimal-diff comparison: needs $PY with ruamel.yaml to read the entries"
else
	say "bench: minimal diffs over $CORPUS (every images entry set to a fresh digest)"
	set --
	[ $HAVE_NODE = 1 ] && set -- --node "$(command -v node)"
	mkdir -p "$T/corpus"
	"$PY" bench/corpus-diff.py --corpus "$CORPUS" --tmp "$T/corpus" \
	    --kpin "$KPIN" --ruamel --results "$RES" "$@" | sed 's/^/  /'
fi

# ---- 5. the repository engine -------------------------------------------------
# its numbers go to $RES too; it exits non-zero when kpin itself fails there
KPIN_BENCH_RESULTS=$RES sh bench/repo.sh
repo_status=$?
[ $repo_status = 0 ] || say "bench: bench/repo.sh failed (exit $repo_status)"

# ---- 6. kpin check ---------------------------------------------------------------
KPIN_BENCH_RESULTS=$RES sh bench/check.sh
check_status=$?
[ $check_status = 0 ] || say "bench: bench/check.sh failed (exit $check_status)"

# ---- 7. kpin history -------------------------------------------------------------
KPIN_BENCH_RESULTS=$RES sh bench/history.sh
history_status=$?
[ $history_status = 0 ] || say "bench: bench/history.sh failed (exit $history_status)"

# ---- 8. kpin status --------------------------------------------------------------
KPIN_BENCH_RESULTS=$RES sh bench/status.sh
status_status=$?
[ $status_status = 0 ] || say "bench: bench/status.sh failed (exit $status_status)"

# ---- 8b. signing ----------------------------------------------------------------
KPIN_BENCH_RESULTS=$RES sh bench/sign.sh
sign_status=$?
[ $sign_status = 0 ] || say "bench: bench/sign.sh failed (exit $sign_status)"

# ---- 9. the table --------------------------------------------------------------
result loadavg_end "$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null)"
result total_s "$(($(date +%s) - START))"
say ""
awk -f bench/table.awk "$RES" | tee "$B/table.md"
cp "$B/table.md" "$B/table.txt"
say ""
say "bench: raw numbers in $RES; the table in $B/table.md ($(get total_s) s in all)"
[ $repo_status = 0 ] && [ $check_status = 0 ] && [ $history_status = 0 ] &&
    [ $status_status = 0 ] && [ $sign_status = 0 ]
