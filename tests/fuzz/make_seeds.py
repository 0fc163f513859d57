#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/CMakeLists.txt) under OUT/<target>/:
the decks of inputs/ and tests/decks/bad/ (with their `# args:` overrides after "#overrides"),
small valid HDF5 input files of each reader in the layouts h5py writes (HDF5's earliest format,
whose metadata has no checksums, so mutations reach the parser, and the latest one, chunked and
filtered datasets), and the quantised payloads that PAYLOAD_SEEDS (payload_seeds.cpp) writes.

usage: make_seeds.py OUT SOURCE_DIR PAYLOAD_SEEDS
"""
import pathlib
import subprocess
import sys

import h5py
import numpy as np


def decks(out, src):
    d = out / "fuzz_deck"
    d.mkdir(parents=True, exist_ok=True)
    for deck in sorted((src / "inputs").glob("*.toml")) + sorted((src / "tests/decks/bad").glob("*.toml")):
        text = deck.read_bytes()  # bytes: some bad decks are not even UTF-8
        args = [line[len(b"# args: "):].split() for line in text.splitlines() if line.startswith(b"# args: ")]
        if args:
            text += b"\n#overrides\n" + b"\n".join(args[0])
        (d / deck.name).write_bytes(text)


def h5(path, datasets, attrs=None, libver="earliest", chunked=False):
    """datasets: name -> array; a name ending in '/' makes a group (CSR)."""
    with h5py.File(path, "w", libver=libver) as f:
        for name, value in datasets.items():
            kw = {}
            arr = np.asarray(value)
            if chunked and arr.ndim > 0 and arr.size > 1:
                kw = dict(chunks=True, compression="gzip", shuffle=True, fletcher32=True)
            f.create_dataset(name, data=arr, **kw)
        for (obj, name), value in (attrs or {}).items():
            f[obj].attrs[name] = value


def readers(out):
    rng = np.random.default_rng(1)

    def variants(target, stem, datasets, attrs=None):
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        h5(d / f"{stem}.h5", datasets, attrs)
        h5(d / f"{stem}_latest.h5", datasets, attrs, libver="latest")
        h5(d / f"{stem}_chunked.h5", datasets, attrs, chunked=True)

    X, Z = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    variants("fuzz_ksvd_data", "points", {"X": X})
    variants("fuzz_ksvd_data", "points_z_test", {"X": X, "Z": Z, "Xtest": rng.normal(size=(2, 3))})
    variants("fuzz_ksvd_data", "dense", {"G": rng.normal(size=(5, 4))})
    variants("fuzz_ksvd_data", "csr", {"G/indptr": np.array([0, 2, 3, 5], dtype=np.int64),
                                       "G/indices": np.array([0, 3, 1, 2, 3], dtype=np.int64),
                                       "G/data": rng.normal(size=5)},
             {("G", "shape"): np.array([3, 4], dtype=np.int64)})

    A = rng.normal(size=(3, 2))
    variants("fuzz_qoda_problem", "bilinear", {"A": A, "b": rng.normal(size=3), "c": rng.normal(size=2)})
    variants("fuzz_qoda_problem", "quadratic", {"M": np.eye(3) + np.triu(rng.normal(size=(3, 3)), 1) * 0.1,
                                                "q": rng.normal(size=3)})

    variants("fuzz_hb_game", "bilinear", {"A": A})
    variants("fuzz_hb_game", "quadratic", {"A": A, "P": np.eye(3), "Q": 2 * np.eye(2), "bx": np.ones(3), "by": np.zeros(2)})

    S, nA, nB = 3, 2, 2
    P = rng.random(size=(S, nA, nB, S))
    P /= P.sum(axis=3, keepdims=True)
    game = {"P": P, "R": rng.uniform(-1, 1, size=(S, nA, nB)), "rho": np.full(S, 1.0 / S)}
    variants("fuzz_mail_game", "gamma_attribute", game, {("/", "gamma"): 0.9})
    variants("fuzz_mail_game", "gamma_dataset", dict(game, gamma=np.float64(0.8)))

    variants("fuzz_wgan_data", "x", {"X": rng.normal(size=(40, 2))})


def main():
    out, src, payload_seeds = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
    decks(out, src)
    readers(out)
    (out / "fuzz_payload").mkdir(parents=True, exist_ok=True)
    subprocess.run([payload_seeds, str(out / "fuzz_payload")], check=True)


if __name__ == "__main__":
    main()
