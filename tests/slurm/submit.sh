#!/usr/bin/env bash
# sbatch jobs/slurm/saddle.sbatch on 2 tasks: the job completes and its run file holds a
# 2-rank selftest whose result equals a run made with mpirun.
source "$(dirname "$0")/common.sh"
id=$(SADDLE="$SADDLE" sbatch --parsable --ntasks=2 --time=5 --output="$work/job_%j.out" \
  "$repo/jobs/slurm/saddle.sbatch" "$repo/inputs/selftest.toml" run.output="$work/out" run.name=sb \
  run.steps=100 selftest.n=5000 -q)
echo "job $id"
state=$(wait_job "$id" 120)
cat "$work"/job_*.out
[ "$state" = COMPLETED ] || fail "job state $state"
/usr/bin/python3 - "$work/out/sb.h5" <<'PY' || fail "run file"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["ranks"] == 2 and f.attrs["completed"] == 1, dict(f.attrs)
assert f["result/x"].shape == (5000,)
PY
"$MPIEXEC" -n 2 "$SADDLE" run "$repo/inputs/selftest.toml" run.output="$work/out" run.name=local run.steps=100 selftest.n=5000 -q \
  || fail "mpirun run"
h5diff "$work/out/sb.h5" "$work/out/local.h5" /result/x /result/x || fail "srun and mpirun results differ"
echo PASS
