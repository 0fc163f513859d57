#!/usr/bin/env bash
# One run per output: a second run of the same deck into the same output is refused (exit 2)
# naming the first one's host and PID; after kill -9 of the first, its restart is not blocked.
source "$(dirname "$0")/common.sh"
"$SADDLE" run deck.toml run.name=straight -q || fail "straight run"

"$SADDLE" run deck.toml run.name=locked selftest.step_delay=0.2 -q &  # 60 steps: 12 s
pid=$!
for _ in $(seq 100); do grep -q "pid=$pid " out/locked.lock 2>/dev/null && break; sleep 0.05; done
grep -q "pid=$pid " out/locked.lock || fail "no lock file naming PID $pid"
REFUSAL_LINES=any refused_by "run 'locked' in 'out' is in use by another run (host $(hostname), PID $pid," \
  mpi 2 "$SADDLE" run deck.toml run.name=locked -q
[ "$(grep -c "saddle: error" <<<"$refusal")" -eq 1 ] || fail "refusal not printed exactly once: $refusal"
refused_by "(host $(hostname), PID $pid," "$SADDLE" run deck.toml run.name=locked run.restart=no -q
kill -0 $pid || fail "the first run did not survive the refusals"

for _ in $(seq 100); do [ -f out/locked.ckpt/step_10.h5 ] && break; sleep 0.1; done
kill -9 $pid
wait $pid
ls out/locked.ckpt
out=$("$SADDLE" run deck.toml run.name=locked 2>&1) || fail "restart after kill -9: $out"
grep -q "restarted from out/locked.ckpt/step_" <<<"$out" || fail "did not restart from a checkpoint: $out"
same_result out/straight.h5 out/locked.h5
echo PASS
