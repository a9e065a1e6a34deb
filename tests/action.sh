#!/bin/sh
# The composite action (action.yml), run step by step as a GitHub runner
# runs it (tests/gh/runner.py: bash -eo pipefail per step, GITHUB_OUTPUT,
# GITHUB_ENV, GITHUB_PATH, if:, actions/cache against a directory),
# with the variables a runner sets, against a platform repository and
# its "origin" made here. The git CLI is the witness.
#
#   1. inputs by name: the build runs (cache miss), the commit is pushed,
#      outputs commit/changed, trailers (Reason, Run), author from
#      GITHUB_ACTOR and GITHUB_ACTOR_ID;
#   2. the same again: cache hit (no build), nothing changes;
#   3. no inputs on a repository_dispatch: the event file is the request;
#   4. push: 'false' commits without pushing;
#   5. a bad digest: the step fails, origin and checkout are untouched;
#   6. install-only: kpin on PATH, nothing applied;
#   7. no step puts an expression in its script (only in env:).
#
# Run from the top of the tree. Prints "ok"/"not ok" lines.
. tests/lib.sh

py=$(python_yaml)
if [ -z "$py" ]; then
	not_ok "python3 with yaml is installed (sh tools/deps --test)"
	exit 1
fi

d1=sha256:$(printf '1%.0s' $(seq 64))
d2=sha256:$(printf '2%.0s' $(seq 64))
d3=sha256:$(printf '3%.0s' $(seq 64))
overlay=.platform/kubernetes/web/overlays/dev/kustomization.yaml

# No identity from the machine: kpin must take the actor's.
mkdir -p "$tmp/home"
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1
unset GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
unset KPIN_TOKEN GITHUB_TOKEN

git init -q --bare -b main "$tmp/origin.git"
git clone -q "$tmp/origin.git" "$tmp/ws" 2>/dev/null
mkdir -p "$tmp/ws/${overlay%/*}"
cat >"$tmp/ws/$overlay" <<EOF
# web in dev
resources:
  - ../../base
images:
  - name: web
    newName: ghcr.io/acme/web   # the registry
    newTag: "1.0"
    digest: $d1
EOF
git -C "$tmp/ws" add -A
git -C "$tmp/ws" -c user.name=Seed -c user.email=seed@example.com \
	commit -q -m "seed"
git -C "$tmp/ws" push -q origin main 2>/dev/null
seed=$(git -C "$tmp/origin.git" rev-parse main)

cat >"$tmp/event.json" <<EOF
{"action":"promote","branch":"main","client_payload":{"repository":"acme/web","image-name":"web","directory-name":"web","environment":"dev","digest":"$d3","tag":"1.2"},"repository":{"full_name":"acme/platform"},"sender":{"login":"octocat"}}
EOF

# What the runner sets for every step of the job.
export GITHUB_ACTIONS=true CI=true GITHUB_WORKSPACE="$tmp/ws" \
	GITHUB_EVENT_NAME=repository_dispatch \
	GITHUB_EVENT_PATH="$tmp/event.json" GITHUB_REPOSITORY=acme/platform \
	GITHUB_REPOSITORY_OWNER=acme GITHUB_ACTOR=octocat \
	GITHUB_ACTOR_ID=583231 GITHUB_SERVER_URL=https://github.com \
	GITHUB_RUN_ID=4242 GITHUB_RUN_ATTEMPT=1 GITHUB_REF=refs/heads/main \
	GITHUB_REF_NAME=main GITHUB_SHA="$seed" GITHUB_JOB=promote \
	GITHUB_WORKFLOW=promote RUNNER_OS=Linux RUNNER_ARCH=X64 \
	RUNNER_TEST_CACHE="$tmp/cache"
mkdir -p "$tmp/cache"

# action N [input=value]...: one job's run of the action, in a new
# RUNNER_TEMP (a runner empties it between jobs); the log in $tmp/logN.
action() {
	n=$1
	shift
	rm -rf "$tmp/runner-temp"
	mkdir -p "$tmp/runner-temp"
	RUNNER_TEMP="$tmp/runner-temp" GITHUB_TOKEN=job-token \
		"$py" "$top/tests/gh/runner.py" run "$top/action.yml" "$@" \
		>"$tmp/log$n" 2>&1
}
output() {	# output N NAME
	sed -n "s/^output $2=//p" "$tmp/log$1"
}
step() {	# step N NAME: the step's outcome
	sed -n "s/^step $2: //p" "$tmp/log$1"
}
origin() { git -C "$tmp/origin.git" rev-parse main; }
show_log() { sed 's/^/# /' "$tmp/log$1"; }

# 1. Inputs by name; the cache is empty, so kpin is built.
action 1 repository=acme/web image-name=web directory-name=web \
	environment=dev digest="$d2" tag=1.1 reason="CVE-2026-1234 fix"
rc=$?
commit=$(output 1 commit)
check "1: the action succeeds (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || show_log 1
check "1: kpin is built on a cache miss" [ "$(step 1 'Build kpin')" = success ]
check "1: output changed is true" [ "$(output 1 changed)" = true ]
check "1: output commit is origin's new main" \
	all '[ -n "$commit" ]' '[ "$commit" = "$(origin)" ]'
check "1: the commit's parent is the old tip" \
	[ "$(git -C "$tmp/origin.git" rev-parse "$commit^" 2>/dev/null)" = "$seed" ]
check "1: the commit changes only the overlay" \
	[ "$(git -C "$tmp/origin.git" diff-tree --no-commit-id --name-only -r "$commit" 2>/dev/null)" = "$overlay" ]
