"""Opening and reading Saddle run files (docs/usage.md, "The run file"; docs/design.md).

open_run(path) validates that a path is a run file and returns the open h5py.File; reading(path)
does the same as a context manager that also turns a read failure inside it into a RunFileError;
reading_workload(path, workload, *needed) also checks the workload and its results.
The validating accessors (group, members, dataset, text_attr, number_attr) read one object or
attribute of an open file and check what the caller relies on: a group, a dataset of the
promised rank, numeric kind and lengths, a string, a number. attrs (root attributes, for
showing), deck (/config parsed), metrics and timers are built on them. Every problem is a
RunFileError whose message starts with the path.
"""
import contextlib
import os
import posixpath
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
        version = number_attr(f, "schema_version", integer=True)
        if version != SCHEMA_VERSION:
            raise RunFileError(path, f"schema_version {version}; this reader knows {SCHEMA_VERSION}")
        text_attr(f, "workload")
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
        found = text_attr(f, "workload")
        if found != workload:
            article = "an" if workload[0] in "aehiosx" else "a"
            raise RunFileError(path, f"not {article} {workload} run file (workload {found})")
        missing = [n for n in needed if find(f, n) is None]
        if missing:
            raise RunFileError(path, f"{workload} run file without /{', /'.join(missing)} (the run has not finished?)")
        yield f


# Validating accessors: each returns what the caller may use as it stands (a group, an array of
# the promised rank, kind and shape, a str, a number) or raises a RunFileError naming the file
# and the object. `where` is the open file or a group of it; `path` is relative to it.

REQUIRED = object()  # the default of an accessor's `default`: absence is an error
KINDS = {"number": "iuf", "integer": "iu"}


def invalid(where, path, problem):
    """The RunFileError '<file>: <object> <problem>'."""
    return RunFileError(where.file.filename, f"{posixpath.normpath(posixpath.join(where.name, path))} {problem}")


def missing(error, default):
    """`default` for something absent, or the RunFileError `error` when default is REQUIRED."""
    if default is REQUIRED:
        raise error
    return default


def find(where, path):
    """The object at path, or None when there is none; a link to nothing is a RunFileError."""
    try:
        obj = where.get(path)
    except (KeyError, RuntimeError):  # a path through a dataset or a dangling link
        obj = None
    if obj is None and isinstance(link(where, path), (h5py.SoftLink, h5py.ExternalLink)):
        raise invalid(where, path, "is a link to nothing")
    return obj


def link(where, path):
    try:
        return where.get(path, getlink=True)
    except (KeyError, RuntimeError):
        return None


def group(where, path, default=REQUIRED):
    """The group at path; `default` when there is none (unless REQUIRED)."""
    obj = find(where, path)
    if obj is None:
        return missing(invalid(where, path, "is missing"), default)
    if not isinstance(obj, h5py.Group):
        raise invalid(where, path, "is a dataset, not a group")
    return obj


def members(where, path=".", default=REQUIRED):
    """{name: object} of the group at path, sorted by name, a member that cannot be opened an
    error; `default` when there is no such group (unless REQUIRED)."""
    g = group(where, path, None)
    if g is None:
        return missing(invalid(where, path, "is missing"), default)
    out = {}
    for name in sorted(g):
        out[name] = find(g, name)
        if out[name] is None:
            raise invalid(g, name, "cannot be opened")
    return out


