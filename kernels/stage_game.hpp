#pragma once
// Exact solution of a small zero-sum matrix game M (m x n, row player maximises x'My, column
// player minimises) by the classical simplex on the game's LP (Dantzig's pivoting method for
// games): shift M to M' = M + c > 0, then
//     maximise 1'w  subject to  M' w <= 1, w >= 0,
// whose optimum z* gives val(M) = 1/z* - c, y = w/z* and, from the reduced costs of the slack
// columns (the dual), x = u/z*. The slack basis is feasible, so no phase 1 is needed.
//
// Every solution is self-certified: the duality gap max_i (My)_i - min_j (x'M)_j of the returned
// pair is computed from M itself and must be below `tol`. A solve that fails the certificate (a
// degenerate or badly scaled game) reports failure and the caller falls back to GLPK
// (apps/mail/glpk_game.hpp). Dantzig's rule switches to Bland's rule (no cycling) after
// m + n pivots.
#include <cmath>
#include <cstdint>

#include "kernels/kokkos_compat.hpp"

namespace saddle::kernels {

// Largest game the fixed-size tableau holds.
constexpr int kStageMax = 16;

struct StageSolution {
  double value = 0;
  double gap = 0;   // certified duality gap of (x, y) on M: 0 up to rounding at an exact solution
  bool ok = false;  // gap <= tol
  int pivots = 0;
};

// M row-major m x n (m, n <= kStageMax); x (m) and y (n) receive the optimal strategies.
KOKKOS_INLINE_FUNCTION StageSolution solve_stage_game(const double* M, int m, int n, double* x, double* y,
                                                      double tol = 1e-11) {
  StageSolution out;
  double lo = M[0], hi = M[0];
  for (int k = 1; k < m * n; ++k) {
    lo = M[k] < lo ? M[k] : lo;
    hi = M[k] > hi ? M[k] : hi;
  }
  // Shift so the smallest entry is 1 (well away from 0) whatever the scale of M.
  const double scale = hi - lo > 0 ? hi - lo : 1.0;
  const double c = scale - lo;
  // Tableau rows 0..m-1: [M'/scale | I | 1]; objective row: reduced costs of w and slacks, -z.
  constexpr int W = 2 * kStageMax + 1;
  double T[kStageMax][W];
  double obj[W];
  int basis[kStageMax];
  const int cols = n + m, rhs = n + m;
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) T[i][j] = (M[i * n + j] + c) / scale;
    for (int j = 0; j < m; ++j) T[i][n + j] = i == j ? 1.0 : 0.0;
    T[i][rhs] = 1.0;
    basis[i] = n + i;
  }
  for (int j = 0; j < n; ++j) obj[j] = -1.0;
  for (int j = n; j < cols; ++j) obj[j] = 0.0;
  obj[rhs] = 0.0;
  const double eps = 1e-13;
  const int max_pivots = 50 * (m + n);
  for (;;) {
    const bool bland = out.pivots > m + n;
    int enter = -1;
    double best = -eps;
    for (int j = 0; j < cols; ++j)
      if (obj[j] < best) {
        enter = j;
        if (bland) break;
        best = obj[j];
      }
    if (enter < 0) break;
    if (out.pivots >= max_pivots) return out;  // ok = false: the caller falls back
    int leave = -1;
    double ratio = 0;
    for (int i = 0; i < m; ++i) {
      if (T[i][enter] <= eps) continue;
      const double r = T[i][rhs] / T[i][enter];
      if (leave < 0 || r < ratio - 1e-15 || (r <= ratio + 1e-15 && basis[i] < basis[leave])) {
        leave = i;
        ratio = r;
      }
    }
    if (leave < 0) return out;  // unbounded cannot happen for M' > 0; treat as failure
    const double piv = T[leave][enter];
    for (int j = 0; j <= rhs; ++j) T[leave][j] /= piv;
    for (int i = 0; i < m; ++i) {
      if (i == leave) continue;
      const double f = T[i][enter];
      if (f != 0.0)
        for (int j = 0; j <= rhs; ++j) T[i][j] -= f * T[leave][j];
    }
    const double f = obj[enter];
    for (int j = 0; j <= rhs; ++j) obj[j] -= f * T[leave][j];
    basis[leave] = enter;
    ++out.pivots;
  }
  const double z = obj[rhs];  // optimal 1'w
  if (!(z > 0)) return out;
  for (int j = 0; j < n; ++j) y[j] = 0.0;
  for (int i = 0; i < m; ++i)
    if (basis[i] < n) y[basis[i]] = T[i][rhs];
  for (int i = 0; i < m; ++i) x[i] = obj[n + i];
  // Normalise (clipping rounding-level negatives) so x and y are exact distributions.
  double sx = 0, sy = 0;
  for (int i = 0; i < m; ++i) sx += (x[i] = x[i] > 0 ? x[i] : 0.0);
  for (int j = 0; j < n; ++j) sy += (y[j] = y[j] > 0 ? y[j] : 0.0);
  if (!(sx > 0) || !(sy > 0)) return out;
  for (int i = 0; i < m; ++i) x[i] /= sx;
  for (int j = 0; j < n; ++j) y[j] /= sy;
  // Certificate on the original M: min_j (x'M)_j <= val <= max_i (My)_i.
  double lower = 0, upper = 0;
  for (int j = 0; j < n; ++j) {
    double s = 0;
    for (int i = 0; i < m; ++i) s += x[i] * M[i * n + j];
    lower = j == 0 || s < lower ? s : lower;
  }
  for (int i = 0; i < m; ++i) {
    double s = 0;
    for (int j = 0; j < n; ++j) s += M[i * n + j] * y[j];
    upper = i == 0 || s > upper ? s : upper;
  }
  out.gap = upper - lower;
  out.value = 0.5 * (lower + upper);
  out.ok = out.gap <= tol * scale && out.gap >= -tol * scale;
  return out;
}

}  // namespace saddle::kernels
