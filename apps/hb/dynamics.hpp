#pragma once
// Heavy-ball dynamics on 2-D games, one trajectory per Kokkos thread, all steps in registers.
//   Sim-HB: x+ = x - h fx(x, y)  + b (x - x-);  y+ = y + h fy(x, y)  + b (y - y-)
//   Alt-HB: x+ = x - h fx(x, y)  + b (x - x-);  y+ = y + h fy(x+, y) + b (y - y-)
// Plain GDA is b = 0. Both start with zero momentum (x- = x0).
#include <cmath>
#include <cstdint>

#include "kernels/kokkos_compat.hpp"

namespace saddle::apps::hb {

// What a sweep keeps of each trajectory.
struct Outcome {
  double g0 = 0;      // |grad f| at the start
  double g_half = 0;  // |grad f| after steps/2 steps
  double g_end = 0;   // |grad f| after all steps (inf once diverged)
  double avg_sq = 0;  // AvgS: mean of |grad_x f|^2 + |grad_y f|^2 over the iterates 0..steps-1
};

// Beyond this the trajectory has diverged; stop before overflowing into inf/NaN arithmetic.
constexpr double kDivergedNorm = 1e150;

// |(a, b)| without underflow: sqrt(a^2 + b^2) is 0 once |(a, b)| < 1e-162, which would turn a
// converging trajectory's contraction rate into 0.
KOKKOS_INLINE_FUNCTION double norm2(double a, double b) {
  const double m = kernels::kc::max(kernels::kc::fabs(a), kernels::kc::fabs(b));
  if (m == 0.0 || !(m < INFINITY)) return m;
  const double u = a / m, v = b / m;
  return m * kernels::kc::sqrt(u * u + v * v);
}

// Integrates one trajectory. `record(step, x, y)` is called every `record_every` steps when
// record_every > 0 (host tracing); pass a no-op otherwise. The host's tracing instantiates it with
// a host-only lambda: nv_exec_check_disable keeps nvcc from warning (#20013) about that host call
// from a host-device function (device code passes a KOKKOS_INLINE_FUNCTION no-op).
#if defined(__NVCC__)
#pragma nv_exec_check_disable
#endif
template <class Game, class Record>
KOKKOS_INLINE_FUNCTION Outcome integrate(const Game& game, bool alternating, double h, double beta, double x,
                                         double y, std::int64_t steps, std::int64_t record_every,
                                         const Record& record) {
  Outcome o;
  double xp = x, yp = y, gx, gy;
  game.grad(x, y, gx, gy);
  o.g0 = norm2(gx, gy);
  double sum = 0;
  const std::int64_t half = steps / 2;
  for (std::int64_t s = 0; s < steps; ++s) {
    if (s > 0) game.grad(x, y, gx, gy);
    const double g2 = gx * gx + gy * gy;
    sum += g2;
    if (s == half) o.g_half = norm2(gx, gy);
    if (record_every > 0 && s % record_every == 0) record(s, x, y);
    double xn = x - h * gx + beta * (x - xp);
    game.project_x(xn);
    if (alternating) {
      double gx2;
      game.grad(xn, y, gx2, gy);
    }
    const double yn = y + h * gy + beta * (y - yp);
    xp = x;
    yp = y;
    x = xn;
    y = yn;
    if (!(kernels::kc::fabs(x) + kernels::kc::fabs(y) < kDivergedNorm)) {
      o.g_end = INFINITY;
      if (o.g_half == 0 && s < half) o.g_half = INFINITY;
      o.avg_sq = INFINITY;
      return o;
    }
  }
  game.grad(x, y, gx, gy);
  o.g_end = norm2(gx, gy);
  if (steps == 0) o.g_half = o.g_end;
  if (record_every > 0 && steps % record_every == 0) record(steps, x, y);
  o.avg_sq = steps > 0 ? sum / static_cast<double>(steps) : 0.0;
  return o;
}

// W trajectories advanced in lockstep by one thread: branch-free lane loops vectorise and hide
// the latency of each trajectory's serial dependence. Same arithmetic, step for step, as
// integrate() (the sweep test checks it bit for bit); divergence is checked every 32 steps, and
// a diverged lane is reported as integrate() would and then frozen at zero.
template <int W, bool Alternating, class Game>
KOKKOS_INLINE_FUNCTION void integrate_lanes_impl(const Game& game, const double* h, const double* beta,
                                                 const double* x0, const double* y0, std::int64_t steps, Outcome* out) {
  double x[W], y[W], xp[W], yp[W], sum[W], fx_half[W], fy_half[W];
  bool alive[W];
  const std::int64_t half = steps / 2;
  for (int l = 0; l < W; ++l) {
    x[l] = xp[l] = x0[l];
    y[l] = yp[l] = y0[l];
    sum[l] = fx_half[l] = fy_half[l] = 0;
    alive[l] = true;
    double fx, fy;
    game.grad(x[l], y[l], fx, fy);
    out[l] = Outcome{norm2(fx, fy), 0, 0, 0};
  }
  for (std::int64_t s = 0; s < steps; ++s) {
    const bool at_half = s == half;
    for (int l = 0; l < W; ++l) {
      double fx, fy;
      game.grad(x[l], y[l], fx, fy);
      const double g2 = fx * fx + fy * fy;
      sum[l] += g2;
      fx_half[l] = at_half ? fx : fx_half[l];
      fy_half[l] = at_half ? fy : fy_half[l];
      double xn = x[l] - h[l] * fx + beta[l] * (x[l] - xp[l]);
      game.project_x(xn);
      if (Alternating) {
        double unused;
        game.grad(xn, y[l], unused, fy);
      }
      const double yn = y[l] + h[l] * fy + beta[l] * (y[l] - yp[l]);
      xp[l] = x[l];
      yp[l] = y[l];
      x[l] = xn;
      y[l] = yn;
    }
    if ((s & 31) == 31 || s + 1 == steps) {
      for (int l = 0; l < W; ++l) {
        if (!alive[l] || kernels::kc::fabs(x[l]) + kernels::kc::fabs(y[l]) < kDivergedNorm) continue;
        alive[l] = false;
        out[l].g_end = out[l].g_half = out[l].avg_sq = INFINITY;
        x[l] = y[l] = xp[l] = yp[l] = 0.0;
      }
    }
  }
  for (int l = 0; l < W; ++l) {
    if (!alive[l]) continue;
    double fx, fy;
    game.grad(x[l], y[l], fx, fy);
    out[l].g_end = norm2(fx, fy);
    out[l].g_half = steps == 0 ? out[l].g_end : norm2(fx_half[l], fy_half[l]);
    out[l].avg_sq = steps > 0 ? sum[l] / static_cast<double>(steps) : 0.0;
  }
}

template <int W, class Game>
KOKKOS_INLINE_FUNCTION void integrate_lanes(const Game& game, bool alternating, const double* h, const double* beta,
                                            const double* x0, const double* y0, std::int64_t steps, Outcome* out) {
  if (alternating)
    integrate_lanes_impl<W, true>(game, h, beta, x0, y0, steps, out);
  else
    integrate_lanes_impl<W, false>(game, h, beta, x0, y0, steps, out);
}

struct NoRecord {
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t, double, double) const {}
};

}  // namespace saddle::apps::hb
