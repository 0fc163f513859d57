#!/usr/bin/env bash
# A run killed in the middle of writing its step-30 checkpoint leaves only a temporary file;
# the restart ignores it, continues from step 20 and ends equal to an uninterrupted run.
source "$(dirname "$0")/common.sh"
mpi 2 "$SADDLE" run deck.toml run.name=straight -q || fail "straight run"
SADDLE_FAULT_KILL=checkpoint:3 mpi 2 "$SADDLE" run deck.toml run.name=crash -q
code=$?
[ $code -ne 0 ] && [ $code -ne 3 ] || fail "the faulted run exited $code"
ls -la out/crash.ckpt
[ -f out/crash.ckpt/step_20.h5 ] || fail "step_20.h5 missing"
[ ! -f out/crash.ckpt/step_30.h5 ] || fail "a half-written step_30.h5 was published"
ls out/crash.ckpt/step_30.h5.tmp >/dev/null || fail "expected the temporary file of the interrupted write"
out=$(mpi 2 "$SADDLE" run deck.toml run.name=crash 2>&1) || fail "restart: $out"
echo "$out"
grep -q "restarted from out/crash.ckpt/step_20.h5" <<<"$out" || fail "did not restart from step 20"
[ ! -f out/crash.ckpt/step_30.h5.tmp ] || fail "stale temporary file left behind"
same_result out/straight.h5 out/crash.h5
echo PASS
