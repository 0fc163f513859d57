#!/usr/bin/env bash
# saddle-post qoda on a QODA run and its OptDA baseline: every expected PNG is written and listed;
# a run file of another workload and a missing file are refused with exit 2 and one line.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
post() { /usr/bin/python3 "$src/jobs/post/saddle-post" qoda "$@"; }
mpi 2 "$SADDLE" run "$src/inputs/qoda_layers.toml" run.steps=120 -q || fail "qoda_layers run"
mpi 2 "$SADDLE" run "$src/inputs/qoda_layers.toml" run.steps=120 run.name=optda qoda.algorithm=optda -q || fail "optda run"
listing=$(post out/qoda_layers.h5 out/optda.h5) || fail "saddle-post qoda exited $?"
for png in convergence.png communication.png levels.png metrics.png; do
  [ -s "out/qoda_layers_plots/$png" ] || fail "$png missing or empty"
  grep -qx "out/qoda_layers_plots/$png" <<<"$listing" || fail "$png not printed: $listing"
done
"$SADDLE" run deck.toml -q || fail "selftest run"
for bad in out/deck.h5 missing.h5; do refused_by "$bad" post "$bad"; done  # exit 2, one line naming it
echo PASS
