#include "apps/hb/predictions.hpp"

#include <cmath>

#include "apps/hb/analysis.hpp"
#include "kernels/linalg/ops.hpp"

namespace saddle::apps::hb {

Spectra game_spectra(const Game& game) {
  Spectra s;
  const MatrixGame& g = game.matrix;
  // One dense eigensolve of the n x n field Jacobian serves Sim-HB's radius at every grid point
  // and the step bounds (seconds at n = 4096; larger games go without them).
  if (g.n() <= 4096) s.field_eigs = kernels::linalg::eigenvalues(g.n(), g.field_jacobian());
  if (game.kind == GameKind::Bilinear) s.singular = kernels::linalg::singular_values(g.dx, g.dy, g.A);
  return s;
}

void write_predictions(const engine::h5::Group& out, const engine::Comm& comm, const Game& game, const Spectra& spectra,
                       const Sweep& sweep, Scheme scheme, std::int64_t eig_max_dim) {
  const bool alt = scheme == Scheme::Alt;
  const MatrixGame& g = game.matrix;
  const auto nh = static_cast<hsize_t>(sweep.h.size()), nb = static_cast<hsize_t>(sweep.beta.size());
  std::vector<double> radius(nh * nb, 0.0), ode(nh * nb, 0.0);
  const engine::RowRange mine = engine::block_rows(sweep.points(), comm.rank(), comm.size());
  const bool dense = 2 * g.n() <= eig_max_dim;
  for (std::int64_t p = mine.begin; p < mine.end; ++p) {
    const double h = sweep.h[static_cast<std::size_t>(p) / nb], b = sweep.beta[static_cast<std::size_t>(p) % nb];
    if (!alt && !spectra.field_eigs.empty()) radius[p] = sim_radius(spectra.field_eigs, h, b);
    else if (dense) radius[p] = kernels::linalg::spectral_radius(2 * g.n(), two_step_matrix(g, alt, h, b));
    else if (!spectra.singular.empty()) radius[p] = alt_bilinear_radius(spectra.singular, g.dx != g.dy, h, b);
    else radius[p] = NAN;
    ode[p] = g.n() <= eig_max_dim ? ode_rate(g, alt, h, b) : NAN;
  }
  // NaN marks "not computed" for games too large for dense eigensolvers; the sum keeps it.
  comm.allreduce(radius, engine::Op::Sum);
  comm.allreduce(ode, engine::Op::Sum);
  out.write("spectral_radius", radius, {nh, nb});
  out.write("ode_rate", ode, {nh, nb});
  if (alt || spectra.field_eigs.empty()) return;
  std::vector<double> bound, exact;
  for (double b : sweep.beta) {
    bound.push_back(sim_step_bound(spectra.field_eigs, b));
    exact.push_back(sim_exact_step_bound(spectra.field_eigs, b, 1e3));
  }
  out.write("step_bound", bound);
  out.write("exact_step_bound", exact);
}

}  // namespace saddle::apps::hb
