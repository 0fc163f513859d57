"""`saddle-post bandwidth DIR [--model]`: the table and figure of a bandwidth study
(bench/bandwidth_study.sh), and with --model the alpha-beta model's fit and predictions.

DIR holds study.json, runs.csv (one row per run: side saddle/torch, deck, method, ranks, gbit =
the shaped rate in Gbit/s, 0 for the unshaped loopback, kind full/short/verify, path), pingpong.csv
(the MPI ping-pong per link), the Saddle run files and the torch peer's CSVs. Per deck:

  target SWD  = study.json's target_factor x the final SWD of the baseline (the first method) at
                the smallest rank count; "final SWD" of a run is the median of its last 3 logged
                values (one logged value is noisy);
  steps       = the first logged step of a method's full run (unshaped link) with SWD <= target;
                the same at every link, because the trajectory does not depend on the link;
  s/step      = at a shaped link, the time per step of the short run there, (time_step[last] -
                time_step[w]) / (step[last] - step[w]), w the first logged step >= the study's
                short_warmup; unshaped: the full run's time_step[last] / step[last];
  time to target = steps x s/step at a shaped link; unshaped: the full run's time_step at `steps`
                (measured, no product);
  exchange s/step = the same difference of /metrics/time_exchange (Saddle: quantise, encode,
                collective, decode and waits; the peer does not separate it);
  bytes/step  = payload bytes per rank per generator iteration, bytes_total / ranks / steps of the
                full run (the peer: bytes it handed to all_reduce); the CSV also has the short
                run's (short_bytes_per_step, over the timed steps): a Huffman-coded payload's size
                follows the gradients, so early steps may send more or fewer bytes than the average;
  speedup     = the baseline's time to target at the same deck, ranks and link over this row's.

Writes DIR/bandwidth.csv (one row per deck, ranks, link, method), DIR/bandwidth.md (the markdown
tables it prints) and DIR/bandwidth.png (time to target against the link's rate, log x, one panel
per deck and rank count, one line per method; the unshaped loopback at its ping-pong rate). The
verification run (one full baseline run at a shaped link) is compared with steps x s/step there.
With --model also DIR/model.csv and DIR/model.md: see model_fit.
A run that failed or is missing is left out with a warning; no readable run is a RunFileError.
"""
import csv
import json
import math
import os
import sys

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from . import runfile
from .plot import save

PREDICT_RANKS = (12, 64, 256)
PREDICT_GBIT = (10, 25, 100)


# ---------------------------------------------------------------- reading

def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_study(folder):
    path = os.path.join(folder, "study.json")
    if not os.path.isfile(path):
        raise runfile.RunFileError(folder, "no study.json (not the --out folder of bench/bandwidth_study.sh)")
    try:
        with open(path) as f:
            study = json.load(f)
    except json.JSONDecodeError as e:
        raise runfile.RunFileError(path, f"is not valid JSON ({e})") from None
    for key in ("decks", "methods", "baseline", "target_factor", "short_warmup"):
        if key not in study:
            raise runfile.RunFileError(path, f"has no {key}")
    runs = read_csv(os.path.join(folder, "runs.csv"))
    ping = read_csv(os.path.join(folder, "pingpong.csv")) if os.path.isfile(os.path.join(folder, "pingpong.csv")) else []
    return study, runs, ping


def series_saddle(path, ranks):
    with runfile.reading_workload(path, "wgan") as f:
        step, m = runfile.metrics(f)
    for k in ("swd", "time_step", "bytes_total"):
        if k not in m:
            raise runfile.RunFileError(path, f"/metrics/{k} is missing")
    return dict(step=np.asarray(step, float), swd=m["swd"], time_step=m["time_step"], bytes=m["bytes_total"] / ranks,
                time_exchange=m.get("time_exchange"))


def series_torch(path):
    try:
        rows = read_csv(path)
        s = {k: np.array([float(r[k]) for r in rows]) for k in ("step", "time_step", "swd", "bytes")}
    except (KeyError, ValueError) as e:
        raise runfile.RunFileError(path, f"is not a peer CSV (step, time_step, swd, bytes): {e}") from None
    if not len(s["step"]):
        raise runfile.RunFileError(path, "holds no rows")
    s["time_exchange"] = None
    return s


