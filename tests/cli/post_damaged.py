#!/usr/bin/python3
"""Damaged variants of Saddle run files, and every saddle-post command on each (cli.post_damaged).

  post_damaged.py JOBS_POST_DIR WORK_DIR RUN.h5 [RUN.h5 ...]

For each run file, one variant per damage (damages()): for every object and attribute in turn,
that one thing deleted or replaced (a string, 2-D, 0-D, empty, shorter or non-finite dataset, a
group or a dangling soft link in a dataset's place; an emptied group, a dataset or a dangling link
in a group's place; an attribute of another type, an array or a NaN), the file truncated at
several offsets, and every float dataset non-finite at once. Every command that applies (report,
plot, the workload's figure command, scaling-report on a study folder holding the variant) runs on
each variant as jobs/post/saddle-post runs it (Runner). Pass: exit 0, or exit 2 with exactly one
line on stderr, "saddle-post: ..." naming the file (or its study folder). Exit 1, a traceback,
any other exit, or a hang (TIMEOUT) fails.

Three economies keep this to about a minute on two cores:
- A command runs only on the variants it can notice. Its run on the intact file records every
  HDF5 object and attribute it opened, asked for or listed (trace()); a variant that damages none
  of them reads exactly as the intact file does, so the command would do the same as there.
- report, plot and scaling-report (GENERIC) read only what every run file has and treat every
  /metrics series but step, and every /timers region but steps, alike: they run each damage of
  such a role once, on the first file that has it (role()).
- Figures are built (every plotting call on the data) and their axes' limits, ticks and tick
  labels computed, without the text layout and PNG encoding (check_axes() stands in for
  Figure.savefig), except on the variant with every float dataset non-finite, rendered in full.
Commands run in-process in one forked worker per core, each with fresh warning registries.
Prints the counts and each failure's cause; exits 1 when any failed.
"""
import collections
import contextlib
import io
import json
import os
import posixpath
import shutil
import signal
import sys
import traceback
import warnings

import h5py
import numpy as np
import tomllib

TIMEOUT = 60  # seconds per command; a hang is killed by SIGALRM
FIGURES = ("ksvd", "qoda", "wgan", "hb", "mail")
GENERIC = ("report", "plot", "scaling-report")  # the commands that read only what every run file has
NOWHERE = "/no/such/object"
RENDERED = "every float dataset non-finite"  # the one variant whose figures are rendered


# ---- damages: (label, apply(file)) for every object and attribute of a run file ----

def replace(path, make):
    """A damage: the object at path deleted, then make(its parent group) (None: nothing in its place)."""
    def apply(f):
        parent = f[posixpath.dirname(path)]
        del f[path]
        make(parent)
    return apply


def nonfinite(shape):
    """NaN throughout, with inf first and -inf last."""
    bad = np.full(shape, np.nan)
    if bad.size:
        bad.flat[-1], bad.flat[0] = -np.inf, np.inf
    return bad


def dataset_damages(path, d):
    name, v, attrs = posixpath.basename(path), np.asarray(d[()]), dict(d.attrs)

    def data(new, dtype=None):  # only the data are damaged: the attributes stay
        return replace(path, lambda g: g.create_dataset(name, data=new, dtype=dtype).attrs.update(attrs))

    if v.dtype.kind in "SOU":
        yield "number", data(np.zeros(v.shape))
    else:
        yield "string", data(np.full(v.shape, "damaged", dtype=object), h5py.string_dtype())
        if v.size:
            yield "non-finite", data(nonfinite(v.shape))
    yield "delete", replace(path, lambda g: None)
    yield f"{v.ndim + 1}-D", data(np.stack([v, v]))
    if v.ndim:
        yield "0-D", data(v.flat[0] if v.size else np.zeros((), v.dtype))
        yield "empty", data(np.zeros((0, *v.shape[1:]), v.dtype))
        n = len(v) - 1 if len(v) >= 2 else len(v) + 1
        yield f"length {n}", data(np.resize(v, (n, *v.shape[1:])))
    yield "group", replace(path, lambda g: g.create_group(name))
    yield "dangling link", replace(path, lambda g: g.__setitem__(name, h5py.SoftLink(NOWHERE)))


