#pragma once
// The games of the mail workload: random games from a seed, the concentrability family, and
// games read from HDF5. Each builder fills the rows of the states [s_begin, s_end) only, and a
// row's contents depend on its global (s, a, b) index alone, so any split over ranks builds the
// same game.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/input_file.hpp"
#include "kernels/markov_game.hpp"

namespace saddle::apps::mail {

struct RandomGameSpec {
  std::int64_t S = 10, A = 3, B = 3;
  double gamma = 0.9;
  std::int64_t successors = 0;  // next states per (s, a, b) row; 0 = every state
  double r_lo = -1, r_hi = 1;
};
// Rewards uniform in [r_lo, r_hi]; each row's successors drawn uniformly without replacement
// with Dirichlet(1) probabilities; rho uniform.
kernels::MarkovGame random_game(const RandomGameSpec& spec, std::uint64_t seed, std::int64_t s_begin, std::int64_t s_end);

// The concentrability family (docs/workloads/mail.md): state 0 where the maximiser picks the left or the
// right path of `length` states (the last absorbing), each state of a path a 2 x 2 game with the
// pure saddle point (0, 0) (reward [[0, 1], [-1, 0]]), zero reward at state 0, rho = state 0.
// The expert takes the right path with probability p and plays the saddle point elsewhere;
// C = C_max = max(1/p, 1/(1 - p)) (infinite at p = 0).
kernels::MarkovGame concentrability_game(double gamma, std::int64_t length);
void concentrability_expert(const kernels::MarkovGame& g, double p, std::vector<double>& mu, std::vector<double>& nu);
double concentrability_closed_form(double p);

// /P (S x A x B x S), /R (S x A x B), /rho (S) and gamma (a root attribute or a scalar dataset)
// of `file`. Throws InputError naming the file and what is wrong.
kernels::MarkovGame read_game(const engine::InputFile& file, int part, int parts);

}  // namespace saddle::apps::mail
