"""`saddle-post plot RUN.h5 [--metrics a,b] [--out DIR] [--logy]`: metric series against step.

Writes DIR/<run>_metrics.png (DIR defaults to the run file's folder), one panel per metric
against /metrics/step, and prints its path. Also the figure helpers the other commands share.
"""
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, NullLocator

from . import runfile


def positive(values):
    """Whether some of values are positive and finite: what a log axis needs (matplotlib cannot
    draw log-log axes without such data)."""
    v = np.asarray(values, float)
    return bool((np.isfinite(v) & (v > 0)).any())


def log_if_wide(ax, values):
    """A log y axis when the positive finite values span more than 2 decades."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size or v.max() <= 100 * v.min():
        return
    # Explicit limits and decade ticks: matplotlib's own overflow for values near 1e300.
    lo, hi = np.floor(np.log10(v.min())), np.ceil(np.log10(v.max()))
    ax.set_yscale("log")
    ax.set_ylim(10 ** lo, 10 ** min(hi, 307))
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if (hi - lo) / s <= 8)
    ax.yaxis.set_major_locator(FixedLocator(10.0 ** np.arange(np.ceil(lo / step) * step, min(hi, 307) + 1, step)))
    if step > 1:
        ax.yaxis.set_minor_locator(NullLocator())


def metrics_figure(step, series, title, yscale="auto"):
    """One panel per series against step; yscale "auto" (log_if_wide), "linear" or "log"
    (linear for a series without positive values)."""
    names = list(series)
    fig, axes = plt.subplots(len(names), 1, figsize=(7.5, 1.2 + 2.2 * len(names)), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        ax.plot(step, series[name], ".-")
        if yscale == "auto":
            log_if_wide(ax, series[name])
        elif yscale == "log" and positive(series[name]):
            ax.set_yscale("log")
        ax.set_ylabel(name, fontsize=9)
    axes[-1, 0].set_xlabel("driver step")
    fig.suptitle(f"{title}: metrics")
    fig.tight_layout()
    return fig


def save(fig, path):
    """Write fig as a PNG, close it and print the path."""
    with np.errstate(over="ignore"):  # log axes of values near 1e300
        fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(path)


def add_arguments(p):
    p.add_argument("run", metavar="RUN.h5", help="a run file")
    p.add_argument("--metrics", metavar="A,B", help="comma-separated metric names (default: all)")
    p.add_argument("--out", metavar="DIR", help="folder for the PNG (default: the run file's folder)")
    p.add_argument("--logy", action="store_true", help="logarithmic y axes")


def run(a):
    with runfile.reading(a.run) as f:
        step, series = runfile.metrics(f)
        workload, name = runfile.text_attr(f, "workload"), runfile.table(f, runfile.deck(f), "run").get("name")
    if a.metrics:
        wanted = [m.strip() for m in a.metrics.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in series]
        if unknown:
            raise runfile.RunFileError(a.run, f"no metric {', '.join(unknown)} (has: {', '.join(series) or 'none'})")
        series = {m: series[m] for m in wanted}
    if not series or not len(step):
        raise runfile.RunFileError(a.run, "no metric rows to plot")
    out = a.out or os.path.dirname(a.run) or "."
    os.makedirs(out, exist_ok=True)
    stem = os.path.splitext(os.path.basename(a.run))[0]
    fig = metrics_figure(step, series, f"{name or stem} ({workload})", "log" if a.logy else "linear")
    save(fig, os.path.join(out, f"{stem}_metrics.png"))
    return 0
