#!/usr/bin/env bash
# The directed Cora graph (inputs/ksvd_cora.toml: the CSR matrix G = D^-1 (A + I), 16 triplets,
# tol = 1e-10): krylov (SLEPc) with thick-restart Lanczos on 2 ranks and plain Lanczos on 1 rank,
# and randomized subspace iteration (30 extra columns, about 250 iterations on this flat
# spectrum) on 2 ranks, agree with scipy's svds (ARPACK, tol = 1e-12) on the 16 leading singular
# values to 1e-8 relative, and their own residuals ||G v - s u|| / s and ||G'u - s v|| / s are
# within ksvd.tol. (exact through ScaLAPACK on Cora: cli.ksvd_exact_scalapack.)
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/cli/common.sh"
data=$src/inputs/data/cora_directed.h5

mpi 2 "$SADDLE" run "$src/inputs/ksvd_cora.toml" ksvd.data.path="$data" -q || fail "ksvd_cora (trlanczos, 2 ranks)"
mpi 1 "$SADDLE" run "$src/inputs/ksvd_cora.toml" ksvd.data.path="$data" ksvd.krylov.solver=lanczos run.name=cora_lanczos -q ||
  fail "ksvd_cora (lanczos, 1 rank)"
mpi 2 "$SADDLE" run "$src/inputs/ksvd_cora.toml" ksvd.data.path="$data" ksvd.method=randomized ksvd.oversample=30 \
  run.name=cora_randomized -q || fail "ksvd_cora (randomized, 2 ranks)"
/usr/bin/python3 - "$data" <<'PY' || fail "krylov differs from scipy's svds"
import sys, h5py, numpy as np, scipy.sparse as sp, scipy.sparse.linalg as sla
g = h5py.File(sys.argv[1], "r")["G"]
G = sp.csr_matrix((g["data"][:], g["indices"][:], g["indptr"][:]), shape=tuple(g.attrs["shape"]))
ref = np.sort(sla.svds(G, k=16, tol=1e-12, return_singular_vectors=False))[::-1]
for run, solver in (("ksvd_cora", "trlanczos"), ("cora_lanczos", "lanczos"), ("cora_randomized", None)):
    r = h5py.File(f"out/{run}.h5", "r")["result"]
    if solver:
        assert r.attrs["method"] == "krylov" and r.attrs["krylov_solver"] == solver, dict(r.attrs)
    else:
        assert r.attrs["method"] == "randomized" and r.attrs["iterations"] < 1000, dict(r.attrs)
    assert r.attrs["converged"] == 1, (run, dict(r.attrs))
    s = r["singular_values"][:]
    err = np.abs(s / ref - 1).max()
    res = max((r["residuals"][:] / s).max(), (r["residuals_cols"][:] / s).max())
    print(f"{run} ({solver}): max relative error of sigma_1..16 against svds {err:.1e}, max relative residual {res:.1e}")
    assert err < 1e-8, (run, s, ref)
    assert res <= 1e-10, (run, res)
PY
echo PASS
