#!/usr/bin/python3
"""Writes cora_points.h5: the rows of the directed Cora graph's G = D⁻¹(A + I) (cora_directed.h5)
as smoothed histograms X = (1 − ε) G + ε/n, the points of inputs/ksvd_cora_kl.toml.

Row i is paper i's citation distribution (itself and what it cites, each 1/(out-degree + 1)). The
kl kernel exp(−a KL(x_i ‖ x_j)) needs strictly positive columns, hence the ε/n floor (ε = 0.1 by
default). The file is small (the floor compresses away) and the same on every machine:
  /usr/bin/python3 inputs/data/make_cora_points.py [--eps 0.1] [--out inputs/data/cora_points.h5]
"""
import argparse
import os

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--eps", type=float, default=0.1, help="mass spread uniformly over all n papers (default 0.1)")
p.add_argument("--graph", default=os.path.join(here, "cora_directed.h5"))
p.add_argument("--out", default=os.path.join(here, "cora_points.h5"))
a = p.parse_args()
with h5py.File(a.graph, "r") as f:
    g = f["G"]
    n, m = (int(x) for x in g.attrs["shape"])
    indptr, indices, data = g["indptr"][:], g["indices"][:], g["data"][:]
    labels = f["labels"][:]
X = np.full((n, m), a.eps / m)
for i in range(n):
    X[i, indices[indptr[i]:indptr[i + 1]]] += (1 - a.eps) * data[indptr[i]:indptr[i + 1]]
assert np.allclose(X.sum(1), 1.0)
with h5py.File(a.out, "w") as f:
    f.create_dataset("X", data=X, chunks=(16, m), compression="gzip", compression_opts=9, shuffle=True)
    f.create_dataset("labels", data=labels)
    f.attrs["source"] = f"rows of G = D^-1 (A + I) of {os.path.basename(a.graph)}, smoothed: (1 - eps) G + eps/n"
    f.attrs["eps"] = a.eps
print(a.out)
