#!/usr/bin/python3
"""Compressed wgan training, fidelity (issue 15): does training through the layer-wise quantised
exchange reach the quality of the float32 allreduce, per seed, at the same number of steps?

Parts (each run is `mpirun -n RANKS build/saddle run DECK overrides`, one at a time):
  ring    inputs/wgan_ring.toml with adam and optimistic_adam, per seed: the float32 allreduce
          (wgan.exchange.precision = "float32") and the quantised exchange (layerwise, adaptive
          levels, Huffman codes, 16 levels, or each of --ring-levels). Goal: 8/8 modes and swd
          within 10 % of the float32 run's, at <= 4 bits per parameter.
  digits  inputs/wgan_digits.toml (adam), the same two exchanges per seed. Goal: swd within 10 %.
  qoda    the qoda optimiser on the ring deck (constant rates eta = gamma = the players' steps, as
          inputs/wgan_ring_qoda.toml, and the same quantised exchange) at the ring deck's length:
          a grid of (critic, generator) steps on the first seed, the best (most modes, then lowest
          swd) confirmed on the other seeds, and so are the steps of --qoda-confirm (e.g. the
          runner-up when the best diverges elsewhere); beside them, on the first seed, the same
          steps with the float32 allreduce (unquantised OptDA) and plain gda (which part of the gap
          is quantisation, which is the method).
Columns: final swd (digits also the mean of the last 10 logged values: the run's own noise),
modes (of 8), high_quality (share of samples within 3 std of a centre), bits_per_param (last
step; 32 for the float32 allreduce), MB sent by all workers, radius mean/std of /result/samples
(ring: the data has radius 2, std 0.02), wall seconds of training.
Run files are kept in --out and a finished run (its last logged step = the steps asked) is not run
again unless --fresh, so the parts can be run one after the other and the table printed at the end.
The CSV (--csv, default OUT/wgan_fidelity.csv) holds every run; the markdown tables go to stdout.

  /usr/bin/python3 bench/wgan_fidelity_table.py [--build build] [--ranks 2] [--seeds 1,2,3]
      [--parts ring,digits,qoda] [--ring-steps 14000] [--ring-levels 16,64] [--digits-steps 4000] [--digits-seeds 1,2,3]
      [--qoda-grid 1e-2:2e-3,2e-2:2e-3,2e-2:1e-3,2e-2:4e-3] [--qoda-confirm 1e-2:2e-3] [--out out/wgan_fidelity] [--fresh]
      [--table-only] [overrides for every run...]
"""
import argparse
import csv
import os
import subprocess
import sys
import time

import h5py
import numpy as np

import study_runs

RING = "inputs/wgan_ring.toml"
DIGITS = "inputs/wgan_digits.toml"
FLOAT32 = ['wgan.exchange.precision="float32"']
QUANT = ['wgan.exchange.quantizer="layerwise"', 'wgan.exchange.levels="adaptive"', 'wgan.exchange.coder="huffman"',
         "wgan.exchange.num_levels=16"]


def quant(levels):
    """The quantised exchange with `levels` levels (its runs are named quantised, or quantised<L> beside 16)."""
    return QUANT[:-1] + [f"wgan.exchange.num_levels={levels}"], ("quantised" if levels == 16 else f"quantised{levels}")
QODA = ['wgan.optimizer="qoda"', 'wgan.rates.schedule="constant"']  # as inputs/wgan_ring_qoda.toml, whose steps --qoda-grid sets
FIELDS = ["part", "name", "status", "optimizer", "exchange", "seed", "steps", "lr", "lr_generator", "swd", "swd_tail", "swd_average", "modes",
          "high_quality", "bits_per_param", "mb_total", "radius_mean", "radius_std", "wall_s", "exchange_s"]


def finished(path, steps):
    """Whether `path` holds a run that ended: all `steps` done, or stopped by the divergence check
    (exit 1; its attribute `diverged` is set by run() below)."""
    try:
        with h5py.File(path, "r") as f:
            return (int(f["metrics/step"][-1]) == steps and "result" in f) or bool(f.attrs.get("fidelity_diverged", False))
    except (OSError, KeyError, IndexError):
        return False


