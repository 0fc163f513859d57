#!/usr/bin/python3
"""Bits per coordinate against iterations to tolerance on inputs/qoda_layers.toml (or another
deck): runs each method (a set of deck overrides) with `mpirun -n RANKS`, and prints one line per
method: mean bits per coordinate sent (payloads), mean empirical relative variance
|Q(v) - v|^2 / |v|^2 of the whole vector and of its worst layer, iterations until
|x - x*| <= tol |x_1 - x*|, megabytes sent by all workers over the run (payloads and the refits'
statistics), and the wall time of the steps. The peer is unquantised
OptDA (float64 allreduce) on the same deck, run side by side.

  /usr/bin/python3 bench/qoda_table.py [--build build] [--ranks 2] [--tol 1e-3] [--deck inputs/qoda_layers.toml]
"""
import subprocess, sys, tempfile
import h5py, numpy as np

import study_runs

METHODS = [
    ("optda (float64 allreduce, peer)", ["qoda.algorithm=optda"]),
    ("qoda layerwise adaptive huffman 8 lv", []),
    ("qoda layerwise adaptive huffman 4 lv", ["qoda.exchange.num_levels=4"]),
    ("qoda layerwise uniform elias 8 lv", ["qoda.exchange.levels=uniform", "qoda.exchange.coder=elias"]),
    ("qoda layerwise uniform elias 2 lv", ["qoda.exchange.levels=uniform", "qoda.exchange.coder=elias", "qoda.exchange.num_levels=2"]),
    ("qoda global adaptive huffman 8 lv", ["qoda.exchange.quantizer=global"]),
    ("qoda global adaptive huffman 16 lv", ["qoda.exchange.quantizer=global", "qoda.exchange.num_levels=16"]),
    ("qoda global adaptive huffman 4 lv", ["qoda.exchange.quantizer=global", "qoda.exchange.num_levels=4"]),
    ("qoda bucket 1024, 16 lv (4 bits)", ["qoda.exchange.quantizer=bucket", "qoda.exchange.levels=uniform", "qoda.exchange.coder=elias",
                                          "qoda.exchange.num_levels=16"]),
    ("qgenx layerwise adaptive huffman 8 lv", ["qoda.algorithm=qgenx"]),
]


def main():
    p = study_runs.parser("inputs/qoda_layers.toml")
    p.add_argument("--tol", type=float, default=1e-3)
    a = p.parse_args()
    env = study_runs.mpi_env()
    out = tempfile.mkdtemp()
    print(f"{'method':40s} {'bits/coord':>10s} {'rel.var':>8s} {'worst layer':>11s} {'iters':>6s} {'x optda':>7s} {'MB sent':>8s} {'steps s':>8s}")
    base = None
    for k, (name, over) in enumerate(METHODS):
        if not study_runs.selected(a, k):
            continue
        cmd = ["mpirun", "--oversubscribe", "-n", str(a.ranks), f"{a.build}/saddle", "run", a.deck, f"run.output={out}",
               f"run.name=m{k}", "run.restart=no", "run.log_every=5", "-q"] + over + a.extra
        subprocess.run(cmd, check=True, env=env)
        with h5py.File(f"{out}/m{k}.h5", "r") as f:
            m = f["metrics"]
            d, s = m["distance"][:], m["step"][:]
            hit = np.nonzero(d <= a.tol * d[0])[0]
            iters = int(s[hit[0]]) if len(hit) else -1
            bits = float(np.mean(m["bits_per_coord"][1:]))
            var = float(np.mean(m["variance_ratio"][1:]))
            worst = float(np.mean(m["variance_ratio_worst_layer"][1:]))
            total = float(m["bytes_total"][-1]) / 1e6
            t = float(f["timers/steps"].attrs["max"])
        if base is None:
            base = iters
        ratio = iters / base if base and base > 0 and iters > 0 else float("nan")
        print(f"{name:40s} {bits:10.3f} {var:8.4f} {worst:11.4f} {iters if iters > 0 else 'never':>6} {ratio:7.2f} {total:8.2f} {t:8.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
