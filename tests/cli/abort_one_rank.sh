#!/usr/bin/env bash
# One rank fails while the others wait in a collective: the job must end (no hang) with that
# rank's message, printed once, and its exit code.
source "$(dirname "$0")/common.sh"
out=$(timeout 60 "$MPIEXEC" -n 3 "$SADDLE_ABORT_PROBE" 2>&1)
code=$?
echo "$out"
[ $code -ne 124 ] || fail "the job hung"
[ $code -eq 2 ] || fail "exit code $code, expected 2 (the failing rank's code)"
n=$(grep -c "row 7 of /X is NaN" <<<"$out")
[ "$n" -eq 1 ] || fail "message printed $n times"
grep -q "rank 1 of 3" <<<"$out" || fail "message does not name the rank"
echo PASS
