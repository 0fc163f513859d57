#pragma once
// Two-dimensional games min_x max_y f(x, y) as Kokkos-callable functors: gradient, Hessian (for the
// modified equations) and the projection onto the feasible set.
#include "kernels/kokkos_compat.hpp"

namespace saddle::apps::hb {

// f = p x^2/2 + a x y - q y^2/2 + bx x + by y  (bilinear: p = q = bx = by = 0)
struct ScalarQuadratic {
  double p = 0, a = 1, q = 0, bx = 0, by = 0;
  KOKKOS_INLINE_FUNCTION void grad(double x, double y, double& gx, double& gy) const {
    gx = p * x + a * y + bx;
    gy = a * x - q * y + by;
  }
  KOKKOS_INLINE_FUNCTION void hess(double, double, double& fxx, double& fxy, double& fyy) const {
    fxx = p;
    fxy = a;
    fyy = -q;
  }
  KOKKOS_INLINE_FUNCTION void project_x(double&) const {}
};

// f = -x y^2 on x >= 0.
struct Cubic {
  KOKKOS_INLINE_FUNCTION void grad(double x, double y, double& gx, double& gy) const {
    gx = -y * y;
    gy = -2.0 * x * y;
  }
  KOKKOS_INLINE_FUNCTION void hess(double x, double y, double& fxx, double& fxy, double& fyy) const {
    fxx = 0.0;
    fxy = -2.0 * y;
    fyy = -2.0 * x;
  }
  KOKKOS_INLINE_FUNCTION void project_x(double& x) const { x = x < 0.0 ? 0.0 : x; }
};

// f = x (y - 0.45) + phi(x) - phi(y), phi(z) = z^2/4 - z^4/2 + z^6/6: a game whose gradient
// dynamics have a limit cycle (docs/algorithms.md section 4).
struct LimitCycle {
  KOKKOS_INLINE_FUNCTION static double dphi(double z) {
    const double z2 = z * z;
    return z * (0.5 - 2.0 * z2 + z2 * z2);
  }
  KOKKOS_INLINE_FUNCTION static double ddphi(double z) {
    const double z2 = z * z;
    return 0.5 - 6.0 * z2 + 5.0 * z2 * z2;
  }
  KOKKOS_INLINE_FUNCTION void grad(double x, double y, double& gx, double& gy) const {
    gx = (y - 0.45) + dphi(x);
    gy = x - dphi(y);
  }
  KOKKOS_INLINE_FUNCTION void hess(double x, double y, double& fxx, double& fxy, double& fyy) const {
    fxx = ddphi(x);
    fxy = 1.0;
    fyy = -ddphi(y);
  }
  KOKKOS_INLINE_FUNCTION void project_x(double&) const {}
};

}  // namespace saddle::apps::hb
