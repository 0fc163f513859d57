"""`saddle-post report RUN.h5 [RUN2.h5 ...]`: a text summary of run files, for any workload.

For each file: the workload and whether the run completed, provenance (every root attribute),
the deck's [run], [parallel] and workload tables, the last value of every metric, and the timer
table (min, mean and max seconds over ranks). Every file is read before anything is printed.
"""
import numbers
import textwrap

from . import runfile


def flatten(name, table):
    """[(name, plain values)] of a deck table and then of each of its subtables ([qoda.problem])."""
    plain = {k: v for k, v in table.items() if not isinstance(v, dict)}
    out = [(name, plain)] if plain or not table else []
    for k, v in table.items():
        if isinstance(v, dict):
            out += flatten(f"{name}.{k}", v)
    return out


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
    threads = attrs.get("threads")  # absent in run files from before threads were recorded
    if isinstance(threads, numbers.Integral) and threads > 1:
        s += f" x {threads} threads"
    if attrs.get("restarted_from_step"):
        s += f", restarted from step {attrs['restarted_from_step']}"
    return s


def summary(path):
    """The report of one run file, as lines."""
    with runfile.reading(path) as f:
        attrs, deck = runfile.attrs(f), runfile.deck(f)
        step, metrics = runfile.metrics(f)
        timers = runfile.timers(f)
        tables = [t for name in ("run", "parallel", attrs["workload"]) for t in flatten(name, runfile.table(f, deck, name))]
    lines = [f"{path}: {status(attrs, step)}", "provenance"]
    lines += [f"  {k:20s} {v}" for k, v in attrs.items()]
    lines.append("deck")
    w = max(12, max(len(name) for name, _ in tables) + 3)
    for name, values in tables:
        # Non-breaking spaces inside an item: lines break only between items.
        items = ", ".join(f"{k} = {toml_value(v)}".replace(" ", "\xa0") for k, v in values.items())
        lines += [s.replace("\xa0", " ") for s in textwrap.wrap(
            items, 100, initial_indent=f"  {'[' + name + ']':{w}s}", subsequent_indent=" " * (w + 2),
            break_long_words=False)]
    if len(step):
        lines.append(f"metrics at step {step[-1]} (last of {len(step)} rows)")
        w = max([20, *map(len, metrics)])
        lines += [f"  {k:{w}s} {v[-1]:.6g}" for k, v in metrics.items()]
    else:
        lines.append("metrics: none")
    if timers:
        ranks = len(next(iter(timers.values())).ranks)
        w = max([30, *map(len, timers)])
        lines.append(f"{f'timers [s], {ranks} rank(s)':{w + 2}s} {'min':>10s} {'mean':>10s} {'max':>10s}")
        lines += [f"  {k:{w}s} {t.min:10.4g} {t.mean:10.4g} {t.max:10.4g}" for k, t in timers.items()]
    else:
        lines.append("timers: none (written when the run finishes)")
    return lines


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN.h5", help="run files")


def run(a):
    reports = [summary(path) for path in a.runs]
    print("\n\n".join("\n".join(lines) for lines in reports))
    return 0
