#!/usr/bin/env python3
"""Peer for bench_hb's d-dimensional case: Sim-HB and Alt-HB on a quadratic game with
dim_x = dim_y = d/2, T trajectories advanced together with numpy matrix products (the same
arithmetic as apps/hb/matrix_game.cpp, including |grad f|^2 at every iterate).
Prints trajectory steps per second.   hb_numpy_quadratic.py [d=1000] [T=256] [steps=100]"""
import sys, time
import numpy as np

d = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
T = int(sys.argv[2]) if len(sys.argv) > 2 else 256
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 100
rng = np.random.default_rng(1)
dx, dy = d // 2, d - d // 2
A = rng.standard_normal((dx, dy)) / np.sqrt(d)
P, Q = 0.1 * np.eye(dx), 0.1 * np.eye(dy)
h, b = 0.05, -0.2

def run(alt):
    x = rng.standard_normal((T, dx)); y = rng.standard_normal((T, dy)); xp, yp = x.copy(), y.copy()
    s = np.zeros(T)
    for _ in range(steps):
        gx = x @ P + y @ A.T
        gy = x @ A - y @ Q
        s += (gx * gx).sum(1) + (gy * gy).sum(1)
        xn = x - h * gx + b * (x - xp)
        if alt:
            gy = xn @ A - y @ Q
        yn = y + h * gy + b * (y - yp)
        xp, yp, x, y = x, y, xn, yn
    return s

t = time.perf_counter(); run(True); run(False); dt = time.perf_counter() - t
print(f"numpy_quadratic d={d} T={T} steps={steps} traj_steps_per_s={2 * T * steps / dt:.4e}")
