# Shared by the test scripts (sourced from the top of the tree): the
# "ok"/"not ok" lines tests/run-tests.sh counts, and a scratch directory
# $tmp removed on exit. Each script ends with "exit $failed".
LC_ALL=C
export LC_ALL
top=$(pwd)
failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; failed=1; }

# check WHAT COMMAND...: ok when COMMAND succeeds.
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# all 'CONDITION'...: every shell condition holds (for check).
all() {
	for c in "$@"; do eval "$c" || return 1; done
}

# python_yaml: a python3 that has the yaml module, or nothing.
python_yaml() {
	for p in python3 /usr/bin/python3; do
		"$p" -c 'import yaml' 2>/dev/null && { echo "$p"; return; }
	done
}
