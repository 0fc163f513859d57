#include "apps/wgan/ring.hpp"

#include <algorithm>
#include <cmath>

namespace saddle::apps::wgan {

namespace {
constexpr double kTwoPi = 6.283185307179586;
}

void Ring::sample(const kernels::CounterRng& rng, std::uint64_t index, std::uint32_t step, double* out) const {
  const auto b = rng.bits(index, step, 0);
  const double u = kernels::CounterRng::to_unit(b.v[0], b.v[1]);
  const auto mode = std::min<std::int64_t>(static_cast<std::int64_t>(u * static_cast<double>(modes)), modes - 1);
  double z0, z1;
  rng.normal2(index, step, 1, z0, z1);
  const double angle = kTwoPi * static_cast<double>(mode) / static_cast<double>(modes);
  out[0] = radius * std::cos(angle) + stddev * z0;
  out[1] = radius * std::sin(angle) + stddev * z1;
}

Dataset Ring::heldout(std::uint64_t seed, std::int64_t n) const {
  Dataset d;
  d.dim = 2;
  d.heldout.resize(static_cast<std::size_t>(2 * n));
  for (std::int64_t i = 0; i < n; ++i) sample(kernels::CounterRng(seed, "heldout"), static_cast<std::uint64_t>(i), 0, &d.heldout[static_cast<std::size_t>(2 * i)]);
  return d;
}

std::pair<std::int64_t, double> Ring::quality(const std::vector<double>& x, std::int64_t n) const {
  std::vector<std::int64_t> count(static_cast<std::size_t>(modes), 0);
  std::int64_t hq = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    double best = 1e300;
    std::int64_t arg = 0;
    for (std::int64_t m = 0; m < modes; ++m) {
      const double a = kTwoPi * static_cast<double>(m) / static_cast<double>(modes);
      const double dx = x[static_cast<std::size_t>(2 * i)] - radius * std::cos(a), dy = x[static_cast<std::size_t>(2 * i + 1)] - radius * std::sin(a);
      const double d2 = dx * dx + dy * dy;
      if (d2 < best) {
        best = d2;
        arg = m;
      }
    }
    if (std::sqrt(best) <= 3 * stddev) {
      ++hq;
      ++count[static_cast<std::size_t>(arg)];
    }
  }
  std::int64_t covered = 0;
  for (auto cnt : count)
    if (static_cast<double>(cnt) >= 0.2 * static_cast<double>(n) / static_cast<double>(modes)) ++covered;
  return {covered, static_cast<double>(hq) / static_cast<double>(n)};
}

}  // namespace saddle::apps::wgan
