#pragma once
// A zero-sum matrix game solved by GLPK's simplex: the reference and the fallback of the
// specialised pivoting solver (kernels/stage_game.hpp). GLPK keeps per-thread environment state
// and is not safe for concurrent problems in one process unless each thread has its own
// environment: callers use it from one thread only (the Markov-game sweeps run their fallbacks
// serially after the parallel loop; Kokkos here is Serial anyway).
#include "kernels/stage_game.hpp"

namespace saddle::apps::mail {

// Same contract as kernels::solve_stage_game (value, certified gap, x, y); throws
// std::runtime_error if GLPK reports a failure.
kernels::StageSolution solve_stage_game_glpk(const double* M, int m, int n, double* x, double* y, double tol = 1e-9);

}  // namespace saddle::apps::mail
