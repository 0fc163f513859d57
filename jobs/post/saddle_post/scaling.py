"""`saddle-post scaling-report DIR`: the analysis of a scaling study (jobs/scaling/scaling.py).

Reads every run file DIR/runs/*.h5 (run names <mode>_n<ranks>_r<repeat>) and writes
  DIR/scaling.csv          one row per run: name, mode, ranks, repeat, workload, completed,
                           steps, the weak keys' values (weak studies), t_<region> = max seconds
                           over ranks of every timer region, wall = t_steps (else the sum of the
                           regions), and provenance (saddle_version, git_revision, hostname,
                           kokkos_backend, created_utc);
  DIR/scaling_summary.csv  per mode and rank count N: completed runs, T(N) = best (min) wall
                           over the repeats, speedup and efficiency;
  DIR/scaling.png          speedup and efficiency against N, with the ideal lines;
and prints the summary. N0 is a mode's smallest rank count. Strong: speedup = T(N0)/T(N).
Weak (the problem grows with N): scaled speedup = (N/N0) T(N0)/T(N). Both: efficiency =
speedup / (N/N0), so weak efficiency is T(N0)/T(N); ideal speedup N/N0, ideal efficiency 1.
Runs that did not complete are listed in the CSV and left out of the summary; run files that
cannot be read are skipped with a warning (an error when none can be read).
"""
import csv
import glob
import json
import math
import os
import re
import sys

import matplotlib.pyplot as plt
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

from . import runfile
from .plot import save

NAME = re.compile(r"(strong|weak)_n(\d+)_r(\d+)")
PROVENANCE = ("saddle_version", "git_revision", "hostname", "kokkos_backend", "created_utc")
SUMMARY = ("mode", "ranks", "runs", "best_wall", "speedup", "efficiency")


def lookup(deck, key):
    """The value of a dotted key (selftest.n) in a parsed deck; KeyError when absent."""
    for part in key.split("."):
        if not isinstance(deck, dict):
            raise KeyError(key)
        deck = deck[part]
    return deck


def study_keys(folder):
    """The weak keys recorded in DIR/study.json by the driver (none for strong studies)."""
    try:
        with open(os.path.join(folder, "study.json")) as f:
            return json.load(f).get("weak_keys", [])
    except FileNotFoundError:
        return []


def collect(folder, keys=()):
    """(rows, skipped): one dict per readable run file under folder/runs, and why each other was not."""
    rows, skipped = [], []
    for path in sorted(glob.glob(os.path.join(folder, "runs", "*.h5"))):
        try:
            rows.append(row(path, keys))
        except runfile.RunFileError as e:
            skipped.append(str(e))
    return rows, skipped


def row(path, keys):
    """The CSV row of one run file (see the module doc)."""
    with runfile.reading(path) as f:
        attrs, deck, timers = runfile.attrs(f), runfile.deck(f), runfile.timers(f)
        step, _ = runfile.metrics(f)
        ranks = runfile.number_attr(f, "ranks", integer=True)
        completed = runfile.number_attr(f, "completed", 0, integer=True)
        steps = runfile.number_attr(f, "steps", int(step[-1]) if len(step) else 0, integer=True)
    if ranks < 1:
        raise runfile.RunFileError(path, f"root attribute ranks is {ranks}, not a rank count")
    name = os.path.splitext(os.path.basename(path))[0]
    m = NAME.fullmatch(name)
    out = dict(name=name, mode=m[1] if m else "", ranks=ranks, repeat=int(m[3]) if m else "",
               workload=attrs["workload"], completed=completed, steps=steps)
    for k in keys:
        try:
            out[k] = lookup(deck, k)
        except KeyError:
            raise runfile.RunFileError(path, f"the deck has no {k} (a weak key of the study)") from None
    out.update({f"t_{k}": t.max for k, t in timers.items()})
    out["wall"] = out.get("t_steps", sum(t.max for t in timers.values())) if timers else ""
    out.update({k: attrs.get(k, "") for k in PROVENANCE})
    return out


