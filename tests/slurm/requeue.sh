#!/usr/bin/env bash
# A job whose time limit (1 min) is too short for its run (~45 s of steps plus start-up, with a
# 20 s warning): jobs/slurm/saddle.sbatch gets the warning, Saddle checkpoints and exits 3, the
# job is requeued and continues from the checkpoint, until it completes. Its result and metric
# series equal an uninterrupted mpirun run bit for bit. An early SIGUSR1 (as SLURM 22.05 was seen
# to send to requeued jobs) is ignored.
source "$(dirname "$0")/common.sh"
args=("$repo/inputs/selftest.toml" run.output="$work/out" run.steps=450 selftest.n=5000 run.checkpoint_every=100 -q)
id=$(SADDLE="$SADDLE" SADDLE_WARN_SECONDS=20 sbatch --parsable --ntasks=2 --time=1 --signal=B:USR1@20 \
  --output="$work/job_%j.out" "$repo/jobs/slurm/saddle.sbatch" "${args[@]}" run.name=rq selftest.step_delay=0.1)
echo "job $id"
for _ in $(seq 1 60); do
  [ "$(squeue -h -j "$id" -o %T)" = RUNNING ] && break
  sleep 1
done
sleep 2
scancel --batch --signal=USR1 "$id" || fail "scancel --signal"
state=$(wait_job "$id" 400)
cat "$work/job_$id.out"
[ "$state" = COMPLETED ] || fail "job state $state"
restarts=$(scontrol show job "$id" | grep -o 'Restarts=[0-9]*' | cut -d= -f2)
[ "${restarts:-0}" -ge 1 ] || fail "the job was never requeued (Restarts=$restarts)"
grep -q "ignoring SIGUSR1 with" "$work/job_$id.out" || fail "the early SIGUSR1 was not ignored"
grep -q "stopped by SIGUSR1 at step" "$work/job_$id.out" || fail "no checkpoint at the warning"
grep -q "restart count $restarts" "$work/job_$id.out" || fail "the last requeued run did not start"
/usr/bin/python3 - "$work/out/rq.h5" <<'PY' || fail "run file"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["completed"] == 1 and f.attrs["restarted_from_step"] > 0, dict(f.attrs)
PY
# The job ran one thread per task (saddle.sbatch's default --cpus-per-task=1); an OpenMP build's
# reductions depend on the thread count, so the reference runs with one too.
OMP_NUM_THREADS=1 "$MPIEXEC" -n 2 "$SADDLE" run "${args[@]}" run.name=whole || fail "mpirun run"
for d in /result/x /metrics/distance /metrics/mean_x; do
  h5diff "$work/out/rq.h5" "$work/out/whole.h5" $d $d || fail "requeued and uninterrupted runs differ in $d"
done
echo "PASS: $restarts requeue(s)"
