"""The peer of bench/ksvd_krylov_vs_scipy.sh: scipy.sparse.linalg.svds (ARPACK) on ksvd's CSR
group /G of an HDF5 file, k leading triplets with vectors at tolerance tol, `repeats` times.
Prints the best time and the singular values, descending:
    svds_s=<best seconds> times=<each> sigma=[...]
    python3 bench/peers/ksvd_svds.py FILE.h5 [k = 16] [tol = 1e-10] [repeats = 3]
"""
import sys
import time

import h5py
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

path = sys.argv[1]
k = int(sys.argv[2]) if len(sys.argv) > 2 else 16
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-10
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
g = h5py.File(path, "r")["G"]
G = sp.csr_matrix((g["data"][:], g["indices"][:], g["indptr"][:]), shape=tuple(g.attrs["shape"]))
times = []
for _ in range(repeats):
    t = time.perf_counter()
    u, s, vt = sla.svds(G, k=k, tol=tol)
    times.append(time.perf_counter() - t)
s = np.sort(s)[::-1]
print(f"svds_s={min(times):.4f} times={','.join(f'{x:.4f}' for x in times)} sigma=[{' '.join(f'{x:.17g}' for x in s)}]")
