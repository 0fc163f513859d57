#!/usr/bin/python3
"""The table of bench/wgan_pipeline.sh, from the run files it left in OUT (<config>_<repeat>.h5 and
the peak RSS of each run's process tree, <config>_<repeat>.maxrss_kib, from /usr/bin/time).

  /usr/bin/python3 bench/wgan_pipeline_table.py OUT [--warmup 3] [--configs "a b c d e f"] [--repeats 1]

Per configuration (the fastest repeat; its name goes to OUT/<config>.best), one row of a markdown
table, also written to OUT/wgan_pipeline.csv:
  steps/s        generator iterations per second after the warm-up: (N - W) / (time_step[N] -
                 time_step[W]), /metrics/time_step being the slowest rank's seconds inside step()
                 so far (metrics and output excluded); steps/s all = N / timers/steps max
  speedup        steps/s over configuration a's (1 rank, L = 1, m = 1); vs b: over b's (1 rank, m = 8),
                 for the m = 8 rows the pipeline's gain without the micro-batches' own cost
  ideal eff      the plans' simulated busy fraction (/result/pipeline ideal_efficiency_critic and
                 _generator; 1 without a pipeline), combined over a step's n_critic critic and one
                 generator evaluation weighted by their work: the passes' relative costs as the
                 wgan workload gives them to its plans (G forward cg, D forward rows*cd, the
                 penalty's two passes cd each, D backward 2*rows*cd; generator cg, cd, cd, 2*cg;
                 cg, cd = sum of w_l * w_l+1 over the widths, rows = 3 with the penalty)
  ideal speedup  L x ideal eff; speedup/ideal is the share of it reached (goal >= 0.85)
  param+opt MB   per rank (largest): network parameters and gradients (param_grad_bytes) plus the
                 optimiser's float64 vectors (optimizer_bytes), from /result/pipeline/ranks (which
                 a run without a pipeline, configuration a, lacks); vs 1 rank: over configuration
                 b's, the same networks and optimiser on one rank (goal <= 0.55 for L = 2)
  workspace MB   per rank (largest): the activation workspaces of all slots (1f1b below gpipe)
  peak RSS MB    the largest resident set of the run's processes (/usr/bin/time %M)
  busy/wall      smallest over ranks of the whole run's seconds inside pipeline ops over seconds
                 inside pipeline runs (/result/pipeline/ranks; includes the runs that sample G for
                 the metrics, one micro-batch each, which have a bubble of (L-1)/L)
  busy last step per stage: time in ops over the evaluations' spans in the last step's timeline
                 (critic and generator evaluations only, stage clocks aligned as saddle-post
                 wgan-timeline's figure does)
"""
import argparse
import csv
import os
import sys
import tomllib

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jobs", "post"))
from saddle_post import wgan_timeline  # noqa: E402

RANKS = {"a": 1, "b": 1, "c": 2, "d": 2, "e": 2, "f": 2}
MB = 1e6


def flops(widths):
    w = [int(x) for x in widths]
    return float(sum(a * b for a, b in zip(w, w[1:])))


def step_efficiency(f, e_critic, e_generator):
    """The critic's and generator's ideal efficiencies combined over one step (module doc)."""
    deck = tomllib.loads(f["config"].attrs["toml"])
    wgan = deck.get("wgan", {})
    cg, cd = flops(f["result/generator_widths"][()]), flops(f["result/critic_widths"][()])
    penalty = float(wgan.get("lambda", 10.0)) > 0
    rows = 3 if penalty else 2
    w_critic = cg + rows * cd + (2 * cd if penalty else 0) + 2 * rows * cd
    w_generator = 3 * cg + 2 * cd
    n = int(wgan.get("n_critic", 5))
    return (n * w_critic + w_generator) / (n * w_critic / e_critic + w_generator / e_generator)


