"""`saddle-post ksvd-eval RUN.h5 [RUN2.h5 ...] --labels FILE:/DATASET`: node classification on the
features a ksvd run learned (docs/workloads/ksvd.md, "Node classification on Cora").

Each node's features come from /result of the run (n = m: rows and columns are the same nodes):
  uv      [U, V], each column scaled by sqrt(sigma_l) (the default);
  scores  [scores_rows, scores_cols] = [G V, G'U] (= [U, V] scaled by sigma_l once converged);
  rows    the row scores G V only (what a node cites; the only choice when n != m);
  cols    the column scores G'U only (who cites a node).
The features are standardised (so a per-column scale such as sqrt(sigma_l) or sigma_l does not
change the result: uv and scores agree up to the solver's residual), then scikit-learn's
LogisticRegression is trained on a stratified split (--train of the nodes, default 60 %) and its
accuracy measured on the rest, for --repeats splits (default 5) drawn from --seed. One line per
run and feature set: the run's method, kernel, symmetrize, center and rank (attributes of
/result), the feature dimension and the test accuracy mean ± std. --out FILE.csv writes the table
with the accuracy of every split.

A missing file, a file that is not a finished ksvd run, a labels dataset that is missing or not
one label per row, or a feature set the run cannot give is one line on stderr and exit code 2.
"""
import csv
import os
import sys
import warnings

import numpy as np

from . import runfile

FEATURES = ("uv", "scores", "rows", "cols")
NEEDED = ("singular_values", "U", "V", "scores_rows", "scores_cols")


def split_labels_arg(spec):
    """'FILE:/DATASET' -> (FILE, DATASET); the dataset is what follows the last ':/'."""
    where = spec.rfind(":/")
    if where <= 0 or where + 2 >= len(spec):
        raise runfile.RunFileError(spec, "--labels wants FILE:/DATASET, e.g. inputs/data/cora_directed.h5:/labels")
    return spec[:where], spec[where + 2:]


def read_labels(spec):
    """The labels (1-D, integers or strings) of FILE:/DATASET."""
    path, name = split_labels_arg(spec)
    if not os.path.exists(path):
        raise runfile.RunFileError(path, "no such file (--labels)")
    import h5py
    try:
        with h5py.File(path, "r") as f:
            obj = runfile.find(f, name)
            if obj is None:
                raise runfile.RunFileError(path, f"has no dataset /{name} (--labels)")
            if not isinstance(obj, h5py.Dataset) or obj.ndim != 1 or not obj.size:
                raise runfile.RunFileError(path, f"/{name} is not a non-empty 1-D dataset of labels (shape {getattr(obj, 'shape', 'group')})")
            labels = obj[()]
    except OSError as e:
        raise runfile.damaged(path, e) from None
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all():
            raise runfile.RunFileError(path, f"/{name} holds NaN or infinite labels")
    return labels


def load(path, features):
    """({feature set: array n x d}, {attr: value}) of a finished ksvd run file."""
    with runfile.reading_workload(path, "ksvd", *(f"result/{k}" for k in NEEDED)) as f:
        r = runfile.group(f, "result")
        s = runfile.dataset(r, "singular_values", (None,), nonempty=True, finite=True)
        k = len(s)
        U = runfile.dataset(r, "U", (None, k), finite=True)
        V = runfile.dataset(r, "V", (None, k), finite=True)
        er = runfile.dataset(r, "scores_rows", U.shape, finite=True)
        ec = runfile.dataset(r, "scores_cols", V.shape, finite=True)
        attrs = {a: runfile.text_attr(r, a, "?") for a in ("method", "kernel")}
        for a in ("rank", "symmetrize", "center"):
            attrs[a] = runfile.number_attr(r, a, None, integer=True)
    n, m = len(U), len(V)
    out = {}
    for name in features:
        if name != "rows" and n != m:
            raise runfile.RunFileError(path, f"features '{name}' need one column per node, but G is {n} x {m} (use --features rows)")
        root = np.sqrt(np.maximum(s, 0.0))
        out[name] = {"uv": lambda: np.hstack([U * root, V * root]), "scores": lambda: np.hstack([er, ec]),
                     "rows": lambda: er, "cols": lambda: ec}[name]()
    return out, attrs


