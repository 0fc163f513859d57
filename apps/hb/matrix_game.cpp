#include "apps/hb/matrix_game.hpp"

#include <Kokkos_Core.hpp>
#include <cmath>

#include "kernels/host_loops.hpp"
#include "kernels/linalg/ops.hpp"
#include "kernels/spaces.hpp"

namespace saddle::apps::hb {
namespace {

bool any_nonzero(const std::vector<double>& v) {
  for (double x : v)
    if (x != 0.0) return true;
  return false;
}

// Adds the per-column bias b (length d) to every row of G (T x d).
void add_bias(std::int64_t T, std::int64_t d, const std::vector<double>& b, double* G) {
  kernels::host_for("hb::bias", T, T * d, [&](std::int64_t t) {
    for (std::int64_t j = 0; j < d; ++j) G[t * d + j] += b[static_cast<std::size_t>(j)];
  });
}

}  // namespace

bool MatrixGame::has_p() const { return any_nonzero(P); }
bool MatrixGame::has_q() const { return any_nonzero(Q); }

std::vector<double> MatrixGame::field_jacobian() const {
  const std::int64_t N = n();
  std::vector<double> J(static_cast<std::size_t>(N * N), 0.0);
  for (std::int64_t i = 0; i < dx; ++i) {
    for (std::int64_t j = 0; j < dx; ++j) J[i * N + j] = -P[i * dx + j];
    for (std::int64_t j = 0; j < dy; ++j) J[i * N + dx + j] = -A[i * dy + j];
  }
  for (std::int64_t i = 0; i < dy; ++i) {
    for (std::int64_t j = 0; j < dx; ++j) J[(dx + i) * N + j] = A[j * dy + i];
    for (std::int64_t j = 0; j < dy; ++j) J[(dx + i) * N + dx + j] = -Q[i * dy + j];
  }
  return J;
}

std::vector<double> MatrixGame::equilibrium() const {
  // grad f = G z + b = 0 with G = [[P, A], [A', -Q]] = diag(-I, I) J.
  std::vector<double> G = field_jacobian(), rhs(static_cast<std::size_t>(n()));
  for (std::int64_t i = 0; i < dx; ++i)
    for (std::int64_t j = 0; j < n(); ++j) G[i * n() + j] = -G[i * n() + j];
  for (std::int64_t i = 0; i < dx; ++i) rhs[i] = -bx[i];
  for (std::int64_t i = 0; i < dy; ++i) rhs[dx + i] = -by[i];
  if (!any_nonzero(rhs)) return std::vector<double>(rhs.size(), 0.0);
  return kernels::linalg::solve(n(), G, rhs);
}

void MatrixGame::grad_x(std::int64_t T, const double* X, const double* Y, double* Gx) const {
  // Gx = Y A' (T x dy times dy x dx), then + X P.
  kernels::linalg::host_backend().gemm(false, true, T, dx, dy, 1.0, Y, dy, A.data(), dy, 0.0, Gx, dx);
  if (has_p()) kernels::linalg::host_backend().gemm(false, false, T, dx, dx, 1.0, X, dx, P.data(), dx, 1.0, Gx, dx);
  add_bias(T, dx, bx, Gx);
}

void MatrixGame::grad_y(std::int64_t T, const double* X, const double* Y, double* Gy) const {
  kernels::linalg::host_backend().gemm(false, false, T, dy, dx, 1.0, X, dx, A.data(), dy, 0.0, Gy, dy);
  if (has_q()) kernels::linalg::host_backend().gemm(false, false, T, dy, dy, -1.0, Y, dy, Q.data(), dy, 1.0, Gy, dy);
  add_bias(T, dy, by, Gy);
}

void integrate_batch(const MatrixGame& game, bool alternating, std::int64_t T, const double* h, const double* beta,
                     const double* X0, const double* Y0, std::int64_t steps, Outcome* out, std::int64_t record_every,
                     const std::function<void(std::int64_t, const double*, const double*)>& record) {
  const std::int64_t dx = game.dx, dy = game.dy;
  const auto sx = static_cast<std::size_t>(T * dx), sy = static_cast<std::size_t>(T * dy);
  std::vector<double> X(X0, X0 + sx), Y(Y0, Y0 + sy), Xp = X, Yp = Y, Xn(sx), Yn(sy), Gx(sx), Gy(sy), Gy0;
  if (alternating) Gy0.resize(sy);
  std::vector<double> sum(static_cast<std::size_t>(T), 0.0);
  std::vector<char> alive(static_cast<std::size_t>(T), 1);
  // |grad f|^2 of every row; for Alt-HB the y-gradient at the iterate itself is an extra product.
  auto grad_sq = [&](const std::vector<double>& gx, const std::vector<double>& gy, std::int64_t t) {
    double s = 0;
    for (std::int64_t j = 0; j < dx; ++j) s += gx[t * dx + j] * gx[t * dx + j];
    for (std::int64_t j = 0; j < dy; ++j) s += gy[t * dy + j] * gy[t * dy + j];
    return s;
  };
  // |grad f| without underflow (the squares vanish below 1e-162; see norm2).
  auto grad_norm = [&](const std::vector<double>& gx, const std::vector<double>& gy, std::int64_t t) {
    double m = 0;
    for (std::int64_t j = 0; j < dx; ++j) m = std::max(m, std::fabs(gx[t * dx + j]));
    for (std::int64_t j = 0; j < dy; ++j) m = std::max(m, std::fabs(gy[t * dy + j]));
    if (m == 0.0 || !std::isfinite(m)) return m;
    double s = 0;
    for (std::int64_t j = 0; j < dx; ++j) s += (gx[t * dx + j] / m) * (gx[t * dx + j] / m);
    for (std::int64_t j = 0; j < dy; ++j) s += (gy[t * dy + j] / m) * (gy[t * dy + j] / m);
    return m * std::sqrt(s);
  };
  game.grad_x(T, X.data(), Y.data(), Gx.data());
  game.grad_y(T, X.data(), Y.data(), Gy.data());
  for (std::int64_t t = 0; t < T; ++t) out[t] = Outcome{grad_norm(Gx, Gy, t), 0, 0, 0};
  const std::int64_t half = steps / 2;
  for (std::int64_t s = 0; s < steps; ++s) {
    if (s > 0) {
      game.grad_x(T, X.data(), Y.data(), Gx.data());
      game.grad_y(T, X.data(), Y.data(), (alternating ? Gy0 : Gy).data());
    } else if (alternating) {
      Gy0 = Gy;
    }
    const auto& Gyz = alternating ? Gy0 : Gy;  // grad_y f at the iterate (x, y)
    for (std::int64_t t = 0; t < T; ++t) {
      if (!alive[t]) continue;
      const double g2 = grad_sq(Gx, Gyz, t);
      sum[static_cast<std::size_t>(t)] += g2;
      if (s == half) out[t].g_half = grad_norm(Gx, Gyz, t);
    }
    // Only trajectory 0 is traced, and only while it has not diverged (a frozen row is no orbit).
    if (record_every > 0 && s % record_every == 0 && record && alive[0]) record(s, X.data(), Y.data());
    kernels::host_for("hb::x_update", T, T * dx, [&](std::int64_t t) {
      for (std::int64_t j = 0; j < dx; ++j) {
        const std::int64_t k = t * dx + j;
        Xn[k] = X[k] - h[t] * Gx[k] + beta[t] * (X[k] - Xp[k]);
      }
    });
    if (alternating) game.grad_y(T, Xn.data(), Y.data(), Gy.data());
    kernels::host_for("hb::y_update", T, T * dy, [&](std::int64_t t) {
      for (std::int64_t j = 0; j < dy; ++j) {
        const std::int64_t k = t * dy + j;
        Yn[k] = Y[k] + h[t] * Gy[k] + beta[t] * (Y[k] - Yp[k]);
      }
    });
    std::swap(Xp, X);
    std::swap(X, Xn);
    std::swap(Yp, Y);
    std::swap(Y, Yn);
    // A diverged row is frozen at zero (its outcome already says inf) so it cannot spread NaN
    // through the batched products.
    for (std::int64_t t = 0; t < T; ++t) {
      if (!alive[t]) continue;
      double norm = 0;
      for (std::int64_t j = 0; j < dx; ++j) norm += std::fabs(X[t * dx + j]);
      for (std::int64_t j = 0; j < dy; ++j) norm += std::fabs(Y[t * dy + j]);
      if (!(norm < kDivergedNorm)) {
        alive[t] = 0;
        out[t].g_end = out[t].avg_sq = INFINITY;
        if (s < half) out[t].g_half = INFINITY;
        for (std::int64_t j = 0; j < dx; ++j) X[t * dx + j] = Xp[t * dx + j] = 0;
        for (std::int64_t j = 0; j < dy; ++j) Y[t * dy + j] = Yp[t * dy + j] = 0;
      }
    }
  }
  game.grad_x(T, X.data(), Y.data(), Gx.data());
  game.grad_y(T, X.data(), Y.data(), Gy.data());
  if (record_every > 0 && steps % record_every == 0 && record && alive[0]) record(steps, X.data(), Y.data());
  for (std::int64_t t = 0; t < T; ++t) {
    if (!alive[t]) continue;
    out[t].g_end = grad_norm(Gx, Gy, t);
    if (steps == 0) out[t].g_half = out[t].g_end;
    out[t].avg_sq = steps > 0 ? sum[t] / static_cast<double>(steps) : 0.0;
  }
}

}  // namespace saddle::apps::hb
