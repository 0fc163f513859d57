"""The RBF benchmark data of bench/ksvd_vs_sklearn.sh and bench/ksvd_krylov_vs_randomized.sh:
X, Z ~ N(0, I_16) with Z shifted by 0.5, drawn by numpy's default_rng(1) exactly as the peer
bench/peers/ksvd_sklearn.py draws them, written for Saddle as OUT.h5 with /X and /Z.
  /usr/bin/python3 bench/ksvd_rbf_data.py OUT.h5 N
"""
import sys

import h5py
import numpy as np

out, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1)
X = rng.normal(size=(n, 16))
Z = rng.normal(size=(n, 16)) + 0.5
with h5py.File(out, "w") as f:
    f["X"] = X
    f["Z"] = Z
