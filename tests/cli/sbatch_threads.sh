#!/usr/bin/env bash
# jobs/slurm/*.sbatch without SLURM: both scripts pass bash -n (and, when installed, the
# warnings of shellcheck); run with stand-ins for srun, squeue and scontrol on PATH, saddle.sbatch
# gives each task SLURM_CPUS_PER_TASK threads (OMP_NUM_THREADS, OMP_PROC_BIND=spread,
# OMP_PLACES=cores; a user's OMP_PROC_BIND kept) and passes srun --cpus-per-task and
# --cpu-bind=cores; one CPU per task without --cpus-per-task; saddle-gpu.sbatch adds its GPU
# options to the same. The real thing runs in the slurm tests (tests/slurm/submit.sh).
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
for f in "$src"/jobs/slurm/*.sbatch; do
  bash -n "$f" || fail "bash -n $f"
  if command -v shellcheck >/dev/null; then shellcheck -S warning "$f" || fail "shellcheck $f"; fi
done

mkdir bin  # in the scratch directory common.sh made and entered
# srun: prints its arguments and the OpenMP environment, then exits 0 like a finished run.
cat > bin/srun <<'SH'
#!/bin/bash
echo "srun args: $*"
echo "srun env: OMP_NUM_THREADS=${OMP_NUM_THREADS-unset} OMP_PROC_BIND=${OMP_PROC_BIND-unset} OMP_PLACES=${OMP_PLACES-unset}"
SH
printf '#!/bin/bash\necho UNLIMITED\n' > bin/squeue  # no time limit: no timer
# scontrol show job: the command saddle-gpu.sbatch looks for its folder in.
printf '#!/bin/bash\necho "   Command=%s/jobs/slurm/saddle-gpu.sbatch inputs/x.toml"\n' "$src" > bin/scontrol
chmod +x bin/*

job() {  # job SCRIPT [VAR=value ...]: runs the script as SLURM would, on 2 tasks (no OMP_* of ctest's)
  local script=$1
  shift
  env PATH="$PWD/bin:$PATH" SLURM_JOB_ID=7 SLURM_SUBMIT_DIR="$PWD" SLURM_NTASKS=2 SLURM_JOB_NODELIST=node1 \
    SADDLE=/bin/true OMP_PROC_BIND= OMP_PLACES= "$@" bash "$src/jobs/slurm/$script" "$src/inputs/selftest.toml" run.steps=3 2>&1
}

out=$(job saddle.sbatch SLURM_CPUS_PER_TASK=4) || fail "saddle.sbatch exited $?: $out"
grep -q "^srun args: --mpi=pmix --cpus-per-task=4 --cpu-bind=cores /bin/true run " <<<"$out" || fail "srun args: $out"
grep -q "^srun env: OMP_NUM_THREADS=4 OMP_PROC_BIND=spread OMP_PLACES=cores$" <<<"$out" || fail "environment: $out"
grep -q "time limit\|SIGUSR1" <<<"$out" && fail "a time limit where the job has none: $out"
grep -q "4 CPU(s) per task: OMP_NUM_THREADS=4" <<<"$out" || fail "no threads in the job's log: $out"

out=$(job saddle.sbatch SLURM_CPUS_PER_TASK= OMP_NUM_THREADS=8 OMP_PROC_BIND=close) \
  || fail "saddle.sbatch without --cpus-per-task exited $?: $out"
grep -q "^srun args: --mpi=pmix --cpus-per-task=1 --cpu-bind=cores " <<<"$out" || fail "srun args, 1 CPU: $out"
grep -q "^srun env: OMP_NUM_THREADS=1 OMP_PROC_BIND=close OMP_PLACES=cores$" <<<"$out" || fail "environment, 1 CPU: $out"

out=$(job saddle-gpu.sbatch SLURM_CPUS_PER_TASK=8) || fail "saddle-gpu.sbatch exited $?: $out"
grep -q "^srun args: --mpi=pmix --cpus-per-task=8 --cpu-bind=cores --gpus-per-task=1 --gpu-bind=closest /bin/true run " <<<"$out" \
  || fail "gpu srun args: $out"
grep -q "^srun env: OMP_NUM_THREADS=8 OMP_PROC_BIND=spread OMP_PLACES=cores$" <<<"$out" || fail "gpu environment: $out"
grep -q "^#SBATCH --cpus-per-task=" "$src/jobs/slurm/saddle.sbatch" || fail "saddle.sbatch asks for no --cpus-per-task"
echo PASS
