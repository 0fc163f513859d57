#!/usr/bin/python3
"""scipy peer of the mail exact solve (bench/mail_vs_scipy.sh).

One sweep of Shapley value iteration on a random two-player zero-sum Markov game: S states,
A actions for each player, rewards uniform in [-1, 1], 4 equally likely successor states per
(s, a, b), discount 0.9, starting from V = 0. Each state's A x A stage game
Q(s) = R(s) + gamma E V(s') is solved as a linear program by scipy's linprog (HiGHS). A full solve
to a sup-norm tolerance eps takes about log(eps) / log(gamma) sweeps; the estimate for eps = 1e-8
is the sweep's time times that count. Prints one line

  S=N A=B=M sweep_s=T sweeps_to_1e-8~K est_solve_s=T

  /usr/bin/python3 bench/peers/mail_scipy.py [S = 10000] [A = 5]
"""
import math
import sys
import time

import numpy as np
from scipy.optimize import linprog

GAMMA, SUCCESSORS = 0.9, 4


def matrix_game_value(m):
    """max_x min_b (x' m)_b over mixed strategies x of the row player: variables (x, v),
    maximise v subject to m' x >= v and sum x = 1."""
    rows, cols = m.shape
    cost = np.zeros(rows + 1)
    cost[-1] = -1.0
    a_ub = np.hstack([-m.T, np.ones((cols, 1))])
    a_eq = np.hstack([np.ones((1, rows)), np.zeros((1, 1))])
    bounds = [(0, None)] * rows + [(None, None)]
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(cols), A_eq=a_eq, b_eq=[1.0], bounds=bounds, method="highs")
    return res.x[-1]


def main():
    states = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    actions = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rng = np.random.default_rng(0)
    reward = rng.uniform(-1.0, 1.0, (states, actions, actions))
    successors = rng.integers(0, states, (states, actions, actions, SUCCESSORS))
    value = np.zeros(states)
    start = time.perf_counter()
    q = reward + GAMMA * value[successors].mean(axis=-1)
    value = np.array([matrix_game_value(q[s]) for s in range(states)])
    seconds = time.perf_counter() - start
    sweeps = math.ceil(math.log(1e-8) / math.log(GAMMA))
    print(f"S={states} A=B={actions} sweep_s={seconds:.2f} sweeps_to_1e-8~{sweeps} est_solve_s={seconds * sweeps:.0f}")


if __name__ == "__main__":
    main()
