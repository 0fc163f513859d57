"""`saddle-post hb RUN.h5 [--out DIR]`: plots of an hb run file (`saddle run inputs/hb_*.toml`,
docs/algorithms.md section 4). jobs/post/hb_plots.py is the same command under its old name.

Writes into DIR (default: <name>_plots/ beside RUN.h5), printing the path of each file:
  stability_<scheme>.png  fraction of the starts that converged over (beta, h), with the exact
                          boundary (two-step spectral radius = 1) and, for Sim-HB, the
                          modified-equation step bound and the exact step bound;
  avg_grad_sq.png         AvgS against beta for up to 6 steps h, Sim-HB solid, Alt-HB dashed;
  trajectories.png        the traced runs beside their modified equation: for 2-D games a
                          phase portrait of each, and for every game |z| against step;
  metrics.png             every /metrics series against /metrics/step.
A missing, damaged or non-hb file is a RunFileError (one line on stderr, exit code 2).
"""
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from . import runfile
from .plot import log_if_wide, metrics_figure, save

SCHEMES = {"sim": "Sim-HB", "alt": "Alt-HB"}


def load(path):
    """(sweep, traces, (step, metrics), deck) of an hb run file, every array checked against the
    grid: sweep holds h, beta, starts, game, steps and, per scheme run, its arrays (None where an
    optional one is absent); traces {scheme: [{z, ode_z, step, beta, h} per traced run]}."""
    with runfile.reading_workload(path, "hb", "result/sweep") as f:
        s = runfile.group(f, "result/sweep")
        h, beta = (runfile.dataset(s, k, (None,), nonempty=True, finite=True) for k in ("h", "beta"))
        sweep = dict(h=h, beta=beta, starts=runfile.dataset(s, "starts", (None, None), nonempty=True),
                     game=runfile.text_attr(s, "game"), steps=runfile.number_attr(s, "steps", integer=True))
        for scheme in SCHEMES:
            g = runfile.group(s, scheme, None)
            if g is not None:
                sweep[scheme] = scheme_arrays(g, len(h), len(beta))
        if not SCHEMES.keys() & sweep.keys():
            raise runfile.RunFileError(path, "incomplete hb run file: /result/sweep has neither sim nor alt")
        traced, dims = runfile.group(f, "result/trajectories", None), sweep["starts"].shape[1]
        traces = {s: traced_runs(traced, s, dims) for s in SCHEMES if traced is not None and s in traced}
        return sweep, {s: r for s, r in traces.items() if r}, runfile.metrics(f), runfile.deck(f, {})


def scheme_arrays(g, nh, nb):
    """One scheme's arrays over the (h, beta) grid; the optional ones None when absent."""
    out = dict(converged=runfile.dataset(g, "converged", (nh, nb), kind="integer"),
               avg_grad_sq=runfile.dataset(g, "avg_grad_sq", (nh, nb)),
               spectral_radius=runfile.dataset(g, "spectral_radius", (nh, nb), default=None))
    out.update({k: runfile.dataset(g, k, (nb,), default=None) for k in ("step_bound", "exact_step_bound")})
    return out


def traced_runs(traced, scheme, dims):
    """The traced runs of one scheme (groups named 0, 1, ...), in order."""
    g = runfile.group(traced, scheme)
    names = list(runfile.members(g))
    if not all(k.isdigit() for k in names):
        raise runfile.invalid(traced, scheme, f"holds {', '.join(names)}, not numbered runs")
    return [traced_run(runfile.group(g, k), dims) for k in sorted(names, key=int)]


def traced_run(g, dims):
    """One traced run: its iterates z and modified-equation states ode_z (dims columns) at steps."""
    z = runfile.dataset(g, "z", (None, dims), nonempty=True)
    return dict(z=z, ode_z=runfile.dataset(g, "ode_z", z.shape),
                step=runfile.dataset(g, "step", z.shape[:1], kind="integer"),
                beta=runfile.number_attr(g, "beta"), h=runfile.number_attr(g, "h"))


