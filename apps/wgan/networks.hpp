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

template <class T>
struct Networks {
  nn::Mlp<T> gen, crit;
  std::vector<T> critic_seed, generator_seed;
  nn::Vector<T> saved;
  Networks(const std::vector<std::int64_t>& gw, const std::vector<nn::ActivationFn>& ga, const std::vector<std::int64_t>& dw,
           const std::vector<nn::ActivationFn>& da, std::int64_t batch)
      : gen(gw, ga), crit(dw, da), critic_seed(static_cast<std::size_t>(2 * batch), static_cast<T>(1.0 / static_cast<double>(batch))),
        generator_seed(static_cast<std::size_t>(batch), static_cast<T>(-1.0 / static_cast<double>(batch))),
        saved("wgan::saved_generator", static_cast<std::size_t>(gen.size())) {
    // Fake rows then real rows (+1/B and -1/B); the workspaces are allocated here, once.
    for (std::size_t r = static_cast<std::size_t>(batch); r < critic_seed.size(); ++r) critic_seed[r] = -critic_seed[r];
    gen.input(batch);
    crit.input(3 * batch);
  }
};

}  // namespace saddle::apps::wgan
