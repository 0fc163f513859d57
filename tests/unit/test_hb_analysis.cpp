// hb's dynamics and predictions against independent references: values from a separate numpy
// implementation, dense eigensolvers for the closed-form radii, long simulations for the spectral
// radius, and measured orders of convergence for RK4 and the modified equations.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "apps/hb/analysis.hpp"
#include "apps/hb/dynamics.hpp"
#include "apps/hb/games.hpp"
#include "apps/hb/matrix_game.hpp"
#include "kernels/linalg/ops.hpp"
#include "kernels/ode.hpp"

using namespace saddle::apps::hb;
namespace linalg = saddle::kernels::linalg;

namespace {

Outcome run2d(bool alt, double h, double beta, std::int64_t steps) {
  return integrate(ScalarQuadratic{0, 1, 0, 0, 0}, alt, h, beta, 1.0, 1.0, steps, 0, NoRecord{});
}

// f = p x^2/2 + a x y - q y^2/2 as a 1 x 1 matrix game.
MatrixGame scalar_game(double p, double a, double q) {
  MatrixGame g;
  g.P = {p};
  g.A = {a};
  g.Q = {q};
  g.bx = {0.0};
  g.by = {0.0};
  return g;
}

// A random quadratic game with P = B B' + shift I (shift < 0 makes it non-convex).
MatrixGame random_game(std::int64_t dx, std::int64_t dy, double shift_p, double shift_q, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> n01;
  MatrixGame g;
  g.dx = dx;
  g.dy = dy;
  auto sym = [&](std::int64_t d, double shift) {
    std::vector<double> B(static_cast<std::size_t>(d * d)), S(B.size());
    for (auto& b : B) b = 0.5 * n01(gen);
    linalg::host_backend().gemm(false, true, d, d, d, 1.0, B.data(), d, B.data(), d, 0.0, S.data(), d);
    for (std::int64_t i = 0; i < d; ++i) S[i * d + i] += shift;
    return S;
  };
  g.P = sym(dx, shift_p);
  g.Q = sym(dy, shift_q);
  g.A.resize(static_cast<std::size_t>(dx * dy));
  for (auto& a : g.A) a = n01(gen);
  g.bx.assign(static_cast<std::size_t>(dx), 0.0);
  g.by.assign(static_cast<std::size_t>(dy), 0.0);
  return g;
}

}  // namespace

// f = xy, h = 0.1, 5000 steps from (1, 1) (docs/algorithms.md section 4); the expected values come from
// an independent numpy loop: Alt-HB(-0.3) 1.4574199103053076e-3, Sim-HB(-0.3) 4155.503845901684,
// Alt-HB(+0.1) 1271.443343994799. Here |grad f| = |z|.
TEST(HbDynamics, BilinearReferenceValues) {
  EXPECT_NEAR(run2d(true, 0.1, -0.3, 5000).g_end, 1.4574199103053076e-3, 1e-12);
  EXPECT_NEAR(run2d(false, 0.1, -0.3, 5000).g_end / 4155.503845901684, 1.0, 1e-10);
  EXPECT_NEAR(run2d(true, 0.1, 0.1, 5000).g_end / 1271.443343994799, 1.0, 1e-10);
  EXPECT_NEAR(run2d(true, 0.1, 0.0, 0).g0, std::sqrt(2.0), 1e-15);
  // Sim-HB diverges for every momentum; Alt-HB converges iff beta < 0.
  // Sim-HB diverges for every momentum; Alt-HB converges iff beta < 0 (beta = 0, alternating
  // GDA, is marginal: radius exactly 1, bounded orbits).
  const MatrixGame xy = scalar_game(0.0, 1.0, 0.0);
  for (double beta : {-0.6, -0.3, -0.1, 0.0, 0.1, 0.3}) {
    const double sim = linalg::spectral_radius(4, two_step_matrix(xy, false, 0.1, beta));
    const double alt = linalg::spectral_radius(4, two_step_matrix(xy, true, 0.1, beta));
    EXPECT_GT(sim, 1.0) << beta;
    EXPECT_GT(run2d(false, 0.1, beta, 5000).g_end, std::sqrt(2.0)) << beta;
    if (beta == 0.0) {
      EXPECT_NEAR(alt, 1.0, 1e-12);
      continue;
    }
    EXPECT_EQ(alt < 1.0, beta < 0) << beta;
    EXPECT_EQ(run2d(true, 0.1, beta, 5000).g_end < std::sqrt(2.0), beta < 0) << beta;
  }
  EXPECT_TRUE(std::isinf(run2d(false, 0.9, 0.5, 100000).g_end));  // divergence detected, not NaN
}

