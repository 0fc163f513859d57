#!/usr/bin/python3
"""scikit-learn/scipy peer of the ksvd benchmark (bench/ksvd_vs_sklearn.sh).

Draws X ~ N(0, I_16) and Z ~ N(0, I_16) + 0.5 (n points each) from numpy's default_rng(1), in
that order, so that the bench script can hand Saddle the same data; forms the RBF kernel matrix
G_ij = exp(-|x_i - z_j|^2 / (2 sigma^2)), sigma = 2, explicitly; and takes its 10 leading singular
triplets with scikit-learn's randomized_svd at its defaults (10 extra columns, n_iter "auto" = 7
power iterations here). Prints one line

  n=N form_G_s=T randomized_svd_s=T total_s=T top=[s1 s2 s3]

and, for n <= 4000, a second line with scipy's full SVD (LAPACK gesdd) of the same G:

  n=N scipy_full_svd_s=T

  /usr/bin/python3 bench/peers/ksvd_sklearn.py [n = 20000]
"""
import sys
import time

import numpy as np
import scipy.linalg
from sklearn.utils.extmath import randomized_svd

DIM, RANK, SIGMA = 16, 10, 2.0


def data(n):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, DIM))
    z = rng.normal(size=(n, DIM)) + 0.5
    return x, z


def rbf_matrix(x, z):
    """G in place of the squared distances, one n x n array."""
    g = x @ z.T
    g *= -2.0
    g += (x * x).sum(axis=1)[:, None]
    g += (z * z).sum(axis=1)[None, :]
    np.maximum(g, 0.0, out=g)
    g *= -1.0 / (2.0 * SIGMA ** 2)
    return np.exp(g, out=g)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    x, z = data(n)
    t0 = time.perf_counter()
    g = rbf_matrix(x, z)
    t1 = time.perf_counter()
    _, s, _ = randomized_svd(g, RANK, random_state=0)
    t2 = time.perf_counter()
    top = " ".join(f"{v:.17g}" for v in s[:3])
    print(f"n={n} form_G_s={t1 - t0:.2f} randomized_svd_s={t2 - t1:.2f} total_s={t2 - t0:.2f} top=[{top}]")
    if n <= 4000:
        t3 = time.perf_counter()
        scipy.linalg.svd(g, full_matrices=False, lapack_driver="gesdd")
        print(f"n={n} scipy_full_svd_s={time.perf_counter() - t3:.2f}")


if __name__ == "__main__":
    main()
