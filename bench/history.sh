#!/bin/sh
# kpin history's benchmark (issue 5 section 4: a history over 10,000
# commits in under 200 ms). bench/run.sh calls it; it also runs on its
# own from any directory once ./kpin is built:
#
#   sh bench/history.sh   results in build/bench/history-results.txt, the
#                         table in build/bench/history-table.md
#
# With KPIN_BENCH_RESULTS=FILE the results are appended to FILE (run.sh's
# build/bench/results.txt) and no table is printed.
#
#  1. a platform repository of APPS apps (default 100, 1,000 files;
#     bench/gen-platform.awk) and COMMITS more commits (default 10,000),
#     each changing one overlay as `kpin set` does (its subject and
#     trailers; every 25th a hand edit without trailers), made by git
#     fast-import and cloned bare with --no-local, so its pack is the one
#     git pack-objects sends a clone
#  2. kpin history --app APP --env prd for the app changed least (the last
#     app: its prd overlay 4 times in the range) and the one changed most
#     (app-0000: a quarter of all commits, a fifth of those in prd); its
#     commits are checked against git log's, then timed (hyperfine, 3
#     rounds, pooled median; CPU time too) with peak RSS (runseq)
#  3. the peer: git log --first-parent -p over the overlay's path with the
#     commit, date, author and kpin's trailers: the same commits, and the
#     digest and tag in the patch
#
# Environment: KPIN_BENCH_HISTORY_COMMITS (10000), KPIN_BENCH_HISTORY_APPS
# (100), KPIN_BENCH_HISTORY_FILES (1000), KPIN_BENCH_HISTORY_RUNS (runs per
# round, after one warm-up run, default 4), KPIN_BENCH_PYTHON (python3),
# CC (cc), KPIN_BENCH_KPIN (the kpin to run; default ./kpin). Exits 1 only
# when kpin history fails or lists other commits than git log.

# shellcheck disable=SC2086
set -u
set -f
cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd)
B=build/bench
KPIN=${KPIN_BENCH_KPIN:-$TOP/kpin}
COMMITS=${KPIN_BENCH_HISTORY_COMMITS:-10000}
APPS=${KPIN_BENCH_HISTORY_APPS:-100}
FILES=${KPIN_BENCH_HISTORY_FILES:-1000}
RUNS=${KPIN_BENCH_HISTORY_RUNS:-4}
ROOT=.platform/kubernetes

. ./bench/lib.sh
bench_start history
[ "$APPS" -ge 3 ] || die "KPIN_BENCH_HISTORY_APPS must be at least 3"
bench_tools "kpin history benchmark"

bench_git_env

# ---- 1. the repository ---------------------------------------------------------
history_repo history "$FILES"
n=$((COMMITS + 1))
result history_files "$(git -C "$R" ls-tree -r --name-only main | wc -l)"
say "bench: history: $n commits, $APPS apps, $(get history_files) files ($(get history_pack_kib) KiB packed)"

# ---- 2. and 3. kpin history and git log --------------------------------------
# bench KIND APP: check, then time, kpin history and git log for APP in prd
bench() {
	k=$1 app=$2
	p=history_$k
	path=$ROOT/$app/overlays/prd/kustomization.yaml
	KH="$KPIN history --app $app --env prd"
	GH="git log --first-parent -p --format=%H%x09%aI%x09%an%x09%(trailers:key=Promoted-By,key=Source-Repository,key=Release,valueonly,separator=%x09) -- $path"
	# the same commits as git log, newest first; the newest digest is the tip's
	(cd "$R" && $KH) >"$T/kpin.out" 2>"$T/kpin.err" ||
	    { sed 's/^/  /' "$T/kpin.err" | head -n 5; die "kpin history failed for $app"; }
	awk -v a="$app" '$4 == a { print $1 }' "$T/kpin.out" >"$T/kpin.ids"
	git -C "$R" log --first-parent --format=%H -- "$path" | cut -c 1-12 >"$T/git.ids"
	cmp -s "$T/kpin.ids" "$T/git.ids" || {
		diff "$T/kpin.ids" "$T/git.ids" | head -n 5 | sed 's/^/  /'
		die "kpin history lists other commits than git log for $app"
	}
	tip=$(git -C "$R" show "main:$path" | sed -n 's/^ *digest: \(sha256:.\{12\}\).*/\1/p')
	[ "$(awk -v a="$app" '$4 == a { print $5; exit }' "$T/kpin.out")" = "$tip" ] ||
	    die "kpin history's newest digest for $app is not the tip's ($tip)"
	result "${p}_app" "$app"
	result "${p}_entries" "$(wc -l <"$T/kpin.ids")"
	say "bench: kpin history --app $app --env prd ($(get ${p}_entries) changes) vs git log -p: $RUNS runs x 3 rounds"
	loadavg "${p}_loadavg_before"
	hf_rounds "history-$k" "$R" "$KH" "$GH"
	loadavg "${p}_loadavg_after"
	hf_pool "${p}_kpin" "${p}_git" -- "$T/hf-history-$k-1.json" \
	    "$T/hf-history-$k-2.json" "$T/hf-history-$k-3.json"
	rss_of "${p}_kpin_rss" "$R" 2 $KH
	rss_of "${p}_git_rss" "$R" 2 $GH
	say "  kpin history: $(get ${p}_kpin_median_ms) ms median ($(get ${p}_kpin_runs) runs, min $(get ${p}_kpin_min_ms)), peak RSS $(get ${p}_kpin_rss_kib) KiB"
	say "  git log -p:   $(get ${p}_git_median_ms) ms median, peak RSS $(get ${p}_git_rss_kib) KiB"
}
bench rare "$(printf 'app-%04d' $((APPS - 1)))"
bench hot app-0000
if [ $OWN = 1 ]; then
	say ""
	awk -f bench/table.awk "$RES" | tee "$B/history-table.md"
	say ""
	say "bench: raw numbers in $RES"
fi
exit 0
