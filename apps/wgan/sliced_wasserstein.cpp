#include "apps/wgan/sliced_wasserstein.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/counter_rng.hpp"

namespace saddle::apps::wgan {

double sliced_wasserstein(const std::vector<double>& a, const std::vector<double>& b, std::int64_t n, std::int64_t dim,
                          std::int64_t projections, std::uint64_t seed) {
  const kernels::CounterRng rng(seed, "swd");
  std::vector<double> dir(static_cast<std::size_t>(dim)), pa(static_cast<std::size_t>(n)), pb(static_cast<std::size_t>(n));
  double total = 0;
  for (std::int64_t p = 0; p < projections; ++p) {
    double nn2 = 0;
    for (std::int64_t j = 0; j < dim; ++j) {
      dir[static_cast<std::size_t>(j)] = rng.normal(static_cast<std::uint64_t>(j), static_cast<std::uint32_t>(p));
      nn2 += dir[static_cast<std::size_t>(j)] * dir[static_cast<std::size_t>(j)];
    }
    for (double& d : dir) d /= std::sqrt(nn2);
    for (std::int64_t i = 0; i < n; ++i) {
      double sa = 0, sb = 0;
      for (std::int64_t j = 0; j < dim; ++j) {
        sa += a[static_cast<std::size_t>(i * dim + j)] * dir[static_cast<std::size_t>(j)];
        sb += b[static_cast<std::size_t>(i * dim + j)] * dir[static_cast<std::size_t>(j)];
      }
      pa[static_cast<std::size_t>(i)] = sa;
      pb[static_cast<std::size_t>(i)] = sb;
    }
    std::sort(pa.begin(), pa.end());
    std::sort(pb.begin(), pb.end());
    double s = 0;
    for (std::int64_t i = 0; i < n; ++i) s += (pa[static_cast<std::size_t>(i)] - pb[static_cast<std::size_t>(i)]) * (pa[static_cast<std::size_t>(i)] - pb[static_cast<std::size_t>(i)]);
    total += s / static_cast<double>(n);
  }
  return std::sqrt(total / static_cast<double>(projections));
}

}  // namespace saddle::apps::wgan
