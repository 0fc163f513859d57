#!/usr/bin/env bash
# Layer-parallel (pipeline) wgan on inputs/wgan_digits_pipeline.toml (G and D 64-1024x5, batch 256,
# Adam), side by side in one run, one thread per rank, ranks bound to cores:
#   a  1 rank, L = 1, m = 1            the baseline
#   b  1 rank, L = 1, m = 8            micro-batching alone (gradients accumulated over 8 micro-batches)
#   c  2 ranks, L = 2, m = 8, 1f1b     2 pipeline stages, 1 data replica (same global batch as a)
#   d  2 ranks, L = 2, m = 8, gpipe
#   e  2 ranks, L = 2, m = 4, 1f1b
#   f  2 ranks, L = 2, m = 16, 1f1b
# bench/wgan_pipeline_table.py then reads the run files and prints a markdown table (and writes
# $OUT/wgan_pipeline.csv): steps/s after the warm-up steps (from /metrics/time_step), speedup over a,
# the plan's ideal efficiency and speedup (L x efficiency), speedup / ideal (goal >= 0.85 for c),
# per-rank parameter + gradient + optimiser bytes against one rank's (goal <= 0.55), activation
# workspaces (1f1b below gpipe), peak RSS and the stages' busy fractions. Last, the timeline of c:
# saddle-post wgan-timeline writes $OUT/c_timeline.png.
# Run from the repository root after a build, on an otherwise idle machine with >= 2 cores:
#   bash bench/wgan_pipeline.sh [build dir]
# Environment: STEPS (generator iterations per run, default 30), WARMUP (first steps left out of
# steps/s, default 3; metrics are logged every WARMUP steps), CONFIGS (default "a b c d e f"),
# REPEATS (runs per configuration, the fastest kept; default 1), OUT (default
# out/bench_wgan_pipeline), BIND (mpirun --bind-to, default core), EVAL_SAMPLES (wgan.eval_samples;
# default the deck's 359). The workspaces include the slot the metrics' and /result/samples'
# generator passes fill (eval_samples rows in one micro-batch), which at 359 rows outweighs the
# training slots; EVAL_SAMPLES=8 shows the training slots alone (1f1b's L against gpipe's m).
# A smoke run:
#   STEPS=3 WARMUP=1 CONFIGS="a b c d" bash bench/wgan_pipeline.sh
set -euo pipefail
build=${1:-build}
deck=inputs/wgan_digits_pipeline.toml
steps=${STEPS:-30}
warmup=${WARMUP:-3}
configs=${CONFIGS:-a b c d e f}
repeats=${REPEATS:-1}
out=${OUT:-out/bench_wgan_pipeline}
bind=${BIND:-core}
extra=()
if [ -n "${EVAL_SAMPLES:-}" ]; then extra=(wgan.eval_samples="$EVAL_SAMPLES" wgan.samples="$EVAL_SAMPLES"); fi
if [ "$warmup" -ge "$steps" ]; then warmup=$((steps > 1 ? steps - 1 : 1)); fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
mkdir -p "$out"
echo "# $deck ${extra[*]}: $steps steps (steps/s over the last $((steps - warmup))), configurations $configs, best of $repeats; run files in $out"

declare -A ranks=([a]=1 [b]=1 [c]=2 [d]=2 [e]=2 [f]=2)
declare -A keys=(
  [a]="parallel.layer=1 parallel.micro_batches=1"
  [b]="parallel.layer=1 parallel.micro_batches=8"
  [c]="parallel.layer=2 parallel.micro_batches=8 parallel.schedule=\"1f1b\""
  [d]="parallel.layer=2 parallel.micro_batches=8 parallel.schedule=\"gpipe\""
  [e]="parallel.layer=2 parallel.micro_batches=4 parallel.schedule=\"1f1b\""
  [f]="parallel.layer=2 parallel.micro_batches=16 parallel.schedule=\"1f1b\""
)
for c in $configs; do
  [ -n "${ranks[$c]:-}" ] || { echo "unknown configuration '$c' (a-f)" >&2; exit 2; }
  for rep in $(seq 1 "$repeats"); do
    name="${c}_$rep"
    # shellcheck disable=SC2086  # the overrides are words
    /usr/bin/time -f %M -o "$out/$name.maxrss_kib" \
      mpirun -n "${ranks[$c]}" --bind-to "$bind" "$build/saddle" run "$deck" ${keys[$c]} run.steps="$steps" \
      run.log_every="$warmup" run.restart=\"no\" run.output="\"$out\"" run.name="\"$name\"" "${extra[@]}" -q
    echo "ran $c (repeat $rep): ${keys[$c]}, ${ranks[$c]} rank(s)"
  done
done
/usr/bin/python3 "$(dirname "$0")/wgan_pipeline_table.py" "$out" --warmup "$warmup" --configs "$configs" --repeats "$repeats"
if [[ " $configs " == *" c "* ]]; then
  best=$(cat "$out/c.best")
  /usr/bin/python3 jobs/post/saddle-post wgan-timeline "$out/$best.h5" -o "$out/c_timeline.png"
fi