TEST(HbDynamics, MatrixPathEqualsScalarPath) {
  MatrixGame g;
  g.P = {0.3};
  g.A = {1.2};
  g.Q = {0.1};
  g.bx = {0.2};
  g.by = {-0.4};
  const double h[3] = {0.05, 0.2, 0.4}, b[3] = {-0.3, 0.0, 0.6}, X[3] = {1, -2, 0.5}, Y[3] = {0.5, 1, -1};
  for (bool alt : {false, true}) {
    Outcome batch[3];
    integrate_batch(g, alt, 3, h, b, X, Y, 300, batch);
    for (int t = 0; t < 3; ++t) {
      const Outcome o = integrate(g.scalar(), alt, h[t], b[t], X[t], Y[t], 300, 0, NoRecord{});
      EXPECT_NEAR(batch[t].g_end, o.g_end, 1e-12 * (1 + o.g_end)) << t;
      EXPECT_NEAR(batch[t].g_half, o.g_half, 1e-12 * (1 + o.g_half)) << t;
      EXPECT_NEAR(batch[t].avg_sq, o.avg_sq, 1e-12 * (1 + o.avg_sq)) << t;
    }
  }
}

// GDA with radius 0.9014 contracts |grad f| to about 1e-181 in 4000 steps: below 1e-162 the
// squares underflow, yet the norms (and so the measured rate) must stay exact.
TEST(HbDynamics, NormsDoNotUnderflow) {
  const MatrixGame g = scalar_game(0.5, 1.0, 0.5);
  const double rho = linalg::spectral_radius(4, two_step_matrix(g, false, 0.5, 0.0));
  const double h[8] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, b[8] = {}, x[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  Outcome lanes[8], batch[1];
  integrate_lanes<8>(g.scalar(), false, h, b, x, x, 4000, lanes);
  integrate_batch(g, false, 1, h, b, x, x, 4000, batch);
  for (const Outcome& o : {integrate(g.scalar(), false, 0.5, 0.0, 1.0, 1.0, 4000, 0, NoRecord{}), lanes[0], batch[0]}) {
    EXPECT_GT(o.g_end, 0.0);
    EXPECT_LT(o.g_end, 1e-170);
    EXPECT_NEAR(std::pow(o.g_end / o.g_half, 1.0 / 2000), rho, 1e-6);
  }
}

TEST(HbAnalysis, ClosedFormRadiiEqualDenseEigenvalues) {
  const MatrixGame g = random_game(2, 3, 0.0, 0.0, 7);
  const auto eigs = linalg::eigenvalues(g.n(), g.field_jacobian());
  for (double h : {0.01, 0.1, 0.7})
    for (double b : {-0.5, 0.0, 0.3}) {
      const double dense = linalg::spectral_radius(2 * g.n(), two_step_matrix(g, false, h, b));
      EXPECT_NEAR(sim_radius(eigs, h, b), dense, 1e-9 * dense) << h << " " << b;
    }
  MatrixGame bil = random_game(3, 2, 0.0, 0.0, 9);
  bil.P.assign(9, 0.0);
  bil.Q.assign(4, 0.0);
  const auto s = linalg::singular_values(3, 2, bil.A);
  for (double h : {0.01, 0.2})
    for (double b : {-0.4, 0.2}) {
      const double dense = linalg::spectral_radius(2 * bil.n(), two_step_matrix(bil, true, h, b));
      EXPECT_NEAR(alt_bilinear_radius(s, true, h, b), dense, 1e-9 * dense);
    }
}

// Wherever the exact radius is not within 1e-3 of 1, 20000 simulated steps agree with it:
// convergence iff rho < 1 (docs/algorithms.md; issue "hb", tests).
TEST(HbAnalysis, SpectralRadiusPredictsSimulatedConvergence) {
  int checked = 0, agree = 0;
  for (unsigned seed : {1u, 2u, 3u}) {
    const MatrixGame g = random_game(2, 2, seed == 3 ? -0.3 : 0.05, 0.05, seed);  // seed 3: not convex-concave
    std::vector<double> hs, bs, X, Y;
    for (int i = 0; i < 10; ++i)
      for (int j = 0; j < 10; ++j) {
        hs.push_back(0.02 + 0.08 * i);
        bs.push_back(-0.8 + 0.17 * j);
        X.insert(X.end(), {1.0, -0.5});
        Y.insert(Y.end(), {0.3, 0.8});
      }
    for (bool alt : {false, true}) {
      std::vector<Outcome> out(hs.size());
      integrate_batch(g, alt, static_cast<std::int64_t>(hs.size()), hs.data(), bs.data(), X.data(), Y.data(), 20000, out.data());
      for (std::size_t p = 0; p < hs.size(); ++p) {
        const double rho = linalg::spectral_radius(2 * g.n(), two_step_matrix(g, alt, hs[p], bs[p]));
        if (std::fabs(rho - 1.0) <= 1e-3) continue;
        ++checked;
        const bool conv = out[p].g_end <= 1e-6 * out[p].g0;
        agree += conv == (rho < 1.0);
        EXPECT_EQ(conv, rho < 1.0) << "seed " << seed << (alt ? " alt" : " sim") << " h " << hs[p] << " beta " << bs[p]
                                   << " rho " << rho;
      }
    }
  }
  EXPECT_GT(checked, 500);
  EXPECT_EQ(agree, checked);
}

// docs/algorithms.md calls its step bound sufficient; measured, it is the stability boundary of the
// modified equation instead: there the ODE rate is exactly 1, while the exact discrete boundary
// (two-step radius = 1) lies below it and approaches it only as h -> 0.
TEST(HbAnalysis, StepBoundIsTheModifiedEquationBoundary) {
  // f = 0.2 x^2/2 + x y - 0.2 y^2/2: field eigenvalues -0.2 +- i.
  const MatrixGame g = scalar_game(0.2, 1.0, 0.2);
  const auto eigs = linalg::eigenvalues(2, g.field_jacobian());
  double last_ratio = 0;
  for (double b : {-0.6, -0.3, 0.0, 0.3, 0.6}) {
    const double bound = sim_step_bound(eigs, b);
    EXPECT_NEAR(bound, 2 * (1 - b) * (1 - b) / (1 + b) * 0.2 / (1 - 0.04), 1e-12);
    EXPECT_NEAR(ode_rate(g, false, bound, b), 1.0, 1e-12) << b;
    const double exact = sim_exact_step_bound(eigs, b, 100.0);
    EXPECT_LT(sim_radius(eigs, 0.999 * exact, b), 1.0) << b;
    EXPECT_GT(sim_radius(eigs, 1.001 * exact, b), 1.0) << b;
    EXPECT_LT(exact, bound) << b;  // so the formula is not sufficient
    EXPECT_GT(exact / bound, last_ratio) << b;  // ... but exact as the bound (and h) shrinks
    last_ratio = exact / bound;
  }
  EXPECT_GT(last_ratio, 0.95);
  EXPECT_NEAR(sim_exact_step_bound(eigs, 0.0, 100.0), 2 * 0.2 / 1.04, 1e-9);  // GDA: |1 + h l| = 1
  // Smaller (even negative) momentum widens the stable range, in both.
  EXPECT_GT(sim_step_bound(eigs, -0.3), sim_step_bound(eigs, 0.3));
  EXPECT_GT(sim_exact_step_bound(eigs, -0.3, 100.0), sim_exact_step_bound(eigs, 0.3, 100.0));
  const auto rot = linalg::eigenvalues(2, scalar_game(0.0, 1.0, 0.0).field_jacobian());
  EXPECT_EQ(sim_step_bound(rot, -0.3), 0.0);  // Sim-HB always diverges on bilinear games
  EXPECT_LT(sim_exact_step_bound(rot, -0.3, 100.0), 1e-6);  // radius 1 + O(h^2): unstable from the first h
}

TEST(HbAnalysis, Rk4IsFourthOrder) {
  // z' = [[-a, -w], [w, -a]] z: z(t) = e^{-a t} R(w t) z0.
  const double a = 0.3, w = 2.0, T = 3.0;
  auto f = [&](const std::vector<double>& z, std::vector<double>& dz) {
    dz[0] = -a * z[0] - w * z[1];
    dz[1] = w * z[0] - a * z[1];
  };
  const double ex = std::exp(-a * T) * std::cos(w * T), ey = std::exp(-a * T) * std::sin(w * T);
  double prev = 0;
  for (int steps : {20, 40, 80, 160}) {
    std::vector<double> z = {1.0, 0.0};
    saddle::kernels::rk4(f, z, T, steps);
    const double err = std::hypot(z[0] - ex, z[1] - ey);
    if (prev > 0) {
      EXPECT_NEAR(std::log2(prev / err), 4.0, 0.15) << steps;
    }
    prev = err;
  }
}

namespace {

// One heavy-ball step from the history (z_{-1}, z_0) taken on the modified equation's own
// trajectory, against the flow over one step h: the local error of the modified equation.
template <class Game>
double local_error(const Game& game, bool alt, double h, double beta, bool corrected) {
  auto rhs = [&](const std::vector<double>& z, std::vector<double>& dz) {
    modified_rhs(game, alt, corrected ? h : 0.0, beta, z[0], z[1], dz[0], dz[1]);
  };
  std::vector<double> back = {0.3, -0.2}, fwd = back;
  saddle::kernels::rk4(rhs, back, -h, 400);
  saddle::kernels::rk4(rhs, fwd, h, 400);
  const double x = 0.3, y = -0.2;
  double gx, gy;
  game.grad(x, y, gx, gy);
  const double xn = x - h * gx + beta * (x - back[0]);
  if (alt) game.grad(xn, y, gx, gy);
  const double yn = y + h * gy + beta * (y - back[1]);
  return std::hypot(xn - fwd[0], yn - fwd[1]);
}

}  // namespace

// docs/algorithms.md claims an O(h^3) local error for the modified equations. Measured: order 3 for
// Sim-HB and Alt-HB at every momentum tried, against order 2 for the plain flow f/(1 - beta).
TEST(HbAnalysis, ModifiedEquationsHaveThirdOrderLocalError) {
  for (bool alt : {false, true})
    for (double beta : {0.0, -0.3, 0.4}) {
      for (int game = 0; game < 2; ++game) {
        for (bool corrected : {true, false}) {
          auto err = [&](double h) {
            return game == 0 ? local_error(LimitCycle{}, alt, h, beta, corrected)
                             : local_error(ScalarQuadratic{0.3, 1.0, 0.2, 0.1, -0.2}, alt, h, beta, corrected);
          };
          const double order = std::log2(err(0.02) / err(0.01));
          EXPECT_NEAR(order, corrected ? 3.0 : 2.0, 0.1) << (alt ? "alt" : "sim") << " beta " << beta << " game " << game;
        }
      }
    }
}

// The linear modified equation of a matrix game (used for ode_rate) is the Jacobian of the
// general right-hand side (used for 2-D games and traces).
TEST(HbAnalysis, ModifiedMatrixIsTheJacobianOfTheModifiedField) {
  const MatrixGame g = scalar_game(0.3, 1.2, -0.1);
  for (bool alt : {false, true}) {
    const auto K = modified_matrix(g, alt, 0.1, -0.2);
    double d0x, d0y, d1x, d1y;
    modified_rhs(g.scalar(), alt, 0.1, -0.2, 1.0, 0.0, d0x, d0y);
    modified_rhs(g.scalar(), alt, 0.1, -0.2, 0.0, 1.0, d1x, d1y);
    EXPECT_NEAR(K[0], d0x, 1e-14);
    EXPECT_NEAR(K[2], d0y, 1e-14);
    EXPECT_NEAR(K[1], d1x, 1e-14);
    EXPECT_NEAR(K[3], d1y, 1e-14);
  }
}