def group_damages(path):
    name = posixpath.basename(path)
    yield "delete", replace(path, lambda g: None)
    yield "emptied", replace(path, lambda g: g.create_group(name))
    yield "dataset", replace(path, lambda g: g.create_dataset(name, data=np.arange(3.0)))
    yield "dangling link", replace(path, lambda g: g.__setitem__(name, h5py.SoftLink(NOWHERE)))


def attribute_damages(path, key, value):
    def put(new):  # None: deleted
        def apply(f):
            del f[path].attrs[key]
            if new is not None:
                f[path].attrs[key] = new
        return apply

    text = isinstance(value, (str, bytes))
    yield "delete", put(None)
    yield ("number", put(42)) if text else ("string", put("damaged"))
    yield "array", put(np.array([1.5, 2.5]))
    if not text:
        yield "NaN", put(np.nan)
    if key == "toml":  # valid TOML whose tables ([run], [<workload>], ...) are numbers
        deck = tomllib.loads(value.decode() if isinstance(value, bytes) else value)
        yield "tables as numbers", put("".join(f"{k} = 5\n" for k in deck))


def truncations(size):
    """The file cut to nothing, to 100 bytes (within the superblock), to fractions of its size and
    to 100 bytes short of its end."""
    for keep in (0, 100, *(int(size * x) for x in (0.1, 0.3, 0.5, 0.7, 0.9)), size - 100):
        yield f"truncated at {keep} of {size} bytes", keep


def every_float_nonfinite(f):
    """Every float dataset non-finite (nonfinite()): the values most likely to upset a figure."""
    names = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and o.dtype.kind == "f" else None)
    for name in names:
        shape, attrs = f[name].shape, dict(f[name].attrs)
        del f[name]
        f.create_dataset(name, data=nonfinite(shape)).attrs.update(attrs)


def damages(run):
    """[(target, label, apply or bytes to keep)]: target is an object path or 'path@attribute'."""
    out = []
    with h5py.File(run, "r") as f:
        objects = [("/", f)]
        f.visititems(lambda n, o: objects.append(("/" + n, o)))
        for path, o in objects:
            for key, value in o.attrs.items():
                out += [(f"{path}@{key}", label, apply) for label, apply in attribute_damages(path, key, value)]
            if path == "/":
                continue
            found = dataset_damages(path, o) if isinstance(o, h5py.Dataset) else group_damages(path)
            out += [(path, label, apply) for label, apply in found]
    out += [("file", label, keep) for label, keep in truncations(os.path.getsize(run))]
    return out + [("file", RENDERED, every_float_nonfinite)]


def make_variant(run, dest, damage):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if isinstance(damage, int):
        with open(run, "rb") as src, open(dest, "wb") as dst:
            dst.write(src.read(damage))
        return
    shutil.copyfile(run, dest)
    if damage:
        with h5py.File(dest, "r+") as f:
            damage(f)


# ---- trace: the objects and attributes a command touches ----

