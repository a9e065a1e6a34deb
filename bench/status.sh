#!/bin/sh
# kpin status's benchmark (issue 12 section 2: status over 1,000 apps x 3
# environments with 10,000 commits of history in under 1 s, beside git log
# doing the comparable walk). bench/run.sh calls it; it also runs on its
# own from any directory once ./kpin is built:
#
#   sh bench/status.sh    results in build/bench/status-results.txt, the
#                         table in build/bench/status-table.md
#
# With KPIN_BENCH_RESULTS=FILE the results are appended to FILE (run.sh's
# build/bench/results.txt) and no table is printed.
#
#  1. a platform repository of APPS apps (default 1,000: 3,000 overlays,
#     5,000 files; bench/gen-platform.awk) and COMMITS more commits
#     (default 10,000), each changing one overlay as `kpin set` does,
#     made by git fast-import and cloned bare with --no-local
#  2. kpin status --branch main: every overlay, the commit that set each
#     image and the drift, from one first-parent walk; its row count is
#     checked (apps x 3 environments x 2 images), then timed (hyperfine,
#     3 rounds, pooled median; CPU time too) with peak RSS (runseq)
#  3. the peer: git log --first-parent --name-only over the overlay root,
#     with the commit, date, author and Promoted-By: the same walk,
#     listing which overlays each commit changed, without reading them
#
# Environment: KPIN_BENCH_STATUS_COMMITS (10000), KPIN_BENCH_STATUS_APPS
# (1000), KPIN_BENCH_STATUS_RUNS (runs per round, after one warm-up run,
# default 3), KPIN_BENCH_PYTHON (python3), CC (cc), KPIN_BENCH_KPIN (the
# kpin to run; default ./kpin). Exits 1 only when kpin status fails or
# prints another number of rows.

# shellcheck disable=SC2086
set -u
set -f
cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd)
B=build/bench
KPIN=${KPIN_BENCH_KPIN:-$TOP/kpin}
COMMITS=${KPIN_BENCH_STATUS_COMMITS:-10000}
APPS=${KPIN_BENCH_STATUS_APPS:-1000}
RUNS=${KPIN_BENCH_STATUS_RUNS:-3}
ROOT=.platform/kubernetes

. ./bench/lib.sh
bench_start status
bench_tools "kpin status benchmark"

bench_git_env

# ---- 1. the repository ---------------------------------------------------------
history_repo status "$((APPS * 5))"
say "bench: status: $COMMITS commits, $APPS apps x 3 environments ($(get status_pack_kib) KiB packed)"

# ---- 2. and 3. kpin status and git log ----------------------------------------
KS="$KPIN status --branch main"
GS="git log main --first-parent --name-only --format=%H%x09%aI%x09%an%x09%(trailers:key=Promoted-By,valueonly) -- $ROOT"
(cd "$R" && $KS) >"$T/kpin.out" 2>"$T/kpin.err" ||
    { sed 's/^/  /' "$T/kpin.err" | head -n 5; die "kpin status failed"; }
rows=$(($(wc -l <"$T/kpin.out") - 1))
[ "$rows" -eq $((APPS * 6)) ] || die "kpin status printed $rows rows, not $((APPS * 6))"
result status_rows "$rows"
result status_behind "$(grep -c ' behind ' "$T/kpin.out")"
say "bench: kpin status ($rows rows) vs git log --name-only: $RUNS runs x 3 rounds"
loadavg status_loadavg_before
hf_rounds status "$R" "$KS" "$GS"
loadavg status_loadavg_after
hf_pool status_kpin status_git -- "$T/hf-status-1.json" \
    "$T/hf-status-2.json" "$T/hf-status-3.json"
rss_of status_kpin_rss "$R" 2 $KS
rss_of status_git_rss "$R" 2 $GS
say "  kpin status: $(get status_kpin_median_ms) ms median ($(get status_kpin_runs) runs, min $(get status_kpin_min_ms)), CPU $(get status_kpin_user_ms) ms, peak RSS $(get status_kpin_rss_kib) KiB"
say "  git log:     $(get status_git_median_ms) ms median, CPU $(get status_git_user_ms) ms, peak RSS $(get status_git_rss_kib) KiB"
if [ $OWN = 1 ]; then
	say ""
	awk -f bench/table.awk "$RES" | tee "$B/status-table.md"
	say ""
	say "bench: raw numbers in $RES"
fi
exit 0