def h_is_log(h, deck):
    """Whether the h grid is log-spaced: the deck's hb.h.scale, else the values themselves; never
    with a step h <= 0."""
    if np.any(h <= 0):
        return False
    try:
        return deck["hb"]["h"]["scale"] == "log"
    except (TypeError, KeyError):
        pass
    if len(h) < 3:
        return False
    return np.allclose(np.diff(np.log(h)), np.log(h[1] / h[0])) and not np.allclose(np.diff(h), h[1] - h[0])


def edges(v, log):
    """Cell edges around the grid values v (geometric midpoints on a log grid)."""
    t = np.log(v) if log else np.asarray(v, float)
    if len(t) == 1:
        w = 0.1 if log else 0.05 * (abs(t[0]) or 1.0)
        e = np.array([t[0] - w, t[0] + w])
    else:
        mid = (t[1:] + t[:-1]) / 2
        e = np.concatenate([[2 * t[0] - mid[0]], mid, [2 * t[-1] - mid[-1]]])
    return np.exp(e) if log else e


def stability(sweep, scheme, ylog, title):
    g, h, beta, ns = sweep[scheme], sweep["h"], sweep["beta"], len(sweep["starts"])
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    he = edges(h, ylog)
    im = ax.pcolormesh(edges(beta, False), he, g["converged"] / ns, vmin=0, vmax=1, cmap="viridis")
    fig.colorbar(im, ax=ax, label=f"converged fraction (of {ns} start{'s' * (ns != 1)})")
    handles = []
    rho = g["spectral_radius"]
    if rho is not None and min(rho.shape) > 1 and np.isfinite(rho).any():
        label = "spectral radius = 1 (exact boundary)"
        if np.nanmin(rho) < 1 < np.nanmax(rho):
            # On a log grid interpolate in log h: contour on a twin axis that is linear in log10 h.
            cax = ax.twinx() if ylog else ax
            if ylog:
                cax.set(ylim=np.log10([he[0], he[-1]]), yticks=[])
            cax.contour(beta, np.log10(h) if ylog else h, np.ma.masked_invalid(rho), levels=[1.0], colors="red",
                        linewidths=2)
        else:
            label += f": none, radius {'>' if np.nanmin(rho) >= 1 else '<'} 1 throughout"
        handles.append(Line2D([], [], color="red", lw=2, label=label))
    for key, label, style in (("step_bound", "modified-equation bound", dict(color="orange", ls=":", lw=2.5)),
                              ("exact_step_bound", "exact bound", dict(color="white", ls="--", lw=1.5))):
        if g[key] is not None:
            b = np.where((g[key] >= he[0]) & (g[key] <= he[-1]), g[key], np.nan)
            if np.isnan(b).all():
                lo, hi = np.nanmin(g[key]), np.nanmax(g[key])
                label += f" (= {lo:.3g} for every beta" if lo == hi else f" ({lo:.3g} to {hi:.3g}"
                label += ", off the plot)"
            handles += ax.plot(beta, b, label=label, **style)
    ax.set_yscale("log" if ylog else "linear")
    ax.set_ylim(he[0], he[-1])
    ax.set(xlabel="momentum beta", ylabel="step h", title=f"{title}: {SCHEMES[scheme]} stability")
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, facecolor="lightgrey")
    return fig


def avg_grad_sq(sweep, title):
    h, beta = sweep["h"], sweep["beta"]
    styles = [(s, ls) for s, ls in (("sim", "-"), ("alt", "--")) if s in sweep]
    rows = np.unique(np.linspace(0, len(h) - 1, min(6, len(h))).round().astype(int))
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    shown, handles = [], []
    for i, color in zip(rows, plt.cm.viridis(np.linspace(0, 0.9, len(rows)))):
        lines = [np.where(np.isfinite(a), a, np.nan) for a in (sweep[s]["avg_grad_sq"][i] for s, _ in styles)]
        for a, (_, ls) in zip(lines, styles):
            ax.plot(beta, a, ls=ls, color=color, marker=".", ms=4)
        shown += lines
        gone = " (all diverged)" if np.isnan(lines).all() else ""
        handles.append(Line2D([], [], color=color, label=f"h = {h[i]:.3g}{gone}"))
    handles += [Line2D([], [], color="k", ls=ls, label=SCHEMES[s]) for s, ls in styles]
    log_if_wide(ax, np.concatenate(shown))
    ax.set(xlabel="momentum beta", ylabel="AvgS = mean |grad f|^2 (inf left out)",
           title=f"{title}: AvgS, mean over starts")
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def norm(z):
    """Row norms of z, safe from overflow for entries near 1e300."""
    m = np.abs(z).max(axis=1, keepdims=True)
    return m[:, 0] * np.linalg.norm(z / np.where(m > 0, m, 1), axis=1)


