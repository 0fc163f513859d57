#!/usr/bin/env bash
# Node classification on the directed Cora graph with ksvd features (docs/workloads/ksvd.md, "Node
# classification on Cora"): for every rank s in RANKS, exact ksvd runs of
#   G      the given row-stochastic G = D⁻¹(A + I)            (asymmetric, linear)
#   G_sym  (G + Gᵀ)/2 (ksvd.symmetrize)                        (kernel-PCA-like baseline)
#   A      the 0/1 adjacency (ksvd.data.matrix = "A")          (linear SVD baseline)
#   A_sym  (A + Aᵀ)/2
#   kl     inputs/ksvd_cora_kl.toml: exp(−a KL(x_i ‖ x_j)) on the smoothed rows of G (asymmetric)
#   kl_sym its symmetrisation
# then saddle-post ksvd-eval (standardised logistic regression, REPEATS stratified 60/40 splits)
# on the features uv ([U, V]·√σ), rows (G V) and cols (Gᵀ U), and a table per feature set with
# one column per rank. A control where direction carries the classes: the directed SBM of
# inputs/ksvd_digraph.toml (3000 nodes, 5 blocks) made sparse and direction-led (p_in = 0.01 inside
# a block, p_out = 0.02 from block b to b + 1, p_noise = 0.005), G and (G + Gᵀ)/2, labels = blocks.
#   bench/ksvd_cora_study.sh [OUT_DIR]        (from the repository root, build/saddle built)
# Environment: NP (MPI ranks, 2), RANKS ("8 16 32 64 128"), REPEATS (5), PARTS ("cora sbm"),
# SADDLE, MPIEXEC. About 12 min on the 2-core VM.
set -euo pipefail
out=${1:-out/ksvd_cora_study}
np=${NP:-2}
ranks=${RANKS:-8 16 32 64 128}
repeats=${REPEATS:-5}
parts=${PARTS:-cora sbm}
saddle=${SADDLE:-build/saddle}
mpiexec=${MPIEXEC:-mpirun}
post="/usr/bin/python3 jobs/post/saddle-post ksvd-eval"
labels=inputs/data/cora_directed.h5:/labels
mkdir -p "$out"
[ -f inputs/data/cora_points.h5 ] || /usr/bin/python3 inputs/data/make_cora_points.py
cat > "$out/cora_given.toml" <<'DECK'
[run]
workload = "ksvd"
log_every = 1
[ksvd]
method = "exact"
[ksvd.data]
source = "hdf5"
path = "inputs/data/cora_directed.h5"
[ksvd.kernel]
type = "given"
DECK
run() { "$mpiexec" -n "$np" "$saddle" run "$@" run.output="$out" -q; }

if [[ " $parts " == *" cora "* ]]; then
files=()
for s in $ranks; do
  for m in G A; do
    run "$out/cora_given.toml" run.name=${m}_s$s ksvd.rank=$s ksvd.data.matrix=\"$m\"
    run "$out/cora_given.toml" run.name=${m}_sym_s$s ksvd.rank=$s ksvd.data.matrix=\"$m\" ksvd.symmetrize=true
    files+=("$out/${m}_s$s.h5" "$out/${m}_sym_s$s.h5")
  done
  run inputs/ksvd_cora_kl.toml run.name=kl_s$s ksvd.rank=$s
  run inputs/ksvd_cora_kl.toml run.name=kl_sym_s$s ksvd.rank=$s ksvd.symmetrize=true
  files+=("$out/kl_s$s.h5" "$out/kl_sym_s$s.h5")
  echo "rank $s: runs done" >&2
done
$post "${files[@]}" --labels $labels --features uv rows cols --repeats "$repeats" --out "$out/cora.csv" | tee "$out/cora.txt"

fi

# Control: a directed SBM (5 blocks of 600 nodes, block b -> b + 1), where direction matters.
if [[ " $parts " == *" sbm "* ]]; then
sbm=()
for s in 5 10; do
  for sym in false true; do
    name=sbm_s${s}_sym$sym
    run inputs/ksvd_digraph.toml run.name=$name ksvd.method=\"exact\" ksvd.rank=$s ksvd.symmetrize=$sym \
      ksvd.data.p_in=0.01 ksvd.data.p_out=0.02 ksvd.data.p_noise=0.005
    sbm+=("$out/$name.h5")
  done
done
$post "${sbm[@]}" --labels "$out/sbm_s5_symfalse.h5:/result/labels_rows" --features uv rows cols --repeats "$repeats" \
  --out "$out/sbm.csv" | tee "$out/sbm.txt"
fi
[[ " $parts " == *" cora "* ]] || exit 0

# One markdown table per feature set: rows = run kind, columns = rank.
/usr/bin/python3 - "$out/cora.csv" <<'PY' | tee "$out/cora_table.md"
import csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
kinds = {"G": "G (asymmetric, linear)", "G_sym": "(G + Gᵀ)/2", "A": "A (linear SVD of the adjacency)",
         "A_sym": "(A + Aᵀ)/2", "kl": "kl on rows of G (asymmetric)", "kl_sym": "kl, symmetrised"}
ranks = sorted({int(r["rank"]) for r in rows})
for feat in ("uv", "rows", "cols"):
    print(f"\nfeatures {feat}:\n")
    print("| matrix | " + " | ".join(f"s = {s}" for s in ranks) + " |")
    print("|---|" + "---|" * len(ranks))
    for kind, label in kinds.items():
        cells = {}
        for r in rows:
            k = re.sub(r"_s\d+$", "", r["run"])
            if k == kind and r["features"] == feat:
                cells[int(r["rank"])] = f"{float(r['accuracy_mean']):.3f} ± {float(r['accuracy_std']):.3f}"
        print(f"| {label} | " + " | ".join(cells.get(s, "") for s in ranks) + " |")
PY
