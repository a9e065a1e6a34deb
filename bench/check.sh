#!/bin/sh
# kpin check's benchmark (issue 5 section 1: 10,000 overlays in under a
# second). bench/run.sh calls it; it also runs on its own from any
# directory once ./kpin is built:
#
#   sh bench/check.sh     results in build/bench/check-results.txt, the
#                         table in build/bench/check-table.md
#
# With KPIN_BENCH_RESULTS=FILE the results are appended to FILE (run.sh's
# build/bench/results.txt) and no table is printed.
#
#  1. two platform trees in checkouts, as pre-commit and CI see them:
#     APPS apps x dev/stg/prd overlays, each app with its base
#     (bench/gen-platform.awk's shape: a kustomization.yaml with
#     resources, patches and two images, one pinned by digest; a base
#     kustomization.yaml and deployment.yaml), made by git fast-import
#     and cloned: 34 apps (102 overlays, 136 kustomization files) and 3,334
#     apps (10,002 overlays, 13,336 kustomization files)
#  2. kpin check .platform/kubernetes from the top of each checkout: it
#     must exit 0 and report every kustomization file; then its time
#     (hyperfine, 3 rounds, pooled median; its CPU time too) and peak RSS
#     (runseq)
#  3. for scale, not as a peer: grep -r over the same files (every
#     kustomization.yaml found and read, nothing parsed), the floor of
#     walking the tree
#  4. one kustomization file of BIG entries (issue 11: every rule linear):
#     kpin check of that file against kpin get -f of its last entry (one
#     parse, one lookup); the target is check within 3x of get
#
# Environment: KPIN_BENCH_CHECK_SMALL_APPS (34), KPIN_BENCH_CHECK_LARGE_APPS
# (3334), KPIN_BENCH_CHECK_BIG_ENTRIES (20000), KPIN_BENCH_CHECK_RUNS (runs per round on the large tree, after
# one warm-up run, default 4; the small tree gets 10 times as many),
# KPIN_BENCH_PYTHON (python3), CC (cc), KPIN_BENCH_KPIN (the kpin to run;
# default ./kpin). Exits 1 only when kpin check fails where it should not.

# shellcheck disable=SC2086
set -u
set -f
cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd)
B=build/bench
KPIN=${KPIN_BENCH_KPIN:-$TOP/kpin}
SMALL=${KPIN_BENCH_CHECK_SMALL_APPS:-34}
LARGE=${KPIN_BENCH_CHECK_LARGE_APPS:-3334}
BIG=${KPIN_BENCH_CHECK_BIG_ENTRIES:-20000}
RUNS=${KPIN_BENCH_CHECK_RUNS:-4}
ROOT=.platform/kubernetes

. ./bench/lib.sh
bench_start check
bench_tools "kpin check benchmark"

# git without the user's or the system's settings
mkdir -p "$T/home"
HOME=$T/home
GIT_CONFIG_NOSYSTEM=1
export HOME GIT_CONFIG_NOSYSTEM
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY 2>/dev/null

# a failing check must fail: one bad digest, exit 1, the rule named
mkdir -p "$T/bad/overlays/prd"
printf 'images:\n  - name: app\n    digest: sha256:ABC\n' \
    >"$T/bad/overlays/prd/kustomization.yaml"
(cd "$T/bad" && "$KPIN" check .) >"$T/bad.out" 2>&1
st=$?
[ $st = 1 ] && grep -q 'digest-format' "$T/bad.out" ||
    { sed 's/^/  /' "$T/bad.out" | head -n 5
      die "kpin check exited $st on a bad digest, without digest-format"; }

