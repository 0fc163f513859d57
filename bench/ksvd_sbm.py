"""A directed stochastic block model as ksvd's CSR group /G (indptr, indices, data, attribute
shape): the model of ksvd.data.generator = "sbm" (an arc i -> j, i != j, with probability p_in
inside a block, p_out from block b to b + 1 mod B, p_noise otherwise; B contiguous blocks), drawn
by numpy (default_rng(seed)) rather than Saddle's Philox stream, so that Saddle and scipy read the
same matrix. Per block pair the arc count is binomial and the arcs uniform without repeats.
    python3 bench/ksvd_sbm.py OUT.h5 [nodes = 100000] [blocks = 10] [p_in] [p_out] [p_noise] [seed = 1]
"""
import sys

import h5py
import numpy as np


def sbm(n, blocks, p_in, p_out, p_noise, seed):
    rng = np.random.default_rng(seed)
    edges = np.arange(blocks + 1) * n // blocks  # block b = rows edges[b] .. edges[b + 1]
    rows, cols = [], []
    for a in range(blocks):
        for b in range(blocks):
            p = p_in if a == b else p_out if b == (a + 1) % blocks else p_noise
            na, nb = edges[a + 1] - edges[a], edges[b + 1] - edges[b]
            cells = na * nb
            k = rng.binomial(cells, p)
            picked = np.unique(rng.integers(0, cells, size=int(k * 1.01) + 16))  # a few extra for repeats
            picked = rng.permutation(picked)[:k]
            i, j = edges[a] + picked // nb, edges[b] + picked % nb
            keep = i != j
            rows.append(i[keep]); cols.append(j[keep])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    return np.cumsum(indptr), cols.astype(np.int64)


def main():
    a = sys.argv[1:]
    out = a[0]
    n = int(a[1]) if len(a) > 1 else 100000
    blocks = int(a[2]) if len(a) > 2 else 10
    p_in = float(a[3]) if len(a) > 3 else 8e-4
    p_out = float(a[4]) if len(a) > 4 else 4e-4
    p_noise = float(a[5]) if len(a) > 5 else 3e-5
    seed = int(a[6]) if len(a) > 6 else 1
    indptr, indices = sbm(n, blocks, p_in, p_out, p_noise, seed)
    with h5py.File(out, "w") as f:
        g = f.create_group("G")
        g["indptr"] = indptr
        g["indices"] = indices
        g["data"] = np.ones(indices.size)
        g.attrs["shape"] = np.array([n, n], dtype=np.int64)
    print(f"sbm: {n} nodes, {blocks} blocks, {indices.size} arcs ({indices.size / n:.1f} per node) -> {out}")


if __name__ == "__main__":
    main()
