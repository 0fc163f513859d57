#pragma once
// A multilayer perceptron of dense layers in float64 with the three passes WGAN-GP needs
// (ALGORITHMS.md section 3):
//   forward:   a_l = h_{l-1} W_l' + b_l, h_l = s_l(a_l)            (h_0 = x, rows are samples)
//   backward:  the gradient of sum_b <seed_b, h_L,b> w.r.t. the parameters and the input
//   penalty:   P = (lambda/B) sum_b (|du_b| - 1)^2 with u = grad_x sum_b D(x_b) (output width 1),
//              and dP/dparameters exactly: a hand-written double backward that differentiates the
//              input-gradient pass g_{l-1} = (g_l o s_l'(a_l)) W_l, including the s_l'' terms
//              (zero for LeakyReLU, so its second derivative is piecewise linear).
// All parameters live in one flat vector (per layer: W_l row-major d_l x d_{l-1}, then b_l), so
// optimisers and exchanges see one vector whose "layers" are the weight and bias tensors.
// Products go through OpenBLAS (kernels/host_linalg.hpp).
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/host_linalg.hpp"

namespace saddle::kernels::nn {

enum class Activation { identity, leaky_relu, relu, tanh, sigmoid };

inline Activation parse_activation(const std::string& s) {
  if (s == "identity" || s == "linear") return Activation::identity;
  if (s == "leaky_relu") return Activation::leaky_relu;
  if (s == "relu") return Activation::relu;
  if (s == "tanh") return Activation::tanh;
  if (s == "sigmoid") return Activation::sigmoid;
  throw std::invalid_argument("unknown activation '" + s + "'");
}

// s(a), s'(a), s''(a) of one activation (LeakyReLU slope `alpha` for a < 0).
struct ActivationFn {
  Activation kind = Activation::identity;
  double alpha = 0.2;
  double f(double a) const {
    switch (kind) {
      case Activation::identity: return a;
      case Activation::leaky_relu: return a > 0 ? a : alpha * a;
      case Activation::relu: return a > 0 ? a : 0.0;
      case Activation::tanh: return std::tanh(a);
      case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-a));
    }
    return a;
  }
  double d1(double a) const {
    switch (kind) {
      case Activation::identity: return 1.0;
      case Activation::leaky_relu: return a > 0 ? 1.0 : alpha;
      case Activation::relu: return a > 0 ? 1.0 : 0.0;
      case Activation::tanh: { const double t = std::tanh(a); return 1.0 - t * t; }
      case Activation::sigmoid: { const double s = 1.0 / (1.0 + std::exp(-a)); return s * (1.0 - s); }
    }
    return 1.0;
  }
  double d2(double a) const {
    switch (kind) {
      case Activation::tanh: { const double t = std::tanh(a); return -2.0 * t * (1.0 - t * t); }
      case Activation::sigmoid: { const double s = 1.0 / (1.0 + std::exp(-a)); return s * (1.0 - s) * (1.0 - 2.0 * s); }
      default: return 0.0;
    }
  }
};

enum class Init { uniform_fan_in, he_normal, xavier_uniform };

inline Init parse_init(const std::string& s) {
  if (s == "uniform_fan_in") return Init::uniform_fan_in;
  if (s == "he_normal") return Init::he_normal;
  if (s == "xavier_uniform") return Init::xavier_uniform;
  throw std::invalid_argument("unknown initialisation '" + s + "'");
}

class Mlp {
 public:
  Mlp() = default;
  // widths = {d_0, ..., d_L}; acts has L entries (one per layer, the last is the output's).
  Mlp(std::vector<std::int64_t> widths, std::vector<ActivationFn> acts) : widths_(std::move(widths)), acts_(std::move(acts)) {
    if (widths_.size() < 2 || acts_.size() + 1 != widths_.size()) throw std::invalid_argument("Mlp: widths and activations disagree");
    std::int64_t o = 0;
    for (std::size_t l = 0; l + 1 < widths_.size(); ++l) {
      w_off_.push_back(o);
      o += widths_[l] * widths_[l + 1];
      b_off_.push_back(o);
      o += widths_[l + 1];
    }
    params_.assign(static_cast<std::size_t>(o), 0.0);
    grad_.assign(params_.size(), 0.0);
    a_.resize(acts_.size());
    h_.resize(widths_.size());
  }

  std::int64_t layers() const { return static_cast<std::int64_t>(acts_.size()); }
  std::int64_t in_dim() const { return widths_.front(); }
  std::int64_t out_dim() const { return widths_.back(); }
  const std::vector<std::int64_t>& widths() const { return widths_; }
  std::int64_t size() const { return static_cast<std::int64_t>(params_.size()); }
  std::vector<double>& params() { return params_; }
  const std::vector<double>& params() const { return params_; }
  std::vector<double>& grad() { return grad_; }
  void zero_grad() { std::fill(grad_.begin(), grad_.end(), 0.0); }
  // Offsets of the parameter tensors (W_1, b_1, W_2, ...): 0 = o_0 < ... < o_{2L} = size().
  std::vector<std::int64_t> tensor_offsets() const {
    std::vector<std::int64_t> o{0};
    for (std::size_t l = 0; l < acts_.size(); ++l) {
      o.push_back(b_off_[l]);
      o.push_back(b_off_[l] + widths_[l + 1]);
    }
    return o;
  }

