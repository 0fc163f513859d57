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
// without a pipeline); the seeds are scaled by the whole batch `batch`.
template <class T>
struct Networks {
  nn::Mlp<T> gen, crit;
  std::vector<T> critic_seed, generator_seed;
  nn::Vector<T> saved;
  Networks(const std::vector<std::int64_t>& gw, const std::vector<nn::ActivationFn>& ga, const std::vector<std::int64_t>& dw,
           const std::vector<nn::ActivationFn>& da, std::int64_t batch, std::int64_t rows = 0, nn::LayerRange g = {}, nn::LayerRange d = {},
           int slots = 1)
      : gen(gw, ga, kernels::linalg::host_backend(), g, slots), crit(dw, da, kernels::linalg::host_backend(), d, slots),
        critic_seed(static_cast<std::size_t>(2 * (rows > 0 ? rows : batch)), static_cast<T>(1.0 / static_cast<double>(batch))),
        generator_seed(static_cast<std::size_t>(rows > 0 ? rows : batch), static_cast<T>(-1.0 / static_cast<double>(batch))),
        saved("wgan::saved_generator", static_cast<std::size_t>(gen.size())) {
    if (rows <= 0) rows = batch;
    // Fake rows then real rows (+1/B and -1/B); the workspaces are allocated here, once.
    for (std::size_t r = static_cast<std::size_t>(rows); r < critic_seed.size(); ++r) critic_seed[r] = -critic_seed[r];
    for (int s = 0; s < slots; ++s) {
      gen.input(rows, s);
      crit.input(3 * rows, s);
    }
  }
};

}  // namespace saddle::apps::wgan
