// mail: the stage-game solver against known matrix games and GLPK, the Markov-game operators
// against direct linear solves and brute-force enumeration, the concentrability family against
// its closed form, and BC's learning curve.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "apps/mail/games.hpp"
#include "apps/mail/glpk_game.hpp"
#include "apps/mail/learners.hpp"
#include "apps/mail/solvers.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/linalg/ops.hpp"
#include "kernels/stage_game.hpp"

using namespace saddle::apps::mail;
using saddle::kernels::MarkovGame;
using saddle::kernels::solve_stage_game;

namespace {

void expect_known(const std::vector<double>& M, int m, int n, double value, const std::vector<double>& x_want,
                  const std::vector<double>& y_want) {
  std::vector<double> x(m), y(n), xg(m), yg(n);
  const auto s = solve_stage_game(M.data(), m, n, x.data(), y.data());
  ASSERT_TRUE(s.ok);
  EXPECT_NEAR(s.value, value, 1e-14);
  for (int i = 0; i < m; ++i) EXPECT_NEAR(x[i], x_want[i], 1e-14);
  for (int j = 0; j < n; ++j) EXPECT_NEAR(y[j], y_want[j], 1e-14);
  const auto g = solve_stage_game_glpk(M.data(), m, n, xg.data(), yg.data());
  ASSERT_TRUE(g.ok);
  EXPECT_NEAR(g.value, value, 1e-12);
}

MarkovGame small_random(std::int64_t S, std::int64_t A, std::int64_t B, std::int64_t succ, std::uint64_t seed, double gamma = 0.9) {
  RandomGameSpec spec;
  spec.S = S;
  spec.A = A;
  spec.B = B;
  spec.successors = succ;
  spec.gamma = gamma;
  return random_game(spec, seed, 0, S);
}

std::vector<double> random_policy(std::int64_t S, std::int64_t n, std::uint64_t seed) {
  const saddle::kernels::CounterRng rng(seed, "test_policy");
  std::vector<double> p(static_cast<std::size_t>(S * n));
  for (std::int64_t s = 0; s < S; ++s) {
    double t = 0;
    for (std::int64_t k = 0; k < n; ++k) t += (p[s * n + k] = rng.uniform(static_cast<std::uint64_t>(s * n + k), 0));
    for (std::int64_t k = 0; k < n; ++k) p[s * n + k] /= t;
  }
  return p;
}

}  // namespace

TEST(MailStageGame, MatchingPennies) { expect_known({1, -1, -1, 1}, 2, 2, 0.0, {0.5, 0.5}, {0.5, 0.5}); }

TEST(MailStageGame, RockPaperScissors) {
  const double t = 1.0 / 3.0;
  expect_known({0, -1, 1, 1, 0, -1, -1, 1, 0}, 3, 3, 0.0, {t, t, t}, {t, t, t});
}

TEST(MailStageGame, DominatedStrategies) {
  // Row 1 is dominated by row 0, column 1 by column 0: the pure saddle (0, 0) with value 2.
  expect_known({2, 3, 1, 0}, 2, 2, 2.0, {1, 0}, {1, 0});
  // A 3 x 3 game whose dominated third row and column leave RPS-free 2 x 2 mixed play:
  // [[3, -1], [-2, 1]] has value 1/7, x = (3/7, 4/7), y = (2/7, 5/7).
  expect_known({3, -1, 5, -2, 1, 5, -3, -2, 4}, 3, 3, 1.0 / 7.0, {3.0 / 7, 4.0 / 7, 0}, {2.0 / 7, 5.0 / 7, 0});
}

