#!/usr/bin/env bash
# mail: exact solve (Shapley iteration at the default mail.expert_tol = 1e-12, so the expert's
# Nash gap is below 1e-8) and Nash gap of a random game with S = 1e4,
# A = B = 5, 4 successors per (s, a, b), side by side with the scipy/HiGHS peer
# (bench/peers/mail_scipy.py: one sweep, each 5 x 5 stage game by linprog), on one core each;
# then seeds per second of the 1000-seed concentrability deck on 1 and 2 ranks.
# Run from the repository root after a build:  bash bench/mail_vs_scipy.sh [build dir]
set -euo pipefail
build=${1:-build}
peers=$(cd "$(dirname "$0")" && pwd)/peers
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$build/saddle" run inputs/mail_random.toml run.output="$out" run.name=large run.restart=no run.checkpoint_every=0 \
  mail.seeds=0 'mail.algorithms=[]' mail.concentrability_max_states=0 \
  mail.game.states=10000 mail.game.max_actions=5 mail.game.min_actions=5 mail.game.successors=4 > "$out/large.log"
peer=$(/usr/bin/python3 "$peers/mail_scipy.py" 10000 5)
echo "scipy: $peer"
/usr/bin/python3 - "$out" "$peer" <<'PY'
import re, sys, h5py
out, peer = sys.argv[1], sys.argv[2]
log = open(f"{out}/large.log").read()
t = {m.group(1): float(m.group(3)) for m in re.finditer(r"^(\w+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", log, re.M)}
with h5py.File(f"{out}/large.h5") as f:
    sweeps = int(f["result/expert/shapley_sweeps"][0]); gap = float(f["result/expert/nash_gap"][0])
sweep_peer = float(re.search(r"sweep_s=([\d.]+)", peer).group(1))
solve_peer = float(re.search(r"est_solve_s=([\d.]+)", peer).group(1))  # its sweeps to 1e-8
ours = t["expert_solve"] + t["nash_gap"]
print(f"saddle_solve_s {t['expert_solve']:.3f} sweeps {sweeps} per_sweep_ms {1e3 * t['expert_solve'] / sweeps:.3f} nash_gap_s {t['nash_gap']:.3f} expert_nash_gap {gap:.2e}")
print(f"ratio_per_sweep_saddle_over_scipy {sweep_peer / (t['expert_solve'] / sweeps):.0f}")
print(f"ratio_solve_and_gap_saddle_over_scipy_solve_to_1e-8 {solve_peer / ours:.0f}")
PY

for np in 1 2; do
  s=$(date +%s.%N)
  mpirun --oversubscribe -n $np "$build/saddle" run inputs/mail_concentrability.toml run.output="$out" run.name=conc$np \
    run.restart=no run.checkpoint_every=0 -q
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" -v np=$np 'BEGIN { printf "concentrability_deck_ranks %d seconds %.1f seed_games_per_s %.1f\n", np, e - s, 4000 / (e - s) }'
done