  // Parameters drawn from the stream (seed, purpose) by parameter index: biases as PyTorch's
  // Linear (U(-1/sqrt(fan_in), +)), weights by `init`.
  void initialise(Init init, std::uint64_t seed, std::uint32_t purpose) {
    const CounterRng rng(seed, purpose);
    for (std::size_t l = 0; l < acts_.size(); ++l) {
      const double fin = static_cast<double>(widths_[l]), fout = static_cast<double>(widths_[l + 1]);
      const double bound = 1.0 / std::sqrt(fin);
      for (std::int64_t i = w_off_[l]; i < b_off_[l]; ++i) {
        const auto ui = static_cast<std::uint64_t>(i);
        switch (init) {
          case Init::uniform_fan_in: params_[ui] = bound * (2.0 * rng.uniform(ui, 0) - 1.0); break;
          case Init::he_normal: params_[ui] = std::sqrt(2.0 / fin) * rng.normal(ui, 0); break;
          case Init::xavier_uniform: params_[ui] = std::sqrt(6.0 / (fin + fout)) * (2.0 * rng.uniform(ui, 0) - 1.0); break;
        }
      }
      for (std::int64_t i = b_off_[l]; i < b_off_[l] + widths_[l + 1]; ++i)
        params_[static_cast<std::size_t>(i)] = bound * (2.0 * rng.uniform(static_cast<std::uint64_t>(i), 0) - 1.0);
    }
  }

  // Forward pass of B rows x (B x d_0); returns h_L (B x d_L), kept with every a_l, h_l for the
  // backward passes.
  const std::vector<double>& forward(const double* x, std::int64_t B) {
    batch_ = B;
    h_[0].assign(x, x + B * widths_[0]);
    for (std::size_t l = 0; l < acts_.size(); ++l) {
      const std::int64_t din = widths_[l], dout = widths_[l + 1];
      auto& a = a_[l];
      a.resize(static_cast<std::size_t>(B * dout));
      const double* b = &params_[static_cast<std::size_t>(b_off_[l])];
      for (std::int64_t r = 0; r < B; ++r)
        for (std::int64_t j = 0; j < dout; ++j) a[static_cast<std::size_t>(r * dout + j)] = b[j];
      linalg::gemm(false, true, B, dout, din, 1.0, h_[l].data(), din, &params_[static_cast<std::size_t>(w_off_[l])], din, 1.0,
                   a.data(), dout);
      auto& h = h_[l + 1];
      h.resize(a.size());
      for (std::size_t i = 0; i < a.size(); ++i) h[i] = acts_[l].f(a[i]);
    }
    return h_.back();
  }

  // After forward: grad += d/dparams sum_b <seed_b, h_L,b>; returns the input gradient (B x d_0).
  // With accumulate = false only the input gradient is formed (the parameters' part is skipped).
  std::vector<double> backward(const double* seed, bool accumulate = true) {
    const std::int64_t B = batch_;
    std::vector<double> g(seed, seed + B * widths_.back()), d;
    for (std::size_t l = acts_.size(); l-- > 0;) {
      const std::int64_t din = widths_[l], dout = widths_[l + 1];
      d.resize(g.size());
      for (std::size_t i = 0; i < g.size(); ++i) d[i] = g[i] * acts_[l].d1(a_[l][i]);
      if (accumulate) add_layer_grad(l, d.data(), h_[l].data(), B);
      g.assign(static_cast<std::size_t>(B * din), 0.0);
      linalg::gemm(false, false, B, din, dout, 1.0, d.data(), dout, &params_[static_cast<std::size_t>(w_off_[l])], din, 0.0, g.data(), din);
    }
    return g;
  }