TEST(MailStageGame, AgreesWithGlpkOnRandomAndDegenerateGames) {
  const saddle::kernels::CounterRng rng(7, "stage_games");
  int compared = 0;
  for (std::uint64_t k = 0; k < 3000; ++k) {
    // Sizes up to 8 x 8, and every tenth game up to the largest the tableau holds.
    const double top = k % 10 == 0 ? saddle::kernels::kStageMax : 8;
    const int m = 1 + static_cast<int>(rng.uniform(k, 0) * top), n = 1 + static_cast<int>(rng.uniform(k, 1) * top);
    const int kind = static_cast<int>(k % 3);
    std::vector<double> M(static_cast<std::size_t>(m * n));
    for (int i = 0; i < m * n; ++i) {
      const double u = rng.uniform(k, 2 + static_cast<std::uint32_t>(i));
      // kind 0: continuous; 1: entries in {-1, 0, 1} (ties, degenerate pivots); 2: scaled, shifted.
      M[i] = kind == 0 ? 2 * u - 1 : kind == 1 ? std::floor(3 * u) - 1 : 1e5 * (2 * u - 1) + 3e5;
    }
    std::vector<double> x(m), y(n), xg(m), yg(n);
    const auto s = solve_stage_game(M.data(), m, n, x.data(), y.data());
    const auto g = solve_stage_game_glpk(M.data(), m, n, xg.data(), yg.data());
    ASSERT_TRUE(g.ok) << k;
    ASSERT_TRUE(s.ok) << "pivoting solver not certified on game " << k << " (" << m << "x" << n << ", gap " << s.gap << ")";
    const double scale = kind == 2 ? 4e5 : 1.0;
    EXPECT_NEAR(s.value, g.value, 1e-11 * scale) << k;
    EXPECT_LE(s.gap, 1e-11 * scale);
    double sx = 0, sy = 0;
    for (double v : x) {
      EXPECT_GE(v, 0.0);
      sx += v;
    }
    for (double v : y) sy += v;
    EXPECT_NEAR(sx, 1.0, 1e-14);
    EXPECT_NEAR(sy, 1.0, 1e-14);
    ++compared;
  }
  EXPECT_EQ(compared, 3000);
}

TEST(MailMarkov, ValueIterationMatchesDirectSolve) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const MarkovGame g = small_random(12, 3, 4, seed == 3 ? 3 : 0, seed);
    const auto mu = random_policy(g.S, g.A, seed), nu = random_policy(g.S, g.B, seed + 100);
    const auto vi = evaluate(g, Exchange::serial(), mu.data(), nu.data(), 1e-13);
    const auto direct = evaluate_direct(g, mu.data(), nu.data());
    for (std::int64_t s = 0; s < g.S; ++s) EXPECT_NEAR(vi[s], direct[s], 1e-11);
  }
}

TEST(MailMarkov, ExpertGapBelow1e8OnRandomGames) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const MarkovGame g = small_random(seed < 4 ? 10 : 40, 3 + static_cast<std::int64_t>(seed % 3), 3, seed < 4 ? 0 : 4, seed,
                                      seed == 6 ? 0.99 : 0.9);
    const auto sol = solve_expert(g, Exchange::serial(), 1e-12);
    const Gap gap = nash_gap(g, Exchange::serial(), sol.mu.data(), sol.nu.data(), 1e-13);
    EXPECT_LT(gap.nash_gap(), 1e-8) << seed;
    // V* is the fixed point of the Shapley operator and the expert's own value.
    const auto v = evaluate_direct(g, sol.mu.data(), sol.nu.data());
    for (std::int64_t s = 0; s < g.S; ++s) EXPECT_NEAR(v[s], sol.value[s], 1e-9);
  }
}

