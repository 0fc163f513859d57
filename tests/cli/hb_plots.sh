#!/usr/bin/env bash
# jobs/post/hb_plots.py on small runs of the three hb decks: every expected PNG is written and
# listed; a checkpoint, a truncated run file, a non-hb run file and a missing file are refused
# with exit code 2 and one line naming the file.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
plots() { /usr/bin/python3 "$src/jobs/post/hb_plots.py" "$@"; }

"$SADDLE" run "$src/inputs/hb_bilinear.toml" hb.steps=2000 -q || fail "hb_bilinear run"
"$SADDLE" run "$src/inputs/hb_limit_cycle.toml" hb.steps=2000 hb.starts=4 -q || fail "hb_limit_cycle run"
mpi 2 "$SADDLE" run "$src/inputs/hb_quadratic_map.toml" hb.h.count=16 hb.beta.count=16 hb.steps=2000 \
  hb.chunk=128 run.checkpoint_every=1 -q || fail "hb_quadratic_map run"

check_plots() {  # run file, plot folder, then the PNGs expected there; further options after --
  local run=$1 dir=$2 listing
  shift 2
  local pngs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pngs+=("$1"); shift; done
  listing=$(plots "$run" "${@:2}") || fail "hb_plots.py on $run exited $?"
  for png in "${pngs[@]}"; do
    [ -s "$dir/$png" ] || fail "$dir/$png missing or empty"
    grep -qx "$dir/$png" <<<"$listing" || fail "$dir/$png not printed: $listing"
  done
  [ "$(ls "$dir" | wc -l)" -eq ${#pngs[@]} ] || fail "unexpected files in $dir: $(ls "$dir")"
}
check_plots out/hb_bilinear.h5 out/hb_bilinear_plots \
  stability_sim.png stability_alt.png avg_grad_sq.png trajectories.png metrics.png
check_plots out/hb_limit_cycle.h5 out/hb_limit_cycle_plots \
  stability_sim.png stability_alt.png avg_grad_sq.png trajectories.png metrics.png
check_plots out/hb_quadratic_map.h5 elsewhere stability_sim.png stability_alt.png avg_grad_sq.png metrics.png -- --out elsewhere

refused() {  # file, then words the message must contain besides the file's name
  refused_by "$2" plots "$1"
  grep -qF "$1" <<<"$refusal" || fail "message does not name $1: $refusal"
}
ckpt=$(ls out/hb_quadratic_map.ckpt/step_*.h5 2>/dev/null | head -n 1)
[ -n "$ckpt" ] || fail "run.checkpoint_every=1 left no out/hb_quadratic_map.ckpt/step_N.h5"
refused "$ckpt" checkpoint
head -c 20000 out/hb_bilinear.h5 > truncated.h5
refused truncated.h5 truncated
echo "not a run file" > text.h5
refused text.h5 "not an HDF5"
refused missing.h5 "no such file"
"$SADDLE" run deck.toml -q || fail "selftest run"
refused out/deck.h5 "not an hb run file"
echo PASS