# bench SIZE APPS: make the tree, check it once, time it
bench() {
	s=$1 apps=$2
	runs=$RUNS
	rss_runs=2
	[ "$s" = small ] && runs=$((RUNS * 10)) rss_runs=5
	p=check_$s
	d=$T/check-$s
	t0=$(date +%s)
	gen_repo "$d.git" apps="$apps" files=$((apps * 5 + 1)) &&
	    git clone -q "$d.git" "$d" ||
	    die "cannot make the $s tree ($apps apps)"
	rm -rf "$d.git"
	files=$(cd "$d" && find "$ROOT" -name kustomization.yaml | wc -l)
	overlays=$(cd "$d" && find "$ROOT" -path '*/overlays/*' -name kustomization.yaml | wc -l)
	result "${p}_apps" "$apps"
	result "${p}_overlays" "$overlays"
	result "${p}_files" "$files"
	result "${p}_gen_s" "$(($(date +%s) - t0))"
	(cd "$d" && "$KPIN" check "$ROOT") >"$T/out" 2>"$T/err"
	st=$?
	if [ $st != 0 ] || [ -s "$T/out" ] ||
	    ! grep -q "0 errors, 0 warnings in $files files" "$T/err"; then
		sed 's/^/  /' "$T/out" "$T/err" | head -n 5
		die "kpin check of the $s tree: exit $st, not a clean check of $files files"
	fi
	KC="$KPIN check $ROOT"
	GC="grep -r -c --include=kustomization.yaml -e digest: $ROOT"
	say "bench: kpin check, $overlays overlays ($files kustomization files, $apps apps): $runs runs x 3 rounds"
	loadavg "${p}_loadavg_before"
	for r in 1 2 3; do
		(cd "$d" && hyperfine -N --style none --warmup 1 --runs "$runs" \
		    --export-json "$T/hf-$s-$r.json" "$KC" "$GC") \
		    >"$T/hf.log" 2>&1 || {
			sed 's/^/  hyperfine: /' "$T/hf.log" | tail -n 5
			die "hyperfine could not time kpin check"
		}
		cp "$T/hf-$s-$r.json" "$B/hyperfine-check-$s-$r.json"
	done
	loadavg "${p}_loadavg_after"
	hf_pool "${p}_kpin" "${p}_grep" -- "$T/hf-$s-1.json" "$T/hf-$s-2.json" \
	    "$T/hf-$s-3.json"
	rss_of "${p}_kpin_rss" "$d" $rss_runs $KC
	rss_of "${p}_grep_rss" "$d" $rss_runs $GC
	say "  kpin check:  $(get ${p}_kpin_median_ms) ms median ($(get ${p}_kpin_runs) runs, min $(get ${p}_kpin_min_ms)), peak RSS $(get ${p}_kpin_rss_kib) KiB"
	say "  grep -r:     $(get ${p}_grep_median_ms) ms median (the floor: walk and read)"
	rm -rf "$d"
}
bench small "$SMALL"
bench large "$LARGE"

# one file of $BIG entries: check (every rule) against get (parse + lookup)
d=$T/big
mkdir -p "$d"
awk -v n="$BIG" 'BEGIN {
	print "kind: Kustomization"; print "images:"
	for (i = 0; i < n; i++)
		printf "- name: registry.example.com/team/app%d\n  newTag: v%d.0\n  digest: sha256:%064x\n", i, i, i
}' >"$d/kustomization.yaml"
last=registry.example.com/team/app$((BIG - 1))
(cd "$d" && "$KPIN" check kustomization.yaml) >"$T/out" 2>"$T/err" &&
    grep -q "0 errors, 0 warnings in 1 file" "$T/err" ||
    { sed 's/^/  /' "$T/out" "$T/err" | head -n 5
      die "kpin check of $BIG entries is not clean"; }
result check_big_entries "$BIG"
KC="$KPIN check kustomization.yaml"
GC="$KPIN get -f kustomization.yaml --image $last"
say "bench: kpin check vs kpin get, one file of $BIG entries: $RUNS runs x 3 rounds"
for r in 1 2 3; do
	(cd "$d" && hyperfine -N --style none --warmup 1 --runs "$RUNS" \
	    --export-json "$T/hf-big-$r.json" "$KC" "$GC") >"$T/hf.log" 2>&1 || {
		sed 's/^/  hyperfine: /' "$T/hf.log" | tail -n 5
		die "hyperfine could not time kpin check"
	}
	cp "$T/hf-big-$r.json" "$B/hyperfine-check-big-$r.json"
done
hf_pool check_big_check check_big_get -- "$T/hf-big-1.json" \
    "$T/hf-big-2.json" "$T/hf-big-3.json"
rss_of check_big_check_rss "$d" 2 $KC
rss_of check_big_get_rss "$d" 2 $GC
say "  kpin check:  $(get check_big_check_median_ms) ms median"
say "  kpin get:    $(get check_big_get_median_ms) ms median (target: check <= 3x)"
rm -rf "$d"
if [ $OWN = 1 ]; then
	say ""
	awk -f bench/table.awk "$RES" | tee "$B/check-table.md"
	say ""
	say "bench: raw numbers in $RES"
fi
exit 0
