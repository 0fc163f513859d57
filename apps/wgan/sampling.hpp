#pragma once
// What a rank draws for one evaluation of the WGAN-GP losses, from counter-based streams keyed by
// the run's seed, the purpose, a row index and the evaluation: latent rows z ~ N(0, I), its rows
// of the real minibatch (ring draws, or rows of the training set drawn uniformly) and the
// penalty's interpolation weights. Rows of the global minibatch are numbered rank x batch + row,
// so ranks draw disjoint counters.
#include <cstdint>

#include "apps/wgan/data.hpp"
#include "apps/wgan/ring.hpp"

namespace saddle::apps::wgan {

enum class DataType { Ring, Digits, Hdf5 };

class Sampler {
 public:
  Sampler() = default;
  // `data` (training rows; unused for the ring) must outlive the sampler.
  Sampler(std::uint64_t seed, int rank, std::int64_t batch, std::int64_t latent, DataType type, const Ring& ring, const Dataset& data)
      : seed_(seed), rank_(rank), batch_(batch), latent_(latent), type_(type), ring_(ring), data_(&data) {}

  // The global index of this rank's row r of the minibatch.
  std::uint64_t row_index(std::int64_t r) const { return static_cast<std::uint64_t>(rank_ * batch_ + r); }

  // Latent rows into z (rows x latent): row i of the stream (seed, purpose) at counter step
  // `step`, i the global row index of minibatch row first + r (global_rows) or first + r itself.
  template <class T>
  void latent(T* z, std::int64_t rows, const char* purpose, std::uint32_t step, bool global_rows, std::int64_t first = 0) const;
  // This rank's rows [first, first + rows) of the real minibatch of evaluation `eval` into x
  // (rows x dim; rows < 0: the whole batch). A micro-batch draws its rows of the same minibatch.
  template <class T>
  void real_batch(T* x, std::uint32_t eval, std::int64_t first = 0, std::int64_t rows = -1) const;
  // The penalty's points xhat = e real + (1 - e) fake, one weight e ~ U[0, 1] per row (rows x
  // dim, minibatch rows [first, first + rows); rows < 0: the whole batch).
  template <class T>
  void interpolate(T* xhat, const T* real, const T* fake, std::int64_t dim, std::uint32_t eval, std::int64_t first = 0, std::int64_t rows = -1) const;

 private:
  std::uint64_t seed_ = 0;
  int rank_ = 0;
  std::int64_t batch_ = 0, latent_ = 1;
  DataType type_ = DataType::Ring;
  Ring ring_;
  const Dataset* data_ = nullptr;
};

}  // namespace saddle::apps::wgan