def load_runs(folder, runs):
    """{(side, deck, method, ranks, gbit, kind): series}, and warnings for runs left out."""
    out, warnings = {}, []
    for r in runs:
        key = (r["side"], r["deck"], r["method"], int(r["ranks"]), float(r["gbit"]), r["kind"])
        path = os.path.join(folder, r["path"])
        if str(r.get("rc", "0")) not in ("0", ""):
            warnings.append(f"{r['path']}: the run failed (exit code {r['rc']}); left out")
            continue
        try:
            out[key] = series_saddle(path, key[3]) if r["side"] == "saddle" else series_torch(path)
        except (runfile.RunFileError, OSError) as e:
            warnings.append(f"{e}; left out")
    return out, warnings


# ---------------------------------------------------------------- analysis

def final_swd(s):
    return float(np.median(s["swd"][-3:]))


def steps_to(s, target):
    """(step, index) of the first logged step > 0 with swd <= target; (None, None) if none."""
    hit = np.nonzero((s["swd"] <= target) & (s["step"] > 0))[0]
    return (int(s["step"][hit[0]]), int(hit[0])) if len(hit) else (None, None)


def per_step(s, warmup, series="time_step"):
    """Seconds per step of `series` between the first logged step >= warmup and the last."""
    v = s.get(series)
    if v is None:
        return float("nan")
    i = np.nonzero(s["step"] >= warmup)[0]
    if not len(i) or s["step"][-1] <= s["step"][i[0]]:
        return float("nan")
    return float((v[-1] - v[i[0]]) / (s["step"][-1] - s["step"][i[0]]))


def links(ping):
    """{set_gbit: dict(alpha, beta, gbit)} from the ping-pong rows (median one-way times): alpha =
    the one-way time of the smallest message, beta = (one-way time of the largest message - alpha)
    / its bytes in seconds per byte (the largest message, 16 MiB, makes the token bucket's burst
    negligible), gbit = 8 / beta / 1e9."""
    by = {}
    for r in ping:
        by.setdefault(float(r["set_gbit"]), []).append((int(r["bytes"]), float(r["one_way_s"])))
    out = {}
    for g, pts in by.items():
        pts.sort()
        alpha = pts[0][1]
        b, t = pts[-1]
        beta = (t - alpha) / b if b > pts[0][0] and t > alpha else t / b
        out[g] = dict(alpha=alpha, beta=beta, gbit=8 / beta / 1e9)
    return out


def link_name(g):
    return "unshaped" if g == 0 else f"{g:g} Gbit/s"