def run(a, env, name, deck, over, steps):
    """Runs one configuration unless its file already holds a finished run; returns the file.
    A run stopped by the divergence check (exit 1) is kept and marked, not retried."""
    path = f"{a.out}/{name}.h5"
    if not a.fresh and finished(path, steps):
        return path
    cmd = ["mpirun", "--oversubscribe", "-n", str(a.ranks), f"{a.build}/saddle", "run", deck, f'run.output="{a.out}"', f'run.name="{name}"',
           'run.restart="no"', f"run.steps={steps}", "-q"] + over + a.extra
    t0 = time.time()
    print(f"# {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    rc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode
    print(f"# {name}: {time.time() - t0:.0f} s, exit {rc}", file=sys.stderr, flush=True)
    if rc == 1 and os.path.exists(path):
        with h5py.File(path, "a") as f:
            f.attrs["fidelity_diverged"] = True
    elif rc != 0:
        raise SystemExit(f"{name}: exit {rc}")
    return path


def read(path, ring):
    with h5py.File(path, "r") as f:
        m = f["metrics"]
        if f.attrs.get("fidelity_diverged", False):
            last = int(m["step"][-1]) if "step" in m and len(m["step"]) else 0
            nan = float("nan")
            return {"status": f"diverged after step {last}", "swd": nan, "swd_tail": nan, "swd_average": nan, "modes": 0, "high_quality": nan,
                    "bits_per_param": nan, "mb_total": nan, "wall_s": nan, "exchange_s": nan, "radius_mean": nan, "radius_std": nan}
        r = {
            "status": "ok",
            "swd": float(m["swd"][-1]),
            "swd_tail": float(np.mean(m["swd"][-10:])),
            "swd_average": float(m["swd_average"][-1]) if "swd_average" in m else float("nan"),
            "modes": int(m["modes"][-1]) if ring else -1,
            "high_quality": float(m["high_quality"][-1]) if ring else float("nan"),
            "bits_per_param": float(m["bits_per_param"][-1]),
            "mb_total": float(m["bytes_total"][-1]) / 1e6,
            "wall_s": float(f["timers/steps"].attrs["max"]),
            "exchange_s": float(m["time_exchange"][-1]),
            "radius_mean": float("nan"),
            "radius_std": float("nan"),
        }
        if ring:
            rad = np.linalg.norm(np.asarray(f["result/samples"][:]), axis=1)
            r["radius_mean"], r["radius_std"] = float(rad.mean()), float(rad.std())
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--seeds", default="1,2,3", help="seeds of the ring runs and of qoda's confirmation (the first picks qoda's steps)")
    p.add_argument("--digits-seeds", default="", help="seeds of the digits runs (default --seeds)")
    p.add_argument("--parts", default="ring,digits,qoda")
    p.add_argument("--ring-steps", type=int, default=14000)
    p.add_argument("--ring-levels", default="16", help="comma-separated num_levels of the ring's quantised runs (each a column set)")
    p.add_argument("--digits-steps", type=int, default=4000)
    p.add_argument("--qoda-grid", default="1e-2:2e-3,2e-2:2e-3,2e-2:1e-3,2e-2:4e-3",
                   help="comma-separated critic:generator steps (constant eta = gamma) tried on the first seed")
    p.add_argument("--qoda-confirm", default="", help="further critic:generator steps confirmed on every seed (besides the grid's best)")
    p.add_argument("--out", default="out/wgan_fidelity")
    p.add_argument("--csv", default="")
    p.add_argument("--fresh", action="store_true", help="rerun runs whose files are already there")
    p.add_argument("--table-only", action="store_true", help="no new runs: the tables of the runs already in --out")
    p.add_argument("extra", nargs="*", help="overrides for every run")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",") if s]
    dseeds = [int(s) for s in (a.digits_seeds or a.seeds).split(",") if s]
    parts = a.parts.split(",")
    grid = [tuple(g.split(":")) for g in a.qoda_grid.split(",") if g]
    os.makedirs(a.out, exist_ok=True)
    env = study_runs.mpi_env()
    # The ranks wait for each other thousands of times a second; on a shared machine a spinning
    # rank takes the core its partner needs (measured: 1.4-1.7x the wall time), so waiting ranks yield.
    env.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
    rows = []

    def do(part, name, optimizer, exchange, seed, deck, over, steps, lr="", lrg=""):
        path = f"{a.out}/{name}.h5"
        if a.table_only:
            if not finished(path, steps):
                return None
        else:
            path = run(a, env, name, deck, over + [f"run.seed={seed}"], steps)
        r = dict(part=part, name=name, optimizer=optimizer, exchange=exchange, seed=seed, steps=steps, lr=lr, lr_generator=lrg)
        r.update(read(path, part != "digits"))
        rows.append(r)
        return r

    if "ring" in parts:
        for opt in ("adam", "optimistic_adam"):
            for s in seeds:
                for over, ex in [(FLOAT32, "float32")] + [quant(int(L)) for L in a.ring_levels.split(",") if L]:
                    do("ring", f"ring_{opt}_{ex}_s{s}", opt, ex, s, RING, [f'wgan.optimizer="{opt}"'] + over, a.ring_steps, "1e-3", "2e-4")
    if "qoda" in parts and seeds:
        tried = []
        for lr, lrg in grid:
            r = do("qoda", f"qoda_{lr}_{lrg}_s{seeds[0]}", "qoda", "quantised", seeds[0], RING, QODA + [f"wgan.lr={lr}", f"wgan.lr_generator={lrg}"]
                   + QUANT, a.ring_steps, lr, lrg)
            if r:
                tried.append(r)
        pairs = []
        if tried:
            ok = [r for r in tried if r["status"] == "ok"] or tried
            best = max(ok, key=lambda r: (r["modes"], -r["swd"]))
            pairs.append((best["lr"], best["lr_generator"]))
        pairs += [tuple(g.split(":")) for g in a.qoda_confirm.split(",") if g and tuple(g.split(":")) not in pairs]
        for lr, lrg in pairs:
            for s in seeds[1:]:
                do("qoda", f"qoda_{lr}_{lrg}_s{s}", "qoda", "quantised", s, RING, QODA + [f"wgan.lr={lr}", f"wgan.lr_generator={lrg}"] + QUANT,
                   a.ring_steps, lr, lrg)
            s = seeds[0]
            do("qoda", f"optda_{lr}_{lrg}_s{s}", "qoda", "float32", s, RING, QODA + [f"wgan.lr={lr}", f"wgan.lr_generator={lrg}"] + FLOAT32,
               a.ring_steps, lr, lrg)
            do("qoda", f"gda_{lr}_{lrg}_s{s}", "gda", "float32", s, RING, [f"wgan.lr={lr}", f"wgan.lr_generator={lrg}", 'wgan.optimizer="gda"']
               + FLOAT32, a.ring_steps, lr, lrg)
    if "digits" in parts:
        for s in dseeds:
            for ex, over in (("float32", FLOAT32), ("quantised", QUANT)):
                do("digits", f"digits_adam_{ex}_s{s}", "adam", ex, s, DIGITS, over, a.digits_steps, "1e-4", "1e-4")

    out_csv = a.csv or f"{a.out}/wgan_fidelity.csv"
    with open(out_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    print(f"<!-- {len(rows)} runs, {a.ranks} ranks; CSV {out_csv} -->")
    tables(rows)


def tables(rows):
    by = {(r["part"], r["optimizer"], r["exchange"], r["seed"]): r for r in rows if r["part"] in ("ring", "digits")}
    ring = [r for r in rows if r["part"] == "ring" and r["exchange"] == "float32"]
    if ring:
        print("\n**Ring** (inputs/wgan_ring.toml; float32 allreduce against layer-wise quantisation, adaptive levels, Huffman codes)\n")
        print("| optimiser | seed | float32: modes | swd | bits/param | levels | quantised: modes | swd | bits/param | swd change | goal |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for f in ring:
            for q in rows:
                if q["part"] != "ring" or q["optimizer"] != f["optimizer"] or q["seed"] != f["seed"] or not q["exchange"].startswith("quantised"):
                    continue
                d = q["swd"] / f["swd"] - 1
                ok = q["modes"] == 8 and d <= 0.10 and q["bits_per_param"] <= 4
                print(f"| {f['optimizer']} | {f['seed']} | {f['modes']} | {f['swd']:.4f} | {f['bits_per_param']:.0f} | {q['exchange'][9:] or 16} | {q['modes']} | "
                      f"{q['swd']:.4f} | {q['bits_per_param']:.2f} | {100 * d:+.1f} % | {'yes' if ok else 'no'} |")
    dig = [r for r in rows if r["part"] == "digits" and r["exchange"] == "float32"]
    if dig:
        print("\n**Digits** (inputs/wgan_digits.toml, adam; same exchanges)\n")
        print("| seed | steps | float32 swd | quantised swd | bits/param | swd change | goal | float32, mean of last 10 logs | quantised, same | change |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for f in dig:
            q = by.get(("digits", "adam", "quantised", f["seed"]))
            if not q:
                continue
            d = q["swd"] / f["swd"] - 1
            t = q["swd_tail"] / f["swd_tail"] - 1
            print(f"| {f['seed']} | {f['steps']} | {f['swd']:.4f} | {q['swd']:.4f} | {q['bits_per_param']:.2f} | {100 * d:+.1f} % | "
                  f"{'yes' if d <= 0.10 else 'no'} | {f['swd_tail']:.4f} | {q['swd_tail']:.4f} | {100 * t:+.1f} % |")
    qo = [r for r in rows if r["part"] == "qoda"]
    if qo:
        print("\n**qoda on the ring** (inputs/wgan_ring.toml with wgan.optimizer = qoda, constant eta = gamma = the steps below)\n")
        print("| run | exchange | seed | critic step | generator step | swd | swd of average | modes | high quality | radius mean ± std | bits/param |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in qo:
            label = {"qoda": "qoda" if r["exchange"] == "quantised" else "OptDA (qoda loop, float32 allreduce)", "gda": "gda"}[r["optimizer"]]
            avg = "—" if np.isnan(r["swd_average"]) else f"{r['swd_average']:.4f}"
            if r["status"] != "ok":
                print(f"| {label} | {r['exchange']} | {r['seed']} | {r['lr']} | {r['lr_generator']} | {r['status']} | | | | | |")
                continue
            print(f"| {label} | {r['exchange']} | {r['seed']} | {r['lr']} | {r['lr_generator']} | {r['swd']:.4f} | {avg} | {r['modes']} | "
                  f"{r['high_quality']:.3f} | {r['radius_mean']:.2f} ± {r['radius_std']:.2f} | {r['bits_per_param']:.2f} |")
    ad = [r for r in rows if r["part"] == "ring"]
    if ad:
        print("\nRing samples (/result/samples, 256 rows): radius mean ± std per run: " +
              ", ".join(f"{r['optimizer']}/{r['exchange']}/s{r['seed']} {r['radius_mean']:.2f} ± {r['radius_std']:.2f}" for r in ad))


if __name__ == "__main__":
    sys.exit(main())
