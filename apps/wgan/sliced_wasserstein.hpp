#pragma once
// The sliced 2-Wasserstein distance, wgan's sample-quality metric on any data.
#include <cstdint>
#include <vector>

namespace saddle::apps::wgan {

// Between two equal-size samples a and b (n x dim, row-major), over `projections` random unit
// directions drawn from the stream (seed, "swd"): the root mean over the directions of the mean
// squared distance between the sorted projections.
double sliced_wasserstein(const std::vector<double>& a, const std::vector<double>& b, std::int64_t n, std::int64_t dim,
                          std::int64_t projections, std::uint64_t seed);

}  // namespace saddle::apps::wgan
