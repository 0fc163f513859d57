#!/usr/bin/env bash
# The end-to-end wgan study over a limited network (issue 15 part 3; docs/benchmarks.md, "wgan over
# a limited network"). As root: makes a network namespace of its own, brings its loopback up,
# and runs bench/bandwidth_study.py inside it, which shapes that loopback with tc (token bucket at
# each --bandwidths rate), runs an MPI ping-pong per link and the Saddle and PyTorch-DDP runs over
# TCP on lo, and ends with `saddle-post bandwidth OUT --model` (table, figure, alpha-beta model).
# The qdisc and the namespace are removed on exit, also after a failure or Ctrl-C (processes left
# in the namespace, all started here, are ended first).
#   bash bench/bandwidth_study.sh [--build build] [--out DIR] [--bandwidths 10,5,2.5,1] [--ranks 2,4]
#        [--decks digits,wide] [--methods f32,f16,layerwise,global,bucket] [--peers allreduce,fp16,powersgd]
#        [--steps digits=300,wide=150] [--short-steps 20] [--verify digits:2:1] [--dry-run] ...
# --help lists every option; --dry-run prints the plan and the estimated duration and runs nothing.
# A smoke run (one link, tiny runs):
#   bash bench/bandwidth_study.sh --bandwidths 1 --ranks 2 --decks digits --steps digits=40 \
#        --log-every 10 --short-steps 10 --short-warmup 5 --peers allreduce --verify digits:2:1
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
driver=$src/bench/bandwidth_study.py
for arg in "$@"; do
  case $arg in -h|--help|--dry-run) exec /usr/bin/python3 "$driver" "$@" ;; esac
done
if [ "$(id -u)" -ne 0 ]; then
  echo "bandwidth_study.sh: needs root (ip netns, tc); --dry-run shows the plan without" >&2
  exit 2
fi
/usr/bin/python3 "$driver" --check "$@"  # the options checked, the estimate first
ns=saddle_bw_$$
cleanup() {
  local pid
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns exec "$ns" tc qdisc del dev lo root 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  if ip netns list | grep -qw "$ns"; then echo "bandwidth_study.sh: could not remove network namespace $ns" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" /usr/bin/python3 "$driver" --netns "$ns" "$@"
