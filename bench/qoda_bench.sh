#!/usr/bin/env bash
# kernels/quant throughput beside the numpy peer (one core each, CPU time), then the bits per
# coordinate against iterations to tolerance table on inputs/qoda_layers.toml (2 ranks).
# Run from the repository root after a build:  bash bench/qoda_bench.sh [build dir]
set -euo pipefail
build=${1:-build}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
ours=$("$build/bench/bench_qoda" 4194304 7)
echo "$ours"
peer=$(/usr/bin/python3 "$(dirname "$0")/qoda_numpy_quant.py" 4194304 7)
echo "$peer"
rate() { grep "^$1" <<<"$2" | grep -o "$3 *[0-9.]*" | awk '{print $2}'; }
awk -v a="$(rate layerwise_uniform_elias "$ours" quantize_encode_MBps)" -v b="$(rate numpy "$peer" quantize_encode_MBps)" \
  'BEGIN { printf "ratio_quantize_encode_saddle_over_numpy %.2f\n", a / b }'
awk -v a="$(rate layerwise_uniform_elias "$ours" decode_MBps)" -v b="$(rate numpy "$peer" decode_MBps)" \
  'BEGIN { printf "ratio_decode_saddle_over_numpy %.2f\n", a / b }'
/usr/bin/python3 "$(dirname "$0")/qoda_table.py" --build "$build"