def summarise(rows):
    """Per (mode, ranks): completed runs, best wall, speedup, efficiency (see the module doc)."""
    best = {}
    for r in rows:
        if r["mode"] and r["completed"] == 1 and r["wall"] != "":
            runs, wall = best.get((r["mode"], r["ranks"]), (0, float("inf")))
            best[r["mode"], r["ranks"]] = runs + 1, min(wall, r["wall"])
    table = []
    for mode, n in sorted(best):
        n0 = min(k for m, k in best if m == mode)
        t0, (runs, t) = best[mode, n0][1], best[mode, n]
        speedup = (t0 / t if t > 0 else float("nan")) * (n / n0 if mode == "weak" else 1)
        table.append(dict(mode=mode, ranks=n, runs=runs, best_wall=t, speedup=speedup, efficiency=speedup / (n / n0)))
    return table


def write_csv(path, rows, fields):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fields, restval="", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(path)


def figure(table, title):
    fig, (sp, ef) = plt.subplots(1, 2, figsize=(11, 4.5))
    ranks = sorted({r["ranks"] for r in table})
    for mode in sorted({r["mode"] for r in table}):
        t = [r for r in table if r["mode"] == mode]
        n, n0 = [r["ranks"] for r in t], t[0]["ranks"]
        line, = sp.plot(n, [r["speedup"] for r in t], "o-", label=f"{mode}{' (scaled)' * (mode == 'weak')}")
        sp.plot(n, [k / n0 for k in n], "--", color=line.get_color(), alpha=0.6, label=f"ideal, N/{n0}")
        ef.plot(n, [r["efficiency"] for r in t], "o-", color=line.get_color(), label=mode)
    ef.axhline(1.0, ls="--", color="0.5", label="ideal")
    for ax in (sp, ef):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(ranks))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("ranks N")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    sp.set(ylabel="speedup", title=f"{title}: speedup")
    top = max([1.2] + [1.05 * r["efficiency"] for r in table if math.isfinite(r["efficiency"])])
    ef.set(ylabel="efficiency", ylim=(0, top),
           title=f"{title}: efficiency")
    fig.tight_layout()
    return fig


def analyse(folder):
    """Write the CSVs and the plot of the study in folder and print the summary."""
    keys = study_keys(folder)
    rows, skipped = collect(folder, keys)
    if not rows:
        why = f" ({len(skipped)} skipped, first {skipped[0]})" if skipped else ""
        raise runfile.RunFileError(folder, f"no readable run files in {os.path.join(folder, 'runs')}{why}")
    for reason in skipped:
        print(f"scaling: skipping {reason}", file=sys.stderr)
    regions = sorted({k for r in rows for k in r if k.startswith("t_")})
    fields = ["name", "mode", "ranks", "repeat", "workload", "completed", "steps", *keys, *regions, "wall",
              *PROVENANCE]
    write_csv(os.path.join(folder, "scaling.csv"), rows, fields)
    table = summarise(rows)
    if not table:
        raise runfile.RunFileError(folder, "no completed study runs (<mode>_n<ranks>_r<repeat>.h5) to summarise")
    write_csv(os.path.join(folder, "scaling_summary.csv"), table, SUMMARY)
    workloads = sorted({r["workload"] for r in rows})
    save(figure(table, ", ".join(workloads)), os.path.join(folder, "scaling.png"))
    print(f"{'mode':8s} {'ranks':>6s} {'runs':>5s} {'T(N) [s]':>12s} {'speedup':>9s} {'efficiency':>11s}")
    for r in table:
        print(f"{r['mode']:8s} {r['ranks']:6d} {r['runs']:5d} {r['best_wall']:12.4g} {r['speedup']:9.3f}"
              f" {r['efficiency']:11.3f}")
    return 0


def add_arguments(p):
    p.add_argument("study", metavar="DIR", help="the --out folder of jobs/scaling/scaling.py")


def run(a):
    return analyse(a.study)