def shape_text(shape):
    return "(" + ", ".join("*" if n is None else str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def dataset(where, path, *shapes, kind="number", nonempty=False, finite=False, default=REQUIRED):
    """The array of the dataset at path, of one of `shapes` (tuples of lengths, None for any) and of
    `kind` ("number": integers or floats, "integer"), with at least one element when nonempty and
    no NaN or infinity when finite; `default` when there is no such object (unless REQUIRED)."""
    obj = find(where, path)
    if obj is None:
        return missing(invalid(where, path, "is missing"), default)
    if not isinstance(obj, h5py.Dataset):
        raise invalid(where, path, "is a group, not a dataset")
    fits = any(len(s) == obj.ndim and all(n is None or n == m for n, m in zip(s, obj.shape)) for s in shapes)
    if not fits or obj.dtype.kind not in KINDS[kind] or (nonempty and not obj.size):
        want = " or ".join(shape_text(s) for s in shapes)
        found = "string" if h5py.check_string_dtype(obj.dtype) else str(obj.dtype)
        raise invalid(where, path, f"is a {found} dataset of shape {shape_text(obj.shape)}; expected "
                                   f"{'non-empty ' * nonempty}{'integers' if kind == 'integer' else 'numbers'} "
                                   f"of shape {want}")
    values = obj[()]
    if finite and not np.isfinite(values).all():
        raise invalid(where, path, "holds NaN or infinite values")
    return values


def bad_attr(where, key, problem):
    """The RunFileError '<file>: attribute <key> of <object> <problem>'."""
    name = f"root attribute {key}" if where.name == "/" else f"attribute {key} of {where.name}"
    return RunFileError(where.file.filename, f"{name} {problem}")


def text_attr(where, key, default=REQUIRED):
    """Attribute key of where as a str; `default` when absent (unless REQUIRED)."""
    if key not in where.attrs:
        return missing(bad_attr(where, key, "is missing"), default)
    v = where.attrs[key]
    if isinstance(v, bytes):
        v = v.decode(errors="replace")
    if not isinstance(v, str):
        raise bad_attr(where, key, f"is {found_text(v)}, not a string")
    return v


def number_attr(where, key, default=REQUIRED, integer=False):
    """Attribute key of where as an int (integer=True: stored as an integer) or a float; `default`
    when absent (unless REQUIRED)."""
    if key not in where.attrs:
        return missing(bad_attr(where, key, "is missing"), default)
    v = where.attrs[key]
    if not isinstance(v, (np.integer,) if integer else (np.integer, np.floating)):
        raise bad_attr(where, key, f"is {found_text(v)}, not {'an integer' if integer else 'a number'}")
    return v.item()


def found_text(v):
    """What an attribute value is, in words: 'a string', 'an array of shape (2,)', 'the float 1.5'."""
    if isinstance(v, (str, bytes)):
        return "a string"
    if isinstance(v, np.ndarray):
        return f"an array of shape {shape_text(v.shape)}"
    return f"the {type(v).__name__} {v}"


def plain(v):
    """An attribute value as plain Python (str, int, float or list)."""
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v.tolist()]
    return v.item() if isinstance(v, np.generic) else v


def attrs(f):
    """The root attributes, sorted by name, as plain Python values (for showing; the typed
    accessors above for computing)."""
    return {k: plain(f.attrs[k]) for k in sorted(f.attrs)}


def deck(f, default=REQUIRED):
    """The resolved deck (/config attribute toml) as a dict; `default` when there is no /config."""
    config = group(f, "config", default)
    if config is default:
        return default
    try:
        return tomllib.loads(text_attr(config, "toml"))
    except tomllib.TOMLDecodeError as e:
        raise RunFileError(f.filename, f"/config is not valid TOML ({e})") from None


def table(f, deck, *path):
    """The deck's table at `path` ("qoda", "quantizer"): {} when absent, a RunFileError when the
    resolved deck holds something else there (a damaged /config)."""
    for depth, name in enumerate(path):
        deck = deck.get(name, {})
        if not isinstance(deck, dict):
            raise RunFileError(f.filename, f"/config: [{'.'.join(path[:depth + 1])}] is not a table")
    return deck


def metrics(f):
    """(step, {name: series}): /metrics/step (integers) and every other /metrics series (1-D
    numbers), cut to equal length; no rows when there is no /metrics."""
    found = members(f, "metrics", {})
    series = {k: dataset(f, f"metrics/{k}", (None,)) for k in found if k != "step"}
    if "step" in found:
        step = dataset(f, "metrics/step", (None,), kind="integer")
    else:
        step = np.arange(min((len(v) for v in series.values()), default=0))
    rows = min([len(step)] + [len(v) for v in series.values()])
    return step[:rows], {k: v[:rows] for k, v in series.items()}


def timers(f):
    """{region: Timer}, empty before the run has finished."""
    found = members(f, "timers", {})
    return {k: Timer(dataset(f, f"timers/{k}", (None,), nonempty=True),
                     *(number_attr(f[f"timers/{k}"], a) for a in ("min", "mean", "max"))) for k in found}
