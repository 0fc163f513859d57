#include "apps/hb/traces.hpp"

#include <string>

#include "apps/hb/analysis.hpp"
#include "apps/hb/dynamics.hpp"
#include "kernels/linalg/host_backend.hpp"
#include "kernels/ode.hpp"

namespace saddle::apps::hb {
namespace {

// Integrates the first start with `keep(step, x, y)` called every spec.every steps.
template <class Keep>
void trace_one(const Game& game, const Sweep& sweep, const TraceSpec& spec, bool alt, double h, double b, Keep& keep) {
  auto record = [&](std::int64_t step, double x, double y) { keep(step, &x, &y); };
  const bool scalar = game.visit_2d([&](const auto& g2) {
    integrate(g2, alt, h, b, sweep.starts[0], sweep.starts[1], spec.steps, spec.every, record);
  });
  if (scalar) return;
  Outcome o;
  integrate_batch(game.matrix, alt, 1, &h, &b, sweep.starts.data(), sweep.starts.data() + game.matrix.dx, spec.steps, &o,
                  spec.every, [&](std::int64_t step, const double* x, const double* y) { keep(step, x, y); });
}

// Advances z by time t of the modified equation in `substeps` RK4 steps.
void modified_flow(const Game& game, bool alt, double h, double b, std::vector<double>& z, double t, std::int64_t substeps) {
  const bool scalar = game.visit_2d([&](const auto& g2) {
    auto rhs = [&](const std::vector<double>& s, std::vector<double>& ds) {
      modified_rhs(g2, alt, h, b, s[0], s[1], ds[0], ds[1]);
    };
    kernels::rk4(rhs, z, t, substeps);
  });
  if (scalar) return;
  // Linear games: z' = K (z - z*).
  const auto K = modified_matrix(game.matrix, alt, h, b);
  const auto zs = game.matrix.equilibrium();
  const std::int64_t n = game.n();
  auto rhs = [&](const std::vector<double>& s, std::vector<double>& ds) {
    std::vector<double> d(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) d[i] = s[i] - zs[i];
    kernels::linalg::host_backend().gemm(false, false, n, 1, n, 1.0, K.data(), n, d.data(), 1, 0.0, ds.data(), 1);
  };
  kernels::rk4(rhs, z, t, substeps);
}

}  // namespace

void write_traces(const engine::h5::Group& result, const Game& game, const Sweep& sweep, const TraceSpec& spec) {
  if (spec.h.empty()) return;
  const engine::h5::Group traces = result.create_group("trajectories");
  const std::int64_t n = game.n();
  const std::int64_t dx = game.is_matrix() ? game.matrix.dx : 1, dy = game.is_matrix() ? game.matrix.dy : 1;
  for (const Scheme scheme : sweep.schemes) {
    const bool alt = scheme == Scheme::Alt;
    for (std::size_t k = 0; k < spec.h.size(); ++k) {
      const double h = spec.h[k], b = spec.beta[k];
      std::vector<double> z, ode_z;
      std::vector<std::int64_t> at;
      auto keep = [&](std::int64_t step, const double* x, const double* y) {
        at.push_back(step);
        z.insert(z.end(), x, x + dx);
        z.insert(z.end(), y, y + dy);
      };
      trace_one(game, sweep, spec, alt, h, b, keep);
      // The modified equation from the same start, sampled at the same steps.
      std::vector<double> state(sweep.starts.begin(), sweep.starts.begin() + n);
      std::int64_t t = 0;
      for (std::int64_t step : at) {
        const std::int64_t sub = (step - t) * spec.ode_substeps;
        if (sub > 0) modified_flow(game, alt, h, b, state, static_cast<double>(step - t) * h, sub);
        t = step;
        ode_z.insert(ode_z.end(), state.begin(), state.end());
      }
      const engine::h5::Group g = traces.create_group(std::string(scheme_name(scheme)) + "/" + std::to_string(k));
      g.write_attr("h", h);
      g.write_attr("beta", b);
      g.write("step", at);
      g.write("z", z, {at.size(), static_cast<hsize_t>(n)});
      g.write("ode_z", ode_z, {at.size(), static_cast<hsize_t>(n)});
    }
  }
}

}  // namespace saddle::apps::hb
