#!/bin/sh
# kpin's repository benchmarks (issue 3 section 5, issue 4 section 4).
# bench/run.sh calls this near its end; it also runs on its own from any
# directory once ./kpin is built:
#
#   sh bench/repo.sh               run, results in build/bench/repo-results.txt
#                                  and a table in build/bench/repo-table.md
#   sh bench/repo.sh --table FILE  print the table rows (bench/table.awk)
#                                  of a results file, without the header
#
# With KPIN_BENCH_RESULTS=FILE the results are appended to FILE (run.sh's
# build/bench/results.txt) and no table is printed.
#
#  1. synthetic platform repositories of 1,000 and 100,000 files made by
#     `git fast-import` (bench/gen-platform.awk: apps with base and
#     dev/stg/prd overlays, filler files up to the count; deterministic),
#     each as a bare repository and a checkout
#  2. the commit cost of `kpin set --app --env` in the bare repositories,
#     100k files vs 1k files (target: at most 1.5x)
#  3. in the checkouts: kpin set vs the git CLI way (sed the digest, git
#     add the file, git commit -q), and kpin's peak RSS (target: kpin at
#     least 5x faster in the 100k-file checkout)
#  4. the push race: N clones (default 8) of one bare remote push U updates
#     each (default 5, one app each) with `kpin set --push`, all clones at
#     once, after the time of one update alone; wall time, attempts per
#     update ("it took N attempts" on kpin's stderr), and whether every
#     update landed: its digest in the remote's tree (an update that gave
#     up with exit 5 has not; one that exited 0 without landing is "lost
#     silently"), one new commit on top of the old tip per update that
#     exited 0, git fsck --strict clean, every clone's status clean, the
#     token nowhere; over a local path and over smart HTTP
#     (tests/http-git.sh: lighttpd + git http-backend on 127.0.0.1, basic
#     auth with one token)
#
# Every run of 2 and 3 sets a digest no earlier run used, so each one makes
# a real commit (bench/runseq.c times such sequences: fork/exec/wait4, no
# shell, per-run wall time and peak RSS); kpin and its peer run in
# alternating rounds and the reported figures are medians.
#
# Environment: KPIN_BENCH_BARE_RUNS (kpin runs per bare repository, 3
# rounds, default 60), KPIN_BENCH_CO_RUNS (runs per tool per checkout, 3
# rounds, default 45), KPIN_BENCH_PUSHERS (8), KPIN_BENCH_PUSH_UPDATES (5),
# KPIN_BENCH_PUSH_REPS (repetitions of each race, default 3),
# KPIN_BENCH_PUSH_RETRIES (kpin's --retries in the races; default: none
# given, so kpin's default), CC (cc), KPIN_BENCH_KPIN (the kpin to run;
# default ./kpin), KPIN_BENCH_BASELINE (another kpin, e.g. one built from
# an older commit with `git worktree add /tmp/base REV && make -C
# /tmp/base`, timed in 3 in the same alternating rounds as a third way,
# to report what a change costs: repo_co_SIZE_base_*, and the ratio
# kpin/baseline).
# kpin and git run with an empty HOME and no system config, so neither
# sees the user's settings. Exits 1 only when kpin fails where it should
# not (a set in 2 or 3, the solo pushes); the race's outcome is a result.

# shellcheck disable=SC2086
set -u
set -f	# commands live in strings split on blanks: no globbing
cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd)
B=build/bench

if [ "${1:-}" = --table ]; then
	[ -f "${2:-}" ] || { echo "usage: sh bench/repo.sh --table RESULTS" >&2; exit 2; }
	awk -v head=0 -f bench/table.awk "$2"
	exit 0
fi

