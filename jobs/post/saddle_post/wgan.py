"""`saddle-post wgan RUN.h5 [--out DIR]`: figures of a wgan run file (`saddle run
inputs/wgan_*.toml`, docs/algorithms.md section 3).

Writes into DIR (default: <name of the run>_plots/ beside it), printing each path:
  samples.png  the fixed-seed generated samples (/result/samples): a grid of 8 x 8 images for
               64-dimensional data (digits, pixels mapped back from [-1, 1] to 0-16), a scatter
               with the ring's centres for 2-D data;
  curves.png   the critic's Wasserstein estimate, the gradient penalty and the sliced Wasserstein
               distance to held-out data against generator iterations;
  metrics.png  every /metrics series against step.
A missing, damaged or non-wgan file is a RunFileError (one line on stderr, exit code 2).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from . import runfile
from .plot import metrics_figure, positive, save


CURVES = ("wasserstein", "gradient_penalty", "swd")


def load(path):
    """(samples, ring, step, metrics): ring is (radius, modes), None when the data are no ring."""
    with runfile.reading_workload(path, "wgan", "result/samples") as f:
        r = runfile.group(f, "result")
        samples = runfile.dataset(r, "samples", (None, None), nonempty=True)
        ring = runfile.number_attr(r, "ring_radius", None), runfile.number_attr(r, "ring_modes", None, integer=True)
        step, metrics = runfile.metrics(f)
    return samples, None if None in ring else ring, step, metrics


def samples_figure(samples, ring):
    if samples.ndim == 2 and samples.shape[1] == 2:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(samples[:, 0], samples[:, 1], s=4, alpha=0.6, label="generated")
        if ring is not None:
            radius, modes = ring
            a = 2 * np.pi * np.arange(modes) / modes
            ax.scatter(radius * np.cos(a), radius * np.sin(a), marker="x", c="r", label="centres")
        ax.set_aspect("equal")
        ax.legend(fontsize=8)
        return fig
    side = int(round(np.sqrt(samples.shape[1])))
    if side * side != samples.shape[1]:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.imshow(samples, aspect="auto", cmap="gray_r")
        ax.set_xlabel("feature")
        ax.set_ylabel("sample")
        return fig
    n = min(len(samples), 100)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.8))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(np.clip((samples[i].reshape(side, side) + 1) * 8, 0, 16), cmap="gray_r", vmin=0, vmax=16)
    return fig


def curves_figure(step, metrics):
    keys = [k for k in CURVES if k in metrics]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2))
    for ax, k in zip(np.atleast_1d(axes), keys):
        ax.plot(step, metrics[k])
        ax.set_title(k)
        ax.set_xlabel("generator iteration")
        ax.grid(alpha=0.3)
    if "swd" in keys and positive(metrics["swd"]):
        np.atleast_1d(axes)[keys.index("swd")].set_yscale("log")
    fig.tight_layout()
    return fig


def add_arguments(p):
    p.add_argument("run", metavar="RUN.h5", help="wgan run file")
    p.add_argument("--out", metavar="DIR", help="folder for the PNGs (default: <name>_plots/ beside it)")


def run(a):
    samples, ring, step, metrics = load(a.run)
    out = a.out or os.path.splitext(a.run)[0] + "_plots"
    os.makedirs(out, exist_ok=True)
    save(samples_figure(samples, ring), os.path.join(out, "samples.png"))
    if len(step) and metrics:
        if metrics.keys() & set(CURVES):
            save(curves_figure(step, metrics), os.path.join(out, "curves.png"))
        save(metrics_figure(step, metrics, "wgan"), os.path.join(out, "metrics.png"))
    return 0