def trace(record):
    """Patch h5py so every object or attribute opened, asked for (`in`) or listed is added to the
    set `record` as 'path', '?path' (asked for), 'path/*' (members listed), 'path/**' (visited),
    'path@key', '?path@key' or 'path@*' (attributes listed)."""
    from h5py._hl import attrs as h5attrs, group

    def full(base, name):
        if isinstance(name, bytes):
            name = name.decode()
        return posixpath.normpath(posixpath.join(base, name)) if isinstance(name, str) else base + "/**"

    def wrap(cls, method, key):
        original = getattr(cls, method)

        def traced(self, *args, **kwargs):
            record.add(key(self, *args))
            return original(self, *args, **kwargs)
        setattr(cls, method, traced)

    wrap(group.Group, "__getitem__", lambda g, name, *_: full(g.name, name))
    wrap(group.Group, "__contains__", lambda g, name: "?" + full(g.name, name))
    wrap(h5attrs.AttributeManager, "__getitem__", lambda a, name: f"{a.owner}@{name}")
    wrap(h5attrs.AttributeManager, "__contains__", lambda a, name: f"?{a.owner}@{name}")
    for method in ("__iter__", "__len__"):
        wrap(group.Group, method, lambda g, *_: g.name.rstrip("/") + "/*")
        wrap(h5attrs.AttributeManager, method, lambda a, *_: f"{a.owner}@*")
    for method in ("visit", "visititems"):
        wrap(group.Group, method, lambda g, *_: g.name.rstrip("/") + "/**")
    init = h5attrs.AttributeManager.__init__

    def owned(self, parent):
        init(self, parent)
        self.owner = parent.name
    h5attrs.AttributeManager.__init__ = owned


def notices(touched, target, label):
    """Whether a command that touched `touched` (trace()) can notice `label` done to target."""
    if target == "file":
        return True
    below = (target + "/", target + "@")
    for t in touched:
        if t.startswith("?"):  # only whether it exists: changed by deleting it or something above it
            if t[1:] == target and label == "delete" or t[1:].startswith(below):
                return True
        elif t.endswith("/**"):
            if target.startswith(t[:-2]):
                return True
        elif "@" in target:
            owner = target.split("@")[0]
            if t in (target, owner + "@*"):
                return True
        elif t == target or t.startswith(below) or t == posixpath.dirname(target).rstrip("/") + "/*":
            return True
    return False


# ---- running the commands ----

def role(target):
    """What a damaged target is to the GENERIC commands, which treat every /metrics series but step
    alike and every /timers region but steps alike: '/metrics/*' for '/metrics/distance'."""
    parts = target.split("/")
    if len(parts) > 2 and parts[1] in ("metrics", "timers"):
        name, *key = parts[2].split("@")
        parts[2] = "@".join([name if name in ("step", "steps") else "*", *key])
    return "/".join(parts)


def commands(workload, variant, study, out):
    """[(command, argv, what its one-line error must name)] that apply to a run file of workload."""
    cmds = [("report", [variant], variant), ("plot", [variant, "--out", out], variant)]
    if workload in FIGURES:
        cmds.append((workload, [variant, "--out", out], variant))
    return [(c, [c, *argv], names) for c, argv, names in cmds + [("scaling-report", [study], study)]]


