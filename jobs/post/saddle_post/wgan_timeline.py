"""`saddle-post wgan-timeline RUN.h5 [-o PNG] [--raw-clocks]`: the per-stage busy/idle timeline of
the last training step of a layer-parallel wgan run (parallel.layer > 1 or
parallel.micro_batches > 1; docs/workloads/wgan.md).

Reads /result/pipeline/timeline (one row per pipeline op of the last step: world rank, stage,
data replica, run, pass, micro-batch, begin and end in seconds) and draws a Gantt chart: one row
per (data replica, stage), one bar per op coloured by its pass (the critic's five passes, the
generator's four), labelled with its micro-batch when the bar has room; the x axis is seconds from
the step's first op, a dotted line marks the start of each pipeline run (C1.. the critic
evaluations, G the generator evaluation). The title gives the schedule, L, m and, per stage, the
measured busy fraction of the evaluations (time in ops over the runs' spans) against the
plan's ideal efficiency (/result/pipeline attributes), and the whole run's busy/wall per rank
(/result/pipeline/ranks).

The timeline holds the training runs only (sampling G for the metrics is not timed). The stages
share one clock epoch broadcast by stage 0 (MPI_Wtime, one clock per node); should an op still seem
to start before the op it receives from has ended (stages on different nodes), the stages' clocks
are shifted to restore the order (align_clocks; --raw-clocks: as recorded), and the title says by
how much.

Writes <run>_timeline.png beside the run file, or to PNG (a path not ending in .png is a folder,
created if need be, for <run>_timeline.png), and prints the path. A run without a pipeline, a file
of another workload, a missing or damaged file is a RunFileError (one line on stderr, exit 2).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from . import runfile
from .plot import save

TIMELINE_COLUMNS = ("world_rank", "stage", "data", "run", "pass", "micro", "begin_s", "end_s")
RANKS_COLUMNS = ("world_rank", "busy_s", "wall_s")
COLOURS = {  # by pass name; a pass the file names but this table does not gets the next free one
    "G forward": "tab:blue", "D forward": "tab:orange", "D penalty input gradient": "tab:green",
    "D penalty double backward": "tab:olive", "D backward": "tab:red", "D input adjoint": "tab:purple",
    "G backward": "tab:cyan",
}
SPARE = ("tab:brown", "tab:pink", "tab:gray")


def columns(group, key, needed):
    """{column name: index} from the ';'-separated attribute key, which must name `needed`."""
    names = runfile.text_attr(group, key).split(";")
    lost = [c for c in needed if c not in names]
    if lost:
        raise runfile.bad_attr(group, key, f"lacks column(s) {', '.join(lost)}")
    return {c: names.index(c) for c in names}


def load(path):
    """The pipeline group of a wgan run file as a dict; RunFileError when there is none."""
    with runfile.reading_workload(path, "wgan", "result") as f:
        p = runfile.group(f, "result/pipeline", None)
        if p is None:
            raise runfile.RunFileError(path, "no /result/pipeline: not a layer-parallel run "
                                             "(parallel.layer = 1 and parallel.micro_batches = 1)")
        tc = columns(p, "timeline_columns", TIMELINE_COLUMNS)
        rc = columns(p, "ranks_columns", RANKS_COLUMNS)
        d = dict(
            name=runfile.table(f, runfile.deck(f), "run").get("name") or os.path.splitext(os.path.basename(path))[0],
            stages=runfile.number_attr(p, "stages", integer=True),
            micro=runfile.number_attr(p, "micro_batches", integer=True),
            schedule=runfile.text_attr(p, "schedule"),
            ideal={"critic": runfile.number_attr(p, "ideal_efficiency_critic"),
                   "generator": runfile.number_attr(p, "ideal_efficiency_generator")},
            passes={"critic": runfile.text_attr(p, "critic_passes").split(";"),
                    "generator": runfile.text_attr(p, "generator_passes").split(";")},
            timeline=runfile.dataset(p, "timeline", (None, len(tc)), finite=True),
            ranks=runfile.dataset(p, "ranks", (None, len(rc)), finite=True),
            step=runfile.metrics(f)[0],
        )
    if not len(d["timeline"]):
        raise runfile.RunFileError(path, "/result/pipeline/timeline is empty (no training step?)")
    t = d["timeline"]
    d["ops"] = {c: t[:, tc[c]] for c in TIMELINE_COLUMNS}
    for c in ("world_rank", "stage", "data", "run", "pass", "micro"):
        d["ops"][c] = d["ops"][c].astype(int)
    d["ranks"] = {c: d["ranks"][:, rc[c]] for c in RANKS_COLUMNS}
    return d


def classify(d):
    """[(run, kind)] in order of run, kind "critic" or "generator" (the evaluation whose passes the
    run holds; "other" for anything else)."""
    ops = d["ops"]
    out = []
    for r in np.unique(ops["run"]):
        present = set(np.unique(ops["pass"][ops["run"] == r]).tolist())
        kind = "other"
        for k in ("critic", "generator"):
            if present == set(range(len(d["passes"][k]))):
                kind = k
                break
        out.append((int(r), kind))
    return out


def align_clocks(ops):
    """Shift each stage's begin_s and end_s (in place) so that no op starts before the op of the
    stage before it in its pass has ended, when the file has such ops: each rank times its ops
    from its own epoch (MPI_Wtime after a barrier), which can lag another rank's by a scheduler
    slice when ranks share cores. Between neighbouring stages s - 1 and s of a data replica the
    offset is taken as half the difference between the least slack (a receiver's begin minus its
    sender's end) of the passes sent forward and of those sent back, which leaves both least
    slacks equal and positive. Passes alternate in direction, the even ones (G forward first) from
    stage 0 on: the layout of the wgan plans. Returns the largest shift in seconds (0: none)."""
    key = {}
    for i, k in enumerate(zip(ops["data"], ops["stage"], ops["run"], ops["pass"], ops["micro"])):
        key[tuple(int(x) for x in k)] = i
    worst = 0.0
    for data in np.unique(ops["data"]):
        stages = sorted(set(ops["stage"][ops["data"] == data].tolist()))
        for a, b in zip(stages, stages[1:]):  # stage a already aligned: b against it
            shift = 0.0
            slack = {+1: [], -1: []}
            for (d, st, r, k, j), i in key.items():
                if d != data or st != b:
                    continue
                o = key.get((d, a, r, k, j))
                if o is None:
                    continue
                if k % 2 == 0:  # a sends to b
                    slack[+1].append(ops["begin_s"][i] - ops["end_s"][o])
                else:  # b sends to a
                    slack[-1].append(ops["begin_s"][o] - ops["end_s"][i])
            if slack[+1] and slack[-1] and min(min(slack[+1]), min(slack[-1])) < 0:
                shift = (min(slack[+1]) - min(slack[-1])) / 2
            if shift:
                rows = (ops["data"] == data) & (ops["stage"] == b)
                ops["begin_s"][rows] -= shift
                ops["end_s"][rows] -= shift
                worst = max(worst, abs(shift))
    return worst


def busy_fractions(ops, runs, rows):
    """{(data, stage): (busy fraction over the critic runs, over the generator runs)}: per row,
    time in its ops over the runs' spans (first begin to last end within its data replica)."""
    out = {}
    for data, stage in rows:
        fr = []
        for kind in ("critic", "generator"):
            busy = span = 0.0
            for r, k in runs:
                if k != kind:
                    continue
                rep = (ops["run"] == r) & (ops["data"] == data)
                mine = rep & (ops["stage"] == stage)
                busy += float((ops["end_s"][mine] - ops["begin_s"][mine]).sum())
                span += float(ops["end_s"][rep].max() - ops["begin_s"][rep].min()) if rep.any() else 0.0
            fr.append(busy / span if span > 0 else float("nan"))
        out[(data, stage)] = tuple(fr)
    return out


def figure(d, raw_clocks=False):
    ops = d["ops"]
    shifted = 0.0 if raw_clocks else align_clocks(ops)
    runs = classify(d)
    keep = np.isin(ops["run"], [r for r, _ in runs])
    rows = sorted({(int(a), int(s)) for a, s in zip(ops["data"][keep], ops["stage"][keep])})
    rank_of = {(int(a), int(s)): int(w) for a, s, w in zip(ops["data"], ops["stage"], ops["world_rank"])}
    t0 = float(ops["begin_s"][keep].min())
    t1 = float(ops["end_s"][keep].max())
    names = list(dict.fromkeys(d["passes"]["critic"] + d["passes"]["generator"]))
    spare = iter(SPARE * 4)
    colour = {n: COLOURS.get(n) or next(spare, "black") for n in names}

    height = 1.9 + 0.8 * len(rows)
    fig, ax = plt.subplots(figsize=(13, height))
    fig.subplots_adjust(left=0.12, right=0.98, top=1 - 0.8 / height, bottom=0.95 / height)
    ax.set_xlim(0, max(t1 - t0, 1e-9) * 1.005)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    used = set()
    for r, kind in runs:
        labels = d["passes"][kind if kind != "other" else "critic"]
        sel = np.nonzero(ops["run"] == r)[0]
        for i in sel:
            y = rows.index((ops["data"][i], ops["stage"][i]))
            p = ops["pass"][i]
            name = labels[p] if p < len(labels) else f"pass {p}"
            colour.setdefault(name, next(spare, "black"))
            used.add(name)
            b, e = ops["begin_s"][i] - t0, ops["end_s"][i] - t0
            ax.barh(y, e - b, left=b, height=0.7, color=colour[name], edgecolor="white", linewidth=0.3)
    # micro-batch numbers where the bar is wide enough for them (pixels from the data transform)
    x0 = ax.transData.transform((0, 0))[0]
    per_s = ax.transData.transform((1, 0))[0] - x0
    for r, _ in runs:
        for i in np.nonzero(ops["run"] == r)[0]:
            b, e = ops["begin_s"][i] - t0, ops["end_s"][i] - t0
            text = str(ops["micro"][i])
            if (e - b) * per_s >= 6.5 * len(text) + 3:
                ax.text((b + e) / 2, rows.index((ops["data"][i], ops["stage"][i])), text, ha="center",
                        va="center", fontsize=6.5, color="white")
    counts = {"critic": 0, "generator": 0, "other": 0}
    last, lift = -np.inf, 0
    for r, kind in runs:
        counts[kind] += 1
        start = float(ops["begin_s"][ops["run"] == r].min()) - t0
        ax.axvline(start, color="k", lw=0.6, ls=":")
        tag = {"critic": f"C{counts[kind]}", "generator": "G", "other": "?"}[kind]
        lift = lift + 1 if (start - last) * per_s < 22 else 0  # tags closer than 22 px: one line up
        last = start
        ax.annotate(f" {tag}", (start, -0.5), xytext=(0, 9 * lift), textcoords="offset points", ha="left",
                    va="bottom", fontsize=8, annotation_clip=False)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"data {a} / stage {s}\n(rank {rank_of[(a, s)]})" for a, s in rows], fontsize=8)
    ax.set_xlabel("seconds from the step's first op")
    ax.grid(axis="x", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[n]) for n in names if n in used]
    fig.legend(handles, [n for n in names if n in used], fontsize=7, ncol=min(4, len(handles)),
               loc="lower center", frameon=False)

    frac = busy_fractions(ops, runs, rows)
    per_stage = []
    for s in sorted({s for _, s in rows}):
        c = np.nanmean([frac[k][0] for k in rows if k[1] == s])
        g = np.nanmean([frac[k][1] for k in rows if k[1] == s])
        per_stage.append(f"stage {s}: {c:.2f}/{g:.2f}")
    wall = d["ranks"]["wall_s"]
    whole = d["ranks"]["busy_s"] / np.where(wall > 0, wall, np.nan)
    step = f"step {int(d['step'][-1])}" if len(d["step"]) else "last step"
    fig.suptitle(
        f"{d['name']}: {d['schedule']}, L = {d['stages']}, m = {d['micro']}; {step}: "
        f"{counts['critic']} critic + {counts['generator']} generator evaluation(s)"
        + (f" + {counts['sampling']} sampling run(s)" if counts["other"] else "") + "\n"
        f"busy fraction critic/generator, measured: {', '.join(per_stage)}; ideal "
        f"{d['ideal']['critic']:.2f}/{d['ideal']['generator']:.2f}; whole run busy/wall per rank: "
        + " ".join(f"{v:.2f}" for v in whole)
        + (f"\nstage clocks shifted by up to {shifted * 1e6:.0f} µs to keep each op after its sender's (the ranks' epochs differ)"
           if shifted else ""), fontsize=9)
    return fig


def add_arguments(p):
    p.add_argument("run", metavar="RUN.h5", help="wgan run file of a layer-parallel run")
    p.add_argument("-o", "--out", metavar="PNG", help="the PNG (default: <run>_timeline.png beside the run file); "
                                                      "a path not ending in .png is a folder for <run>_timeline.png")
    p.add_argument("--raw-clocks", action="store_true",
                   help="the ranks' times as recorded, even where an op starts before its sender's has ended")


def run(a):
    d = load(a.run)
    stem = os.path.splitext(os.path.basename(a.run))[0] + "_timeline.png"
    out = a.out or os.path.join(os.path.dirname(a.run), stem)
    if not out.lower().endswith(".png"):
        out = os.path.join(out, stem)
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    save(figure(d, a.raw_clocks), out)
    return 0
