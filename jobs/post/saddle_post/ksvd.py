"""`saddle-post ksvd RUN.h5 [--out DIR]`: figures of a ksvd run file (`saddle run
inputs/ksvd_*.toml`, docs/algorithms.md section 1).

Writes into DIR (default: <name>_plots/ beside RUN.h5), printing the path of each file:
  singular_values.png  the s singular values (log scale when they span decades) and the
                       matrix-free residuals |G v_l - sigma_l u_l| and |G' u_l - sigma_l v_l|;
  scores.png           the projection scores e = G V (rows) and r = G'U (columns) on the two
                       leading components, coloured by cluster or block label when the data were
                       generated, with the out-of-sample rows (scores_test) over the row scores;
  performance.png      seconds and GFLOP/s of each phase (slowest rank).
A missing, damaged or non-ksvd file is a RunFileError (one line on stderr, exit code 2).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from . import runfile
from .plot import log_if_wide, save

REQUIRED = ("singular_values", "U", "V", "scores_rows", "scores_cols", "residuals")


def load(path):
    """({name: array}, {attr: value}, {phase: (seconds, gflops)}) of a ksvd run file: the arrays
    the figures draw, each checked against the singular values and the score rows."""
    with runfile.reading_workload(path, "ksvd", *(f"result/{k}" for k in REQUIRED)) as f:
        r = runfile.group(f, "result")
        s = runfile.dataset(r, "singular_values", (None,), nonempty=True)
        d = dict(singular_values=s, residuals=runfile.dataset(r, "residuals", s.shape))
        for side in ("rows", "cols"):
            scores = d[f"scores_{side}"] = runfile.dataset(r, f"scores_{side}", (None, None), nonempty=True)
            d[f"labels_{side}"] = runfile.dataset(r, f"labels_{side}", scores.shape[:1], kind="integer", default=None)
        d["residuals_cols"] = runfile.dataset(r, "residuals_cols", s.shape, default=None)
        d["scores_test"] = runfile.dataset(r, "scores_test", (None, d["scores_rows"].shape[1]), default=None)
        attrs = {k: runfile.text_attr(r, k, "?") for k in ("method", "kernel")}
        perf = {}
        a = runfile.group(r, "performance", None)
        for k in a.attrs if a is not None else ():
            if k.endswith("_seconds") and k != "total_seconds":
                name = k[: -len("_seconds")]
                perf[name] = (runfile.number_attr(a, k), runfile.number_attr(a, name + "_gflops", 0.0))
    return d, attrs, perf


def singular_values(d, title):
    s = d["singular_values"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    l = np.arange(1, len(s) + 1)
    axes[0].plot(l, s, "o-")
    log_if_wide(axes[0], s)
    axes[0].set(xlabel="l", ylabel="sigma_l", title=f"{title}: singular values")
    for key, label in (("residuals", "|G v_l - sigma_l u_l|"), ("residuals_cols", "|G' u_l - sigma_l v_l|")):
        if d[key] is not None:
            axes[1].semilogy(l, np.maximum(d[key], 1e-300), "o-", label=label)
    axes[1].set(xlabel="l", ylabel="residual (matrix-free)", title="residuals")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def scatter(ax, scores, labels, title, marker="."):
    if scores.shape[1] < 2:
        ax.plot(scores[:, 0], np.zeros(len(scores)), marker, ms=3)
    elif labels is not None:
        for k in np.unique(labels):
            sel = labels == k
            ax.scatter(scores[sel, 0], scores[sel, 1], s=6, marker="o", label=f"{int(k)}", alpha=0.7)
        ax.legend(title="label", fontsize=7, markerscale=2)
    else:
        ax.scatter(scores[:, 0], scores[:, 1], s=6, alpha=0.7)
    ax.set(xlabel="component 1", ylabel="component 2", title=title)


def scores(d, title):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    scatter(axes[0], d["scores_rows"], d.get("labels_rows"), f"{title}: row scores e = G V")
    if d["scores_test"] is not None and len(d["scores_test"]) and d["scores_test"].shape[1] >= 2:
        t = d["scores_test"]
        axes[0].scatter(t[:, 0], t[:, 1], s=14, marker="x", color="k", label="out of sample")
        axes[0].legend(fontsize=7, markerscale=1.5)
    scatter(axes[1], d["scores_cols"], d.get("labels_cols"), "column scores r = G'U")
    fig.tight_layout()
    return fig


def performance(perf, title):
    names = sorted(perf)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].bar(names, [perf[n][0] for n in names])
    axes[0].set(ylabel="seconds (slowest rank)", title=f"{title}: phases")
    axes[1].bar(names, [perf[n][1] for n in names], color="tab:orange")
    axes[1].set(ylabel="GFLOP/s (all ranks)", title="rate")
    for ax in axes:
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def add_arguments(p):
    p.add_argument("run", metavar="RUN.h5", help="run file written by saddle run inputs/ksvd_*.toml")
    p.add_argument("--out", metavar="DIR", help="folder for the PNGs (default: <name>_plots/ beside the run file)")


def run(a):
    d, attrs, perf = load(a.run)
    title = f"{os.path.basename(os.path.splitext(a.run)[0])} ({attrs['method']}, {attrs['kernel']})"
    out = a.out or os.path.splitext(a.run)[0] + "_plots"
    os.makedirs(out, exist_ok=True)
    save(singular_values(d, title), os.path.join(out, "singular_values.png"))
    save(scores(d, title), os.path.join(out, "scores.png"))
    if perf:
        save(performance(perf, title), os.path.join(out, "performance.png"))
    return 0
