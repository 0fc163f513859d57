#include "apps/hb/analysis.hpp"

#include <cmath>
#include <limits>

#include "kernels/linalg/ops.hpp"

namespace saddle::apps::hb {

std::vector<double> two_step_matrix(const MatrixGame& g, bool alternating, double h, double beta) {
  const std::int64_t dx = g.dx, dy = g.dy, n = g.n(), N = 2 * n;
  std::vector<double> M(static_cast<std::size_t>(N * N), 0.0);
  auto at = [&](std::int64_t i, std::int64_t j) -> double& { return M[static_cast<std::size_t>(i * N + j)]; };
  // x+ = ((1+b) I - h P) x - h A y - b x-
  for (std::int64_t i = 0; i < dx; ++i) {
    for (std::int64_t j = 0; j < dx; ++j) at(i, j) = (i == j ? 1.0 + beta : 0.0) - h * g.P[i * dx + j];
    for (std::int64_t j = 0; j < dy; ++j) at(i, dx + j) = -h * g.A[i * dy + j];
    at(i, n + i) = -beta;
  }
  // y+ = h A' x^ + ((1+b) I - h Q) y - b y-, where x^ is x (Sim) or x+ (Alt).
  for (std::int64_t i = 0; i < dy; ++i) {
    for (std::int64_t k = 0; k < dx; ++k) {
      const double hA = h * g.A[k * dy + i];
      if (!alternating) {
        at(dx + i, k) += hA;
      } else {
        for (std::int64_t j = 0; j < N; ++j) at(dx + i, j) += hA * at(k, j);
      }
    }
    for (std::int64_t j = 0; j < dy; ++j) at(dx + i, dx + j) += (i == j ? 1.0 + beta : 0.0) - h * g.Q[i * dy + j];
    at(dx + i, n + dx + i) += -beta;
  }
  for (std::int64_t i = 0; i < n; ++i) at(n + i, i) = 1.0;  // (x-, y-) <- (x, y)
  return M;
}

double sim_radius(const std::vector<std::complex<double>>& field_eigs, double h, double beta) {
  double r = 0;
  for (const auto& l : field_eigs) {
    const std::complex<double> s = 1.0 + beta + h * l, d = std::sqrt(s * s - 4.0 * beta);
    r = std::max({r, std::abs(0.5 * (s + d)), std::abs(0.5 * (s - d))});
  }
  return r;
}

double alt_bilinear_radius(const std::vector<double>& singular, bool unmatched, double h, double beta) {
  double r = unmatched ? std::max(1.0, std::fabs(beta)) : 0.0;  // an uncoupled mode: roots 1 and beta
  MatrixGame block;
  block.P = {0.0};
  block.Q = {0.0};
  block.bx = {0.0};
  block.by = {0.0};
  for (double s : singular) {
    block.A = {s};
    r = std::max(r, kernels::linalg::spectral_radius(4, two_step_matrix(block, true, h, beta)));
  }
  return r;
}

double sim_step_bound(const std::vector<std::complex<double>>& field_eigs, double beta) {
  double bound = std::numeric_limits<double>::infinity();
  const double scale = 2.0 * (1.0 - beta) * (1.0 - beta) / (1.0 + beta);
  for (const auto& l : field_eigs) {
    const double re = l.real(), im2 = l.imag() * l.imag(), re2 = re * re;
    if (re > 0.0 || (re == 0.0 && im2 > 0.0)) return 0.0;  // growth, or rotation without damping (bilinear)
    if (im2 > re2) bound = std::min(bound, scale * std::fabs(re) / (im2 - re2));
  }
  return bound;
}

double sim_exact_step_bound(const std::vector<std::complex<double>>& field_eigs, double beta, double h_max) {
  const int scan = 4000;
  const double lo = 1e-8;
  auto unstable = [&](double h) { return sim_radius(field_eigs, h, beta) >= 1.0; };
  if (unstable(lo)) return 0.0;
  double prev = lo;
  for (int i = 1; i <= scan; ++i) {
    const double h = lo * std::pow(h_max / lo, static_cast<double>(i) / scan);
    if (unstable(h)) {
      double a = prev, b = h;
      for (int k = 0; k < 100; ++k) {
        const double m = 0.5 * (a + b);
        (unstable(m) ? b : a) = m;
      }
      return a;
    }
    prev = h;
  }
  return std::numeric_limits<double>::infinity();
}

std::vector<double> modified_matrix(const MatrixGame& g, bool alternating, double h, double beta) {
  const std::int64_t dx = g.dx, dy = g.dy, n = g.n();
  const double om = 1.0 - beta, c = h * (1.0 + beta) / (4.0 * om * om * om);
  const double ay = 2.0 * c - (alternating ? h / (om * om) : 0.0);
  // z' = L g with g = grad f = G z + b:
  //   L = [[-(1/(1-b)) I - 2c P, 2c A], [ay A', (1/(1-b)) I + 2c Q]],  G = [[P, A], [A', -Q]].
  std::vector<double> L(static_cast<std::size_t>(n * n), 0.0), G(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t i = 0; i < dx; ++i) {
    for (std::int64_t j = 0; j < dx; ++j) {
      L[i * n + j] = (i == j ? -1.0 / om : 0.0) - 2.0 * c * g.P[i * dx + j];
      G[i * n + j] = g.P[i * dx + j];
    }
    for (std::int64_t j = 0; j < dy; ++j) {
      L[i * n + dx + j] = 2.0 * c * g.A[i * dy + j];
      G[i * n + dx + j] = g.A[i * dy + j];
      L[(dx + j) * n + i] = ay * g.A[i * dy + j];
      G[(dx + j) * n + i] = g.A[i * dy + j];
    }
  }
  for (std::int64_t i = 0; i < dy; ++i)
    for (std::int64_t j = 0; j < dy; ++j) {
      L[(dx + i) * n + dx + j] = (i == j ? 1.0 / om : 0.0) + 2.0 * c * g.Q[i * dy + j];
      G[(dx + i) * n + dx + j] = -g.Q[i * dy + j];
    }
  std::vector<double> K(static_cast<std::size_t>(n * n));
  kernels::linalg::host_backend().gemm(false, false, n, n, n, 1.0, L.data(), n, G.data(), n, 0.0, K.data(), n);
  return K;
}

double ode_rate(const MatrixGame& g, bool alternating, double h, double beta) {
  double top = -std::numeric_limits<double>::infinity();
  for (const auto& l : kernels::linalg::eigenvalues(g.n(), modified_matrix(g, alternating, h, beta))) top = std::max(top, l.real());
  return std::exp(h * top);
}

}  // namespace saddle::apps::hb
