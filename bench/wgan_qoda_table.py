#!/usr/bin/python3
"""QODA on the WGAN ring: bits per parameter sent and steps to a given SWD against uncompressed.

Runs each method (a deck and its overrides) with `mpirun -n RANKS build/saddle run`, side by side
on the same machine, and prints one row per method:
  bits/param   mean bits sent per parameter per worker per exchange (metric bits_per_param,
               payload headers and norms included; float64 = 64), over the logged steps
  MB total     bytes sent by all workers over the run (payloads and refit statistics)
  step<target  first logged generator iteration at which swd < target ('never' if none)
  x steps      that step over the uncompressed OptDA baseline's (the first method)
  MB@target    bytes sent by all workers until that step, and x bytes the same over the baseline
  final swd, swd_avg (the generator's ergodic average, qoda only), modes (of 8), wall s (steps)
The baselines: OptDA = the same QODA loop and rates with wgan.exchange.quantizer = none (float64
allreduce), and Adam with the ring deck's own steps (inputs/wgan_ring.toml) at equal length.

  /usr/bin/python3 bench/wgan_qoda_table.py [--build build] [--ranks 2] [--steps 4000] [--target 0.3]
                                            [--deck inputs/wgan_ring_qoda.toml] [--only 0,2] [overrides...]
"""
import os, subprocess, sys, tempfile

import h5py
import numpy as np

import study_runs

QODA_DECK = "inputs/wgan_ring_qoda.toml"
ADAM_DECK = "inputs/wgan_ring.toml"

METHODS = [
    ("optda, float64 allreduce (baseline)", QODA_DECK, ["wgan.exchange.quantizer=none"]),
    ("adam, float64 allreduce (ring deck)", ADAM_DECK, []),
    ("qoda layerwise uniform elias 16 lv", QODA_DECK, ["wgan.exchange.levels=uniform", "wgan.exchange.coder=elias",
                                                       "wgan.exchange.num_levels=16"]),
    ("qoda layerwise uniform elias 4 lv", QODA_DECK, ["wgan.exchange.levels=uniform", "wgan.exchange.coder=elias",
                                                      "wgan.exchange.num_levels=4"]),
    ("qoda layerwise adaptive huffman 16 lv", QODA_DECK, ["wgan.exchange.levels=adaptive", "wgan.exchange.coder=huffman",
                                                          "wgan.exchange.num_levels=16"]),
    ("qoda layerwise adaptive huffman 4 lv", QODA_DECK, ["wgan.exchange.levels=adaptive", "wgan.exchange.coder=huffman",
                                                         "wgan.exchange.num_levels=4"]),
    ("qoda global adaptive huffman 16 lv", QODA_DECK, ["wgan.exchange.quantizer=global", "wgan.exchange.levels=adaptive",
                                                       "wgan.exchange.coder=huffman", "wgan.exchange.num_levels=16"]),
]


def main():
    p = study_runs.parser(QODA_DECK, "the qoda deck (baseline and quantised runs)")
    p.add_argument("--steps", type=int, default=4000, help="generator iterations of every run")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--eval-samples", type=int, default=2000)
    p.add_argument("--target", type=float, default=0.3, help="swd target")
    p.add_argument("--out", default="", help="directory for the run files (default a fresh temporary one)")
    a = p.parse_args()
    env = study_runs.mpi_env()
    out = a.out or tempfile.mkdtemp(prefix="wgan_qoda_")
    os.makedirs(out, exist_ok=True)
    print(f"# {a.ranks} ranks, {a.steps} generator iterations, swd target {a.target}, logged every {a.log_every}, "
          f"{a.eval_samples} samples; run files in {out}")
    print(f"{'method':40s} {'bits/param':>10s} {'MB total':>9s} {'step<target':>11s} {'x steps':>7s} {'MB@target':>9s} "
          f"{'x bytes':>7s} {'final swd':>9s} {'swd_avg':>7s} {'modes':>5s} {'wall s':>6s}")
    base = None
    for k, (name, deck, over) in enumerate(METHODS):
        if not study_runs.selected(a, k):
            continue
        if deck == QODA_DECK:
            deck = a.deck
        cmd = ["mpirun", "--oversubscribe", "-n", str(a.ranks), f"{a.build}/saddle", "run", deck, f"run.output={out}",
               f"run.name=m{k}", "run.restart=no", f"run.steps={a.steps}", f"run.log_every={a.log_every}",
               f"wgan.eval_samples={a.eval_samples}", "-q"] + over + a.extra
        subprocess.run(cmd, check=True, env=env)
        with h5py.File(f"{out}/m{k}.h5", "r") as f:
            m = f["metrics"]
            step, swd, total = m["step"][:], m["swd"][:], m["bytes_total"][:]
            hit = np.nonzero(swd < a.target)[0]
            at = int(step[hit[0]]) if len(hit) else -1
            mb_at = float(total[hit[0]]) / 1e6 if len(hit) else float("nan")
            bits = float(np.mean(m["bits_per_param"][1:]))
            avg = float(m["swd_average"][-1]) if "swd_average" in m else float("nan")
            modes = int(m["modes"][-1])
            wall = float(f["timers/steps"].attrs["max"])
        if base is None:
            base = (at, mb_at)
        rs = at / base[0] if base[0] > 0 and at > 0 else float("nan")
        rb = mb_at / base[1] if base[0] > 0 and at > 0 else float("nan")
        print(f"{name:40s} {bits:10.2f} {total[-1] / 1e6:9.2f} {at if at > 0 else 'never':>11} {rs:7.2f} {mb_at:9.2f} {rb:7.3f} "
              f"{swd[-1]:9.3f} {avg:7.3f} {modes:5d} {wall:6.1f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
