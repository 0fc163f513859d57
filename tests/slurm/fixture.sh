#!/usr/bin/env bash
# ctest fixture for the slurm label: `fixture.sh start` brings up jobs/local-slurm (root only;
# without root or SLURM the tests skip themselves), `fixture.sh stop` stops what start started,
# never a SLURM that was already running.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
marker=${SADDLE_SLURM_MARKER:-/tmp/saddle-slurm/started-by-ctest}
case "${1:-}" in
  start)
    if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null; then
      echo "SLURM tests will be skipped: need root and Debian's slurm-wlm + munge"
      exit 0
    fi
    if pgrep -x slurmctld >/dev/null; then
      echo "using the SLURM already running"
      exit 0
    fi
    bash "$repo/jobs/local-slurm/start.sh" || exit 1
    mkdir -p "$(dirname "$marker")" && touch "$marker"
    ;;
  stop)
    if [ -f "$marker" ]; then
      bash "$repo/jobs/local-slurm/stop.sh"
      rm -f "$marker"
      echo "local SLURM stopped"
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