BARE_RUNS=${KPIN_BENCH_BARE_RUNS:-60}
CO_RUNS=${KPIN_BENCH_CO_RUNS:-45}
NP=${KPIN_BENCH_PUSHERS:-8}
NU=${KPIN_BENCH_PUSH_UPDATES:-5}
REPS=${KPIN_BENCH_PUSH_REPS:-3}
RETRIES=${KPIN_BENCH_PUSH_RETRIES:-}	# empty: kpin's default
CC=${CC:-cc}
KPIN=${KPIN_BENCH_KPIN:-$TOP/kpin}
RUNSEQ=$TOP/$B/runseq
# the digests: sha256:<8 hex digits of the run number><FILL>
FILL=0123456789abcdef0123456789abcdef0123456789abcdef01234567
ROOT=.platform/kubernetes
APP="app-0042"	# exists in both repositories (the small one has 100 apps)

say() { printf '%s\n' "$*"; }
result() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }
skip() { printf 'bench: skip: %s\n' "$*"; printf 'skip=%s\n' "$*" >>"$RES"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
get() { sed -n "s/^$1=//p" "$RES" | tail -n 1; }

[ -x "$KPIN" ] || die "build ./kpin first (make)"
mkdir -p "$B" || exit 1
if [ -n "${KPIN_BENCH_RESULTS:-}" ]; then
	RES=$KPIN_BENCH_RESULTS
	OWN=0
else
	RES=$B/repo-results.txt
	OWN=1
	: >"$RES"
	result date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	result host "$(uname -srm)"
	result cpus "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')"
	result cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
	result kpin_version "$("$KPIN" --version 2>&1)"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/kpin-bench-repo.XXXXXX") || exit 1
HTTP_DIR=
cleanup() {
	[ -n "$HTTP_DIR" ] && sh "$TOP/tests/http-git.sh" stop "$HTTP_DIR" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
result repo_tmpdir "$T ($(df -PT "$T" 2>/dev/null | awk 'NR == 2 { print $2 }'))"

# a git environment of our own: no user or system settings, an identity
mkdir -p "$T/home"
HOME=$T/home
GIT_CONFIG_NOSYSTEM=1
export HOME GIT_CONFIG_NOSYSTEM
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY \
    GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_CONFIG_GLOBAL KPIN_TOKEN GITHUB_TOKEN \
    2>/dev/null
command -v git >/dev/null 2>&1 || die "git not found"
git config --global user.name "Bench" &&
    git config --global user.email "bench@example.invalid" &&
    git config --global init.defaultBranch main || die "cannot configure git"
result repo_git "$(git --version)"
if ! "$CC" -O2 -std=c11 -Wall -o "$RUNSEQ" bench/runseq.c 2>"$T/cc.log"; then
	sed 's/^/  cc: /' "$T/cc.log" | head -n 5
	skip "repository benchmarks: cannot build bench/runseq.c with $CC"
	exit 0
fi

# ---- helpers ---------------------------------------------------------------
SEQ=1	# the next unused run number: every digest is new
# run DIR OUT N CMD...: N runs of CMD (runseq syntax) in DIR, lines to OUT
# (sh has no local variables: this function's own start with run_)
run() {
	run_dir=$1 run_out=$2 run_n=$3
	shift 3
	: >"$T/stderr.log"
	if ! (cd "$run_dir" && exec "$RUNSEQ" -n "$run_n" -s "$SEQ" \
	    -e "$T/stderr.log" -- "$@") >>"$run_out" 2>"$T/runseq.log"; then
		say "bench: failed in $run_dir: $*"
		sed 's/^/  /' "$T/runseq.log" | head -n 3
		tail -n 5 "$T/stderr.log" | sed 's/^/  /'
		SEQ=$((SEQ + run_n))
		return 1
	fi
	SEQ=$((SEQ + run_n))
}
# stats KEY FILE: median, mean, min, max (ms) and runs of FILE's column 2
stats() {
	sort -n -k 2 "$2" | awk -v k="$1" '
	{ t[NR] = $2; s += $2 }
	END {
		if (!NR) exit 1
		m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
		printf "%s_median_ms=%.3f\n%s_mean_ms=%.3f\n", k, m, k, s / NR
		printf "%s_min_ms=%.3f\n%s_max_ms=%.3f\n%s_runs=%d\n", k, t[1], k, t[NR], k, NR
	}' >>"$RES"
}
# rss KEY FILE: median and max of FILE's column 3 (KiB)
rss() {
	sort -n -k 3 "$2" | awk -v k="$1" '
	{ r[NR] = $3 }
	END { if (NR) printf "%s_kib=%d\n%s_max_kib=%d\n", k, r[int((NR + 1) / 2)], k, r[NR] }' >>"$RES"
}
commits() { git -C "$1" rev-list --count HEAD; }
overlay() { printf '%s/%s/overlays/%s/kustomization.yaml' "$ROOT" "$1" "$2"; }

# ---- 1. the repositories -----------------------------------------------------
# make SIZE APPS FILES: $T/SIZE.git (bare) and $T/SIZE (a checkout of it)
make_repo() {
	size=$1 apps=$2 files=$3
	git init -q --bare "$T/$size.git" || return 1
	# glibc trims its heap after each of fast-import's zlib buffers: many
	# small brk calls (17 s instead of 1 s for 100k files) unless told not to
	run . "$T/gen-$size.txt" 1 sh -c "awk -v apps=$apps -v files=$files \
	    -f bench/gen-platform.awk | GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=67108864 \
	    git -C $T/$size.git fast-import --quiet" || return 1
	n=$(git -C "$T/$size.git" ls-tree -r --name-only main | wc -l)
	[ "$n" -eq "$files" ] || { say "bench: $size.git has $n files, not $files"; return 1; }
	run . "$T/clone-$size.txt" 1 git clone -q "$T/$size.git" "$T/$size" || return 1
	result "repo_files_$size" "$n"
	result "repo_gen_${size}_ms" "$(awk '{ print $2 }' "$T/gen-$size.txt")"
	result "repo_checkout_${size}_ms" "$(awk '{ print $2 }' "$T/clone-$size.txt")"
	result "repo_pack_${size}_kib" "$(du -sk "$T/$size.git" | awk '{ print $1 }')"
	say "  $size: $n files ($(git -C "$T/$size.git" rev-parse --short main)): fast-import $(get "repo_gen_${size}_ms") ms, checkout $(get "repo_checkout_${size}_ms") ms"
}
say "bench: synthetic platform repositories (git fast-import)"
make_repo small 100 1000 && make_repo large 1000 100000 ||
    die "cannot make the synthetic repositories"

KSET="$KPIN set --app $APP --env prd --image $APP --digest sha256:{N}$FILL"
BASELINE=${KPIN_BENCH_BASELINE:-}
BSET=
[ -n "$BASELINE" ] && BSET="$BASELINE set --app $APP --env prd --image $APP --digest sha256:{N}$FILL"
FILE=$(overlay "$APP" prd)
# the git CLI way, as a CI job's shell step would do it (split on blanks,
# so the sed expression has none; the message comes from a file)
printf '%s/prd: set %s to a new digest\n' "$APP" "$APP" >"$T/msg"
GIT_WAY="sed -i s/^\([[:space:]]*digest:[[:space:]]*sha256:\)[0-9a-f]\{64\}\$/\1{N}$FILL/ $FILE ; git add $FILE ; git commit -q -F $T/msg"

# ---- 2. commit cost in the bare repositories -----------------------------
say "bench: kpin set --app in a bare repository, 100k vs 1k files ($BARE_RUNS runs each, 3 rounds)"
per=$(( (BARE_RUNS + 2) / 3 ))
commits "$T/small.git" >"$T/before-small"
commits "$T/large.git" >"$T/before-large"
ok=1
: >"$T/bare-small.txt"
: >"$T/bare-large.txt"
run "$T/small.git" /dev/null 3 $KSET || ok=0
run "$T/large.git" /dev/null 3 $KSET || ok=0
for _ in 1 2 3; do
	[ $ok = 1 ] || break
	run "$T/small.git" "$T/bare-small.txt" $per $KSET || ok=0
	run "$T/large.git" "$T/bare-large.txt" $per $KSET || ok=0
done
[ $ok = 1 ] || die "kpin set failed in a bare repository"
for s in small large; do
	n=$(( $(commits "$T/$s.git") - $(cat "$T/before-$s") ))
	[ "$n" -eq $((3 * per + 3)) ] ||
	    die "$s.git: $n new commits, not $((3 * per + 3)): a run did not commit"
	git -C "$T/$s.git" fsck --strict --no-progress >"$T/fsck.log" 2>&1 ||
	    { sed 's/^/  /' "$T/fsck.log" | head -n 5; die "git fsck failed in $s.git"; }
	stats "repo_bare_$s" "$T/bare-$s.txt"
	rss "repo_bare_${s}_rss" "$T/bare-$s.txt"
done
cp "$T/bare-small.txt" "$B/repo-bare-small.txt"
cp "$T/bare-large.txt" "$B/repo-bare-large.txt"
say "  1k files:   $(get repo_bare_small_median_ms) ms median ($(get repo_bare_small_runs) runs, min $(get repo_bare_small_min_ms))"
say "  100k files: $(get repo_bare_large_median_ms) ms median ($(get repo_bare_large_runs) runs, min $(get repo_bare_large_min_ms))"
say "  ratio 100k/1k: $(awk "BEGIN { printf \"%.2f\", $(get repo_bare_large_median_ms) / $(get repo_bare_small_median_ms) }")x (target <= 1.5x)"

# ---- 3. kpin vs the git CLI in the checkouts --------------------------------
# co SIZE RUNS: alternate rounds of kpin and the git way in $T/SIZE
co() {
	s=$1 runs=$2
	d=$T/$s
	per=$(( (runs + 2) / 3 ))
	before=$(commits "$d")
	ways="kpin git"
	[ -n "$BSET" ] && ways="$ways base"
	for w in $ways; do
		: >"$T/co-$s-$w.txt"
		run "$d" /dev/null 2 $(way "$w") || return 1
	done
	for _ in 1 2 3; do
		for w in $ways; do
			run "$d" "$T/co-$s-$w.txt" $per $(way "$w") || return 1
		done
	done
	last=$(printf 'sha256:%08x%s' $((SEQ - 1)) "$FILL")
	n=$(( $(commits "$d") - before ))
	nw=$(echo $ways | wc -w)
	[ "$n" -eq $((nw * (3 * per + 2))) ] ||
	    { say "bench: $s checkout: $n new commits, not $((nw * (3 * per + 2)))"; return 1; }
	[ -z "$(git -C "$d" status --porcelain)" ] ||
	    { say "bench: $s checkout not clean:"; git -C "$d" status --short | head -n 5; return 1; }
	git -C "$d" show "HEAD:$FILE" | grep -q "digest: $last\$" ||
	    { say "bench: $s checkout: HEAD lacks $last"; return 1; }
	git -C "$d" fsck --strict --no-progress >"$T/fsck.log" 2>&1 ||
	    { sed 's/^/  /' "$T/fsck.log" | head -n 5; say "bench: git fsck failed in the $s checkout"; return 1; }
	for w in kpin git; do
		stats "repo_co_${s}_$w" "$T/co-$s-$w.txt"
		rss "repo_co_${s}_${w}_rss" "$T/co-$s-$w.txt"
		cp "$T/co-$s-$w.txt" "$B/repo-co-$s-$w.txt"
	done
	say "  kpin set:  $(get repo_co_${s}_kpin_median_ms) ms median ($(get repo_co_${s}_kpin_runs) runs), peak RSS $(get repo_co_${s}_kpin_rss_kib) KiB median, $(get repo_co_${s}_kpin_rss_max_kib) max"
	say "  git way:   $(get repo_co_${s}_git_median_ms) ms median ($(get repo_co_${s}_git_runs) runs), peak RSS $(get repo_co_${s}_git_rss_kib) KiB (largest of sed, git add, git commit)"
	say "  ratio git/kpin: $(awk "BEGIN { printf \"%.2f\", $(get repo_co_${s}_git_median_ms) / $(get repo_co_${s}_kpin_median_ms) }")x"
	[ -n "$BSET" ] || return 0
	stats "repo_co_${s}_base" "$T/co-$s-base.txt"
	cp "$T/co-$s-base.txt" "$B/repo-co-$s-base.txt"
	say "  baseline:  $(get repo_co_${s}_base_median_ms) ms median ($(get repo_co_${s}_base_runs) runs) of $BASELINE"
	say "  ratio kpin/baseline: $(awk "BEGIN { printf \"%.3f\", $(get repo_co_${s}_kpin_median_ms) / $(get repo_co_${s}_base_median_ms) }")x"
}
# way NAME: the command of one way of the checkout benchmark
way() {
	case $1 in
	kpin) printf '%s' "$KSET" ;;
	git) printf '%s' "$GIT_WAY" ;;
	base) printf '%s' "$BSET" ;;
	esac
}
say "bench: 100k-file checkout: kpin set --app vs sed + git add + git commit ($CO_RUNS runs each, 3 rounds)"
co large "$CO_RUNS" || die "the 100k-file checkout benchmark failed"
say "bench: 1k-file checkout: the same ($CO_RUNS runs each)"
co small "$CO_RUNS" || die "the 1k-file checkout benchmark failed"
rm -rf "$T/large" "$T/large.git"

