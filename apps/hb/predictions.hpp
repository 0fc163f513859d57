#pragma once
// What linear analysis predicts for a matrix game's sweep (docs/algorithms.md section 4): the
// spectral radius of the two-step iteration and the modified equation's contraction rate at every
// grid point, and Sim-HB's step bounds per momentum.
#include <complex>
#include <vector>

#include "apps/hb/game.hpp"
#include "apps/hb/sweep.hpp"
#include "engine/comm.hpp"
#include "engine/h5.hpp"

namespace saddle::apps::hb {

// Spectra computed once per run: the field Jacobian's eigenvalues (games up to n = 4096) and,
// for a bilinear game, the singular values of A.
struct Spectra {
  std::vector<std::complex<double>> field_eigs;
  std::vector<double> singular;
};
Spectra game_spectra(const Game& game);

// Writes spectral_radius and ode_rate (h x beta; NaN where a game is too large for dense
// eigensolvers of 2n x 2n, resp. n x n, above eig_max_dim) and, for Sim-HB, step_bound and
// exact_step_bound (per beta) to `out`. Collective: grid points are split over the ranks.
void write_predictions(const engine::h5::Group& out, const engine::Comm& comm, const Game& game, const Spectra& spectra,
                       const Sweep& sweep, Scheme scheme, std::int64_t eig_max_dim);

}  // namespace saddle::apps::hb
