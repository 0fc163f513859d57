#pragma once
// The imitation learners of docs/algorithms.md section 5 on a game held whole by one process: BC,
// MAIL-BRO, MURMAIL (UCBVI inner loop) and MURMAIL with exact planning on the estimated reward.
// One call runs one seed and returns the exact Nash gap of the learner's output at each budget
// of expert queries. All randomness is a counter stream keyed by (run seed, algorithm) and
// indexed by the global seed number, so a seed's result does not depend on which rank runs it.
//
// Query accounting: one expert query = one state given to the expert, answered with one joint
// action (a, b) ~ (mu_E, nu_E)(.|s). BC: one per trajectory step. MAIL-BRO: two per round (one
// state for each player's update). MURMAIL: two per round plus two per step of each inner UCBVI
// episode (the two independent samples of the reward estimate).
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/markov_game.hpp"

namespace saddle::apps::mail {

enum class Algorithm { BC, MailBro, Murmail, MurmailExactPlanning };

Algorithm algorithm_from_name(const std::string& name);
const char* algorithm_name(Algorithm a);

struct LearnerOptions {
  std::vector<std::int64_t> budgets;  // increasing expert-query budgets
  double eta = 0.1;                   // exponential-weights step
  double eval_tol = 1e-10;            // value-iteration tolerance of gaps and best responses
  std::int64_t inner_episodes = 10;   // MURMAIL: UCBVI episodes per response
  double bonus = 1.0;                 // MURMAIL: exploration bonus c / sqrt(n) (reconstructed constant)
  std::int64_t plan_sweeps = 30;      // MURMAIL: value-iteration sweeps per replanning (warm started)
};

// mu_E (S x A) and nu_E (S x B) are the expert's policies; `key` is the run seed, `index` the
// global seed number. Returns one Nash gap per budget.
std::vector<double> run_learner(Algorithm algo, const kernels::MarkovGame& g, const std::vector<double>& mu_E,
                                const std::vector<double>& nu_E, const LearnerOptions& opt, std::uint64_t key,
                                std::uint64_t index);

// One sample of MURMAIL's reward at a state: 1{x = x2} - 2 pi(x) + ||pi||^2 for two independent
// expert actions x, x2 ~ pi_E; unbiased for ||pi_E - pi||^2 (pi: the state's row, n actions).
double uncertainty_sample(const double* pi, std::int64_t n, std::int64_t x, std::int64_t x2);

// MURMAIL's maximum-uncertainty response of the controlling player (the maximiser when ctrl_max)
// against the other player's policy pi (S x its actions), whose expert policy is pi_E: a
// deterministic policy (S x controller actions) from opt.inner_episodes UCBVI episodes, or from
// planning on the true transitions when exact_planning. Adds its expert queries to `queries`.
std::vector<double> max_uncertainty_response(const kernels::MarkovGame& g, bool ctrl_max, const double* pi,
                                             const double* pi_E, const LearnerOptions& opt, bool exact_planning,
                                             std::uint64_t key, std::uint64_t index, std::int64_t& queries);

// BC's policies from the first `samples` expert samples of seed `index` (for tests).
void behaviour_clone(const kernels::MarkovGame& g, const std::vector<double>& mu_E, const std::vector<double>& nu_E,
                     std::int64_t samples, std::uint64_t key, std::uint64_t index, std::vector<double>& mu,
                     std::vector<double>& nu);

}  // namespace saddle::apps::mail