TEST(MailMarkov, GlpkFallbackSolvesTheSameGame) {
  // A negative certificate tolerance rejects every pivoting answer: all stage games go to GLPK.
  const MarkovGame g = small_random(10, 4, 3, 0, 9);
  const auto fast = solve_expert(g, Exchange::serial(), 1e-12);
  const auto glpk = solve_expert(g, Exchange::serial(), 1e-12, 1000000, -1.0);
  EXPECT_EQ(fast.glpk_fallbacks, 0);
  EXPECT_EQ(glpk.glpk_fallbacks, glpk.sweeps * g.S);
  for (std::int64_t s = 0; s < g.S; ++s) EXPECT_NEAR(fast.value[s], glpk.value[s], 1e-9);
  EXPECT_LT(nash_gap(g, Exchange::serial(), glpk.mu.data(), glpk.nu.data(), 1e-13).nash_gap(), 1e-8);
}

TEST(MailMarkov, NashGapIsTheSumOfBothPlayersGains) {
  // Brute force: every deterministic deviation of each player, evaluated by direct solves.
  const MarkovGame g = small_random(3, 2, 2, 0, 11);
  const auto mu = random_policy(g.S, g.A, 5), nu = random_policy(g.S, g.B, 6);
  const double v = dot_rho(g, evaluate_direct(g, mu.data(), nu.data()));
  double best_max = -1e300, best_min = 1e300;
  for (int code = 0; code < 8; ++code) {
    std::vector<double> det(6, 0.0);
    for (int s = 0; s < 3; ++s) det[s * 2 + ((code >> s) & 1)] = 1.0;
    best_max = std::max(best_max, dot_rho(g, evaluate_direct(g, det.data(), nu.data())));
    best_min = std::min(best_min, dot_rho(g, evaluate_direct(g, mu.data(), det.data())));
  }
  const double gain_max = best_max - v, gain_min = v - best_min;
  ASSERT_GT(gain_max, 1e-3);
  ASSERT_GT(gain_min, 1e-3);
  const Gap gap = nash_gap(g, Exchange::serial(), mu.data(), nu.data(), 1e-13);
  EXPECT_NEAR(gap.gain_max, gain_max, 1e-10);
  EXPECT_NEAR(gap.gain_min, gain_min, 1e-10);
  EXPECT_NEAR(gap.nash_gap(), gain_max + gain_min, 1e-10);
  EXPECT_GT(gap.nash_gap(), std::max(gain_max, gain_min) + 1e-3);  // a max of the two gains fails here
}

TEST(MailMarkov, PolicyIterationAgreesWithValueIteration) {
  const MarkovGame g = small_random(15, 4, 3, 5, 21);
  const auto mu = random_policy(g.S, g.A, 1), nu = random_policy(g.S, g.B, 2);
  for (const bool max_player : {true, false}) {
    std::vector<std::int32_t> pol(static_cast<std::size_t>(g.S), 0);
    const auto pi = best_response_policy_iteration(g, max_player, max_player ? nu.data() : mu.data(), pol);
    const auto vi = best_response(g, Exchange::serial(), max_player, max_player ? nu.data() : mu.data(), 1e-13);
    for (std::int64_t s = 0; s < g.S; ++s) EXPECT_NEAR(pi[s], vi[s], 1e-10);
  }
}

TEST(MailMarkov, OccupancyMatchesDirectSolve) {
  const MarkovGame g = small_random(9, 2, 3, 0, 4);
  const auto mu = random_policy(g.S, g.A, 8), nu = random_policy(g.S, g.B, 9);
  const auto d = occupancy(g, Exchange::serial(), mu.data(), nu.data(), 1e-15);
  // d' = (1 - gamma) rho' (I - gamma P_pi)^{-1}: solve (I - gamma P_pi)' d = (1 - gamma) rho.
  std::vector<double> M(static_cast<std::size_t>(g.S * g.S), 0.0), rhs(static_cast<std::size_t>(g.S));
  for (std::int64_t s = 0; s < g.S; ++s) {
    M[s * g.S + s] += 1.0;
    rhs[s] = (1 - g.gamma) * g.rho[s];
    for (std::int64_t a = 0; a < g.A; ++a)
      for (std::int64_t b = 0; b < g.B; ++b) {
        const std::int64_t r = g.row(s, a, b);
        for (std::int64_t k = g.ptr[r]; k < g.ptr[r + 1]; ++k)
          M[g.next[k] * g.S + s] -= g.gamma * mu[s * g.A + a] * nu[s * g.B + b] * g.prob[k];
      }
  }
  const auto direct = saddle::kernels::linalg::solve(g.S, M, rhs);
  double total = 0;
  for (std::int64_t s = 0; s < g.S; ++s) {
    EXPECT_NEAR(d[s], direct[s], 1e-13);
    total += d[s];
  }
  EXPECT_NEAR(total, 1.0, 1e-13);
}

