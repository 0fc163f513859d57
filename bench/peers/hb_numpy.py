#!/usr/bin/python3
"""numpy peer of the hb 2-D sweep (bench_hb, bench/hb_vs_numpy.sh).

Heavy-ball momentum on the bilinear game f(x, y) = x y over an n x n grid of step sizes
h in [0.01, 1] and momenta beta in [-0.9, 0.9], every grid point started at (1, 1) with zero
momentum and all of them advanced together as numpy arrays, once with alternating updates
(Alt-HB: y uses the new x) and once with simultaneous ones (Sim-HB). Prints one line:

  grid=NxN steps=S traj_steps_per_s=R alt_conv=F sim_conv=F

where R counts both schemes' trajectory steps and F is the fraction of grid points that end
inside the unit circle (bench/hb_vs_numpy.sh reads traj_steps_per_s).

  /usr/bin/python3 bench/peers/hb_numpy.py [n = 256] [steps = 2000]
"""
import sys
import time

import numpy as np


def grid(n):
    """Step sizes along axis 0, momenta along axis 1, both n x n."""
    h, beta = np.meshgrid(np.linspace(0.01, 1.0, n), np.linspace(-0.9, 0.9, n), indexing="ij")
    return h, beta


def sweep(h, beta, steps, alternating):
    """Final distance to the equilibrium (0, 0) of every grid point (inf or nan where the
    trajectory diverged, as most do: numpy's overflow warnings are silenced)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _sweep(h, beta, steps, alternating)


def _sweep(h, beta, steps, alternating):
    x, y = np.ones_like(h), np.ones_like(h)
    x_prev, y_prev = x.copy(), y.copy()
    for _ in range(steps):
        x_new = x - h * y + beta * (x - x_prev)  # grad_x f = y
        y_new = y + h * (x_new if alternating else x) + beta * (y - y_prev)  # grad_y f = x
        x_prev, y_prev, x, y = x, y, x_new, y_new
    return np.hypot(x, y)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    h, beta = grid(n)
    start = time.perf_counter()
    alt = sweep(h, beta, steps, alternating=True)
    sim = sweep(h, beta, steps, alternating=False)
    seconds = time.perf_counter() - start
    rate = 2 * n * n * steps / seconds
    print(f"grid={n}x{n} steps={steps} traj_steps_per_s={rate:.3e} "
          f"alt_conv={np.mean(alt < 1):.3f} sim_conv={np.mean(sim < 1):.3f}")


if __name__ == "__main__":
    main()
