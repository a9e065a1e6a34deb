#!/bin/sh
# The README's pre-commit snippet works as written: its rev is a commit
# of this repository (an ancestor of HEAD) whose .pre-commit-hooks.yaml
# has its hook id, "pre-commit try-repo" at that rev runs the hook, and
# the snippet itself, with the repository URL pointed at this clone,
# fails a commit of a bad kustomization and passes a good one. The hook
# is language: system, so kpin ($KPIN's directory) is put on PATH.
#
# Run from the top of the tree. Prints "ok"/"not ok" lines.
. tests/lib.sh
KPIN=${KPIN:-$top/kpin}

if ! command -v pre-commit >/dev/null 2>&1; then
	not_ok "pre-commit is installed (sh tools/deps --test)"
	exit 1
fi
export PATH="$(cd "$(dirname "$KPIN")" && pwd):$PATH"
export PRE_COMMIT_HOME="$tmp/pre-commit-home" HOME="$tmp" \
	XDG_CONFIG_HOME="$tmp" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com \
	GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com

awk '/^# \.pre-commit-config\.yaml$/ { on = 1 }
	on && /^```/ { exit }
	on { print }' README.md >"$tmp/snippet.yaml"
rev=$(sed -n 's/^ *rev: *\([^ #]*\).*/\1/p' "$tmp/snippet.yaml")
url=$(sed -n 's/^ *- repo: *\([^ #]*\).*/\1/p' "$tmp/snippet.yaml")
id=$(sed -n 's/^ *- id: *\([^ #]*\).*/\1/p' "$tmp/snippet.yaml")
if [ -n "$rev" ] && [ -n "$url" ] && [ -n "$id" ]; then
	ok "README has a pre-commit snippet (rev $rev, hook $id)"
else
	not_ok "README has a pre-commit snippet with repo, rev and id"
	exit 1
fi

if [ "$(git rev-parse --is-shallow-repository 2>/dev/null)" = true ] &&
   ! git cat-file -e "$rev^{commit}" 2>/dev/null; then
	echo "ok - # SKIP a shallow clone may not hold the snippet's rev"
	exit 0
fi
case $rev in
*[!0-9a-f]*) full=0 ;;
*) [ ${#rev} -eq 40 ] && full=1 || full=0 ;;
esac
if [ "$full" -eq 1 ] || git rev-parse -q --verify "refs/tags/$rev" >/dev/null; then
	ok "the snippet's rev is a full commit id or a tag"
else
	not_ok "the snippet's rev is a full commit id or a tag ('$rev')"
fi
if git merge-base --is-ancestor "$rev" HEAD 2>/dev/null; then
	ok "the snippet's rev is in this repository's history"
else
	not_ok "the snippet's rev is in this repository's history"
fi
if git show "$rev:.pre-commit-hooks.yaml" 2>/dev/null |
   grep -qx -- "- id: $id"; then
	ok "the hook '$id' is in .pre-commit-hooks.yaml at $rev"
else
	not_ok "the hook '$id' is in .pre-commit-hooks.yaml at $rev"
fi

# A repository to run the hook in: one bad overlay, one good.
git init -q "$tmp/repo"
cd "$tmp/repo" || exit 1
mkdir -p web/overlays/prd web/overlays/dev
printf 'images:\n  - name: web\n    digest: sha256:abc123\n' \
	>web/overlays/prd/kustomization.yaml
printf 'images:\n  - name: web\n    digest: sha256:%s\n' \
	"$(printf 'a%.0s' $(seq 64))" >web/overlays/dev/kustomization.yaml
git add -A

# try_repo WHAT FILE RC PATTERN: try-repo at the rev on FILE exits RC
# and prints a line matching PATTERN.
try_repo() {
	pre-commit try-repo "$top" "$id" --ref "$rev" --files "$2" \
		>"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq "$3" ] && grep -q "$4" "$tmp/out"; then
		ok "$1"
	else
		not_ok "$1 (exit $rc)"
		sed 's/^/# /' "$tmp/out"
	fi
}
try_repo "try-repo at the rev fails a bad digest, naming file:line:col" \
	web/overlays/prd/kustomization.yaml 1 \
	'kustomization.yaml:3:13: error: .*\[digest-format\]'
try_repo "try-repo at the rev passes a good overlay" \
	web/overlays/dev/kustomization.yaml 0 '^kpin check\.*Passed'

# The snippet itself as .pre-commit-config.yaml, on a commit.
sed "s|$url|$top|" "$tmp/snippet.yaml" >.pre-commit-config.yaml
git add .pre-commit-config.yaml
pre-commit install -q >/dev/null 2>&1 || pre-commit install >/dev/null 2>&1
if git commit -q -m bad >"$tmp/out" 2>&1; then
	not_ok "the README's config refuses a commit of a bad digest"
	sed 's/^/# /' "$tmp/out"
else
	ok "the README's config refuses a commit of a bad digest"
fi
git rm -q --cached web/overlays/prd/kustomization.yaml
if git commit -q -m good >"$tmp/out" 2>&1; then
	ok "the README's config lets a good overlay be committed"
else
	not_ok "the README's config lets a good overlay be committed"
	sed 's/^/# /' "$tmp/out"
fi
exit $failed