TEST(MailConcentrability, FamilyMatchesClosedForm) {
  for (const double p : {0.5, 1e-3, 1e-4, 0.0}) {
    const MarkovGame g = concentrability_game(0.9, 2);
    std::vector<double> mu, nu;
    concentrability_expert(g, p, mu, nu);
    const Gap gap = nash_gap(g, Exchange::serial(), mu.data(), nu.data(), 1e-13);
    EXPECT_LT(gap.nash_gap(), 1e-12) << p;
    const auto c = concentrability(g, Exchange::serial(), mu.data(), nu.data(), 1e-14, 1e-9);
    const double want = concentrability_closed_form(p);
    if (std::isinf(want)) {
      EXPECT_TRUE(std::isinf(c.C));
      EXPECT_TRUE(std::isinf(c.C_max));
    } else {
      EXPECT_NEAR(c.C / want, 1.0, 1e-9) << p;
      EXPECT_NEAR(c.C_max / want, 1.0, 1e-9) << p;
    }
    // The Shapley value of the family is 0 at every state.
    const auto sol = solve_expert(g, Exchange::serial(), 1e-13);
    for (double v : sol.value) EXPECT_NEAR(v, 0.0, 1e-12);
  }
  EXPECT_DOUBLE_EQ(concentrability_closed_form(0.5), 2.0);
}

TEST(MailConcentrability, BestResponseSetIsSmallerThanAllDeviations) {
  // On a random game C (best responses only) <= C_max (all deviations), both >= 1.
  const MarkovGame g = small_random(8, 3, 3, 3, 5);
  const auto sol = solve_expert(g, Exchange::serial(), 1e-13);
  const auto c = concentrability(g, Exchange::serial(), sol.mu.data(), sol.nu.data(), 1e-14, 1e-9);
  EXPECT_GE(c.C, 1.0 - 1e-9);
  EXPECT_LE(c.C, c.C_max * (1 + 1e-12));
}

TEST(MailGames, RowsDoNotDependOnTheSplit) {
  RandomGameSpec spec;
  spec.S = 20;
  spec.successors = 4;
  const MarkovGame all = random_game(spec, 3, 0, 20), part = random_game(spec, 3, 7, 13);
  for (std::int64_t s = 7; s < 13; ++s)
    for (std::int64_t a = 0; a < 3; ++a)
      for (std::int64_t b = 0; b < 3; ++b) {
        const auto r1 = all.row(s, a, b), r2 = part.row(s, a, b);
        EXPECT_EQ(all.R[r1], part.R[r2]);
        ASSERT_EQ(all.ptr[r1 + 1] - all.ptr[r1], 4);
        for (int k = 0; k < 4; ++k) {
          EXPECT_EQ(all.next[all.ptr[r1] + k], part.next[part.ptr[r2] + k]);
          EXPECT_EQ(all.prob[all.ptr[r1] + k], part.prob[part.ptr[r2] + k]);
        }
      }
}

