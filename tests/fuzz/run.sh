#!/bin/sh
# Run each libFuzzer target for SECONDS, for CI and by hand (make fuzz-run).
#
#   sh tests/fuzz/run.sh SECONDS TARGET...
#
# Seeds come from testdata/ (and ../shared/corpus when present), rebuilt
# on every run in build/fuzz/seed-TARGET; what the fuzzer finds is kept in
# build/fuzz/corpus-TARGET for the next run. Every target runs even when
# one fails. A crash, leak, UB report, timeout or out-of-memory leaves
# build/fuzz/TARGET-crash-* (or -leak-, -timeout-, -oom-) and its log in
# build/fuzz/TARGET.log; the run then exits 1. Reproduce with
#
#   build/fuzz/TARGET build/fuzz/TARGET-crash-...
#
# and turn the input into a golden case in testdata/. One line per target:
# "ok - ..." or "not ok - ...".
set -u
if [ $# -lt 2 ]; then
	echo "usage: sh tests/fuzz/run.sh SECONDS TARGET..." >&2
	exit 2
fi
seconds=$1
shift
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/fuzz
shared=$top/../shared/corpus
failed=0
# Library leaks only; see the file.
LSAN_OPTIONS=suppressions=$top/tests/fuzz/lsan.supp:print_suppressions=0
export LSAN_OPTIONS

# seed DIR PREFIX FILE...: copy each file into DIR behind PREFIX (the
# fuzz-kust op byte, or nothing), named by PREFIX and checksum.
seed() {
	dir=$1
	prefix=$2
	shift 2
	for f in "$@"; do
		[ -f "$f" ] || continue
		h=$(cksum <"$f" | cut -d' ' -f1)
		{ printf '%s' "$prefix"; cat "$f"; } >"$dir/seed-$prefix$h"
	done
}

# The kustomization files of the shared corpus, if there is one.
corpus_files() {
	[ -d "$shared/files" ] || return 0
	find "$shared/files" -type f \( -name 'kustomization.y*ml' -o \
		-name Kustomization \)
}

for t in "$@"; do
	bin=$out/$t
	seeds=$out/seed-$t
	corpus=$out/corpus-$t
	log=$out/$t.log
	if [ ! -x "$bin" ]; then
		echo "not ok - $t: $bin is missing (make fuzz)"
		failed=1
		continue
	fi
	rm -rf "$seeds"
	mkdir -p "$seeds" "$corpus"
	case $t in
	fuzz-kust)
		# The first byte picks the edit (tests/fuzz/fuzz-kust.c):
		# '@' app/digest/create, 'H' app/other digest/create,
		# '0' app/digest+tag, 't' app/tag only/create.
		for op in @ H 0 t; do
			seed "$seeds" "$op" "$top"/testdata/kust/*.in.yaml
		done
		seed "$seeds" @ "$top"/testdata/check/*.yaml
		corpus_files | while read -r f; do seed "$seeds" @ "$f"; done
		;;
	fuzz-check)
		seed "$seeds" "" "$top"/testdata/check/*.yaml \
			"$top"/testdata/kust/*.in.yaml
		corpus_files | while read -r f; do seed "$seeds" "" "$f"; done
		;;
	fuzz-request)
		seed "$seeds" "" "$top"/testdata/events/*.json* \
			"$top"/testdata/demo/*.json
		;;
	fuzz-index)
		# index files git wrote: versions 2-4, every extension
		seed "$seeds" "" "$top"/testdata/index/*.idx
		;;
	fuzz-sshsig)
		# The first byte picks the parser (tests/fuzz/fuzz-sshsig.c):
		# 's' signature, 'k' public key, 'a' allowed-signers file
		# (looked up with the key of its last line), 'p' private key.
		d=$top/testdata/sshsig
		seed "$seeds" s "$d"/*.sig
		seed "$seeds" k "$d"/*.pub
		# (seed() sets $f: the loop has its own variable)
		for pub in "$d"/*.pub; do
			cat "$d/allowed_signers" "$pub" >"$out/allowed-seed"
			seed "$seeds" a "$out/allowed-seed"
			# every option kpin reads (src/allowed.c)
			{ printf 'f@x Namespaces="g*,!file",valid-after='
			  printf '"20200101Z",VALID-BEFORE="209901011200" '
			  cat "$pub" "$pub"; } >"$out/allowed-seed"
			seed "$seeds" a "$out/allowed-seed"
		done
		rm -f "$out/allowed-seed"
		# private keys are made here, not kept in the repository
		if command -v ssh-keygen >/dev/null; then
			keys=$(mktemp -d)
			for k in "ed25519" "ecdsa -b 256" "ecdsa -b 521" \
				 "rsa -b 1024"; do
				# shellcheck disable=SC2086
				ssh-keygen -q -t $k -N '' -C fuzz \
					-f "$keys/${k%% *}" </dev/null
				seed "$seeds" p "$keys/${k%% *}"
				rm -f "$keys/${k%% *}" "$keys/${k%% *}.pub"
			done
			ssh-keygen -q -t ed25519 -N secret -C fuzz \
				-f "$keys/enc" </dev/null
			ssh-keygen -q -t ecdsa -m PEM -N '' -C fuzz \
				-f "$keys/pem" </dev/null
			seed "$seeds" p "$keys/enc" "$keys/pem"
			rm -rf "$keys"
		fi
		;;
	esac
	echo "# $t: ${seconds}s, $(ls "$seeds" | wc -l) seeds," \
	     "$(ls "$corpus" | wc -l) in the kept corpus"
	# -timeout: one input running 25 s is a hang, reported as a failure.
	"$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$out/$t-" "$corpus" "$seeds" >"$log" 2>&1
	rc=$?
	grep -E 'stat::number_of_executed_units|stat::peak_rss' "$log" |
		sed "s/^/# $t: /"
	if [ "$rc" -ne 0 ]; then
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" |
			sed "s/^/# /"
		sed -n 's/^artifact_prefix=.*Test unit written to /# input: /p' \
			"$log"
		echo "not ok - $t failed (exit $rc; log in $log)"
		failed=1
	else
		echo "ok - $t ran ${seconds}s without a failure"
	fi
done
exit $failed
