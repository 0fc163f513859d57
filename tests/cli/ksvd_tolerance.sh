#!/usr/bin/env bash
# ksvd.tol from the command line: a randomized run iterates until the tolerance and stops early
# (the run file says converged, its iterations and its steps); one that cannot reach it in
# max_iters ends with exit 0, one warning on stderr naming the achieved residual and
# converged = 0; power_iters with max_iters is refused with exit 2 naming the key.
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
deck="$src/inputs/ksvd_digraph.toml"

out=$("$SADDLE" run "$deck" ksvd.data.nodes=400 run.name=tol 2>err.txt) || fail "converging run exited $?: $(cat err.txt)"
grep -q "finished early" <<<"$out" || fail "no 'finished early' in: $out"
[ ! -s err.txt ] || fail "converging run wrote to stderr: $(cat err.txt)"

"$SADDLE" run "$deck" ksvd.data.nodes=400 ksvd.max_iters=2 ksvd.tol=1e-12 run.name=short -q 2>err.txt || fail "short run exited $?"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "expected one warning line: $(cat err.txt)"
grep -q "saddle: warning: ksvd: not converged: relative residual .* > ksvd.tol = 1e-12 (raise ksvd.max_iters" err.txt || fail "warning: $(cat err.txt)"

/usr/bin/python3 - <<'PY' || fail "run files"
import h5py, numpy as np
t = h5py.File("out/tol.h5", "r"); r = t["result"]
assert r.attrs["converged"] == 1 and r.attrs["relative_residual"] <= 1e-8, dict(r.attrs)
assert t.attrs["steps"] == r.attrs["iterations"] + 1 < 301
rel = r["relative_residuals"][:]
sv = r["singular_values"][:]
assert np.allclose(rel, np.maximum(r["residuals"][:], r["residuals_cols"][:]) / sv, rtol=1e-12)
s = h5py.File("out/short.h5", "r")["result"]
assert s.attrs["converged"] == 0 and s.attrs["iterations"] == 2 and s.attrs["relative_residual"] > 1e-12
PY

refused_by "ksvd.power_iters" "$SADDLE" run "$deck" ksvd.power_iters=3 ksvd.max_iters=10 -q
echo PASS
