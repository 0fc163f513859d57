#include "apps/wgan/sampling.hpp"

#include <algorithm>

#include "kernels/counter_rng.hpp"
#include "kernels/host_loops.hpp"

namespace saddle::apps::wgan {

template <class T>
void Sampler::latent(T* z, std::int64_t rows, const char* purpose, std::uint32_t step, bool global_rows, std::int64_t first) const {
  const kernels::CounterRng rng(seed_, purpose);
  // Rows over the host threads (the streams are counter-based: the same values whatever the
  // split); a pair of normals (a log, a sqrt and a sincos) counts as 32 units of host_for's work.
  kernels::host_for("wgan::latent", rows, rows * latent_ * 16, [&](std::int64_t r) {
    const std::uint64_t idx = global_rows ? row_index(first + r) : static_cast<std::uint64_t>(first + r);
    for (std::int64_t j = 0; j < latent_; j += 2) {
      double z0, z1;
      rng.normal2(idx, step, static_cast<std::uint32_t>(j / 2), z0, z1);
      z[r * latent_ + j] = static_cast<T>(z0);
      if (j + 1 < latent_) z[r * latent_ + j + 1] = static_cast<T>(z1);
    }
  });
}

template <class T>
void Sampler::real_batch(T* x, std::uint32_t eval, std::int64_t first, std::int64_t rows) const {
  if (rows < 0) rows = batch_;
  if (type_ == DataType::Ring) {
    const kernels::CounterRng rng(seed_, "ring");
    double p[2];
    for (std::int64_t r = 0; r < rows; ++r) {
      ring_.sample(rng, row_index(first + r), eval, p);
      x[2 * r] = static_cast<T>(p[0]);
      x[2 * r + 1] = static_cast<T>(p[1]);
    }
    return;
  }
  const kernels::CounterRng rng(seed_, "batch");
  const std::int64_t n = data_->train_rows(), dim = data_->dim;
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto i = std::min<std::int64_t>(static_cast<std::int64_t>(rng.uniform(row_index(first + r), eval) * static_cast<double>(n)), n - 1);
    for (std::int64_t j = 0; j < dim; ++j) x[r * dim + j] = static_cast<T>(data_->train[static_cast<std::size_t>(i * dim + j)]);
  }
}

template <class T>
void Sampler::interpolate(T* xhat, const T* real, const T* fake, std::int64_t dim, std::uint32_t eval, std::int64_t first, std::int64_t rows) const {
  if (rows < 0) rows = batch_;
  const kernels::CounterRng rng(seed_, "eps");
  for (std::int64_t r = 0; r < rows; ++r) {
    const double e = rng.uniform(row_index(first + r), eval);
    for (std::int64_t j = 0; j < dim; ++j) {
      const std::int64_t i = r * dim + j;
      xhat[i] = static_cast<T>(e * static_cast<double>(real[i]) + (1 - e) * static_cast<double>(fake[i]));
    }
  }
}

// The networks' two precisions (wgan.precision).
template void Sampler::latent(float*, std::int64_t, const char*, std::uint32_t, bool, std::int64_t) const;
template void Sampler::latent(double*, std::int64_t, const char*, std::uint32_t, bool, std::int64_t) const;
template void Sampler::real_batch(float*, std::uint32_t, std::int64_t, std::int64_t) const;
template void Sampler::real_batch(double*, std::uint32_t, std::int64_t, std::int64_t) const;
template void Sampler::interpolate(float*, const float*, const float*, std::int64_t, std::uint32_t, std::int64_t, std::int64_t) const;
template void Sampler::interpolate(double*, const double*, const double*, std::int64_t, std::uint32_t, std::int64_t, std::int64_t) const;

}  // namespace saddle::apps::wgan
