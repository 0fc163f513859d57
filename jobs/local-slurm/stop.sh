#!/usr/bin/env bash
# Stops the one-node SLURM started by start.sh (slurmd, slurmctld, munged) and cancels its jobs.
set -u
scancel --full --user=root >/dev/null 2>&1 || true
for d in slurmd slurmctld munged; do pkill -x "$d" 2>/dev/null || true; done
for _ in $(seq 1 20); do
  pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || pgrep -x munged >/dev/null || exit 0
  sleep 0.5
done
for d in slurmd slurmctld munged; do pkill -9 -x "$d" 2>/dev/null || true; done
exit 0
