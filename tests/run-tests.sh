#!/bin/sh
# Run every test program and script given as arguments, show their
# output, and end with one line: "N passed, N failed" counting individual
# tests (cmocka's per-program totals, "ok"/"not ok" lines of scripts).
# $TEST_WRAP, when set, is a command that runs each test program (make
# check-valgrind: valgrind and its options); scripts run as they are.
# Each one ends with a "# NAME: N s" line.
passed=0
failed=0
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	start=$(date +%s)
	case $t in
	*.sh) sh "$t" >"$log" 2>&1 ;;
	*) ${TEST_WRAP:-} "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	cat "$log"
	echo "# $t: $(($(date +%s) - start)) s"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	p=$((p + $(grep -c '^ok ' "$log")))
	f=$((f + $(grep -c '^not ok ' "$log")))
	if [ "$rc" -ne 0 ]; then
		status=1
		[ "$f" -eq 0 ] && f=1
		echo "FAILED: $t (exit $rc)"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$passed passed, $failed failed"
exit $status
