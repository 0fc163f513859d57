#!/usr/bin/env bash
# ksvd method = "exact" on one rank (LAPACK gesdd, OpenBLAS with 1 and with 2 threads) against two
# ranks (ScaLAPACK pdgesvd, 1 BLAS thread per rank), and scipy.linalg.svd (full_matrices=False,
# lapack_driver="gesdd", 1 and 2 threads) of the same formed matrix, side by side. The matrix:
# an RBF kernel (sigma 1) of N Gaussian-blob points in dimension 4 (4 clusters, spread 4, std 1,
# numpy seed 1) against themselves, n = m = N, rank 10; the points are written to HDF5 so that
# Saddle and scipy form the same G. Best of REPS runs each. Run from the repository root:
#   bash bench/ksvd_exact_scaling.sh [N=8000] [REPS=2] [build dir]
# Saddle's time is the `exact` phase (forming G, the redistribution and the SVD; slowest rank),
# scipy's the svd call alone (forming G excluded, which favours scipy by well under a second).
set -euo pipefail
N=${1:-8000}
REPS=${2:-2}
build=${3:-build}
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMP_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 - "$work/blobs.h5" "$N" <<'PY'
import sys, h5py, numpy as np
n = int(sys.argv[2])
rng = np.random.default_rng(1)
centres = rng.normal(0.0, 4.0, (4, 4))
x = centres[rng.integers(0, 4, n)] + rng.normal(0.0, 1.0, (n, 4))
with h5py.File(sys.argv[1], "w") as f:
    f["X"] = x
PY
cat > "$work/deck.toml" <<DECK
[run]
workload = "ksvd"
output = "$work/out"
[ksvd]
method = "exact"
rank = 10
[ksvd.data]
source = "hdf5"
path = "$work/blobs.h5"
[ksvd.kernel]
type = "rbf"
sigma = 1.0
DECK

saddle_exact() {  # saddle_exact NAME RANKS THREADS: seconds of the exact phase
  # One rank is not bound to a core (mpirun binds 1 or 2 ranks to one core each by default, which
  # would put both BLAS threads on one core).
  local bind=()
  [ "$2" -eq 1 ] && bind=(--bind-to none)
  OPENBLAS_NUM_THREADS=$3 mpirun --oversubscribe "${bind[@]}" -x OPENBLAS_NUM_THREADS -n "$2" "$build/saddle" run "$work/deck.toml" \
    run.name="$1" run.restart=no -q
  /usr/bin/python3 -c "import h5py, sys; print(h5py.File(sys.argv[1], 'r')['result/performance'].attrs['exact_seconds'])" \
    "$work/out/$1.h5"
}
scipy_svd() {  # scipy_svd THREADS: seconds of scipy.linalg.svd on the same G
  OPENBLAS_NUM_THREADS=$1 /usr/bin/python3 - "$work/blobs.h5" <<'PY'
import sys, time, h5py, numpy as np, scipy.linalg
from scipy.spatial.distance import cdist
x = h5py.File(sys.argv[1], "r")["X"][:]
g = np.exp(-cdist(x, x, "sqeuclidean") / 2.0)
t = time.perf_counter()
u, s, vt = scipy.linalg.svd(g, full_matrices=False, lapack_driver="gesdd", overwrite_a=True, check_finite=False)
print(time.perf_counter() - t)
print(" ".join(f"{v:.15e}" for v in s[:10]), file=sys.stderr)
PY
}

declare -A best
keep() { best[$1]=$(awk -v a="${best[$1]:-inf}" -v b="$2" 'BEGIN { print (a == "inf" || b < a) ? b : a }'); echo "  $1: $2 s"; }
for rep in $(seq 1 "$REPS"); do
  echo "run $rep of $REPS (n = m = $N)"
  keep saddle_1rank_1thread "$(saddle_exact np1t1_$rep 1 1)"
  [ "${SKIP_1RANK_2THREADS:-0}" = 1 ] || keep saddle_1rank_2threads "$(saddle_exact np1t2_$rep 1 2)"
  keep saddle_2ranks "$(saddle_exact np2_$rep 2 1)"
  keep scipy_1thread "$(scipy_svd 1 2>/dev/null)"
  keep scipy_2threads "$(scipy_svd 2 2>/dev/null)"
done
/usr/bin/python3 - "$work/out" "$REPS" <<'PY'
import sys, h5py, numpy as np
a = h5py.File(f"{sys.argv[1]}/np1t1_1.h5", "r")["result/singular_values"][:]
b = h5py.File(f"{sys.argv[1]}/np2_1.h5", "r")["result/singular_values"][:]
print(f"singular values, 2 ranks (ScaLAPACK) against 1 rank (LAPACK): max relative difference {np.max(np.abs(a - b)) / a[0]:.1e}")
PY
echo "best of $REPS, n = m = $N, rank 10 (seconds):"
for k in saddle_1rank_1thread saddle_1rank_2threads saddle_2ranks scipy_1thread scipy_2threads; do printf '  %-22s %8.2f\n' "$k" "${best[$k]}"; done
awk -v a="${best[saddle_1rank_1thread]}" -v b="${best[saddle_1rank_2threads]}" -v c="${best[saddle_2ranks]}" \
  -v d="${best[scipy_1thread]}" -v e="${best[scipy_2threads]}" 'BEGIN {
    printf "speedup 2 ranks over 1 rank x 1 thread:  %.2f\n", a / c
    printf "speedup 2 ranks over 1 rank x 2 threads: %.2f\n", b / c
    printf "saddle 2 ranks over scipy 2 threads:     %.2f (above 1: saddle faster)\n", e / c
    printf "saddle 1 rank over scipy, 1 thread:      %.2f\n", d / a
  }'
