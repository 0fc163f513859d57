"""`saddle-post report RUN.h5 [RUN2.h5 ...]`: a text summary of run files, for any workload.

For each file: the workload and whether the run completed, provenance (every root attribute),
the deck's [run], [parallel] and workload tables, the last value of every metric, and the timer
table (min, mean and max seconds over ranks). Every file is read before anything is printed.
"""
import textwrap

from . import runfile


def toml_value(v):
    """v written as a TOML value, on one line."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(map(toml_value, v)) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def status(attrs, step):
    s = f"{attrs['workload']}, "
    if attrs.get("completed") == 1:
        s += f"completed, {attrs.get('steps', '?')} steps"
    else:
        last = f"last logged step {step[-1]}" if len(step) else "no metrics yet"
        s += f"NOT completed (stopped by a signal, still running or failed; {last})"
    s += f", {attrs.get('ranks', '?')} rank(s)"
    if attrs.get("restarted_from_step"):
        s += f", restarted from step {attrs['restarted_from_step']}"
    return s


def summary(path):
    """The report of one run file, as lines."""
    with runfile.reading(path) as f:
        attrs, deck = runfile.attrs(f), runfile.deck(f)
        step, metrics = runfile.metrics(f)
        timers = runfile.timers(f)
    lines = [f"{path}: {status(attrs, step)}", "provenance"]
    lines += [f"  {k:20s} {v}" for k, v in attrs.items()]
    lines.append("deck")
    for table in ("run", "parallel", attrs["workload"]):
        # Non-breaking spaces inside an item: lines break only between items.
        items = ", ".join(f"{k} = {toml_value(v)}".replace(" ", "\xa0") for k, v in deck.get(table, {}).items())
        lines += [s.replace("\xa0", " ") for s in textwrap.wrap(
            items, 100, initial_indent=f"  {'[' + table + ']':12s}", subsequent_indent=" " * 14, break_long_words=False)]
    if len(step):
        lines.append(f"metrics at step {step[-1]} (last of {len(step)} rows)")
        lines += [f"  {k:20s} {v[-1]:.6g}" for k, v in metrics.items()]
    else:
        lines.append("metrics: none")
    if timers:
        ranks = len(next(iter(timers.values())).ranks)
        lines.append(f"{f'timers [s], {ranks} rank(s)':32s} {'min':>10s} {'mean':>10s} {'max':>10s}")
        lines += [f"  {k:30s} {t.min:10.4g} {t.mean:10.4g} {t.max:10.4g}" for k, t in timers.items()]
    else:
        lines.append("timers: none (written when the run finishes)")
    return lines


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN.h5", help="run files")


def run(a):
    reports = [summary(path) for path in a.runs]
    print("\n\n".join("\n".join(lines) for lines in reports))
    return 0
