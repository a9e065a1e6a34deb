#!/bin/sh
# kpin's signing benchmark (issue 13 section 4). bench/run.sh calls it;
# it also runs on its own once ./kpin and libkpin.a are built:
#
#   sh bench/sign.sh     results in build/bench/sign-results.txt
#
#  1. one signature of a commit-sized payload (bench/sign-loop.c, linked
#     with libkpin.a): Ed25519, ECDSA P-256 and RSA 3072 in-process, and
#     Ed25519 through a throwaway ssh-agent, and an OpenPGP Ed25519 key
#     through GPGME (gpg-agent in a temporary GNUPGHOME); median of many
#  2. a whole commit: `kpin set` in a checkout, unsigned and with --sign
#     (Ed25519 key file), in alternating rounds of runs (bench/runseq.c);
#     the difference of the medians is what signing adds (target: at most
#     5 ms per commit)
#
# Environment: KPIN_BENCH_SIGN_RUNS (signatures per key, default 200),
# KPIN_BENCH_SIGN_COMMITS (commits per round and mode, 3 rounds, default
# 30), CC, KPIN_BENCH_KPIN.

# shellcheck disable=SC2086
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd)
B=build/bench
KPIN=${KPIN_BENCH_KPIN:-$TOP/kpin}
. bench/lib.sh
bench_start sign
RUNS=${KPIN_BENCH_SIGN_RUNS:-200}
COMMITS=${KPIN_BENCH_SIGN_COMMITS:-30}
CC=${CC:-cc}

[ -f libkpin.a ] || die "build libkpin.a first (make)"
command -v ssh-keygen >/dev/null 2>&1 || { skip "signing: no ssh-keygen"; exit 0; }
# shellcheck disable=SC2046
if ! "$CC" -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude \
    $(pkg-config --cflags libfyaml libgit2 libpcre2-8) -o "$B/sign-loop" \
    bench/sign-loop.c libkpin.a $(pkg-config --libs libfyaml libgit2 \
    libpcre2-8) -ldl -lpthread 2>"$T/cc.log" ||
   ! "$CC" -O2 -std=c11 -Wall -o "$B/runseq" bench/runseq.c 2>>"$T/cc.log"; then
	sed 's/^/  cc: /' "$T/cc.log" | head -n 5
	skip "signing: cannot build bench/sign-loop.c"
	exit 0
fi

say "bench: one commit signature ($RUNS each, median)"
for k in "ed25519:-t ed25519" "ecdsa_p256:-t ecdsa -b 256" "rsa3072:-t rsa -b 3072"; do
	name=${k%%:*}
	ssh-keygen -q ${k#*:} -N '' -C bench -f "$T/$name" || die "ssh-keygen"
	set -- $("$B/sign-loop" "$RUNS" "$T/$name") || die "sign-loop $name"
	result "sign_${name}_us" "$1"
	say "  $name in-process: $1 us"
done
eval "$(ssh-agent -a "$T/agent.sock" -s)" >/dev/null
SSH_AUTH_SOCK=$T/agent.sock ssh-add -q "$T/ed25519" </dev/null
set -- $("$B/sign-loop" "$RUNS" "$T/ed25519.pub" "$T/agent.sock")
kill "$SSH_AGENT_PID"
result sign_ed25519_agent_us "$1"
say "  ed25519 through ssh-agent: $1 us"
if command -v gpg >/dev/null 2>&1; then
	mkdir -m 700 "$T/gnupg"
	GNUPGHOME=$T/gnupg gpg -q --batch --pinentry-mode loopback \
	    --passphrase bench --quick-gen-key 'B <b@example.com>' ed25519 \
	    sign never &&
	GNUPGHOME=$T/gnupg gpg -q --batch --pinentry-mode loopback \
	    --passphrase bench --armor --export-secret-keys >"$T/secret.asc" &&
	set -- $("$B/sign-loop" "$RUNS" --openpgp "$T/secret.asc" bench) &&
	result sign_openpgp_ed25519_us "$1" &&
	say "  OpenPGP ed25519 (GPGME, key in KPIN_SIGNING_KEY): $1 us"
	gpgconf --homedir "$T/gnupg" --kill gpg-agent 2>/dev/null
fi

say "bench: kpin set, unsigned vs --sign with Ed25519 ($COMMITS per round, 3 rounds)"
R=$T/repo
ov=.platform/kubernetes/web/overlays/prd
export HOME="$T" GIT_CONFIG_NOSYSTEM=1
git init -q -b main "$R" && mkdir -p "$R/$ov" &&
    printf 'images:\n- name: web\n  newTag: v1\n' >"$R/$ov/kustomization.yaml" &&
    git -C "$R" -c user.name=b -c user.email=b@example.com add . &&
    git -C "$R" -c user.name=b -c user.email=b@example.com commit -qm init &&
    git -C "$R" config user.name b && git -C "$R" config user.email b@example.com &&
    git -C "$R" config gpg.format ssh &&
    git -C "$R" config user.signingkey "$T/ed25519" || die "test repository"
SEQ=1
: >"$T/plain.txt"
: >"$T/signed.txt"
for round in 1 2 3; do
	for mode in plain signed; do
		flag=
		[ $mode = signed ] && flag=--sign
		(cd "$R" && exec "$TOP/$B/runseq" -n "$COMMITS" -s "$SEQ" -- \
		    "$KPIN" set --app web --env prd --image web $flag --digest \
		    "sha256:{N}00000000000000000000000000000000000000000000000000000000") \
		    >>"$T/$mode.txt" || die "kpin set $flag failed"
		SEQ=$((SEQ + COMMITS))
	done
	: "$round"
done
med() { sort -n -k 2 "$1" | awk '{ t[NR] = $2 } END { printf "%.3f", NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'; }
plain=$(med "$T/plain.txt")
signed=$(med "$T/signed.txt")
added=$(awk "BEGIN { printf \"%.3f\", $signed - $plain }")
result sign_commit_plain_ms "$plain"
result sign_commit_signed_ms "$signed"
result sign_commit_added_ms "$added"
say "  unsigned $plain ms, signed $signed ms median: signing adds $added ms (target <= 5)"
git -C "$R" verify-commit HEAD 2>/dev/null || true
