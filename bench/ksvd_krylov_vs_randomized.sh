#!/usr/bin/env bash
# ksvd's two matrix-free solvers side by side at equal achieved accuracy: randomized subspace
# iteration (a block of s + p columns per pass over G) against SLEPc's thick-restart Lanczos
# (method = "krylov", one column per product), both run to the same ksvd.tol, on the RBF data of
# bench/ksvd_vs_sklearn.sh (X, Z ~ N(0, I_16), Z shifted by 0.5, numpy default_rng(1), sigma = 2,
# 10 triplets) and on the directed Cora graph (flat spectrum, 16 triplets). Both on 2 ranks; each
# run twice, the faster kept. Prints wall seconds, passes over G (kernel evaluations / n·m; for
# the graph, products), iterations and the achieved relative residual. Run from the repository
# root after a build:
#   bash bench/ksvd_krylov_vs_randomized.sh [build dir] [n = 5000]
set -euo pipefail
build=${1:-build}
n=${2:-5000}
root=$(pwd)
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

/usr/bin/python3 "$(dirname "$0")/ksvd_rbf_data.py" "$out/data.h5" "$n"
cat > "$out/rbf.toml" <<EOF
[run]
workload = "ksvd"
output = "$out"
[ksvd]
rank = 10
oversample = 10
max_iters = 2000
[ksvd.data]
source = "hdf5"
path = "$out/data.h5"
[ksvd.kernel]
type = "rbf"
sigma = 2.0
EOF
sed -e "s|^output = .*|output = \"$out\"|" -e "s|inputs/data/|$root/inputs/data/|" inputs/ksvd_cora.toml | grep -v "^name =" > "$out/cora.toml"

run() {  # deck method tol name: keeps the wall seconds of the faster of two runs in $out/name.wall
  local best=1e9 t
  for rep in 1 2; do
    /usr/bin/time -f "%e" -o "$out/wall" mpirun --oversubscribe -n 2 "$build/saddle" run "$out/$1.toml" \
      ksvd.method="$2" ksvd.tol="$3" ksvd.max_iters=2000 run.name="$4" -q 2>/dev/null
    t=$(tail -1 "$out/wall")
    best=$(/usr/bin/python3 -c "print(min($t, $best))")
  done
  echo "$best" > "$out/$4.wall"
}
for deck in rbf cora; do
  for tol in 1e-4 1e-6 1e-8 1e-10; do
    for method in randomized krylov; do run "$deck" "$method" "$tol" "${deck}_${method}_${tol}"; done
  done
done

/usr/bin/python3 - "$out" <<'PY'
import sys, h5py
out = sys.argv[1]
print(f"{'data':6} {'tol':>7} | {'randomized: s':>14} {'passes':>7} {'iters':>6} {'achieved':>9} | "
      f"{'krylov: s':>10} {'passes':>7} {'iters':>6} {'achieved':>9} | {'krylov speedup':>14}")
for deck in ("rbf", "cora"):
    for tol in ("1e-4", "1e-6", "1e-8", "1e-10"):
        row = []
        for method in ("randomized", "krylov"):
            name = f"{deck}_{method}_{tol}"
            r = h5py.File(f"{out}/{name}.h5", "r")["result"]
            ev = r["performance"].attrs["kernel_evaluations"]
            passes = ev / (r.attrs["n"] * r.attrs["m"])
            wall = float(open(f"{out}/{name}.wall").read())
            row.append((wall, passes, r.attrs["iterations"], r.attrs["relative_residual"], r.attrs["converged"]))
        a, b = row
        print(f"{deck:6} {tol:>7} | {a[0]:14.2f} {a[1]:7.0f} {a[2]:6d} {a[3]:9.1e} | {b[0]:10.2f} {b[1]:7.0f} {b[2]:6d} {b[3]:9.1e} | {a[0] / b[0]:13.2f}x"
              + ("" if a[4] and b[4] else "  (not all converged)"))
print("passes: kernel evaluations / (n m), each pass one sweep of tiles over G (0 for a given matrix)")
PY
