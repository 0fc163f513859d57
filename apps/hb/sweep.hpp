#pragma once
// The sweep of an hb run: the grids of step h and momentum beta ({min, max, count, scale} tables),
// the start points and the schemes. Trajectory i of a scheme is (h, beta, start) with the start
// varying fastest, then beta, then h.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/deck.hpp"
#include "kernels/counter_rng.hpp"

namespace saddle::apps::hb {

enum class Scheme { Sim, Alt };

inline const char* scheme_name(Scheme s) { return s == Scheme::Alt ? "alt" : "sim"; }

struct Sweep {
  std::vector<double> h, beta;
  std::vector<double> starts;  // ns x n, concatenated (x, y)
  std::int64_t n = 2, ns = 1;
  std::vector<Scheme> schemes;

  std::int64_t points() const { return static_cast<std::int64_t>(h.size() * beta.size()); }
  std::int64_t per_scheme() const { return points() * ns; }
  // Trajectory index within a scheme -> (h, beta, start).
  void decode(std::int64_t i, double& h_i, double& beta_i, const double*& start) const {
    const auto nb = static_cast<std::int64_t>(beta.size());
    const std::int64_t k = i % ns, b = (i / ns) % nb, a = i / (ns * nb);
    h_i = h[static_cast<std::size_t>(a)];
    beta_i = beta[static_cast<std::size_t>(b)];
    start = &starts[static_cast<std::size_t>(k * n)];
  }
};

// The grid of deck table `key` (hb.h, hb.beta).
inline std::vector<double> make_axis(const engine::Config& c, const std::string& key) {
  const double lo = c.real(key + ".min"), hi = c.real(key + ".max");
  const auto count = c.integer(key + ".count");
  const bool log = c.string(key + ".scale") == "log";
  std::vector<double> values;
  for (std::int64_t i = 0; i < count; ++i) {
    const double t = count == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(count - 1);
    values.push_back(log ? std::exp(std::log(lo) + t * (std::log(hi) - std::log(lo))) : lo + t * (hi - lo));
  }
  return values;
}

// The sweep of the deck for a game of dimension n: hb.start_points, or hb.starts points uniform
// in [-r, r]^n from the seed.
inline Sweep make_sweep(const engine::Config& c, std::uint64_t seed, std::int64_t n) {
  Sweep s;
  s.h = make_axis(c, "hb.h");
  s.beta = make_axis(c, "hb.beta");
  for (const auto& name : c.string_list("hb.schemes")) s.schemes.push_back(name == "alt" ? Scheme::Alt : Scheme::Sim);
  s.n = n;
  if (c.has("hb.start_points")) {
    // The driver plans the run's steps from dim_x + dim_y before a game file is read.
    const auto declared = c.integer("hb.dim_x") + c.integer("hb.dim_y");
    if (declared != n)
      throw c.error("hb.start_points", "the game has dimension " + std::to_string(n) + ": with explicit start points, set hb.dim_x and hb.dim_y to " +
                                           "its x and y dimensions (their sum is " + std::to_string(declared) + ")");
    s.starts = c.real_list("hb.start_points");
    if (s.starts.size() % static_cast<std::size_t>(n) != 0)
      throw c.error("hb.start_points", "needs a multiple of dim_x + dim_y = " + std::to_string(n) + " values");
  } else {
    const kernels::CounterRng rng(seed, "start");
    const double r = c.real("hb.start_radius");
    for (std::int64_t k = 0; k < c.integer("hb.starts") * n; ++k)
      s.starts.push_back(r * (2.0 * rng.uniform(static_cast<std::uint64_t>(k), 0) - 1.0));
  }
  if (s.starts.empty()) throw c.error("hb.start_points", "needs at least one start point");
  s.ns = static_cast<std::int64_t>(s.starts.size()) / n;
  return s;
}

}  // namespace saddle::apps::hb
