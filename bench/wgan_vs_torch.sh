#!/usr/bin/env bash
# wgan throughput side by side with the PyTorch peer (bench/peers/wgan_torch.py, Debian's
# python3-torch on the CPU; `jobs/local/install-deps.sh --bench`): generator iterations (5 critic
# steps + 1 generator step) per second on one core, the digits deck's networks (G 32-256-256-64,
# D 64-256-256-1), batch 64, Adam, lambda 10, at float32 (wgan.precision = "float32") against
# torch float32 and at float64 against torch float64. The four runs are interleaved, three rounds,
# best of each (other jobs on the machine slow single runs). Then the data-parallel efficiency on
# 2 ranks with the same batch per rank (weak scaling: global batch 128), best of 3, per precision.
# Both sides use the same OpenBLAS; its kernel choice (printed) follows the environment, e.g.
# OPENBLAS_CORETYPE=SkylakeX for AVX-512 kernels on CPUs newer than the library knows.
#   bash bench/wgan_vs_torch.sh [build dir] [iterations]
set -euo pipefail
build=${1:-build}
iters=${2:-200}
peers=$(cd "$(dirname "$0")" && pwd)/peers
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
/usr/bin/python3 -c "import ctypes; l = ctypes.CDLL('libopenblas.so.0'); l.openblas_get_corename.restype = ctypes.c_char_p; print('openblas core', l.openblas_get_corename().decode())"
saddle() {  # saddle <ranks> <precision> <name>
  mpirun --oversubscribe -n "$1" "$build/saddle" run inputs/wgan_digits.toml run.steps="$iters" run.log_every="$iters" wgan.batch=64 \
    run.restart=no -q run.output="\"$out\"" run.name="\"$3\"" wgan.precision="\"$2\""
}
seconds() {  # the driver's steps region (slowest rank) of run $1
  /usr/bin/python3 -c "import sys, h5py; print(h5py.File(sys.argv[1], 'r')['timers/steps'].attrs['max'])" "$out/$1.h5"
}
rate() { grep -o 'gen_iters_per_s=[0-9.]*' <<<"$1" | cut -d= -f2; }
declare -A best
keep() { best[$1]=$(awk -v a="${best[$1]:-0}" -v b="$2" 'BEGIN { print (b > a ? b : a) }'); }
for round in 1 2 3; do
  saddle 1 float32 "f32_$round"
  keep saddle_f32 "$(awk -v t="$(seconds "f32_$round")" -v n="$iters" 'BEGIN { print n / t }')"
  keep torch_f32 "$(rate "$(/usr/bin/python3 "$peers/wgan_torch.py" 1 "$iters")")"
  saddle 1 float64 "f64_$round"
  keep saddle_f64 "$(awk -v t="$(seconds "f64_$round")" -v n="$iters" 'BEGIN { print n / t }')"
  keep torch_f64 "$(rate "$(/usr/bin/python3 "$peers/wgan_torch.py" 1 "$iters" f64)")"
done
for p in f32 f64; do
  awk -v s="${best[saddle_$p]}" -v t="${best[torch_$p]}" -v p="$p" \
    'BEGIN { printf "%s gen_iters_per_s (best of 3): saddle %.1f torch %.1f ratio_saddle_over_torch %.2f\n", p, s, t, s / t }'
done
for p in float32 float64; do
  t1=1e9 t2=1e9
  for rep in 1 2 3; do
    saddle 1 "$p" "w1_${p}_$rep"
    saddle 2 "$p" "w2_${p}_$rep"
    t1=$(awk -v a="$t1" -v b="$(seconds "w1_${p}_$rep")" 'BEGIN { print (b < a ? b : a) }')
    t2=$(awk -v a="$t2" -v b="$(seconds "w2_${p}_$rep")" 'BEGIN { print (b < a ? b : a) }')
  done
  awk -v a="$t1" -v b="$t2" -v p="$p" \
    'BEGIN { printf "%s weak scaling, batch 64 per rank (best of 3): 1 rank %.2f s, 2 ranks %.2f s, parallel_efficiency %.3f\n", p, a, b, a / b }'
done