TEST(MailLearners, BcGapFallsWithSamplesOnAFiniteConcentrabilityGame) {
  const MarkovGame g = small_random(10, 3, 3, 0, 1);
  const auto sol = solve_expert(g, Exchange::serial(), 1e-12);
  const auto c = concentrability(g, Exchange::serial(), sol.mu.data(), sol.nu.data(), 1e-14, 1e-9);
  ASSERT_TRUE(std::isfinite(c.C_max));
  LearnerOptions opt;
  opt.budgets = {30, 300, 3000, 30000};
  std::vector<double> mean(4, 0.0);
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    const auto gaps = run_learner(Algorithm::BC, g, sol.mu, sol.nu, opt, 1, seed);
    ASSERT_EQ(gaps.size(), 4u);
    for (int j = 0; j < 4; ++j) mean[j] += gaps[j] / 8;
  }
  for (int j = 1; j < 4; ++j) EXPECT_LT(mean[j], 0.7 * mean[j - 1]) << j;
  // BC's curve at a budget is BC on exactly that many samples.
  std::vector<double> mu, nu;
  behaviour_clone(g, sol.mu, sol.nu, 300, 1, 3, mu, nu);
  const auto gaps = run_learner(Algorithm::BC, g, sol.mu, sol.nu, opt, 1, 3);
  EXPECT_DOUBLE_EQ(gaps[1], nash_gap(g, Exchange::serial(), mu.data(), nu.data(), opt.eval_tol).nash_gap());
}

TEST(MailLearners, UncertaintyRewardIsUnbiased) {
  // Exact expectation over the pairs of expert samples, against ||pi_E - pi||^2.
  const std::vector<double> pi_E{0.5, 0.3, 0.2, 0.0}, pi{0.1, 0.2, 0.3, 0.4};
  double expect = 0, want = 0;
  for (int x = 0; x < 4; ++x) {
    want += (pi_E[x] - pi[x]) * (pi_E[x] - pi[x]);
    for (int x2 = 0; x2 < 4; ++x2) expect += pi_E[x] * pi_E[x2] * uncertainty_sample(pi.data(), 4, x, x2);
  }
  EXPECT_NEAR(expect, want, 1e-15);
}

TEST(MailLearners, MaxUncertaintyResponseGoesWhereThePolicyIsWrong) {
  // Concentrability game: the minimiser's policy equals the expert's on the left path and is
  // uniform on the right one; the maximiser's maximum-uncertainty response must go right.
  const MarkovGame g = concentrability_game(0.9, 2);
  std::vector<double> mu_E, nu_E;
  concentrability_expert(g, 0.0, mu_E, nu_E);
  std::vector<double> nu = nu_E;
  for (std::int64_t s = 3; s <= 4; ++s) nu[s * 2] = nu[s * 2 + 1] = 0.5;
  LearnerOptions opt;
  opt.inner_episodes = 200;
  for (const bool exact : {false, true}) {
    std::int64_t queries = 0;
    const auto x = max_uncertainty_response(g, true, nu.data(), nu_E.data(), opt, exact, 1, 0, queries);
    EXPECT_EQ(x[1], 1.0) << "exact planning " << exact;  // state 0, action 1 = the right path
    EXPECT_GE(queries, 2 * opt.inner_episodes);
    EXPECT_EQ(queries % 2, 0);
  }
}

TEST(MailLearners, BcStallsAtInfiniteConcentrabilityWhileMailBroLearns) {
  const MarkovGame g = concentrability_game(0.9, 2);
  std::vector<double> mu, nu;
  concentrability_expert(g, 0.0, mu, nu);
  LearnerOptions opt;
  opt.budgets = {100, 3000};
  opt.eta = 0.5;
  const auto bc = run_learner(Algorithm::BC, g, mu, nu, opt, 1, 0);
  // The right path is never shown: the minimiser plays uniformly there and the maximiser's
  // deviation gains 0.5 per step from step 1 on.
  EXPECT_NEAR(bc[1], 0.5 * 0.9 / (1 - 0.9), 1e-8);
  const auto bro = run_learner(Algorithm::MailBro, g, mu, nu, opt, 1, 0);
  EXPECT_LT(bro[1], 0.5 * bc[1]);
}