git -C "$tmp/origin.git" show "$commit:$overlay" >"$tmp/got" 2>/dev/null
git -C "$tmp/ws" show "$seed:$overlay" |
	sed -e "s/$d1/$d2/" -e 's/"1.0"/"1.1"/' >"$tmp/want"
check "1: only the digest and the tag changed, byte for byte" \
	cmp -s "$tmp/want" "$tmp/got"
git -C "$tmp/origin.git" log -1 --format='%an <%ae>%n%B' "$commit" \
	>"$tmp/msg" 2>/dev/null
for t in "Image: web" "Digest: $d2" "Environment: dev" "Tag: 1.1" \
	"Source-Repository: acme/web" "Promoted-By: octocat" \
	"Reason: CVE-2026-1234 fix" \
	"Run: https://github.com/acme/platform/actions/runs/4242"; do
	check "1: trailer '$t'" grep -qxF "$t" "$tmp/msg"
done
check "1: the author is the actor, with GitHub's noreply address" \
	[ "$(head -n 1 "$tmp/msg")" = \
	"octocat <583231+octocat@users.noreply.github.com>" ]
check "1: the checkout follows" \
	[ "$(git -C "$tmp/ws" rev-parse main)" = "$commit" ]
check "1: the checkout is clean" \
	[ -z "$(git -C "$tmp/ws" status --porcelain)" ]
check "1: output kpin is the built binary" [ -x "$(output 1 kpin)" ]
check "1: the build wrote into RUNNER_TEMP" \
	[ -f "$tmp/runner-temp/kpin-build/libkpin.a" ]

# 2. The same request in a new job: the cache has kpin, nothing changes.
action 2 repository=acme/web image-name=web directory-name=web \
	environment=dev digest="$d2" tag=1.1
rc=$?
check "2: the same request again succeeds (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || show_log 2
check "2: a cache hit skips the build" \
	[ "$(step 2 'Build kpin')" = skipped ]
check "2: kpin comes from the cache" \
	all '[ -x "$tmp/runner-temp/kpin-bin/kpin" ]' \
	'[ ! -d "$tmp/runner-temp/kpin-build" ]'
check "2: output changed is false" [ "$(output 2 changed)" = false ]
check "2: output commit is empty" [ -z "$(output 2 commit)" ]
check "2: origin did not move" [ "$(origin)" = "$commit" ]

# 3. No inputs on a repository_dispatch: the event is the request.
action 3
rc=$?
commit3=$(output 3 commit)
check "3: the event file alone is a request (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || show_log 3
check "3: it is pushed" all '[ -n "$commit3" ]' '[ "$commit3" = "$(origin)" ]'
git -C "$tmp/origin.git" log -1 --format=%B "$commit3" >"$tmp/msg3" 2>/dev/null
check "3: with the payload's digest and tag" \
	all 'grep -qxF "Digest: $d3" "$tmp/msg3"' 'grep -qxF "Tag: 1.2" "$tmp/msg3"'

# 4. push: 'false' commits in the checkout only.
action 4 repository=acme/web image-name=web directory-name=web environment=dev \
	digest="$d1" push=false
rc=$?
commit4=$(output 4 commit)
check "4: push 'false' succeeds (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || show_log 4
check "4: push 'false' commits on the checkout's branch" \
	all '[ -n "$commit4" ]' '[ "$(git -C "$tmp/ws" rev-parse main)" = "$commit4" ]'
check "4: push 'false' leaves origin alone" [ "$(origin)" = "$commit3" ]
git -C "$tmp/ws" reset -q --hard "$commit3"

# 5. A bad digest: the step fails and nothing moves.
before=$(git -C "$tmp/ws" rev-parse main)
action 5 repository=acme/web image-name=web directory-name=web environment=dev \
	digest=sha256:abc123
rc=$?
check "5: a bad digest fails the action" [ "$rc" -ne 0 ]
check "5: the failing step is kpin apply" \
	grep -q '^step kpin apply: failure (exit 3)$' "$tmp/log5"
check "5: kpin says which input" grep -q 'INPUT_DIGEST' "$tmp/log5"
check "5: origin did not move" [ "$(origin)" = "$commit3" ]
check "5: the checkout did not move" \
	all '[ "$(git -C "$tmp/ws" rev-parse main)" = "$before" ]' \
	'[ -z "$(git -C "$tmp/ws" status --porcelain)" ]'

# 6. install-only: kpin for later steps, nothing applied.
action 6 install-only=true
rc=$?
check "6: install-only succeeds without a request (exit $rc)" [ "$rc" -eq 0 ]
check "6: install-only applies nothing" \
	all '[ "$(step 6 "kpin apply")" = skipped ]' '[ "$(origin)" = "$commit3" ]'
check "6: install-only puts kpin's directory on GITHUB_PATH" \
	grep -qx "$tmp/runner-temp/kpin-bin" \
	"$tmp/runner-temp/_runner_file_github_path"

# 7. Values reach the scripts through env only (no script injection).
mkdir -p "$tmp/scripts"
"$py" "$top/tests/gh/runner.py" scripts "$top/action.yml" "$tmp/scripts" \
	>"$tmp/scripts.list"
check "7: the action has run: steps" [ -s "$tmp/scripts.list" ]
check "7: no run: script of the action holds \${{ }}" \
	awk -F '\t' '$3 != 0 { bad = 1; print "# " $2 } END { exit bad }' \
	"$tmp/scripts.list"

exit $failed
