# Shared by the slurm tests: skip (77) without root or SLURM, a scratch directory under /tmp that
# the SLURM daemons (root) can write, and waiting for a job.
set -u
if [ "$(id -u)" -ne 0 ] || ! command -v sbatch >/dev/null || ! sinfo -h >/dev/null 2>&1; then
  echo "SKIP: needs root and the local SLURM of jobs/local-slurm/start.sh"
  exit 77
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/saddle_slurm_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
# Waits until job $1 has left the queue (at most $2 seconds) and prints its final state.
wait_job() {
  local id=$1 limit=$2 t=0
  while squeue -h -j "$id" 2>/dev/null | grep -q .; do
    sleep 2
    t=$((t + 2))
    [ $t -lt "$limit" ] || { scancel "$id"; fail "job $id still queued after $limit s"; }
  done
  scontrol show job "$id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2
}