def analyse(study, series):
    """(rows, targets, checks): one row per (side, deck, ranks, link, method) with the module
    doc's fields; targets per deck; checks of the verification runs."""
    warmup = int(study["short_warmup"])
    base = study["baseline"]
    keys = list(series)
    decks = [d for d in study["decks"] if any(k[1] == d for k in keys)]
    ranks_all = sorted({k[3] for k in keys})
    gbits = sorted({k[4] for k in keys if k[5] == "short"}, reverse=True)
    targets = {}
    for d in decks:
        full = [k for k in keys if k[0] == "saddle" and k[1] == d and k[2] == base and k[5] == "full"]
        if not full:
            continue
        ref = series[min(full, key=lambda k: k[3])]
        targets[d] = dict(final=final_swd(ref), target=float(study["target_factor"]) * final_swd(ref),
                          ranks=min(k[3] for k in full))
    methods = [("saddle", m) for m in study["methods"]] + [("torch", m) for m in study.get("peers", {})]
    rows = []
    for d in decks:
        if d not in targets:
            continue
        target = targets[d]["target"]
        for p in ranks_all:
            for side, m in methods:
                full = series.get((side, d, m, p, 0.0, "full"))
                if full is None:
                    continue
                S, i = steps_to(full, target)
                last = full["step"][-1]
                common = dict(side=side, deck=d, ranks=p, method=m, label=label_of(study, side, m), target_swd=target,
                              steps_to_target=S, full_steps=int(last), final_swd=final_swd(full),
                              bytes_per_step=float(full["bytes"][-1] / last) if last else float("nan"))
                tps = float(full["time_step"][-1] / last) if last else float("nan")
                xps = float(full["time_exchange"][-1] / last) if full["time_exchange"] is not None and last else float("nan")
                rows.append(dict(common, gbit=0.0, link="unshaped", s_per_step=tps, exchange_s_per_step=xps,
                                 time_to_target_s=float(full["time_step"][i]) if S else float("nan"), source="measured"))
                for g in gbits:
                    short = series.get((side, d, m, p, g, "short"))
                    if short is None:
                        continue
                    tps = per_step(short, warmup)
                    rows.append(dict(common, gbit=g, link=link_name(g), s_per_step=tps,
                                     exchange_s_per_step=per_step(short, warmup, "time_exchange"),
                                     short_bytes_per_step=per_step(short, warmup, "bytes"),
                                     time_to_target_s=S * tps if S else float("nan"), source="steps x s/step"))
    index = {(r["deck"], r["ranks"], r["gbit"]): r for r in rows if r["side"] == "saddle" and r["method"] == base}
    for r in rows:
        b = index.get((r["deck"], r["ranks"], r["gbit"]))
        r["speedup"] = b["time_to_target_s"] / r["time_to_target_s"] if b and r["time_to_target_s"] > 0 else float("nan")
    checks = []
    for k, v in series.items():
        side, d, m, p, g, kind = k
        if kind != "verify" or d not in targets:
            continue
        full = series.get((side, d, m, p, 0.0, "full"))
        row = next((r for r in rows if (r["side"], r["deck"], r["method"], r["ranks"], r["gbit"]) == (side, d, m, p, g)), None)
        S, i = steps_to(v, targets[d]["target"])
        if full is None or row is None or S is None:
            continue
        n = min(len(full["swd"]), len(v["swd"]))
        same = bool(np.array_equal(full["swd"][:n], v["swd"][:n]))
        measured = float(v["time_step"][i])
        checks.append(dict(side=side, deck=d, method=m, ranks=p, gbit=g, steps=S, measured_s=measured,
                           predicted_s=row["time_to_target_s"], discrepancy=row["time_to_target_s"] / measured - 1,
                           same_trajectory=same, max_swd_difference=float(np.max(np.abs(full["swd"][:n] - v["swd"][:n])))))
    return rows, targets, checks


def label_of(study, side, m):
    if side == "saddle":
        return study["methods"][m].get("label", m)
    return study.get("peers", {}).get(m, {}).get("label", m)


# ---------------------------------------------------------------- output

CSV_FIELDS = ("side", "deck", "ranks", "link", "gbit", "method", "label", "target_swd", "steps_to_target", "full_steps",
              "time_to_target_s", "speedup", "s_per_step", "exchange_s_per_step", "bytes_per_step", "short_bytes_per_step",
              "final_swd", "source")


def num(v, spec):
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def mbytes(v):
    if not math.isfinite(v):
        return "—"
    return f"{v / 1e6:.3g} MB" if v >= 1e5 else f"{v / 1e3:.3g} kB"


def widths_text(study, d):
    return "-".join(str(w) for w in study["decks"][d].get("widths", []))