# ---- 4. the push race ----------------------------------------------------------
result repo_push_n "$NP"
result repo_push_u "$NU"
result repo_push_retries "${RETRIES:-default}"
# race.sh KPIN CLONES OUT NP NU HEAD FILL [ARG...]: clone c (of NP) sets
# app c*NU+j (j < NU) in prd to sha256:HEAD<4 hex of c*NU+j>FILL with
# --push [ARG...], one update after the other; all clones at once
cat >"$T/race.sh" <<'EOF'
kpin=$1 clones=$2 out=$3 np=$4 nu=$5 head=$6 fill=$7
shift 7
c=0
while [ $c -lt $np ]; do
	(
		cd "$clones/c$c" || exit 1
		j=0
		while [ $j -lt $nu ]; do
			i=$((c * nu + j))
			app=$(printf 'app-%04d' $i)
			d=$(printf 'sha256:%s%04x%s' "$head" $i "$fill")
			printf '%s %s\n' "$app" "$d" >"$out/req-$i"
			"$kpin" set --app "$app" --env prd --image "$app" \
			    --digest "$d" --push "$@" >"$out/out-$i" 2>"$out/err-$i"
			echo $? >"$out/rc-$i"
			j=$((j + 1))
		done
	) &
	c=$((c + 1))
done
wait
EOF
# race KIND REMOTE URL: REPS races of NP clones against REMOTE (a bare
# repository the clones reach as URL), after a solo baseline
race() {
	kind=$1 remote=$2 url=$3
	p=repo_push_$kind
	cl=$T/clones-$kind
	rm -rf "$cl"
	mkdir -p "$cl"
	c=0
	while [ $c -lt "$NP" ]; do
		git clone -q "$remote" "$cl/c$c" &&
		    git -C "$cl/c$c" remote set-url origin "$url" ||
		    die "cannot clone $remote"
		c=$((c + 1))
	done
	# the uncontended cost of one update: app-0099, one clone, in a row
	: >"$T/solo-$kind.txt"
	run "$cl/c0" "$T/solo-$kind.txt" 10 $KPIN set --app app-0099 --env prd \
	    --image app-0099 --digest "sha256:{N}$FILL" --push \
	    ${RETRIES:+--retries $RETRIES} ||
	    return 2
	stats "${p}_solo" "$T/solo-$kind.txt"
	say "  $kind: one update alone: $(get ${p}_solo_median_ms) ms median (10 in a row)"
	: >"$T/race-$kind-wall.txt"
	: >"$T/race-$kind-attempts.txt"
	updates=0 landed=0 lost=0 silent=0 failed=0 bad=0 r=1
	while [ $r -le "$REPS" ]; do
		out=$T/race-$kind-$r
		mkdir -p "$out"
		old=$(git -C "$remote" rev-parse main)
		hx=$(printf '%04x' $((SEQ % 65536)))
		SEQ=$((SEQ + 1))
		"$RUNSEQ" -n 1 -- sh "$T/race.sh" "$KPIN" "$cl" "$out" "$NP" "$NU" \
		    "$hx" "$FILL" ${RETRIES:+--retries $RETRIES} \
		    >>"$T/race-$kind-wall.txt" ||
		    die "the $kind race did not run"
		# every update: its exit status, its attempts, its digest on the remote
		ok=0 i=0
		while [ $i -lt $((NP * NU)) ]; do
			read -r app d <"$out/req-$i"
			rc=$(cat "$out/rc-$i")
			if [ "$rc" = 0 ]; then
				a=$(sed -n 's/.*it took \([0-9][0-9]*\) attempts.*/\1/p' "$out/err-$i")
				ok=$((ok + 1))
				printf '%s\n' "${a:-1}" >>"$T/race-$kind-attempts.txt"
			else
				failed=$((failed + 1))
				[ $failed -le 3 ] &&
				    say "  $kind race $r: $app: exit $rc: $(head -n 1 "$out/err-$i")"
			fi
			if git -C "$remote" show "main:$(overlay "$app" prd)" 2>/dev/null |
			    grep -q "digest: $d\$"; then
				landed=$((landed + 1))
				[ "$rc" = 0 ] ||
				    say "  $kind race $r: $app: exit $rc, yet the update is on the remote"
			else
				lost=$((lost + 1))
				if [ "$rc" = 0 ]; then
					silent=$((silent + 1))
					say "  $kind race $r: LOST: $app $d: exit 0 but not on the remote"
				fi
			fi
			i=$((i + 1))
		done
		updates=$((updates + NP * NU))
		# the remote: forward only, one commit per update that exited 0
		new=$(git -C "$remote" rev-list --count "$old..main")
		if ! git -C "$remote" merge-base --is-ancestor "$old" main; then
			say "  $kind race $r: the remote moved backwards"
			bad=$((bad + 1))
		elif [ "$new" -ne $ok ]; then
			say "  $kind race $r: $new new commits on the remote for $ok updates that exited 0"
			bad=$((bad + 1))
		fi
		if ! git -C "$remote" fsck --strict --no-progress >"$T/fsck.log" 2>&1; then
			say "  $kind race $r: git fsck --strict failed on the remote:"
			sed 's/^/    /' "$T/fsck.log" | head -n 5
			bad=$((bad + 1))
		fi
		c=0
		while [ $c -lt "$NP" ]; do
			[ -z "$(git -C "$cl/c$c" status --porcelain)" ] || {
				say "  $kind race $r: clone c$c is not clean"
				bad=$((bad + 1))
			}
			c=$((c + 1))
		done
		if [ -n "${TOKEN:-}" ] &&
		    grep -r -q -F "$TOKEN" "$out" "$cl" "$remote" 2>/dev/null; then
			say "  $kind race $r: the token appears in kpin's output or a repository"
			bad=$((bad + 1))
		fi
		say "  $kind race $r: $(awk '{ print $2 }' "$T/race-$kind-wall.txt" | tail -n 1) ms; $ok of $((NP * NU)) exited 0; $new new commits on the remote"
		r=$((r + 1))
	done
	cp "$T/race-$kind-wall.txt" "$B/repo-race-$kind-wall.txt"
	cp "$T/race-$kind-attempts.txt" "$B/repo-race-$kind-attempts.txt"
	result "${p}_updates" "$updates"
	result "${p}_landed" "$landed"
	result "${p}_lost" "$lost"
	result "${p}_lost_silently" "$silent"
	result "${p}_failed" "$failed"
	result "${p}_check_failures" "$bad"
	stats "${p}_wall" "$T/race-$kind-wall.txt"
	# attempts of the updates that exited 0
	sort -n "$T/race-$kind-attempts.txt" | awk -v p="$p" '
	{ a[NR] = $1; s += $1; h[$1]++; if ($1 > 1) r++ }
	END {
		if (!NR) { printf "%s_attempts_mean=-\n%s_attempts_max=-\n", p, p; exit }
		printf "%s_attempts_mean=%.2f\n%s_attempts_median=%d\n", p, s / NR, p, a[int((NR + 1) / 2)]
		printf "%s_attempts_max=%d\n%s_retried_updates=%d\n", p, a[NR], p, r
		printf "%s_retries_total=%d\n%s_attempts_histogram=", p, s - NR, p
		for (k = 1; k <= a[NR]; k++) if (h[k]) printf "%s%d:%d", (k > 1 ? " " : ""), k, h[k]
		printf "\n"
	}' >>"$RES"
	say "  $kind: wall $(get ${p}_wall_median_ms) ms median of $REPS races; $landed of $updates updates landed, $failed gave up (exit != 0), $silent lost silently, $bad failed checks"
	say "  $kind: attempts of the updates that exited 0: mean $(get ${p}_attempts_mean), max $(get ${p}_attempts_max); attempts:updates $(get ${p}_attempts_histogram)"
	[ $silent = 0 ] && [ $bad = 0 ]
}

