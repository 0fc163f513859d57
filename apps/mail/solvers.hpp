#pragma once
// Exact solvers on a Markov game whose states may be split over ranks (kernels/markov_game.hpp):
// Shapley value iteration for the Nash expert, policy evaluation, best responses, the Nash gap,
// occupancy measures and the concentrability coefficients. Each sweep updates the held states;
// an Exchange gathers the full value vector (an allgather over ranks, or a copy in one process).
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/markov_game.hpp"

namespace saddle::apps::mail {

struct Exchange {
  // full = the held blocks of every rank, in state order.
  std::function<void(const std::vector<double>& held, std::vector<double>& full)> gather;
  std::function<double(double)> max;                    // over ranks
  std::function<void(std::vector<double>&)> sum;         // elementwise over ranks, in place
  static Exchange serial();
};

struct ExpertSolution {
  std::vector<double> value;  // V*, full length S
  std::vector<double> mu, nu; // held rows x A, held rows x B
  std::int64_t sweeps = 0;
  std::int64_t glpk_fallbacks = 0;
  double residual = 0;        // sup-norm of the last Shapley update
};

// Shapley iteration V <- val(R + gamma P V) from V = 0 until the update is <= tol in sup norm;
// the expert plays the stage-game optima of the final Q. `stage_tol` is the duality gap (relative
// to the stage game's range) the pivoting solver must certify; a negative value sends every
// stage game to GLPK (tests of the fallback).
ExpertSolution solve_expert(const kernels::MarkovGame& g, const Exchange& ex, double tol, std::int64_t max_sweeps = 1000000,
                            double stage_tol = 1e-11);

// V^{mu,nu} (full) by iterating the evaluation sweep until the update is <= tol.
std::vector<double> evaluate(const kernels::MarkovGame& g, const Exchange& ex, const double* mu, const double* nu, double tol,
                             const std::vector<double>& start = {});

// The optimal value (full) of one player's MDP against the other's fixed policy; optionally
// restricted to `allowed` actions and with reward 1{s = reward_at}; `greedy` (held rows) gets a
// deterministic best response. `start` (full, or empty) warm-starts the iteration.
std::vector<double> best_response(const kernels::MarkovGame& g, const Exchange& ex, bool max_player, const double* other,
                                  double tol, const std::vector<double>& start = {}, const char* allowed = nullptr,
                                  std::int64_t reward_at = -1, std::int32_t* greedy = nullptr);

// The value (full) of a policy given as action indices (mu_det or nu_det, one per state) for one
// player and a mixed policy for the other, by a direct linear solve of (I - gamma P_pi) V = r_pi.
// Whole games only (S x S dense).
std::vector<double> evaluate_direct(const kernels::MarkovGame& g, const double* mu, const double* nu);

// An exact deterministic best response by policy iteration (direct evaluation, greedy
// improvement that switches an action only for a gain above 1e-12), warm-started from `policy`
// (one action per state, updated in place). Whole games only. Returns its value (full).
std::vector<double> best_response_policy_iteration(const kernels::MarkovGame& g, bool max_player, const double* other,
                                                   std::vector<std::int32_t>& policy);

struct Gap {
  double value = 0;     // V^{mu,nu}(rho)
  double gain_max = 0;  // max_mu' V^{mu',nu}(rho) - V^{mu,nu}(rho) >= 0
  double gain_min = 0;  // V^{mu,nu}(rho) - min_nu' V^{mu,nu'}(rho) >= 0
  double nash_gap() const { return gain_max + gain_min; }
};
// The policy evaluation starts from `start` (full, or empty for 0) and both best responses from
// V^{mu,nu}: near an equilibrium they are close, so few sweeps remain (the fixed points and the
// stopping rule do not depend on the start).
Gap nash_gap(const kernels::MarkovGame& g, const Exchange& ex, const double* mu, const double* nu, double tol,
             const std::vector<double>& start = {});

// d^{mu,nu}(s) = (1 - gamma) sum_t gamma^t Pr(s_t = s), full length, by iterating the
// recursion until the update is <= tol in l1 norm.
std::vector<double> occupancy(const kernels::MarkovGame& g, const Exchange& ex, const double* mu, const double* nu, double tol);

struct Concentrability {
  double C = 0;      // over single-player deviations to best responses
  double C_max = 0;  // over all single-player deviations
};
// max over s and deviations of d^dev(s) / d^{mu,nu}(s) (infinite where d^{mu,nu}(s) = 0 < d^dev(s)).
// For each state s the largest occupancy any deviation reaches is (1 - gamma) rho' V_s with V_s the
// optimal value of the deviating player's MDP with reward 1{state = s} (deterministic policies
// suffice); for C the deviating player keeps to actions optimal against the other's policy
// (within opt_tol). One MDP solve per state and player: S solves, so large games skip it.
Concentrability concentrability(const kernels::MarkovGame& g, const Exchange& ex, const double* mu, const double* nu,
                                double tol, double opt_tol);

double dot_rho(const kernels::MarkovGame& g, const std::vector<double>& V);

}  // namespace saddle::apps::mail