def accuracies(X, y, repeats, train, seed):
    """Test accuracies of standardised logistic regression on `repeats` stratified splits."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    splits = StratifiedShuffleSplit(n_splits=repeats, train_size=train, test_size=1.0 - train, random_state=seed)
    out = []
    for tr, te in splits.split(X, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=20000))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X[tr], y[tr])
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            print("saddle-post: warning: logistic regression did not converge in 20000 iterations", file=sys.stderr)
        out.append(model.score(X[te], y[te]))
    return np.array(out)


def flag(v):
    return "?" if v is None else "yes" if v else "no"


def add_arguments(p):
    p.add_argument("runs", nargs="+", metavar="RUN.h5", help="finished ksvd run files (n = m: graph nodes)")
    p.add_argument("--labels", required=True, metavar="FILE:/DATASET", help="one class label per node, e.g. inputs/data/cora_directed.h5:/labels")
    p.add_argument("--features", nargs="+", choices=FEATURES, default=["uv"], help="feature sets (default: uv)")
    p.add_argument("--repeats", type=int, default=5, help="stratified splits (default 5)")
    p.add_argument("--train", type=float, default=0.6, help="training fraction of each split (default 0.6)")
    p.add_argument("--seed", type=int, default=0, help="seed of the splits (default 0)")
    p.add_argument("--out", metavar="FILE.csv", help="also write the table, with every split's accuracy, as CSV")


def run(a):
    if a.repeats < 1:
        raise runfile.RunFileError("--repeats", f"must be >= 1, got {a.repeats}")
    if not 0.0 < a.train < 1.0:
        raise runfile.RunFileError("--train", f"must be in (0, 1), got {a.train}")
    features = list(dict.fromkeys(a.features))
    y = read_labels(a.labels)
    loaded = []
    for path in a.runs:  # every file checked before the first (slow) fit
        X, attrs = load(path, features)
        n = len(next(iter(X.values())))
        if n != len(y):
            raise runfile.RunFileError(path, f"has n = {n} rows but {a.labels} holds {len(y)} labels")
        loaded.append((path, X, attrs))
    _, counts = np.unique(y, return_counts=True)
    test = 1.0 - a.train
    if counts.min() < 2 or min(a.train, test) * len(y) < len(counts):
        raise runfile.RunFileError(a.labels, f"{len(counts)} classes (smallest {counts.min()} nodes) cannot be split "
                                             f"{a.train:g}/{test:g} with every class on both sides")
    head = ("run", "method", "kernel", "sym", "center", "rank", "features", "dim", "accuracy")
    rows = []
    for path, X, attrs in loaded:
        name = os.path.splitext(os.path.basename(path))[0]
        for feat, F in X.items():
            acc = accuracies(F, y, a.repeats, a.train, a.seed)
            rows.append(dict(run=name, method=attrs["method"], kernel=attrs["kernel"], sym=flag(attrs["symmetrize"]),
                             center=flag(attrs["center"]), rank="?" if attrs["rank"] is None else str(attrs["rank"]),
                             features=feat, dim=str(F.shape[1]), mean=acc.mean(), std=acc.std(), splits=acc))
    table = [[r[h] for h in head[:-1]] + [f"{r['mean']:.3f} ± {r['std']:.3f}"] for r in rows]
    width = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    print(f"node classification: logistic regression on standardised features, {a.repeats} stratified "
          f"{a.train:g}/{test:g} splits (seed {a.seed}), labels {a.labels}")
    for line in [list(head)] + table:
        print("  ".join(c.ljust(w) for c, w in zip(line, width)).rstrip())
    if a.out:
        with open(a.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(list(head[:-1]) + ["accuracy_mean", "accuracy_std", "repeats", "train", "seed"] +
                       [f"split_{i}" for i in range(a.repeats)])
            for r in rows:
                w.writerow([r[h] for h in head[:-1]] + [f"{r['mean']:.6f}", f"{r['std']:.6f}", a.repeats, a.train, a.seed] +
                           [f"{x:.6f}" for x in r["splits"]])
        print(a.out)
    return 0
