"""`saddle-post qoda RUN.h5 [RUN.h5 ...] [--out DIR]`: figures of qoda run files (`saddle run
inputs/qoda_*.toml`, docs/algorithms.md section 2); several runs of one problem (a method and its
baselines) are drawn together.

Writes into DIR (default: <name of the first run>_plots/ beside it), printing each path:
  convergence.png  |x - x*| (or |F(x)| without a known solution) against iteration, one line per run;
  communication.png  the same against the bytes every worker sent so far (log-log);
  levels.png       the quantiser's level sets per layer (first run with quantised exchange);
  metrics.png      every /metrics series of the first run against step.
A missing, damaged or non-qoda file is a RunFileError (one line on stderr, exit code 2).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from . import runfile
from .plot import metrics_figure, positive, save


def load(path):
    """(label, step, metrics, levels) of a finished qoda run file; RunFileError otherwise."""
    with runfile.reading_workload(path, "qoda", "result/x_last") as f:
        step, metrics = runfile.metrics(f)
        q = runfile.table(f, runfile.deck(f), "qoda")
        qz = runfile.table(f, q, "exchange")
        levels = {k: runfile.dataset(f, f"result/levels/{k}", (None,)) for k in runfile.members(f, "result/levels", {})}
    if not metrics.keys() & {"distance", "residual_last"}:
        raise runfile.RunFileError(path, "qoda run file without /metrics/distance or /metrics/residual_last")
    alg = q.get("algorithm", "qoda")
    label = alg
    if alg in ("qoda", "qgenx"):
        label += f" {qz.get('quantizer', 'layerwise')} {qz.get('levels')} {qz.get('coder')} {qz.get('num_levels')} lv"
    if "bits_per_coord" in metrics and len(step) > 1:
        label += f" ({np.mean(metrics['bits_per_coord'][1:]):.2f} bits/coord)"
    return label, step, metrics, levels


def headline(metrics):
    return ("distance", "|x - x*|") if "distance" in metrics else ("residual_last", "|F(x)|")


def convergence(runs, against_bytes):
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    xs, ys = [], []
    for label, step, metrics, _ in runs:
        key, name = headline(metrics)
        x = metrics["bytes_total"] if against_bytes else step
        keep = x > 0 if against_bytes else np.ones(len(x), bool)
        ax.plot(x[keep], metrics[key][keep], label=label)
        ax.set_ylabel(name)
        xs.append(x[keep])
        ys.append(metrics[key][keep])
    if positive(np.concatenate(ys)):
        ax.set_yscale("log")
    if against_bytes and positive(np.concatenate(xs)):
        ax.set_xscale("log")
    ax.set_xlabel("bytes sent by all workers" if against_bytes else "iteration")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def levels_figure(levels, title):
    fig, ax = plt.subplots(figsize=(7.5, 1.0 + 0.35 * len(levels)))
    names = sorted(levels, key=lambda k: (len(k), k))
    for row, name in enumerate(names):
        ax.plot(levels[name], np.full(len(levels[name]), row), "|", markersize=14)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("level (fraction of the layer norm)")
    ax.set_title(title, fontsize=10)
    return fig


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN.h5", help="qoda run files (the first names the output folder)")
    p.add_argument("--out", metavar="DIR", help="folder for the PNGs (default: <first name>_plots/ beside it)")


def run(a):
    runs = [load(path) for path in a.runs]
    figures = [("convergence.png", lambda: convergence(runs, False))]
    if all("bytes_total" in r[2] for r in runs):
        figures.append(("communication.png", lambda: convergence(runs, True)))
    quantised = [r for r in runs if r[3]]
    if quantised:
        figures.append(("levels.png", lambda: levels_figure(quantised[0][3], quantised[0][0])))
    label, step, metrics, _ = runs[0]
    if len(step) and metrics:
        figures.append(("metrics.png", lambda: metrics_figure(step, metrics, label)))
    out = a.out or os.path.splitext(a.runs[0])[0] + "_plots"
    os.makedirs(out, exist_ok=True)
    for name, draw in figures:
        save(draw(), os.path.join(out, name))
    return 0
