#pragma once
// Exact and continuous-time predictions for heavy-ball dynamics on linear(ised) games
// (docs/algorithms.md section 4): the spectral radius of the two-step iteration matrix, the modified
// equations (their linear form for matrix games, their right-hand side for 2-D games) and the
// sufficient step bound of Sim-HB.
#include <complex>
#include <cstdint>
#include <vector>

#include "apps/hb/matrix_game.hpp"

namespace saddle::apps::hb {

// The two-step iteration matrix (2n x 2n, state (x, y, x-, y-)) of Sim-HB or Alt-HB.
std::vector<double> two_step_matrix(const MatrixGame& g, bool alternating, double h, double beta);

// Sim-HB's radius from the eigenvalues lambda of the field Jacobian: the roots of
// mu^2 - (1 + beta + h lambda) mu + beta = 0.
double sim_radius(const std::vector<std::complex<double>>& field_eigs, double h, double beta);

// Alt-HB's radius on a bilinear game from the singular values of A (2-by-2 blocks per value);
// `unmatched` adds the modes of a non-square A.
double alt_bilinear_radius(const std::vector<double>& singular, bool unmatched, double h, double beta);

// The step bound of docs/algorithms.md section 4 for Sim-HB with momentum beta:
//   min over lambda of 2 (1 - beta)^2 / (1 + beta) |Re l| / (Im l^2 - Re l^2),
// where eigenvalues with Im^2 <= Re^2 (and Re < 0) impose no bound, and Re >= 0 gives 0.
// It is exactly where the modified equation's eigenvalue l/(1-b) - h (1+b) l^2 / (2 (1-b)^3)
// crosses the imaginary axis: a first-order (small h) prediction of the discrete boundary, which
// it overestimates (tests: 4 % to 70 % on a damped rotation), not a sufficient condition.
double sim_step_bound(const std::vector<std::complex<double>>& field_eigs, double beta);

// The exact largest stable step of Sim-HB: the smallest h > 0 (below h_max) where the two-step
// radius reaches 1, found by a log-spaced scan and bisection; inf if none, 0 if every h fails.
double sim_exact_step_bound(const std::vector<std::complex<double>>& field_eigs, double beta, double h_max);

// The modified equation of a matrix game is linear: z' = K z + const, K = L(h, beta) G (n x n).
std::vector<double> modified_matrix(const MatrixGame& g, bool alternating, double h, double beta);
// exp(h * max Re eig K): the per-step contraction the modified equation predicts.
double ode_rate(const MatrixGame& g, bool alternating, double h, double beta);

// Right-hand side of the modified equation of a 2-D game (time t = k h):
//   F = f/(1-b) + c (fx^2 - fy^2), c = h (1+b) / (4 (1-b)^3)
//   Sim: x' = -dF/dx, y' = dF/dy;  Alt: y' gets - h/(2 (1-b)^2) d(fx^2)/dy in addition.
template <class Game>
void modified_rhs(const Game& game, bool alternating, double h, double beta, double x, double y, double& dx,
                  double& dy) {
  double fx, fy, fxx, fxy, fyy;
  game.grad(x, y, fx, fy);
  game.hess(x, y, fxx, fxy, fyy);
  const double om = 1.0 - beta, c = h * (1.0 + beta) / (4.0 * om * om * om);
  dx = -(fx / om + 2.0 * c * (fx * fxx - fy * fxy));
  dy = fy / om + 2.0 * c * (fx * fxy - fy * fyy) - (alternating ? h / (om * om) * fx * fxy : 0.0);
}

}  // namespace saddle::apps::hb