say "bench: push race over a local path: $NP clones x $NU updates, all at once ($REPS races)"
git clone -q --bare "$T/small.git" "$T/remote.git" || die "cannot make the remote"
# after_race STATUS KIND: race's status: 2 is kpin failing alone, fatal
after_race() {
	case $1 in
	0) ;;
	2) die "kpin set --push failed over $2 with nobody else pushing" ;;
	*) say "bench: the $2 push race lost an update silently or failed a check" ;;
	esac
}
race local "$T/remote.git" "$T/remote.git"
after_race $? local

if ! command -v lighttpd >/dev/null 2>&1 && [ ! -x /usr/sbin/lighttpd ]; then
	skip "push race over HTTP: lighttpd not found (apt-get install lighttpd)"
elif ! command -v python3 >/dev/null 2>&1; then
	skip "push race over HTTP: tests/http-git.sh needs python3"
elif [ ! -x "$(git --exec-path)/git-http-backend" ]; then
	skip "push race over HTTP: git http-backend not found"
else
	say "bench: push race over HTTP (lighttpd + git http-backend on 127.0.0.1): $NP clones x $NU updates ($REPS races)"
	TOKEN=bench$(od -An -N8 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n')
	HTTP_DIR=$T/http
	if port=$(sh tests/http-git.sh start "$HTTP_DIR" "$TOKEN" 2>"$T/http.log"); then
		srv=$HTTP_DIR/repos/platform.git
		git clone -q --bare "$T/small.git" "$srv" &&
		    git -C "$srv" config http.receivepack true ||
		    die "cannot make the served remote"
		KPIN_TOKEN=$TOKEN
		export KPIN_TOKEN
		race http "$srv" "http://127.0.0.1:$port/git/platform.git"
		after_race $? HTTP
		unset KPIN_TOKEN
		sh tests/http-git.sh stop "$HTTP_DIR"
		HTTP_DIR=
	else
		sed 's/^/  /' "$T/http.log" | head -n 5
		skip "push race over HTTP: tests/http-git.sh could not start lighttpd"
		sh tests/http-git.sh stop "$HTTP_DIR"
		HTTP_DIR=
	fi
fi

if [ $OWN = 1 ]; then
	say ""
	awk -f bench/table.awk "$RES" | tee "$B/repo-table.md"
	say ""
	say "bench: raw numbers in $RES"
fi
exit 0
