#!/usr/bin/env bash
# Compressed wgan training, fidelity (issue 15): the ring (adam, optimistic_adam) and digits (adam)
# decks trained through the float32 allreduce and through the layer-wise quantised exchange
# (adaptive levels, Huffman codes), per seed, and the qoda optimiser on the ring (a grid of steps
# on the first seed, the best confirmed on the others). 2 ranks, one run at a time.
# bench/wgan_fidelity_table.py runs them, writes a CSV (one row per run) and prints the markdown
# tables (per seed: modes, swd, bits per parameter; whether each goal holds); its docstring says
# what each column is. Finished runs in the output directory are reused (--fresh reruns them).
# Run from the repository root after a build:
#   bash bench/wgan_fidelity.sh [build dir] [table options]
#   e.g. bash bench/wgan_fidelity.sh build --seeds 1,2,3 --parts ring,qoda
#        bash bench/wgan_fidelity.sh build --parts digits --digits-seeds 1 --digits-steps 4000
#        bash bench/wgan_fidelity.sh build --table-only      # the tables of the runs already made
# Cost on the shared 2-core VM (2026-12-01): a ring run 0.5-5 min (quantised runs the longer), a
# digits run 1-3 min (float32) and 4-8 min (quantised); the whole study of docs ~80 min.
set -euo pipefail
build=${1:-build}
shift || true
exec /usr/bin/python3 "$(dirname "$0")/wgan_fidelity_table.py" --build "$build" "$@"