def measure(out, name, warmup):
    """The figures of one run file (None when it is missing)."""
    path = os.path.join(out, f"{name}.h5")
    if not os.path.exists(path):
        return None
    r = dict(name=name, path=path)
    with h5py.File(path, "r") as f:
        step, t = f["metrics/step"][()], f["metrics/time_step"][()]
        n = int(step[-1])
        w = np.nonzero(step == warmup)[0]
        k = int(w[0]) if len(w) and n > warmup else 0
        r["steps"] = n
        r["rate"] = (n - int(step[k])) / (t[-1] - t[k]) if t[-1] > t[k] else float("nan")
        r["rate_all"] = n / float(f["timers/steps"].attrs["max"])
        p = f.get("result/pipeline")
        if p is None:
            r.update(L=1, m=1, schedule="-", eff=1.0, eff_c=1.0, eff_g=1.0)
        else:
            cols = p.attrs["ranks_columns"].split(";")
            ranks = p["ranks"][()]
            col = {c: ranks[:, cols.index(c)] for c in cols}
            r.update(L=int(p.attrs["stages"]), m=int(p.attrs["micro_batches"]), schedule=p.attrs["schedule"],
                     eff_c=float(p.attrs["ideal_efficiency_critic"]), eff_g=float(p.attrs["ideal_efficiency_generator"]))
            r["eff"] = step_efficiency(f, r["eff_c"], r["eff_g"])
            r["param_opt"] = float((col["param_grad_bytes"] + col["optimizer_bytes"]).max())
            r["workspace"] = float(col["workspace_bytes"].max())
            r["rss_file"] = float(col["peak_rss_bytes"].max())
            r["busy_wall"] = float((col["busy_s"] / col["wall_s"]).min())
    if "busy_wall" in r:
        d = wgan_timeline.load(path)
        runs = [x for x in wgan_timeline.classify(d) if x[1] != "sampling"]
        ops = d["ops"]
        wgan_timeline.align_clocks(ops)
        rows = sorted({(int(a), int(s)) for a, s in zip(ops["data"], ops["stage"])})
        frac = wgan_timeline.busy_fractions(ops, runs, rows)
        r["busy_last"] = " ".join(f"s{s}:{c:.2f}/{g:.2f}" for (_, s), (c, g) in frac.items())
    rss = os.path.join(out, f"{name}.maxrss_kib")
    if os.path.exists(rss):
        r["rss"] = float(open(rss).read().split()[-1]) * 1024
    r["ideal"] = r["L"] * r["eff"]
    return r


def fmt(v, spec):
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--configs", default="a b c d e f")
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args()
    best = {}
    for c in a.configs.split():
        found = [m for m in (measure(a.out, f"{c}_{k}", a.warmup) for k in range(1, a.repeats + 1)) if m]
        if not found:
            print(f"no run file of configuration {c} in {a.out}", file=sys.stderr)
            continue
        best[c] = max(found, key=lambda m: m["rate"] if np.isfinite(m["rate"]) else -1)
        with open(os.path.join(a.out, f"{c}.best"), "w") as fh:
            fh.write(best[c]["name"] + "\n")
    base, mb = best.get("a"), best.get("b")
    one = best.get("b", {}).get("param_opt")
    rows = []
    for c, r in best.items():
        r["config"], r["ranks"] = c, RANKS.get(c, 0)
        r["speedup"] = r["rate"] / base["rate"] if base else float("nan")
        r["vs_b"] = r["rate"] / mb["rate"] if mb else float("nan")
        r["of_ideal"] = r["speedup"] / r["ideal"]
        r["vs_one"] = r["param_opt"] / one if one and "param_opt" in r else None
        rows.append(r)
    head = ["config", "ranks", "L", "m", "schedule", "steps/s", "steps/s all", "speedup", "vs b", "ideal eff (C/G)",
            "ideal speedup", "speedup/ideal", "param+opt MB/rank", "vs 1 rank", "workspace MB/rank", "peak RSS MB",
            "busy/wall", "busy last step (C/G)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        cells = [r["config"], str(r["ranks"]), str(r["L"]), str(r["m"]), r["schedule"], fmt(r["rate"], ".3f"),
                 fmt(r["rate_all"], ".3f"), fmt(r["speedup"], ".2f"), fmt(r["vs_b"], ".2f"),
                 f"{r['eff']:.3f} ({r['eff_c']:.3f}/{r['eff_g']:.3f})", fmt(r["ideal"], ".2f"), fmt(r["of_ideal"], ".2f"),
                 fmt(r.get("param_opt", float("nan")) / MB, ".1f"), fmt(r["vs_one"], ".3f"),
                 fmt(r.get("workspace", float("nan")) / MB, ".1f"), fmt(r.get("rss", float("nan")) / MB, ".0f"),
                 fmt(r.get("busy_wall"), ".3f"), r.get("busy_last", "-")]
        print("| " + " | ".join(cells) + " |")
    fields = ["config", "name", "ranks", "L", "m", "schedule", "steps", "rate", "rate_all", "speedup", "vs_b", "eff", "eff_c",
              "eff_g", "ideal", "of_ideal", "param_opt", "vs_one", "workspace", "rss", "rss_file", "busy_wall", "busy_last"]
    with open(os.path.join(a.out, "wgan_pipeline.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})
    print(f"\n{os.path.join(a.out, 'wgan_pipeline.csv')}")
    c, d = best.get("c"), best.get("d")
    if c:
        print(f"c (2 stages, m = 8, 1f1b): speedup {fmt(c['speedup'], '.2f')} of ideal {c['ideal']:.2f} = "
              f"{fmt(c['of_ideal'], '.2f')} (goal >= 0.85); over b (1 rank, m = 8) {fmt(c['vs_b'], '.2f')} = "
              f"{fmt(c['vs_b'] / c['ideal'], '.2f')} of ideal; param+opt per rank {fmt(c['vs_one'], '.3f')} of one "
              f"rank's (goal <= 0.55)")
    if c and d:
        print(f"workspace per rank: 1f1b {c['workspace'] / MB:.1f} MB, gpipe {d['workspace'] / MB:.1f} MB "
              f"(1f1b/gpipe {c['workspace'] / d['workspace']:.2f}; 1f1b should be lower)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
