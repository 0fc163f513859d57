#pragma once
// wgan's two networks, generator G and critic D, in the deck's precision (wgan.precision), with
// the loss seeds of the critic and the generator and room to set G's parameters aside while
// sampling.
#include <cstdint>
#include <string>
#include <vector>

#include <Kokkos_Core.hpp>

#include "kernels/nn/mlp.hpp"

namespace saddle::apps::wgan {

namespace nn = kernels::nn;

// `hidden` hidden layers of activation `act`, then the output activation `out`.
inline std::vector<nn::ActivationFn> activations(std::size_t hidden, const std::string& act, const std::string& out, double slope) {
  std::vector<nn::ActivationFn> a(hidden, nn::ActivationFn{nn::parse_activation(act), slope});
  a.push_back(nn::ActivationFn{nn::parse_activation(out), slope});
  return a;
}

// The networks (or, in a pipeline, this rank's stage of each: the layers `g` of G and `d` of D)
// with `slots` workspace sets of `rows` minibatch rows each (a micro-batch; the whole batch
// without a pipeline); the seeds are scaled by the whole batch `batch`. The networks live in the
// default execution space's memory (kernels::Exec/Mem: host memory in a CPU build, the GPU's in
// a CUDA build); host() and put() move rows between that memory and the host, where the sampler
// draws and the losses are summed (both return at once, copying nothing, when Mem is the host's).
template <class T>
struct Networks {
  using Net = nn::Mlp<T, kernels::Exec>;
  Net gen, crit;
  std::vector<T> critic_seed, generator_seed;           // on the host (the losses)
  nn::Vector<T, kernels::Mem> critic_seed_mem, generator_seed_mem;  // the same, for the backward passes
  typename Net::Params saved;
  Networks(const std::vector<std::int64_t>& gw, const std::vector<nn::ActivationFn>& ga, const std::vector<std::int64_t>& dw,
           const std::vector<nn::ActivationFn>& da, std::int64_t batch, std::int64_t rows = 0, nn::LayerRange g = {}, nn::LayerRange d = {},
           int slots = 1)
      : gen(gw, ga, kernels::linalg::backend_of_space<kernels::Exec>(), g, slots),
        crit(dw, da, kernels::linalg::backend_of_space<kernels::Exec>(), d, slots),
        critic_seed(static_cast<std::size_t>(2 * (rows > 0 ? rows : batch)), static_cast<T>(1.0 / static_cast<double>(batch))),
        generator_seed(static_cast<std::size_t>(rows > 0 ? rows : batch), static_cast<T>(-1.0 / static_cast<double>(batch))),
        saved("wgan::saved_generator", static_cast<std::size_t>(gen.size())) {
    if (rows <= 0) rows = batch;
    // Fake rows then real rows (+1/B and -1/B); the workspaces are allocated here, once.
    for (std::size_t r = static_cast<std::size_t>(rows); r < critic_seed.size(); ++r) critic_seed[r] = -critic_seed[r];
    critic_seed_mem = to_mem(critic_seed, "wgan::critic_seed");
    generator_seed_mem = to_mem(generator_seed, "wgan::generator_seed");
    for (int s = 0; s < slots; ++s) {
      gen.input(rows, s);
      crit.input(3 * rows, s);
    }
  }

  // The n values at p (in Mem) readable on the host: p itself when Mem is the host's, else host
  // buffer `which` (0 or 1, so that two can be held at once), filled from p when `read`.
  T* host(const T* p, std::int64_t n, int which = 0, bool read = true) {
    if constexpr (kernels::kExecIsHost) {
      return const_cast<T*>(p);
    } else {
      std::vector<T>& b = stage_[which];
      if (b.size() < static_cast<std::size_t>(n)) b.resize(static_cast<std::size_t>(n));
      if (read) Kokkos::deep_copy(HostRows(b.data(), static_cast<std::size_t>(n)), MemRows(const_cast<T*>(p), static_cast<std::size_t>(n)));
      return b.data();
    }
  }
  // dst[0, n) (in Mem) = src[0, n) (host(dst, ...)'s buffer); nothing when they are the same.
  void put(T* dst, const T* src, std::int64_t n) const {
    if (dst != src)
      Kokkos::deep_copy(MemRows(dst, static_cast<std::size_t>(n)), HostRows(const_cast<T*>(src), static_cast<std::size_t>(n)));
  }

 private:
  using HostRows = Kokkos::View<T*, kernels::HostMem, Kokkos::MemoryUnmanaged>;
  using MemRows = Kokkos::View<T*, kernels::Mem, Kokkos::MemoryUnmanaged>;
  static nn::Vector<T, kernels::Mem> to_mem(std::vector<T>& v, const char* label) {
    nn::Vector<T, kernels::Mem> m(std::string(label), v.size());
    Kokkos::deep_copy(m, HostRows(v.data(), v.size()));
    return m;
  }
  std::vector<T> stage_[2];
};

}  // namespace saddle::apps::wgan
