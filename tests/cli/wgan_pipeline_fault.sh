#!/usr/bin/env bash
# A rank killed inside a pipeline stage (SADDLE_FAULT_KILL=stage:<n>:<rank>, in the middle of a
# micro-batch's pass), or meeting an exception there (SADDLE_FAULT_THROW), ends the whole job
# within seconds, with the message, instead of leaving its neighbour waiting for a message
# forever; a pipelined run that diverges stops every stage with the divergence message (exit 1),
# whichever stage saw the non-finite gradient.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
cat > ring.toml <<'DECK'
[run]
workload = "wgan"
output = "out"
steps = 50
log_every = 10
[parallel]
layer = 2
micro_batches = 4
[wgan]
batch = 8
eval_samples = 50
swd_projections = 4
[wgan.generator]
widths = [16, 16, 16]
[wgan.critic]
widths = [16, 16, 16]
DECK
for rank in 0 1; do
  t0=$(date +%s)
  msg=$(SADDLE_FAULT_KILL=stage:37:$rank timeout 60 "$MPIEXEC" -n 2 "$SADDLE" run ring.toml run.name=\"kill$rank\" -q 2>&1)
  rc=$?
  t=$(( $(date +%s) - t0 ))
  [ "$rc" -ne 124 ] || fail "rank $rank killed in a stage: the job hung"
  [ "$rc" -ne 0 ] || fail "rank $rank killed in a stage: exit 0"
  grep -q "fault injection: SIGKILL at stage #37 on rank $rank" <<<"$msg" || fail "no fault message: $msg"
  [ "$t" -le 20 ] || fail "the job took $t s to end"
  echo "rank $rank killed inside a stage: exit $rc after $t s"
done
# An exception inside a stage's op (rank 1, in the middle of a pass): every rank exits with its
# message, naming the stage, pass and micro-batch.
t0=$(date +%s)
msg=$(SADDLE_FAULT_THROW=stage:37:1 timeout 60 "$MPIEXEC" -n 2 "$SADDLE" run ring.toml run.name=\"throw\" -q 2>&1)
rc=$?
t=$(( $(date +%s) - t0 ))
[ "$rc" -ne 124 ] || fail "an exception in a stage: the job hung"
[ "$rc" -eq 1 ] || fail "an exception in a stage: exit $rc, expected 1: $msg"
grep -q "pipeline stage 1 of 2 (pass '.*', micro-batch [0-9]*): fault injection: exception at stage #37 on rank 1" <<<"$msg" ||
  fail "the message does not name the stage, pass and micro-batch: $msg"
[ "$t" -le 20 ] || fail "the job took $t s to end"
echo "an exception inside stage 1: exit $rc after $t s"
msg=$(timeout 120 "$MPIEXEC" -n 2 "$SADDLE" run ring.toml run.name=\"diverged\" wgan.optimizer=\"gda\" wgan.lr=5 run.steps=300 -q 2>&1)
rc=$?
[ "$rc" -eq 1 ] || fail "diverged pipeline: exit $rc, expected 1: $msg"
grep -q "saddle: error: training diverged" <<<"$msg" || fail "no divergence message: $msg"
echo PASS