  // WGAN-GP penalty at x (B x d_0) for a scalar-output network: returns
  // P = (lambda / B) sum_b (|u_b| - 1)^2, u = grad_x sum_b h_L,b, and adds dP/dparams to grad().
  // `grad_norms` (if given) receives |u_b|.
  double penalty(const double* x, std::int64_t B, double lambda, std::vector<double>* grad_norms = nullptr) {
    if (widths_.back() != 1) throw std::invalid_argument("Mlp::penalty needs a scalar output");
    forward(x, B);
    const std::size_t L = acts_.size();
    // Input-gradient pass, keeping g_l (adjoint of h_l) and delta_l = g_l o s'(a_l).
    std::vector<std::vector<double>> g(L + 1), delta(L);
    g[L].assign(static_cast<std::size_t>(B), 1.0);
    for (std::size_t l = L; l-- > 0;) {
      const std::int64_t din = widths_[l], dout = widths_[l + 1];
      delta[l].resize(g[l + 1].size());
      for (std::size_t i = 0; i < delta[l].size(); ++i) delta[l][i] = g[l + 1][i] * acts_[l].d1(a_[l][i]);
      g[l].assign(static_cast<std::size_t>(B * din), 0.0);
      linalg::gemm(false, false, B, din, dout, 1.0, delta[l].data(), dout, &params_[static_cast<std::size_t>(w_off_[l])], din, 0.0,
                   g[l].data(), din);
    }
    // P and its adjoint on u = g_0.
    const std::int64_t d0 = widths_[0];
    std::vector<double> gbar(static_cast<std::size_t>(B * d0));
    double p = 0;
    if (grad_norms) grad_norms->assign(static_cast<std::size_t>(B), 0.0);
    for (std::int64_t r = 0; r < B; ++r) {
      double n2 = 0;
      for (std::int64_t j = 0; j < d0; ++j) n2 += g[0][static_cast<std::size_t>(r * d0 + j)] * g[0][static_cast<std::size_t>(r * d0 + j)];
      const double n = std::sqrt(n2);
      if (grad_norms) (*grad_norms)[static_cast<std::size_t>(r)] = n;
      p += (n - 1.0) * (n - 1.0);
      const double c = n > 0 ? 2.0 * lambda / static_cast<double>(B) * (n - 1.0) / n : 0.0;
      for (std::int64_t j = 0; j < d0; ++j) gbar[static_cast<std::size_t>(r * d0 + j)] = c * g[0][static_cast<std::size_t>(r * d0 + j)];
    }
    p *= lambda / static_cast<double>(B);
    // Double backward, forward in l: from g_{l-1} = delta_l W_l and delta_l = g_l o s'(a_l).
    // abar[l] collects the adjoints of a_l that the input-gradient pass contributes.
    std::vector<std::vector<double>> abar(L);
    std::vector<double> dbar;
    for (std::size_t l = 0; l < L; ++l) {
      const std::int64_t din = widths_[l], dout = widths_[l + 1];
      // W_l adjoint: delta_l' gbar (dout x din); delta_l adjoint: gbar W_l' (B x dout).
      linalg::gemm(true, false, dout, din, B, 1.0, delta[l].data(), dout, gbar.data(), din, 1.0,
                   &grad_[static_cast<std::size_t>(w_off_[l])], din);
      dbar.assign(static_cast<std::size_t>(B * dout), 0.0);
      linalg::gemm(false, true, B, dout, din, 1.0, gbar.data(), din, &params_[static_cast<std::size_t>(w_off_[l])], din, 0.0, dbar.data(),
                   dout);
      abar[l].resize(dbar.size());
      for (std::size_t i = 0; i < dbar.size(); ++i) abar[l][i] = dbar[i] * g[l + 1][i] * acts_[l].d2(a_[l][i]);
      if (l + 1 < L) {
        gbar.resize(dbar.size());
        for (std::size_t i = 0; i < dbar.size(); ++i) gbar[i] = dbar[i] * acts_[l].d1(a_[l][i]);
      }
    }
    // Back through the forward pass with the sources abar[l] (the a_l adjoint of layer l also
    // receives hbar_l o s'(a_l) from the layers above).
    std::vector<double> hbar;
    for (std::size_t l = L; l-- > 0;) {
      const std::int64_t din = widths_[l], dout = widths_[l + 1];
      std::vector<double>& ab = abar[l];
      if (!hbar.empty())
        for (std::size_t i = 0; i < ab.size(); ++i) ab[i] += hbar[i] * acts_[l].d1(a_[l][i]);
      add_layer_grad(l, ab.data(), h_[l].data(), B);
      if (l > 0) {
        hbar.assign(static_cast<std::size_t>(B * din), 0.0);
        linalg::gemm(false, false, B, din, dout, 1.0, ab.data(), dout, &params_[static_cast<std::size_t>(w_off_[l])], din, 0.0, hbar.data(),
                     din);
      }
    }
    return p;
  }

 private:
  // grad(W_l) += d' h_{l-1}, grad(b_l) += column sums of d (d: B x d_l).
  void add_layer_grad(std::size_t l, const double* d, const double* hin, std::int64_t B) {
    const std::int64_t din = widths_[l], dout = widths_[l + 1];
    linalg::gemm(true, false, dout, din, B, 1.0, d, dout, hin, din, 1.0, &grad_[static_cast<std::size_t>(w_off_[l])], din);
    double* gb = &grad_[static_cast<std::size_t>(b_off_[l])];
    for (std::int64_t r = 0; r < B; ++r)
      for (std::int64_t j = 0; j < dout; ++j) gb[j] += d[r * dout + j];
  }

  std::vector<std::int64_t> widths_;
  std::vector<ActivationFn> acts_;
  std::vector<std::int64_t> w_off_, b_off_;
  std::vector<double> params_, grad_;
  std::vector<std::vector<double>> a_, h_;
  std::int64_t batch_ = 0;
};

}  // namespace saddle::kernels::nn
