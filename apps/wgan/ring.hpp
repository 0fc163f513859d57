#pragma once
// The ring of Gaussians, wgan's synthetic data: `modes` Gaussians of standard deviation `stddev`
// whose centres are equally spaced on a circle of radius `radius`. Draws come from counter-based
// streams (a point is a pure function of its stream, index and step), and the ring's own quality
// metrics say how many modes generated samples cover.
#include <cstdint>
#include <utility>
#include <vector>

#include "apps/wgan/data.hpp"
#include "kernels/counter_rng.hpp"

namespace saddle::apps::wgan {

struct Ring {
  std::int64_t modes = 8;
  double radius = 2, stddev = 0.02;

  // One point (out[0], out[1]): a uniform mode, then its centre plus Gaussian noise.
  void sample(const kernels::CounterRng& rng, std::uint64_t index, std::uint32_t step, double* out) const;
  // `n` held-out points of the stream (seed, "heldout"), as a dataset with no training rows.
  Dataset heldout(std::uint64_t seed, std::int64_t n) const;
  // Over the n samples x (n x 2): the modes holding at least 20 % of their fair share (n / modes)
  // of high-quality samples (within 3 stddev of the nearest centre), and the high-quality fraction.
  std::pair<std::int64_t, double> quality(const std::vector<double>& x, std::int64_t n) const;
};

}  // namespace saddle::apps::wgan