def joined(z):
    """Whether the samples follow the curve closely enough to join them: the direction of
    travel turns by less than 60 degrees between samples (median)."""
    d = np.diff(z, axis=0)
    n = norm(d)
    u = d[n > 0] / n[n > 0, None]
    return len(u) < 2 or np.median(np.sum(u[1:] * u[:-1], axis=1)) > 0.5


def finite(trace, key):
    """The finite rows of trace[key] (z or ode_z) and their steps."""
    ok = np.isfinite(trace[key]).all(axis=1)
    return trace[key][ok], trace["step"][ok]


def trajectories(runs, title):
    schemes = list(runs)  # SCHEMES order, each with at least one run
    planar = runs[schemes[0]][0]["z"].shape[1] == 2
    cols = 1 + (max(len(r) for r in runs.values()) if planar else 0)
    fig, axes = plt.subplots(len(schemes), cols, figsize=(4.3 * cols + 1, 4.2 * len(schemes)), squeeze=False)
    for row, s in zip(axes, schemes):
        shown = []
        for k, r in enumerate(runs[s]):
            ax, color = row[k] if planar else None, plt.cm.tab10.colors[k % 10]
            label = f"beta = {r['beta']:.3g}, h = {r['h']:.3g}"
            (z, z_step), (ode, ode_step) = finite(r, "z"), finite(r, "ode_z")
            row[-1].plot(z_step, norm(z), ".-", color=color, ms=2, lw=0.6, label=label)
            row[-1].plot(ode_step, norm(ode), "--", color=color, lw=1.2)
            shown += [norm(z), norm(ode)]
            if planar:
                line = joined(z)
                ax.plot(ode[:, 0], ode[:, 1], "--" if line else "+", color="0.4", lw=1, ms=4, label="modified equation")
                ax.plot(z[:, 0], z[:, 1], ".-" if line else ".", color=color, ms=2, lw=0.4, label="iterates")
                ax.plot(*r["z"][0], "ro", label="start")
                sparse = "" if line else "\n(samples too sparse to join)"
                ax.set(xlabel="x", ylabel="y", title=f"{SCHEMES[s]}, {label}{sparse}")
                ax.legend(fontsize=7)
        log_if_wide(row[-1], np.concatenate(shown))
        for ax in row[len(runs[s]):-1]:
            ax.axis("off")
        row[-1].set(xlabel="step", ylabel="|z|")
        row[-1].set_title(f"{SCHEMES[s]}: |z|, iterates (dots), modified equation (dashed)", fontsize=9)
        row[-1].legend(fontsize=7)
    fig.suptitle(f"{title}: traced trajectories")
    fig.tight_layout()
    return fig


def add_arguments(p):
    p.add_argument("run", metavar="RUN.h5", help="run file written by saddle run inputs/hb_*.toml")
    p.add_argument("--out", metavar="DIR", help="folder for the PNGs (default: <name>_plots/ beside the run file)")


def run(a):
    sweep, traces, (step, metrics), deck = load(a.run)
    title = f"{sweep['game']} game, {sweep['steps']} steps"
    ylog = h_is_log(sweep["h"], deck)
    figures = [(f"stability_{s}.png", lambda s=s: stability(sweep, s, ylog, title)) for s in SCHEMES if s in sweep]
    figures.append(("avg_grad_sq.png", lambda: avg_grad_sq(sweep, title)))
    if traces:
        figures.append(("trajectories.png", lambda: trajectories(traces, title)))
    if len(step) and metrics:
        figures.append(("metrics.png", lambda: metrics_figure(step, metrics, title)))
    out = a.out or os.path.splitext(a.run)[0] + "_plots"
    os.makedirs(out, exist_ok=True)
    for name, draw in figures:
        with np.errstate(over="ignore"):  # log axes of values near 1e300
            fig = draw()
        save(fig, os.path.join(out, name))
    return 0