def check_axes(fig, *args, **kwargs):
    """Figure.savefig without the text layout and PNG encoding: what rendering computes from the
    data alone (every axis' limits, tick locations and tick labels), where odd data fail."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            axis.major.formatter.format_ticks(axis.get_majorticklocs())
            axis.get_minorticklocs()


class Runner:
    """Runs saddle-post commands in this process as the script runs them (sys.exit(main())), each
    with fresh warning registries, its own stdout and stderr, and its figures closed after."""

    def __init__(self, cli):
        import matplotlib.figure
        import matplotlib.pyplot as plt
        self.cli, self.plt, self.figure = cli, plt, matplotlib.figure.Figure
        self.full = self.figure.savefig, self.figure.tight_layout

    def render(self, full):
        """Full rendering, or check_axes() in place of savefig and no tight_layout (text layout)."""
        self.figure.savefig, self.figure.tight_layout = self.full if full else (check_axes, lambda *a, **k: None)

    def run(self, argv):
        """(exit code, stderr) of `saddle-post argv`."""
        err = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                rc = self.cli.main(argv)
                rc = 0 if rc is None else rc
            except SystemExit as e:
                rc = 0 if e.code is None else e.code
                if not isinstance(rc, int):
                    print(rc, file=sys.stderr)
                    rc = 1
            except Exception:
                traceback.print_exc()
                rc = 1
            finally:
                self.plt.close("all")
        return rc, err.getvalue()


def worker(runner, share, log):
    """In a forked child: make each variant of `share` and run its commands, one JSON line per
    command started and per result in log; a hang is killed by SIGALRM (default action)."""
    with open(log, "w") as out:
        for v in share:
            make_variant(v["run"], v["path"], v["damage"])
            runner.render(v["label"] == RENDERED)
            for i, (command, argv, names) in enumerate(v["commands"]):
                print(json.dumps(dict(variant=v["slot"], command=i)), file=out, flush=True)
                signal.alarm(TIMEOUT)
                rc, stderr = runner.run(argv)
                signal.alarm(0)
                print(json.dumps(dict(variant=v["slot"], command=i, rc=rc, stderr=stderr)), file=out, flush=True)
            shutil.rmtree(v["dir"])
    os._exit(0)


def traces(runner, intact, log):
    """In a forked child: run every command on every intact file with h5py traced (trace()) and
    write {"<slot>/<command index>": [rc, stderr, touched]} to log."""
    touched, found = set(), {}
    trace(touched)
    runner.render(False)
    for v in intact:
        make_variant(v["run"], v["path"], None)
        for i, (command, argv, names) in enumerate(v["commands"]):
            touched.clear()
            signal.alarm(TIMEOUT)
            found[f"{v['slot']}/{i}"] = [*runner.run(argv), sorted(touched)]
            signal.alarm(0)
    with open(log, "w") as out:
        json.dump(found, out)
    os._exit(0)


def forked(target, *args):
    """The pid of a child running target(*args), which leaves with os._exit (1 on an exception)."""
    pid = os.fork()
    if pid == 0:
        try:
            target(*args)
        except BaseException:
            traceback.print_exc()
        os._exit(1)
    return pid


def cause(stderr):
    """'<exception> at <file>:<line> (<function>)', the innermost saddle_post frame of a traceback."""
    frames = [l.strip() for l in stderr.splitlines() if l.strip().startswith("File ") and "saddle_post" in l]
    where = ""
    if frames:
        path, line, func = frames[-1].split(", ")
        where = f" at {os.path.basename(path.strip('File ').strip(chr(34)))}:{line.split()[-1]} ({func.split()[-1]})"
    return stderr.strip().splitlines()[-1].split(":")[0] + where


def verdict(rc, stderr, names):
    """None when the outcome passes, else why not."""
    lines = stderr.splitlines()
    if rc == 0:
        return None
    if "Traceback (most recent call last)" in stderr:
        return "traceback: " + cause(stderr)
    if rc != 2:
        return f"exit {rc}: {lines[-1] if lines else 'no message'}"
    if len(lines) != 1:
        return f"exit 2 with {len(lines)} lines on stderr"
    if not lines[0].startswith("saddle-post: ") or names not in lines[0]:
        return "exit 2 with a line that does not name the file"
    return None


class Tally:
    def __init__(self):
        self.pairs = self.skipped = self.repeated = self.exit0 = self.exit2 = 0
        self.noisy, self.failures, self.failed_variants = [], collections.defaultdict(list), set()

    def fail(self, v, command, why, detail=""):
        self.failures[why].append(f"{command} on {os.path.basename(v['run'])} {v['target']}: {v['label']}{detail}")
        self.failed_variants.add(v["slot"])

    def done(self, v, i, rc, stderr):
        command, _, names = v["commands"][i]
        self.pairs += 1
        why = verdict(rc, stderr, names)
        if why:
            self.fail(v, command, why, "" if why.startswith("traceback") else f" [{stderr.strip()[-300:]}]")
        elif rc == 0:
            self.exit0 += 1
            if stderr.strip():
                self.noisy.append(f"{command} on {os.path.basename(v['run'])} {v['target']}: {v['label']}: "
                                  f"{stderr.strip().splitlines()[-1]}")
        else:
            self.exit2 += 1

    def report(self, made, variants):
        pairs = self.pairs + self.skipped + self.repeated
        print(f"post_damaged: {made} variants ({variants} run), {pairs} variant x command pairs: "
              f"{self.skipped} not run (the command never touches the damaged part), {self.repeated} not run "
              f"(a damage of the same role already run), {self.pairs} run: {self.exit0} exit 0, {self.exit2} "
              f"exit 2, {sum(map(len, self.failures.values()))} failures ({len(self.failed_variants)} variants)")
        if self.noisy:
            print(f"exit 0 with text on stderr: {len(self.noisy)}, e.g. {self.noisy[0]}")
        for why, where in sorted(self.failures.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(where):5d}  {why}")
            for w in where[:2]:
                print(f"         e.g. {w}")


def variant(work, run, slot, workload, **damage):
    folder = os.path.join(work, slot)
    path = os.path.join(folder, "runs", "strong_n1_r1.h5")
    return dict(run=run, slot=slot, dir=folder, path=path,
                commands=commands(workload, path, folder, os.path.join(folder, "figures")), **damage)


def main():
    post, work, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
    sys.path.insert(0, post)
    from saddle_post import cli
    runner, tally, width = Runner(cli), Tally(), os.cpu_count() or 2
    workloads = {}
    for run in runs:
        with h5py.File(run, "r") as f:
            workloads[run] = f.attrs["workload"]

    # What each command touches, from its run on the intact file (which must pass with exit 0).
    intact = [variant(work, run, f"intact{i}", workloads[run]) for i, run in enumerate(runs)]
    if os.waitpid(forked(traces, runner, intact, os.path.join(work, "traces.json")), 0)[1]:
        print("post_damaged: the commands on the intact run files failed or hung")
        return 1
    with open(os.path.join(work, "traces.json")) as f:
        found = json.load(f)
    touched, bad = {}, []
    for v in intact:
        shutil.rmtree(v["dir"])
        for i, (command, *_) in enumerate(v["commands"]):
            rc, stderr, touched[v["run"], command] = found[f"{v['slot']}/{i}"]
            if rc or stderr:
                bad.append(f"{command} on intact {v['run']}: exit {rc}: {stderr}")
    if bad:
        print("post_damaged: a command fails on an intact run file:\n" + "\n".join(bad))
        return 1

    variants, seen, made = [], set(), 0
    for i, run in enumerate(runs):
        for k, (target, label, damage) in enumerate(damages(run)):
            made += 1
            v = variant(work, run, f"v{i}_{k}", workloads[run], target=target, label=label, damage=damage)
            noticed = [c for c in v["commands"] if notices(touched[run, c[0]], target, label)]
            tally.skipped += len(v["commands"]) - len(noticed)
            fresh = [c for c in noticed if c[0] not in GENERIC or (c[0], role(target), label) not in seen]
            seen.update((c[0], role(target), label) for c in fresh)
            tally.repeated += len(noticed) - len(fresh)
            if fresh:
                variants.append(dict(v, commands=fresh))
    # Interleaved shares balance the workloads' costs over the workers.
    logs = [os.path.join(work, f"worker{w}.log") for w in range(width)]
    pids = {forked(worker, runner, variants[w::width], logs[w]): w for w in range(width)}
    by_slot = {v["slot"]: v for v in variants}
    for _ in range(width):
        pid, status = os.wait()
        w = pids[pid]
        started = None
        with open(logs[w]) as f:
            for line in f:
                r = json.loads(line)
                if "rc" in r:
                    tally.done(by_slot[r["variant"]], r["command"], r["rc"], r["stderr"])
                    started = None
                else:
                    started = r
        if status:
            if started:
                v = by_slot[started["variant"]]
                killed = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                hung = killed == signal.SIGALRM
                tally.fail(v, v["commands"][started["command"]][0],
                           f"hang (killed after {TIMEOUT} s)" if hung else f"worker died (status {status})")
            tally.failures[f"not run: worker {w} stopped early"].append("the rest of its share")
    tally.report(made, len(variants))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
