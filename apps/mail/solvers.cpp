#include "apps/mail/solvers.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "apps/mail/glpk_game.hpp"
#include "kernels/linalg/ops.hpp"

namespace saddle::apps::mail {

using kernels::MarkovGame;

Exchange Exchange::serial() {
  Exchange ex;
  ex.gather = [](const std::vector<double>& held, std::vector<double>& full) { full = held; };
  ex.max = [](double v) { return v; };
  ex.sum = [](std::vector<double>&) {};
  return ex;
}

namespace {

double sup_diff(const MarkovGame& g, const std::vector<double>& held, const std::vector<double>& full) {
  double d = 0;
  for (std::int64_t i = 0; i < g.held(); ++i) d = std::max(d, std::fabs(held[i] - full[g.s_begin + i]));
  return d;
}

template <class Sweep>
std::vector<double> iterate(const MarkovGame& g, const Exchange& ex, double tol, std::vector<double> V, Sweep sweep,
                            std::int64_t max_sweeps = 1000000) {
  if (V.empty()) V.assign(static_cast<std::size_t>(g.S), 0.0);
  std::vector<double> held(static_cast<std::size_t>(g.held()));
  for (std::int64_t k = 0; k < max_sweeps; ++k) {
    sweep(V.data(), held.data());
    const double d = ex.max(sup_diff(g, held, V));
    ex.gather(held, V);
    if (!(d > tol)) {
      if (!std::isfinite(d)) throw std::runtime_error("mail: value iteration diverged (non-finite values)");
      return V;
    }
  }
  throw std::runtime_error("mail: value iteration did not reach tolerance " + std::to_string(tol) + " in " +
                           std::to_string(max_sweeps) + " sweeps");
}

}  // namespace

double dot_rho(const MarkovGame& g, const std::vector<double>& V) {
  double s = 0;
  for (std::int64_t i = 0; i < g.S; ++i) s += g.rho[i] * V[i];
  return s;
}

ExpertSolution solve_expert(const MarkovGame& g, const Exchange& ex, double tol, std::int64_t max_sweeps, double stage_tol) {
  ExpertSolution sol;
  sol.mu.assign(static_cast<std::size_t>(g.held() * g.A), 0.0);
  sol.nu.assign(static_cast<std::size_t>(g.held() * g.B), 0.0);
  std::vector<std::int64_t> failed;
  std::vector<double> Q(static_cast<std::size_t>(g.A * g.B));
  auto sweep = [&](const double* V, double* out) {
    kernels::shapley_sweep(g, V, out, sol.mu.data(), sol.nu.data(), failed, stage_tol);
    for (std::int64_t i : failed) {
      g.stage(g.s_begin + i, V, Q.data());
      const auto s = solve_stage_game_glpk(Q.data(), static_cast<int>(g.A), static_cast<int>(g.B), &sol.mu[i * g.A], &sol.nu[i * g.B]);
      if (!s.ok) throw std::runtime_error("mail: neither the pivoting solver nor GLPK certified the stage game of state " +
                                          std::to_string(g.s_begin + i) + " (duality gap " + std::to_string(s.gap) + ")");
      out[i] = s.value;
      ++sol.glpk_fallbacks;
    }
    ++sol.sweeps;
  };
  std::vector<double> V(static_cast<std::size_t>(g.S), 0.0), held(static_cast<std::size_t>(g.held()));
  for (std::int64_t k = 0;; ++k) {
    if (k == max_sweeps) throw std::runtime_error("mail: Shapley iteration did not converge in " + std::to_string(max_sweeps) + " sweeps");
    sweep(V.data(), held.data());
    sol.residual = ex.max(sup_diff(g, held, V));
    ex.gather(held, V);
    if (!(sol.residual > tol)) break;
  }
  if (!std::isfinite(sol.residual)) throw std::runtime_error("mail: Shapley iteration produced non-finite values");
  // The expert's strategies are the optima of the stage games at the final V (one more sweep).
  sweep(V.data(), held.data());
  sol.residual = ex.max(sup_diff(g, held, V));
  ex.gather(held, V);
  sol.value = V;
  sol.glpk_fallbacks = static_cast<std::int64_t>(ex.max(static_cast<double>(sol.glpk_fallbacks)));
  return sol;
}

std::vector<double> evaluate(const MarkovGame& g, const Exchange& ex, const double* mu, const double* nu, double tol,
                             const std::vector<double>& start) {
  return iterate(g, ex, tol, start, [&](const double* V, double* out) { kernels::evaluation_sweep(g, mu, nu, V, out); });
}

std::vector<double> best_response(const MarkovGame& g, const Exchange& ex, bool max_player, const double* other, double tol,
                                  const std::vector<double>& start, const char* allowed, std::int64_t reward_at,
                                  std::int32_t* greedy) {
  auto V = iterate(g, ex, tol, start, [&](const double* V, double* out) {
    kernels::best_response_sweep(g, max_player, other, V, out, allowed, reward_at);
  });
  if (greedy) {
    std::vector<double> held(static_cast<std::size_t>(g.held()));
    kernels::best_response_sweep(g, max_player, other, V.data(), held.data(), allowed, reward_at, greedy);
  }
  return V;
}

std::vector<double> evaluate_direct(const MarkovGame& g, const double* mu, const double* nu) {
  const std::int64_t S = g.S;
  std::vector<double> M(static_cast<std::size_t>(S * S), 0.0), r(static_cast<std::size_t>(S), 0.0);
  for (std::int64_t s = 0; s < S; ++s) {
    M[s * S + s] = 1.0;
    for (std::int64_t a = 0; a < g.A; ++a)
      for (std::int64_t b = 0; b < g.B; ++b) {
        const double w = mu[s * g.A + a] * nu[s * g.B + b];
        if (w == 0) continue;
        const std::int64_t row = g.row(s, a, b);
        r[s] += w * g.R[row];
        for (std::int64_t k = g.ptr[row]; k < g.ptr[row + 1]; ++k) M[s * S + g.next[k]] -= g.gamma * w * g.prob[k];
      }
  }
  return kernels::linalg::solve(S, std::move(M), std::move(r));
}

std::vector<double> best_response_policy_iteration(const MarkovGame& g, bool max_player, const double* other,
                                                   std::vector<std::int32_t>& policy) {
  const std::int64_t S = g.S, own = max_player ? g.A : g.B, opp = max_player ? g.B : g.A;
  std::vector<double> det(static_cast<std::size_t>(S * own));
  for (std::int64_t it = 0;; ++it) {
    std::fill(det.begin(), det.end(), 0.0);
    for (std::int64_t s = 0; s < S; ++s) det[s * own + policy[s]] = 1.0;
    std::vector<double> V = max_player ? evaluate_direct(g, det.data(), other) : evaluate_direct(g, other, det.data());
    bool changed = false;
    for (std::int64_t s = 0; s < S; ++s) {
      double q_cur = 0, best = 0;
      std::int32_t arg = policy[s];
      for (std::int64_t u = 0; u < own; ++u) {
        double q = 0;
        for (std::int64_t w = 0; w < opp; ++w) {
          const double p = other[s * opp + w];
          if (p == 0) continue;
          const std::int64_t row = max_player ? g.row(s, u, w) : g.row(s, w, u);
          q += p * (g.R[row] + g.gamma * g.expect(row, V.data()));
        }
        if (u == policy[s]) q_cur = q;
        if (u == 0 || (max_player ? q > best : q < best)) {
          best = q;
          arg = static_cast<std::int32_t>(u);
        }
      }
      if (std::fabs(best - q_cur) > 1e-12 * (1 + std::fabs(q_cur)) && arg != policy[s]) {
        policy[s] = arg;
        changed = true;
      }
    }
    if (!changed) return V;
    if (it > 100000) throw std::runtime_error("mail: policy iteration did not terminate");
  }
}

Gap nash_gap(const MarkovGame& g, const Exchange& ex, const double* mu, const double* nu, double tol,
             const std::vector<double>& start) {
  Gap gap;
  const std::vector<double> V = evaluate(g, ex, mu, nu, tol, start);
  gap.value = dot_rho(g, V);
  const double vmax = dot_rho(g, best_response(g, ex, true, nu, tol, V));
  const double vmin = dot_rho(g, best_response(g, ex, false, mu, tol, V));
  // Each gain is >= 0 up to the iteration tolerance; clip its rounding-level negative part.
  gap.gain_max = std::max(0.0, vmax - gap.value);
  gap.gain_min = std::max(0.0, gap.value - vmin);
  return gap;
}

std::vector<double> occupancy(const MarkovGame& g, const Exchange& ex, const double* mu, const double* nu, double tol) {
  std::vector<double> d(static_cast<std::size_t>(g.S), 0.0), next(d.size());
  for (std::int64_t k = 0; k < 10000000; ++k) {
    std::fill(next.begin(), next.end(), 0.0);
    kernels::occupancy_push(g, mu, nu, d.data(), next.data());
    ex.sum(next);
    double diff = 0;
    for (std::int64_t s = 0; s < g.S; ++s) {
      next[s] += (1 - g.gamma) * g.rho[s];
      diff += std::fabs(next[s] - d[s]);
    }
    d.swap(next);
    if (!(diff > tol)) return d;
  }
  throw std::runtime_error("mail: occupancy iteration did not converge");
}

Concentrability concentrability(const MarkovGame& g, const Exchange& ex, const double* mu, const double* nu, double tol,
                                double opt_tol) {
  const std::vector<double> dE = occupancy(g, ex, mu, nu, tol);
  Concentrability c;
  const double inf = std::numeric_limits<double>::infinity();
  for (const bool max_player : {true, false}) {
    const double* other = max_player ? nu : mu;
    const auto V = best_response(g, ex, max_player, other, tol);
    const std::vector<char> best = kernels::optimal_actions(g, max_player, other, V.data(), opt_tol);
    for (std::int64_t s = 0; s < g.S; ++s) {
      for (const bool restricted : {true, false}) {
        const double reach = (1 - g.gamma) * dot_rho(g, best_response(g, ex, max_player, other, tol, {}, restricted ? best.data() : nullptr, s));
        // Reach below the iteration tolerance is zero (the state is unreachable by any deviation).
        const double r = reach <= 10 * tol ? 0.0 : dE[s] > 0 ? reach / dE[s] : inf;
        double& into = restricted ? c.C : c.C_max;
        into = std::max(into, r);
      }
    }
  }
  return c;
}

}  // namespace saddle::apps::mail
