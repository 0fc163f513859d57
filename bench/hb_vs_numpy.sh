#!/usr/bin/env bash
# hb throughput side by side with the numpy peers, on one core each, then the parallel efficiency
# of the hb_quadratic_map deck on 2 ranks. Run from the repository root after a build:
#   bash bench/hb_vs_numpy.sh [build dir]
set -euo pipefail
build=${1:-build}
peers=$(cd "$(dirname "$0")" && pwd)/peers
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

ours=$("$build/bench/bench_hb" 256 2000 1000 256 100)
echo "$ours"
peer2d=$(/usr/bin/python3 "$peers/hb_numpy.py" 256 2000)
echo "numpy: $peer2d"
peerq=$(/usr/bin/python3 "$(dirname "$0")/hb_numpy_quadratic.py" 1000 256 100)
echo "$peerq"
rate() { grep -o 'traj_steps_per_s[ =][0-9.e+]*' <<<"$1" | head -n "${2:-1}" | tail -n 1 | tr -d ' =' | sed 's/traj_steps_per_s//'; }
awk -v a="$(rate "$ours" 1)" -v b="$(rate "$peer2d")" 'BEGIN { printf "ratio_2d_saddle_over_numpy %.1f\n", a / b }'
awk -v a="$(rate "$ours" 2)" -v b="$(rate "$peerq")" 'BEGIN { printf "ratio_quadratic_saddle_over_numpy %.2f\n", a / b }'

# Parallel efficiency: the same sweep on 1 and 2 ranks, best of 3 runs each (the time of the
# driver's steps region; these machines are noisy).
out=$(mktemp -d)
for rep in 1 2 3; do
  for np in 1 2; do
    mpirun --oversubscribe -n $np "$build/saddle" run inputs/hb_quadratic_map.toml run.output="$out" \
      run.name="np${np}_$rep" run.restart=no -q
  done
done
/usr/bin/python3 - "$out" <<'PY'
import sys, h5py
t = {np: min(h5py.File(f"{sys.argv[1]}/np{np}_{r}.h5", "r")["timers/steps"].attrs["max"] for r in (1, 2, 3)) for np in (1, 2)}
print(f"hb_quadratic_map steps (best of 3): 1 rank {t[1]:.2f} s, 2 ranks {t[2]:.2f} s, parallel_efficiency {t[1] / (2 * t[2]):.3f}")
PY
rm -rf "$out"
