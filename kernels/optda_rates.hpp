#pragma once
// The step sizes of optimistic dual averaging (QODA and its unquantised OptDA, docs/algorithms.md
// section 2), those of engine::OptimisticDualAveraging. Constant: gamma_t = gamma, eta_t = eta.
// Adaptive (the OptDA+ family; exponents reconstructed, so q and the constants are configurable):
//   eta_t   = eta (1 + sum_{s<t} sum_k |Vhat_{k,s+1/2} - Vhat_{k,s-1/2}|^2)^(-1/2)
//   gamma_t = max(eta_t, gamma (1 + sum_{s<t} sum_k |Vhat_{k,s+1/2}|^2)^(q - 1/2)),  q in (0, 1/4]
// with Vhat_{k,.} worker k's quantised vector. One iteration t uses gamma() for the optimistic
// step X_{t+1/2} = X_t - gamma_t avg_k Vhat_{k,t-1/2}; after its exchange each worker computes
// terms() of its own vectors, the caller sums them over workers (an allreduce of 2 doubles; no MPI
// here) and absorb()s them, and eta() is then eta_{t+1} for X_{t+1} = X_1 + eta_{t+1} Y_{t+1}.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace saddle::kernels {

struct OptdaRates {
  bool adaptive = false;
  double gamma0 = 0.1, eta0 = 0.1, q = 0.25;
  // Sums over the absorbed iterations and the workers of |Vhat_t - Vhat_{t-1}|^2 and |Vhat_t|^2.
  double sum_diff = 0, sum_sq = 0;

  OptdaRates() = default;
  OptdaRates(bool adaptive_schedule, double gamma, double eta, double exponent)
      : adaptive(adaptive_schedule), gamma0(gamma), eta0(eta), q(exponent) {}

  double eta() const { return adaptive ? eta0 / std::sqrt(1.0 + sum_diff) : eta0; }
  double gamma() const { return adaptive ? std::max(eta(), gamma0 * std::pow(1.0 + sum_sq, q - 0.5)) : gamma0; }

  // This worker's terms {|own - last_own|^2, |own|^2} of one round (zeros with constant rates,
  // which need no allreduce).
  std::array<double, 2> terms(const double* own, const double* last_own, std::size_t n) const {
    std::array<double, 2> t{0.0, 0.0};
    if (!adaptive) return t;
    for (std::size_t i = 0; i < n; ++i) {
      const double d = own[i] - last_own[i];
      t[0] += d * d;
      t[1] += own[i] * own[i];
    }
    return t;
  }
  // Adds one round's terms, already summed over the workers.
  void absorb(const std::array<double, 2>& summed) {
    sum_diff += summed[0];
    sum_sq += summed[1];
  }

  // The two sums as the dataset `name` of an h5 group (engine::h5::Group or alike); the
  // constants come from the deck.
  template <class Group>
  void save(const Group& g, const std::string& name = "optda_rates") const {
    g.write(name, std::vector<double>{sum_diff, sum_sq});
  }
  // False (and nothing changed) when the dataset does not hold 2 finite non-negative sums.
  template <class Group>
  bool load(const Group& g, const std::string& name = "optda_rates") {
    const auto s = g.template read<double>(name);
    if (s.size() != 2 || !std::isfinite(s[0]) || !std::isfinite(s[1]) || s[0] < 0 || s[1] < 0) return false;
    sum_diff = s[0];
    sum_sq = s[1];
    return true;
  }
};

}  // namespace saddle::kernels
