#!/usr/bin/env bash
# saddle-post ksvd on small runs of the ksvd decks: every expected PNG is written and listed; a
# run file of another workload and a missing file are refused with exit code 2 and one line.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
post() { /usr/bin/python3 "$src/jobs/post/saddle-post" ksvd "$@"; }

mpi 2 "$SADDLE" run "$src/inputs/ksvd_sne_blobs.toml" ksvd.data.n=300 ksvd.data.test_points=20 -q || fail "ksvd_sne_blobs run"
"$SADDLE" run "$src/inputs/ksvd_digraph.toml" ksvd.data.nodes=400 ksvd.power_iters=3 -q || fail "ksvd_digraph run"
for run in ksvd_sne_blobs ksvd_digraph; do
  listing=$(post out/$run.h5) || fail "saddle-post ksvd on $run exited $?"
  for png in singular_values.png scores.png performance.png; do
    [ -s out/${run}_plots/$png ] || fail "out/${run}_plots/$png missing or empty"
    grep -qx "out/${run}_plots/$png" <<<"$listing" || fail "$png not printed: $listing"
  done
done
/usr/bin/python3 - <<'PY' || fail "sne run file lacks what the figures show"
import h5py, numpy as np
r = h5py.File("out/ksvd_sne_blobs.h5", "r")["result"]
assert r["U"].shape == (300, 6) and r["scores_test"].shape == (20, 6)
assert np.allclose(r["sne_perplexity"][:], 30.0, rtol=1e-6)
PY
"$SADDLE" run deck.toml -q || fail "selftest run"
refused_by "not a ksvd run file" post out/deck.h5
refused_by "missing.h5: no such file" post missing.h5
echo PASS
