#pragma once
// Bilinear and quadratic games of any dimension,
//   f(x, y) = x'Px/2 + x'Ay - y'Qy/2 + bx'x + by'y   (bilinear: P = Q = 0),
// integrated for a batch of trajectories at once: the gradients of T trajectories are two GEMMs.
#include <cstdint>
#include <functional>
#include <vector>

#include "apps/hb/dynamics.hpp"
#include "apps/hb/games.hpp"

namespace saddle::apps::hb {

struct MatrixGame {
  std::int64_t dx = 1, dy = 1;
  std::vector<double> P, A, Q, bx, by;  // row-major dx*dx, dx*dy, dy*dy, dx, dy

  std::int64_t n() const { return dx + dy; }
  bool has_p() const;
  bool has_q() const;
  // The same game as a Kokkos functor when dx = dy = 1.
  ScalarQuadratic scalar() const { return {P[0], A[0], Q[0], bx[0], by[0]}; }
  // Jacobian of the vector field V(z) = (-grad_x f, grad_y f): [[-P, -A], [A', -Q]] (n x n).
  std::vector<double> field_jacobian() const;
  // The equilibrium z* = (x*, y*) solving grad f = 0 (throws if singular).
  std::vector<double> equilibrium() const;

  // Row-major batches of T trajectories: X (T x dx), Y (T x dy).
  void grad_x(std::int64_t T, const double* X, const double* Y, double* Gx) const;  // X P + Y A' + bx
  void grad_y(std::int64_t T, const double* X, const double* Y, double* Gy) const;  // X A - Y Q + by
};

// Integrates T trajectories of one scheme with per-trajectory step h[t] and momentum beta[t]
// from (X0, Y0); fills out[t]. `record(step, t, x, y)` is called for trajectory 0 every
// record_every steps when record_every > 0.
void integrate_batch(const MatrixGame& game, bool alternating, std::int64_t T, const double* h, const double* beta,
                     const double* X0, const double* Y0, std::int64_t steps, Outcome* out, std::int64_t record_every = 0,
                     const std::function<void(std::int64_t, const double*, const double*)>& record = {});

}  // namespace saddle::apps::hb
