"""Opening and reading Saddle run files (docs/usage.md, "The run file"; docs/design.md).

open_run(path) validates that a path is a run file and returns the open h5py.File; reading(path)
does the same as a context manager that also turns a read failure inside it into a RunFileError;
reading_workload(path, workload, *needed) also checks the workload and its results.
The helpers below take the open file: attrs (root attributes), deck (/config parsed), metrics
and timers. Every problem is a RunFileError whose message starts with the path.
"""
import contextlib
import os
import tomllib
from typing import NamedTuple

import h5py
import numpy as np

REQUIRED_ATTRS = ("saddle_version", "workload", "schema_version")
SCHEMA_VERSION = 1


class RunFileError(Exception):
    """A path that is not a readable Saddle run file; str() is '<path>: <reason>'."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")


class Timer(NamedTuple):
    """One /timers/<region>: seconds per rank and their min, mean and max."""

    ranks: np.ndarray
    min: float
    mean: float
    max: float


def damaged(path, error):
    return RunFileError(path, f"cannot be read: truncated or damaged HDF5 file ({str(error).splitlines()[0]})")


def checkpoint_hint(path):
    """The run file that belongs to checkpoint <output>/<name>.ckpt/step_N.h5."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder.endswith(".ckpt"):
        run = folder[: -len(".ckpt")] + ".h5"
        rel = os.path.relpath(run)
        return run if rel.startswith("..") else rel
    return "<output>/<name>.h5"


def open_run(path):
    """The h5py.File (read-only) of the Saddle run file at path; RunFileError when it is none."""
    if not os.path.exists(path):
        raise RunFileError(path, "no such file")
    if os.path.isdir(path):
        raise RunFileError(path, "is a directory, not a run file")
    try:
        if not h5py.is_hdf5(path):
            raise RunFileError(path, "not an HDF5 file")
        f = h5py.File(path, "r")
    except OSError as e:
        raise damaged(path, e) from None
    try:
        if "saddle_checkpoint_begin" in f.attrs:
            raise RunFileError(path, f"is a checkpoint, not a run file; post-process {checkpoint_hint(path)}")
        missing = [a for a in REQUIRED_ATTRS if a not in f.attrs]
        if missing:
            raise RunFileError(path, f"not a Saddle run file (no root attribute {', '.join(missing)})")
        if int(f.attrs["schema_version"]) != SCHEMA_VERSION:
            raise RunFileError(path, f"schema_version {f.attrs['schema_version']}; this reader knows {SCHEMA_VERSION}")
    except BaseException:
        f.close()
        raise
    return f


@contextlib.contextmanager
def reading(path):
    """with reading(path) as f: ...: open_run, and a RunFileError for an HDF5 read failure inside."""
    with open_run(path) as f:
        try:
            yield f
        except OSError as e:
            raise damaged(path, e) from None


@contextlib.contextmanager
def reading_workload(path, workload, *needed):
    """reading(path) for one workload's figures: a run file of another workload, or one without
    the objects `needed` (a run that has not finished), is a RunFileError saying so."""
    with reading(path) as f:
        found = plain(f.attrs["workload"])
        if found != workload:
            article = "an" if workload[0] in "aehiosx" else "a"
            raise RunFileError(path, f"not {article} {workload} run file (workload {found})")
        missing = [n for n in needed if n not in f]
        if missing:
            raise RunFileError(path, f"{workload} run file without /{', /'.join(missing)} (the run has not finished?)")
        yield f


def plain(v):
    """An attribute value as plain Python (str, int, float or list)."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v.tolist()]
    return v.item() if isinstance(v, np.generic) else v


def attrs(f):
    """The root attributes, sorted by name, as plain Python values."""
    return {k: plain(f.attrs[k]) for k in sorted(f.attrs)}


def deck(f):
    """The resolved deck (/config attribute toml) as a dict."""
    try:
        return tomllib.loads(plain(f["config"].attrs["toml"]))
    except KeyError:
        raise RunFileError(f.filename, "no /config toml attribute") from None
    except tomllib.TOMLDecodeError as e:
        raise RunFileError(f.filename, f"/config is not valid TOML ({e})") from None


def metrics(f):
    """(step, {name: series}): /metrics/step and every other /metrics series, cut to equal length."""
    g = f.get("metrics", {})
    series = {k: g[k][()] for k in sorted(g) if k != "step"}
    step = g["step"][()] if "step" in g else np.arange(min((len(v) for v in series.values()), default=0))
    rows = min([len(step)] + [len(v) for v in series.values()])
    return step[:rows], {k: v[:rows] for k, v in series.items()}


def timers(f):
    """{region: Timer}, empty before the run has finished."""
    g = f.get("timers", {})
    return {k: Timer(g[k][()], *(float(g[k].attrs[a]) for a in ("min", "mean", "max"))) for k in sorted(g)}
