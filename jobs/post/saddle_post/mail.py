"""`saddle-post mail RUN.h5 [--out DIR]`: the Nash-gap curves of a mail run file
(`saddle run inputs/mail_*.toml`, docs/algorithms.md section 5).

Writes into DIR (default: <name>_plots/ beside RUN.h5), printing the path of each file:
  nash_gap.png   Nash gap against expert queries (log-log), mean and a band of one standard
                 deviation across seeds, one line per algorithm; one panel per game (the
                 concentrability deck has one per p, titled with p and C); gaps below
                 1e-12 (exact zeros included) are drawn at 1e-12.
A missing, damaged or non-mail file is a RunFileError (one line on stderr, exit code 2).
"""
import os

import h5py
import matplotlib.pyplot as plt
import numpy as np

from . import runfile
from .plot import positive, save

FLOOR = 1e-12
NAMES = {"bc": "BC", "mail_bro": "MAIL-BRO", "murmail": "MURMAIL", "murmail_exact_planning": "MURMAIL (exact planning)"}


def load(path):
    """{algo: (queries, mean[games, J], std[games, J])}, p or None, C[games, 2]."""
    with runfile.reading_workload(path, "mail", "result/expert") as f:
        r = runfile.group(f, "result")
        conc = np.atleast_2d(runfile.dataset(r, "concentrability", (2,), (None, 2), nonempty=True))
        games = len(conc)
        p = runfile.dataset(r, "p", (games,), default=None)
        curves = {}
        for name, g in runfile.members(r).items():
            if isinstance(g, h5py.Group) and "nash_gap_mean" in g:
                q = runfile.dataset(g, "queries", (None,))
                # One game's curves may be stored 1-D.
                shapes = [(games, len(q))] + [(len(q),)] * (games == 1)
                mean, std = (np.atleast_2d(runfile.dataset(g, k, *shapes)) for k in ("nash_gap_mean", "nash_gap_std"))
                if np.isfinite(mean).any():
                    curves[name] = (q, mean, std)
    return curves, p, conc


def add_arguments(p):
    p.add_argument("run_file", help="a mail run file")
    p.add_argument("--out", help="output directory (default: <name>_plots beside the run file)")


def run(args):
    curves, p, conc = load(args.run_file)
    if not curves:
        raise runfile.RunFileError(args.run_file, "holds no learner curves (mail.seeds = 0 or no algorithms)")
    out = args.out or os.path.splitext(args.run_file)[0] + "_plots"
    os.makedirs(out, exist_ok=True)
    games = conc.shape[0]
    fig, axes = plt.subplots(1, games, figsize=(4.5 * games, 3.6), squeeze=False, sharey=True)
    for k in range(games):
        ax = axes[0, k]
        for name, (q, mean, std) in curves.items():
            # Exact zeros (a learner that recovered an equilibrium) are drawn at FLOOR on the log axis.
            m, s = mean[k], std[k]
            line, = ax.plot(q, np.maximum(m, FLOOR), marker="o", ms=3, label=NAMES.get(name, name))
            ax.fill_between(q, np.maximum(m - s, FLOOR), np.maximum(m + s, FLOOR), color=line.get_color(), alpha=0.2)
        if positive(np.concatenate([q for q, _, _ in curves.values()])):
            ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("expert queries")
        c = conc[k, 0]
        title = f"C = {c:.3g}" if np.isfinite(c) else "C = inf" if not np.isnan(c) else ""
        if p is not None:
            title = f"p = {p[k]:g}, " + title
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].set_ylabel("Nash gap (mean ± std)")
    axes[0, -1].legend(fontsize=8)
    save(fig, os.path.join(out, "nash_gap.png"))
    return 0
