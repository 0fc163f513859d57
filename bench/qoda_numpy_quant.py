#!/usr/bin/python3
"""numpy peer of bench_qoda: layer-wise stochastic quantisation of a float32 vector (blocks of
65536, l2 norm, uniform levels j/7, the same layer scales), indices and signs packed in 4-bit
nibbles, then unpacked and dequantised. Prints MB/s of float32 input, CPU time of one core.

  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/qoda_numpy_quant.py [coordinates] [repeats]
"""
import sys, time
import numpy as np

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 22
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
block, s = 65536, 7
rng = np.random.default_rng(1)
scale = 10.0 ** -((np.arange(n) // block) % 4)
v = (scale * rng.standard_normal(n)).astype(np.float32)
nb = (n + block - 1) // block


def quantize_encode(v):
    vb = v.reshape(nb, block).astype(np.float64)
    norm = np.sqrt(np.einsum("ij,ij->i", vb, vb))
    u = np.abs(vb) / np.where(norm > 0, norm, 1)[:, None]
    x = u * s
    j = np.minimum(np.floor(x), s - 1)
    k = (j + (rng.random(vb.shape) < (x - j))).astype(np.uint8)
    code = (k | ((vb < 0) & (k > 0)).astype(np.uint8) << 3).ravel()
    packed = code[0::2] | (code[1::2] << 4)
    return norm, packed


def decode(norm, packed):
    code = np.empty(2 * packed.size, np.uint8)
    code[0::2] = packed & 15
    code[1::2] = packed >> 4
    k = (code & 7).astype(np.float64) / s
    sign = np.where(code & 8, -1.0, 1.0)
    return (sign * k).reshape(nb, block) * norm[:, None]


best_q = best_d = 1e30
for _ in range(reps):
    t0 = time.process_time()
    norm, packed = quantize_encode(v)
    t1 = time.process_time()
    out = decode(norm, packed)
    t2 = time.process_time()
    best_q, best_d = min(best_q, t1 - t0), min(best_d, t2 - t1)
mb = 4.0 * n / 1e6
err = np.linalg.norm(out.ravel() - v) / np.linalg.norm(v)
print(f"numpy_layerwise_uniform_4bit quantize_encode_MBps {mb / best_q:7.1f}  decode_MBps {mb / best_d:7.1f}  "
      f"bits_per_coord {8.0 * (packed.nbytes + 8 * norm.size) / n:.3f}  rel_error {err:.3f}")