def markdown(study, rows, targets, checks, ping_links):
    cores = int(study.get("cores", 0) or 0)
    out = []
    if ping_links:
        out.append("Links (MPI ping-pong over the loopback, median of the round trips; α = one-way time of the "
                   "smallest message, rate = 1/β from the largest):\n")
        out.append("| link | α [µs] | measured rate [Gbit/s] |")
        out.append("|---|---|---|")
        for g in sorted(ping_links, key=lambda g: (g == 0, -g)):
            L = ping_links[g]
            out.append(f"| {link_name(g)} | {L['alpha'] * 1e6:.1f} | {L['gbit']:.3g} |")
        out.append("")
    for d, t in targets.items():
        for p in sorted({r["ranks"] for r in rows if r["deck"] == d}):
            sel = [r for r in rows if r["deck"] == d and r["ranks"] == p]
            gs = sorted({r["gbit"] for r in sel}, key=lambda g: (g != 0, -g))
            over = f" (oversubscribed: {p} ranks on {cores} cores)" if cores and p > cores else ""
            out.append(f"**{d}** (G and D hidden widths {widths_text(study, d)}), **{p} ranks**{over}: target SWD "
                       f"{t['target']:.4g} = {float(study['target_factor']):g} × the baseline's final SWD {t['final']:.4g} "
                       f"at {t['ranks']} ranks. Time to target [s] (speedup over the baseline at the same link):\n")
            out.append("| method | bytes/step per rank | final SWD | steps to target | " +
                       " | ".join(link_name(g) for g in gs) + " |")
            out.append("|---|---|---|---|" + "---|" * len(gs))
            order = []
            for r in sel:
                if (r["side"], r["method"]) not in order:
                    order.append((r["side"], r["method"]))
            for side, m in order:
                mine = {r["gbit"]: r for r in sel if (r["side"], r["method"]) == (side, m)}
                r0 = next(iter(mine.values()))
                steps = str(r0["steps_to_target"]) if r0["steps_to_target"] else f"> {r0['full_steps']}"
                cells = []
                for g in gs:
                    r = mine.get(g)
                    cells.append("—" if r is None or not math.isfinite(r["time_to_target_s"])
                                 else f"{r['time_to_target_s']:.3g} ({r['speedup']:.2f}×)")
                out.append(f"| {r0['label']} | {mbytes(r0['bytes_per_step'])} | {r0['final_swd']:.4f} | {steps} | " +
                           " | ".join(cells) + " |")
            out.append("")
            out.append(f"Per step at {p} ranks, {d}: seconds per step / of which inside the exchange [ms]:\n")
            out.append("| method | " + " | ".join(link_name(g) for g in gs) + " |")
            out.append("|---|" + "---|" * len(gs))
            for side, m in order:
                mine = {r["gbit"]: r for r in sel if (r["side"], r["method"]) == (side, m)}
                cells = []
                for g in gs:
                    r = mine.get(g)
                    cells.append("—" if r is None else
                                 f"{num(r['s_per_step'] * 1e3, '.3g')} / {num(r['exchange_s_per_step'] * 1e3, '.3g')}")
                out.append(f"| {next(iter(mine.values()))['label']} | " + " | ".join(cells) + " |")
            out.append("")
    for c in checks:
        out.append(f"Check ({c['side']} {c['method']}, {c['deck']}, {c['ranks']} ranks, {link_name(c['gbit'])}): a full run "
                   f"there reached the target at step {c['steps']} after {c['measured_s']:.3g} s; steps × s/step of the "
                   f"short run predicted {c['predicted_s']:.3g} s (discrepancy {100 * c['discrepancy']:+.1f} %); SWD "
                   f"trajectory {'identical to' if c['same_trajectory'] else 'NOT identical to'} the unshaped run's "
                   f"(max difference {c['max_swd_difference']:.3g}).")
    return "\n".join(out) + "\n"


