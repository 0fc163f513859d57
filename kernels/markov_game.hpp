#pragma once
// Tabular two-player zero-sum discounted Markov games (docs/algorithms.md section 5) and their exact
// operators. A game object holds the rows of the states [s_begin, s_end) (all states for the
// learners; a block per rank for large games); value vectors passed in are always full length S,
// results are for the held states. Transitions are sparse (CSR over the (s, a, b) rows), so a
// game with S = 1e5 states and a few successors per row fits in memory.
//
// Every sweep runs as a Kokkos parallel loop over the held states on the host execution space.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/stage_game.hpp"
#include "kernels/spaces.hpp"

namespace saddle::kernels {

struct MarkovGame {
  std::int64_t S = 0, A = 0, B = 0;
  double gamma = 0.9;
  std::int64_t s_begin = 0, s_end = 0;
  std::vector<double> R;             // ((s - s_begin) * A + a) * B + b
  std::vector<std::int64_t> ptr;     // CSR offsets of the held rows, size rows() + 1
  std::vector<std::int32_t> next;    // successor states
  std::vector<double> prob;          // their probabilities (each row sums to 1)
  std::vector<double> rho;           // start distribution, S

  std::int64_t held() const { return s_end - s_begin; }
  std::int64_t rows() const { return held() * A * B; }
  std::int64_t row(std::int64_t s, std::int64_t a, std::int64_t b) const { return ((s - s_begin) * A + a) * B + b; }
  // sum_s' P(s'|row) V(s')
  double expect(std::int64_t r, const double* V) const {
    double e = 0;
    for (std::int64_t k = ptr[r]; k < ptr[r + 1]; ++k) e += prob[k] * V[next[k]];
    return e;
  }
  // Q(s, a, b) = R + gamma E V, the stage game of state s (A x B row-major).
  void stage(std::int64_t s, const double* V, double* Q) const {
    for (std::int64_t a = 0; a < A; ++a)
      for (std::int64_t b = 0; b < B; ++b) {
        const std::int64_t r = row(s, a, b);
        Q[a * B + b] = R[r] + gamma * expect(r, V);
      }
  }
};

inline Kokkos::RangePolicy<HostExec> held_states(const MarkovGame& g) { return host_range(g.held()); }

// One Shapley sweep: out(s) = val(Q_V(s)) with the stage game's optimal strategies in mu, nu
// (held rows). States whose stage game the pivoting solver could not certify are listed in
// `failed` for the caller to solve with GLPK (serially: GLPK is not thread-safe).
inline void shapley_sweep(const MarkovGame& g, const double* V, double* out, double* mu, double* nu,
                          std::vector<std::int64_t>& failed, double tol = 1e-11) {
  const std::int64_t A = g.A, B = g.B;
  std::vector<char> bad(static_cast<std::size_t>(g.held()), 0);
  char* badp = bad.data();
  Kokkos::parallel_for("mail::shapley_sweep", held_states(g), [&, badp](const std::int64_t i) {
    double Q[kStageMax * kStageMax];
    g.stage(g.s_begin + i, V, Q);
    const StageSolution sol = solve_stage_game(Q, static_cast<int>(A), static_cast<int>(B), mu + i * A, nu + i * B, tol);
    out[i] = sol.value;
    badp[i] = !sol.ok;
  });
  Kokkos::fence();
  failed.clear();
  for (std::int64_t i = 0; i < g.held(); ++i)
    if (bad[static_cast<std::size_t>(i)]) failed.push_back(i);
}

// Policy evaluation sweep: out(s) = sum_ab mu(a|s) nu(b|s) Q_V(s, a, b). mu, nu: held rows.
inline void evaluation_sweep(const MarkovGame& g, const double* mu, const double* nu, const double* V, double* out) {
  const std::int64_t A = g.A, B = g.B;
  Kokkos::parallel_for("mail::evaluation_sweep", held_states(g), [&](const std::int64_t i) {
    const std::int64_t s = g.s_begin + i;
    double v = 0;
    for (std::int64_t a = 0; a < A; ++a) {
      if (mu[i * A + a] == 0) continue;
      double q = 0;
      for (std::int64_t b = 0; b < B; ++b) {
        const std::int64_t r = g.row(s, a, b);
        q += nu[i * B + b] * (g.R[r] + g.gamma * g.expect(r, V));
      }
      v += mu[i * A + a] * q;
    }
    out[i] = v;
  });
  Kokkos::fence();
}

// Best-response sweep of one player against the other's fixed policy `other` (held rows):
// maximiser (max_player) out(s) = max_a sum_b other(b|s) Q(s,a,b); minimiser: min_b sum_a.
// `allowed` (held rows x own actions, or nullptr) restricts the actions; with `reward_at` >= 0
// the game's reward is replaced by 1{s = reward_at} (occupancy maximisation). `greedy` (or
// nullptr) receives the first action attaining the optimum.
inline void best_response_sweep(const MarkovGame& g, bool max_player, const double* other, const double* V, double* out,
                                const char* allowed = nullptr, std::int64_t reward_at = -1,
                                std::int32_t* greedy = nullptr) {
  const std::int64_t A = g.A, B = g.B, own = max_player ? A : B, opp = max_player ? B : A;
  Kokkos::parallel_for("mail::best_response_sweep", held_states(g), [&](const std::int64_t i) {
    const std::int64_t s = g.s_begin + i;
    double best = 0;
    std::int32_t arg = -1;
    for (std::int64_t u = 0; u < own; ++u) {
      if (allowed && !allowed[i * own + u]) continue;
      double q = 0;
      for (std::int64_t w = 0; w < opp; ++w) {
        const double p = other[i * opp + w];
        if (p == 0) continue;
        const std::int64_t r = max_player ? g.row(s, u, w) : g.row(s, w, u);
        const double rew = reward_at < 0 ? g.R[r] : (s == reward_at ? 1.0 : 0.0);
        q += p * (rew + g.gamma * g.expect(r, V));
      }
      if (arg < 0 || (max_player ? q > best : q < best)) {
        best = q;
        arg = static_cast<std::int32_t>(u);
      }
    }
    out[i] = best;
    if (greedy) greedy[i] = arg;
  });
  Kokkos::fence();
}

// The optimal actions of a best-response sweep at V: allowed(s, u) = 1 where the action's value is
// within `tol` of the optimum (held rows x own actions).
inline std::vector<char> optimal_actions(const MarkovGame& g, bool max_player, const double* other, const double* V,
                                         double tol) {
  const std::int64_t A = g.A, B = g.B, own = max_player ? A : B, opp = max_player ? B : A;
  std::vector<char> allowed(static_cast<std::size_t>(g.held() * own), 0);
  char* al = allowed.data();
  Kokkos::parallel_for("mail::optimal_actions", held_states(g), [&, al](const std::int64_t i) {
    const std::int64_t s = g.s_begin + i;
    double q[kStageMax], best = 0;
    for (std::int64_t u = 0; u < own; ++u) {
      q[u] = 0;
      for (std::int64_t w = 0; w < opp; ++w) {
        const std::int64_t r = max_player ? g.row(s, u, w) : g.row(s, w, u);
        q[u] += other[i * opp + w] * (g.R[r] + g.gamma * g.expect(r, V));
      }
      if (u == 0 || (max_player ? q[u] > best : q[u] < best)) best = q[u];
    }
    for (std::int64_t u = 0; u < own; ++u) al[i * own + u] = std::fabs(q[u] - best) <= tol;
  });
  Kokkos::fence();
  return allowed;
}

// One step of the occupancy recursion d' = (1 - gamma) rho + gamma P_pi' d: adds
// gamma d(s) mu(a|s) nu(b|s) P(s'|s,a,b) of the held states s into out (full length S; the
// caller adds (1 - gamma) rho and sums over ranks). Serial: rows scatter into shared entries.
inline void occupancy_push(const MarkovGame& g, const double* mu, const double* nu, const double* d, double* out) {
  for (std::int64_t i = 0; i < g.held(); ++i) {
    const double ds = d[g.s_begin + i];
    if (ds == 0) continue;
    for (std::int64_t a = 0; a < g.A; ++a) {
      const double pa = mu[i * g.A + a];
      if (pa == 0) continue;
      for (std::int64_t b = 0; b < g.B; ++b) {
        const double w = g.gamma * ds * pa * nu[i * g.B + b];
        if (w == 0) continue;
        const std::int64_t r = g.row(g.s_begin + i, a, b);
        for (std::int64_t k = g.ptr[r]; k < g.ptr[r + 1]; ++k) out[g.next[k]] += w * g.prob[k];
      }
    }
  }
}

}  // namespace saddle::kernels
