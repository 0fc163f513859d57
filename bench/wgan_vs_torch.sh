#!/usr/bin/env bash
# wgan throughput side by side with the PyTorch peer (../shared/peers/wgan_torch.py, Debian's
# python3-torch on the CPU; `jobs/local/install-deps.sh --bench`): generator iterations (5 critic
# steps + 1 generator step) per second on one core, the digits deck's networks (G 32-256-256-64,
# D 64-256-256-1), batch 64, Adam, lambda 10. Saddle computes in float64, so the fair ratio is
# against torch float64; torch float32 is printed too. Then the data-parallel efficiency on 2
# ranks with the same batch per rank (weak scaling: global batch 128), best of 3.
#   bash bench/wgan_vs_torch.sh [build dir] [iterations]
set -euo pipefail
build=${1:-build}
iters=${2:-200}
shared=$(cd "$(dirname "$0")/../.." && pwd)/shared
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
deck=(inputs/wgan_digits.toml run.steps="$iters" run.log_every="$iters" wgan.batch=64 run.restart=no -q run.output="\"$out\"")
best() {  # best-of-3 seconds of the driver's steps region for $1 ranks
  for rep in 1 2 3; do
    mpirun --oversubscribe -n "$1" "$build/saddle" run "${deck[@]}" run.name="\"np$1_$rep\""
  done
  /usr/bin/python3 - "$out" "$1" <<'PY'
import sys, h5py
print(min(h5py.File(f"{sys.argv[1]}/np{sys.argv[2]}_{r}.h5", "r")["timers/steps"].attrs["max"] for r in (1, 2, 3)))
PY
}
t1=$(best 1)
ours=$(awk -v t="$t1" -v n="$iters" 'BEGIN { printf "%.1f", n / t }')
echo "saddle float64 threads=1 gen_iters_per_s=$ours"
rate() { grep -o 'gen_iters_per_s=[0-9.]*' <<<"$1" | cut -d= -f2; }
p64=$(/usr/bin/python3 "$shared/peers/wgan_torch.py" 1 "$iters" f64); echo "$p64"
p32=$(/usr/bin/python3 "$shared/peers/wgan_torch.py" 1 "$iters"); echo "$p32"
awk -v a="$ours" -v b="$(rate "$p64")" 'BEGIN { printf "ratio_saddle_f64_over_torch_f64 %.2f\n", a / b }'
awk -v a="$ours" -v b="$(rate "$p32")" 'BEGIN { printf "ratio_saddle_f64_over_torch_f32 %.2f\n", a / b }'
t2=$(best 2)
awk -v a="$t1" -v b="$t2" 'BEGIN { printf "weak scaling, batch 64 per rank (best of 3): 1 rank %.2f s, 2 ranks %.2f s, parallel_efficiency %.3f\n", a, b, a / b }'