def figure(study, rows, ping_links):
    panels = sorted({(r["deck"], r["ranks"]) for r in rows}, key=lambda k: (list(study["decks"]).index(k[0]), k[1]))
    cols = min(2, len(panels)) or 1
    nrows = (len(panels) + cols - 1) // cols or 1
    fig, axes = plt.subplots(nrows, cols, figsize=(6.2 * cols, 4.4 * nrows), squeeze=False)
    cores = int(study.get("cores", 0) or 0)
    unshaped_x = ping_links.get(0.0, {}).get("gbit", float("nan"))
    for ax, (d, p) in zip(axes.ravel(), panels):
        sel = [r for r in rows if r["deck"] == d and r["ranks"] == p]
        order = []
        for r in sel:
            if (r["side"], r["method"]) not in order:
                order.append((r["side"], r["method"]))
        for side, m in order:
            pts = sorted((r["gbit"] if r["gbit"] else unshaped_x, r["time_to_target_s"]) for r in sel
                         if (r["side"], r["method"]) == (side, m) and math.isfinite(r["time_to_target_s"])
                         and (r["gbit"] or math.isfinite(unshaped_x)))
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], "o-" if side == "saddle" else "s--",
                        label=label_of(study, side, m) if side == "saddle" else f"{label_of(study, side, m)}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        xs = sorted({r["gbit"] for r in sel if r["gbit"]} | ({unshaped_x} if math.isfinite(unshaped_x) else set()))
        ax.xaxis.set_major_locator(FixedLocator(xs))
        ax.xaxis.set_major_formatter(FixedFormatter([f"unshaped\n({x:.3g})" if x == unshaped_x else f"{x:g}" for x in xs]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("link rate [Gbit/s] (the unshaped loopback at its ping-pong rate)")
        ax.set_ylabel("time to target SWD [s]")
        over = f", oversubscribed on {cores} cores" if cores and p > cores else ""
        ax.set_title(f"{d} ({widths_text(study, d)}), {p} ranks{over}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def write_csv(path, rows, fields):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    print(path)


# ---------------------------------------------------------------- the alpha-beta model

def layer_params(widths):
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def exchanges(study, d):
    """[(coordinates, count)] of one generator iteration: n_critic critic exchanges, one of G."""
    deck = study["decks"][d]
    w = list(deck.get("widths", []))
    latent, dim, n_critic = deck.get("latent", 32), deck.get("dim", 64), deck.get("n_critic", 5)
    return [(layer_params([dim, *w, 1]), n_critic), (layer_params([latent, *w, dim]), 1)]


def kind_of(study, m):
    """'allreduce', 'allgather' or 'reduce_scatter' from a method's overrides."""
    over = " ".join(study["methods"][m].get("overrides", []))
    if "wgan.exchange.quantizer=" not in over or "quantizer=none" in over:
        return "allreduce"
    return "reduce_scatter" if "collective=reduce_scatter" in over else "allgather"


def wire(kind, P, n, w, alpha, beta, shared):
    """Seconds of one exchange of n coordinates at w payload bytes per coordinate per rank, P ranks.
    switched (one full-duplex link per rank): ring allreduce 2(P-1)a + 2(P-1)/P wn b; allgather
    (P-1)a + (P-1) wn b; reduce-scatter + allgather 2(P-1)a + 2(P-1)/P wn b. shared (the study's
    loopback: every byte of every rank through one token bucket): the same latency terms, and the
    bytes term is the bytes all ranks send, P times a rank's."""
    b = w * n
    if kind == "allgather":
        lat, per_rank = (P - 1) * alpha, (P - 1) * b
    else:
        lat, per_rank = 2 * (P - 1) * alpha, 2 * (P - 1) / P * b
    return lat + (P if shared else 1) * per_rank * beta


def model_fit(study, rows, ping_links):
    """The alpha-beta model (docs/benchmarks.md, "The alpha-beta model"), per deck and method:
      compute C   = s/step - exchange s/step of the baseline's unshaped full run at the smallest
                    rank count (time outside the exchange; weak scaling keeps it per rank);
      wire bytes  = w payload bytes per coordinate of one rank's vector, measured (bytes/step /
                    coordinates/step; reduce-scatter: also / (1 + 1/P), see below);
      local cost  = exchange s/step of the unshaped full runs minus their modelled wire time
                    (shared loopback), divided by the CPU share max(1, P / cores), fitted as
                    n (e + d P) for allgather methods (encode once, decode P payloads) and n e for
                    the others, e, d >= 0 in seconds per coordinate;
      alpha, beta = switched links: alpha = the smallest of the ping-pongs' alphas (the TCP
                    stack's latency, whatever the shaping), beta = 8 / (eta x rate), eta = the mean
                    measured/set rate of the shaped links.
    Time per step = C + local cost + sum over the exchanges of wire(); measured points use the
    shared loopback and the CPU share, predictions one full-duplex link per rank and one core.
    No overlap is modelled: where the allreduce overlaps the backward pass (Saddle's
    wgan.exchange.overlap, on by default for unquantised exchanges) the prediction is an upper bound.
    Returns (fits, checks, predictions)."""
    cores = int(study.get("cores", 0) or 0) or 1
    base = study["baseline"]
    if 0.0 not in ping_links:
        raise runfile.RunFileError("pingpong.csv", "no unshaped ping-pong: the model needs the loopback's own alpha and beta")
    shaped = [g for g in ping_links if g > 0]
    eta = float(np.mean([ping_links[g]["gbit"] / g for g in shaped])) if shaped else 1.0
    alpha0 = min(L["alpha"] for L in ping_links.values())
    fits, checks, preds = {}, [], []
    saddle = [r for r in rows if r["side"] == "saddle"]
    for d in study["decks"]:
        ex = exchanges(study, d)
        n_step = sum(n * c for n, c in ex)
        b0 = [r for r in saddle if r["deck"] == d and r["method"] == base and r["gbit"] == 0]
        if not b0:
            continue
        b0 = min(b0, key=lambda r: r["ranks"])
        C = b0["s_per_step"] - (b0["exchange_s_per_step"] if math.isfinite(b0["exchange_s_per_step"]) else 0.0)
        C /= max(1.0, b0["ranks"] / cores)
        for m in study["methods"]:
            kind = kind_of(study, m)
            un = [r for r in saddle if r["deck"] == d and r["method"] == m and r["gbit"] == 0
                  and math.isfinite(r["exchange_s_per_step"])]
            if not un:
                continue
            # Payload bytes per coordinate of one rank's whole vector: bytes_total counts every
            # rank's payloads (allreduce, allgather: P b per round); reduce-scatter counts the
            # phase-1 segments of every rank and the gathered segments (P b + b per round).
            w = float(np.median([r["bytes_per_step"] / n_step / (1 + 1 / r["ranks"] if kind == "reduce_scatter" else 1)
                                 for r in un]))
            L0 = ping_links[0.0]
            pts = []
            for r in un:
                P = r["ranks"]
                t_wire = sum(c * wire(kind, P, n, w, L0["alpha"], L0["beta"], True) for n, c in ex)
                pts.append((P, max(0.0, r["exchange_s_per_step"] - t_wire) / max(1.0, P / cores) / n_step))
            if kind == "allgather" and len({P for P, _ in pts}) >= 2:
                A = np.array([[1.0, P] for P, _ in pts])
                e, dd = np.linalg.lstsq(A, np.array([y for _, y in pts]), rcond=None)[0]
                if dd < 0 or e < 0:
                    e, dd = (float(np.mean([y for _, y in pts])), 0.0) if dd < 0 else (0.0, float(np.mean([y / P for P, y in pts])))
            elif kind == "allgather":
                P, y = pts[0]
                e = dd = y / (1 + P)  # one point: encode and a decode cost alike
            else:
                e, dd = float(np.mean([y for _, y in pts])), 0.0
            fits[d, m] = dict(deck=d, method=m, kind=kind, compute_s=C, w_bytes_per_coord=w, e_ns=e * 1e9, d_ns=dd * 1e9)

            def step_time(P, alpha, beta, shared):
                local = (C + n_step * (e + dd * P)) * (max(1.0, P / cores) if shared else 1.0)
                return local + sum(c * wire(kind, P, n, w, alpha, beta, shared) for n, c in ex)

            for r in saddle:
                if r["deck"] == d and r["method"] == m and r["gbit"] in ping_links and math.isfinite(r["s_per_step"]):
                    L = ping_links[r["gbit"]]
                    pred = step_time(r["ranks"], L["alpha"], L["beta"], True)
                    checks.append(dict(deck=d, method=m, ranks=r["ranks"], link=r["link"], measured_s=r["s_per_step"],
                                       predicted_s=pred, ratio=pred / r["s_per_step"]))
            for P in PREDICT_RANKS:
                for g in PREDICT_GBIT:
                    preds.append(dict(deck=d, method=m, ranks=P, gbit=g,
                                      predicted_s=step_time(P, alpha0, 8 / (eta * g * 1e9), False)))
    for p in preds:
        b = next((q for q in preds if (q["deck"], q["method"], q["ranks"], q["gbit"]) == (p["deck"], base, p["ranks"], p["gbit"])), None)
        p["speedup"] = b["predicted_s"] / p["predicted_s"] if b else float("nan")
    return dict(eta=eta, alpha=alpha0, fits=list(fits.values())), checks, preds


def ms(seconds):
    """Milliseconds in 3 significant digits without an exponent: 0.0123 ms, 12.3 ms, 12300 ms."""
    v = seconds * 1e3
    return f"{v:.3g} ms" if v < 1000 else f"{v:.0f} ms"


def model_markdown(study, model, checks, preds):
    out = [f"α–β model: α = {model['alpha'] * 1e6:.1f} µs (the smallest ping-pong latency), measured/set rate "
           f"η = {model['eta']:.3f}.\n",
           "| deck | method | collective | compute [ms/step] | wire [bytes/coord/rank] | local cost e [ns/coord] | "
           "per payload decoded d [ns/coord] |", "|---|---|---|---|---|---|---|"]
    for f in model["fits"]:
        out.append(f"| {f['deck']} | {label_of(study, 'saddle', f['method'])} | {f['kind']} | {f['compute_s'] * 1e3:.3g} | "
                   f"{f['w_bytes_per_coord']:.3g} | {f['e_ns']:.3g} | {f['d_ns']:.3g} |")
    out.append("\nPrediction against measurement (s/step; the study's shared loopback, CPU share at oversubscription):\n")
    out.append("| deck | ranks | link | method | measured [ms] | predicted [ms] | predicted / measured |")
    out.append("|---|---|---|---|---|---|---|")
    for c in sorted(checks, key=lambda c: (c["deck"], c["ranks"], c["link"] != "unshaped", c["link"], c["method"])):
        out.append(f"| {c['deck']} | {c['ranks']} | {c['link']} | {label_of(study, 'saddle', c['method'])} | "
                   f"{c['measured_s'] * 1e3:.3g} | {c['predicted_s'] * 1e3:.3g} | {c['ratio']:.2f} |")
    out.append("\nPredicted s/step (speedup over the baseline), one full-duplex link per rank, one core per rank:\n")
    for d in dict.fromkeys(p["deck"] for p in preds):
        cols = [(P, g) for P in PREDICT_RANKS for g in PREDICT_GBIT]
        out.append(f"**{d}**\n")
        out.append("| method | " + " | ".join(f"{P} ranks, {g} Gbit/s" for P, g in cols) + " |")
        out.append("|---|" + "---|" * len(cols))
        for m in dict.fromkeys(p["method"] for p in preds if p["deck"] == d):
            cells = {(p["ranks"], p["gbit"]): p for p in preds if p["deck"] == d and p["method"] == m}
            out.append(f"| {label_of(study, 'saddle', m)} | " +
                       " | ".join(f"{ms(cells[c]['predicted_s'])} ({cells[c]['speedup']:.2f}×)" for c in cols) + " |")
        out.append("")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- command

def analyse_folder(folder, model=False):
    study, runs, ping = load_study(folder)
    series, warnings = load_runs(folder, runs)
    for w in warnings:
        print(f"bandwidth: {w}", file=sys.stderr)
    if not series:
        raise runfile.RunFileError(folder, "no readable runs in runs.csv")
    rows, targets, checks = analyse(study, series)
    if not rows:
        raise runfile.RunFileError(folder, f"no full run of the baseline {study['baseline']} to set the target SWD")
    ping_links = links(ping)
    write_csv(os.path.join(folder, "bandwidth.csv"), rows, CSV_FIELDS)
    text = markdown(study, rows, targets, checks, ping_links)
    if model:
        m, mchecks, preds = model_fit(study, rows, ping_links)
        write_csv(os.path.join(folder, "model.csv"), [dict(p, kind="prediction") for p in preds] +
                  [dict(c, kind="check") for c in mchecks],
                  ("kind", "deck", "method", "ranks", "gbit", "link", "measured_s", "predicted_s", "ratio", "speedup"))
        text += "\n" + model_markdown(study, m, mchecks, preds)
    with open(os.path.join(folder, "bandwidth.md"), "w") as f:
        f.write(text)
    print(os.path.join(folder, "bandwidth.md"))
    save(figure(study, rows, ping_links), os.path.join(folder, "bandwidth.png"))
    print()
    print(text, end="")
    return 0


def add_arguments(p):
    p.add_argument("study", metavar="DIR", help="the --out folder of bench/bandwidth_study.sh")
    p.add_argument("--model", action="store_true", help="fit the alpha-beta model and predict 12-256 ranks on 10-100 Gbit/s")


def run(a):
    return analyse_folder(a.study, a.model)
