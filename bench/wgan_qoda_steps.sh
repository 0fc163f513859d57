#!/usr/bin/env bash
# QODA on the WGAN ring (issue 5): bits per parameter sent and steps to a given SWD against the
# uncompressed runs, 2 ranks side by side: OptDA (the same loop and rates, float64 allreduce),
# Adam (the ring deck's steps), and QODA with layer-wise uniform/adaptive levels, Elias/Huffman
# codes and 16/4 levels (bench/wgan_qoda_table.py prints the table and says what each column is).
# Run from the repository root after a build:
#   bash bench/wgan_qoda_steps.sh [build dir] [table options, e.g. --steps 4000 --target 0.3]
set -euo pipefail
build=${1:-build}
shift || true
exec /usr/bin/python3 "$(dirname "$0")/wgan_qoda_table.py" --build "$build" "$@"
