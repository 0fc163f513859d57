#pragma once
// A multilayer perceptron: a stack of Dense<T> layers (kernels/nn/dense.hpp) in scalar T (float
// or double) with the passes WGAN-GP needs (docs/algorithms.md section 3):
//   forward:   a_l = h_{l-1} W_l' + b_l, h_l = s_l(a_l)            (h_0 = x, rows are samples)
//   backward:  the gradient of sum_b <seed_b, h_L,b> w.r.t. the parameters and/or the input
//   penalty:   P = (lambda/B) sum_b (|u_b| - 1)^2 with u = grad_x sum_b D(x_b) (output width 1),
//              and dP/dparameters exactly: a hand-written double backward that differentiates the
//              input-gradient pass g_{l-1} = (g_l o s_l'(a_l)) W_l, including the s_l'' terms
//              (skipped for piecewise-linear activations, where they vanish).
// penalty_backward() does the critic's whole gradient in one sweep: the forward rows are the
// seeded rows (e.g. fake and real samples) followed by the penalty rows (xhat), so one forward of
// all rows serves both, and the final parameter backward runs once over all of them.
// All parameters live in one flat view (per layer: W_l row-major d_l x d_{l-1}, then b_l), so
// optimisers and exchanges see one vector whose "layers" are the weight and bias tensors; the
// ParameterAccess interface converts to and from float64 (mixed precision: iterates, moments and
// exchanged gradients stay float64). Workspaces are allocated when the row count first grows
// (input()), never inside a pass.
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/linalg/host_backend.hpp"
#include "kernels/nn/activation.hpp"
#include "kernels/nn/dense.hpp"

namespace saddle::kernels::nn {

enum class Init { uniform_fan_in, he_normal, xavier_uniform };

inline Init parse_init(const std::string& s) {
  if (s == "uniform_fan_in") return Init::uniform_fan_in;
  if (s == "he_normal") return Init::he_normal;
  if (s == "xavier_uniform") return Init::xavier_uniform;
  throw std::invalid_argument("unknown initialisation '" + s + "'");
}

// Rows of a pass's result (row-major), owned by the network and valid until its next pass.
template <class T>
struct Rows {
  T* ptr = nullptr;
  std::size_t n = 0;
  T* data() const { return ptr; }
  std::size_t size() const { return n; }
  T* begin() const { return ptr; }
  T* end() const { return ptr + n; }
  T& operator[](std::size_t i) const { return ptr[i]; }
};

// The precision-independent side of a network: its parameters and gradient in float64.
class ParameterAccess {
 public:
  virtual ~ParameterAccess() = default;
  virtual std::int64_t size() const = 0;
  virtual void load_params(const double* p) = 0;
  virtual void store_grad(double* g) const = 0;
  virtual std::vector<std::int64_t> tensor_offsets() const = 0;
};

template <class T = double>
class Mlp final : public ParameterAccess {
 public:
  using value_type = T;
  Mlp() = default;
  // widths = {d_0, ..., d_L}; acts has L entries (one per layer, the last is the output's).
  Mlp(std::vector<std::int64_t> widths, std::vector<ActivationFn> acts, const linalg::Backend& la = linalg::host_backend())
      : widths_(std::move(widths)), la_(&la) {
    if (widths_.size() < 2 || acts.size() + 1 != widths_.size()) throw std::invalid_argument("Mlp: widths and activations disagree");
    std::int64_t n = 0;
    for (std::size_t l = 0; l < acts.size(); ++l) {
      layers_.emplace_back(widths_[l], widths_[l + 1], acts[l]);
      n += widths_[l] * widths_[l + 1] + widths_[l + 1];
    }
    params_ = Vector<T>("nn::params", static_cast<std::size_t>(n));
    grad_ = Vector<T>("nn::grad", static_cast<std::size_t>(n));
    std::int64_t o = 0;
    for (auto& layer : layers_) {
      const std::int64_t nw = layer.din() * layer.dout();
      layer.bind(params_.data() + o, params_.data() + o + nw, grad_.data() + o, grad_.data() + o + nw);
      o += nw + layer.dout();
    }
  }

  // The layers point into this network's views: moving keeps them valid, a copy would alias.
  Mlp(const Mlp&) = delete;
  Mlp& operator=(const Mlp&) = delete;
  Mlp(Mlp&&) = default;
  Mlp& operator=(Mlp&&) = default;

  std::int64_t layers() const { return static_cast<std::int64_t>(layers_.size()); }
  std::int64_t in_dim() const { return widths_.front(); }
  std::int64_t out_dim() const { return widths_.back(); }
  const std::vector<std::int64_t>& widths() const { return widths_; }
  const Dense<T>& layer(std::int64_t l) const { return layers_[static_cast<std::size_t>(l)]; }
  std::int64_t size() const override { return static_cast<std::int64_t>(params_.extent(0)); }
  const Vector<T>& params() const { return params_; }
  const Vector<T>& grad() const { return grad_; }
  void zero_grad() const { Kokkos::deep_copy(grad_, T(0)); }

  // Offsets of the parameter tensors (W_1, b_1, W_2, ...): 0 = o_0 < ... < o_{2L} = size().
  std::vector<std::int64_t> tensor_offsets() const override {
    std::vector<std::int64_t> o{0};
    for (const auto& layer : layers_) {
      o.push_back(o.back() + layer.din() * layer.dout());
      o.push_back(o.back() + layer.dout());
    }
    return o;
  }

  void load_params(const double* p) override {
    const Vector<T> dst = params_;
    Kokkos::parallel_for("nn::load_params", host_range(size()), KOKKOS_LAMBDA(const std::int64_t i) { dst(i) = static_cast<T>(p[i]); });
  }
  void store_grad(double* g) const override {
    const Vector<T> src = grad_;
    Kokkos::parallel_for("nn::store_grad", host_range(size()), KOKKOS_LAMBDA(const std::int64_t i) { g[i] = static_cast<double>(src(i)); });
  }

  // Initial parameters in float64 drawn from the stream (seed, purpose) by parameter index:
  // biases as PyTorch's Linear (U(-1/sqrt(fan_in), +)), weights by `init`.
  std::vector<double> draw(Init init, std::uint64_t seed, std::uint32_t purpose) const {
    const CounterRng rng(seed, purpose);
    std::vector<double> p(static_cast<std::size_t>(size()));
    std::uint64_t i = 0;
    for (const auto& layer : layers_) {
      const double fin = static_cast<double>(layer.din()), fout = static_cast<double>(layer.dout());
      const double bound = 1.0 / std::sqrt(fin);
      for (std::int64_t k = 0; k < layer.din() * layer.dout(); ++k, ++i) {
        switch (init) {
          case Init::uniform_fan_in: p[i] = bound * (2.0 * rng.uniform(i, 0) - 1.0); break;
          case Init::he_normal: p[i] = std::sqrt(2.0 / fin) * rng.normal(i, 0); break;
          case Init::xavier_uniform: p[i] = std::sqrt(6.0 / (fin + fout)) * (2.0 * rng.uniform(i, 0) - 1.0); break;
        }
      }
      for (std::int64_t k = 0; k < layer.dout(); ++k, ++i) p[i] = bound * (2.0 * rng.uniform(i, 0) - 1.0);
    }
    return p;
  }
  void initialise(Init init, std::uint64_t seed, std::uint32_t purpose) { load_params(draw(init, seed, purpose).data()); }

  // The input rows (rows x d_0) to fill before forward(rows); grows the workspaces if needed.
  T* input(std::int64_t rows) {
    if (rows > cap_) {
      cap_ = rows;
      const auto c = static_cast<std::size_t>(rows), d0 = static_cast<std::size_t>(in_dim());
      x_ = Matrix<T>("nn::x", 2 * c, d0);
      gx_ = Matrix<T>("nn::gx", c, d0);
      for (auto& layer : layers_) layer.reserve(rows);
    }
    return x_.data();
  }

  // Forward pass of the rows in input(); returns h_L (rows x d_L).
  Rows<const T> forward(std::int64_t rows) {
    if (rows > cap_) throw std::invalid_argument("Mlp::forward: more rows than input() reserved");
    rows_ = rows;
    const T* in = x_.data();
    for (const auto& layer : layers_) {
      layer.forward(*la_, in, rows);
      in = layer.out();
    }
    return output();
  }
  Rows<const T> forward(const T* x, std::int64_t rows) {
    T* dst = input(rows);
    const std::int64_t n = rows * in_dim();
    Kokkos::parallel_for("nn::copy_input", host_range(n), KOKKOS_LAMBDA(const std::int64_t i) { dst[i] = x[i]; });
    return forward(rows);
  }
  Rows<const T> output() const { return {layers_.back().out(), static_cast<std::size_t>(rows_ * out_dim())}; }

  // After forward: with `params`, grad += d/dparams sum_b <seed_b, h_L,b> (seed: rows x d_L);
  // with `input`, returns the input gradient (rows x d_0, else empty). The first layer's input
  // product is skipped when the input gradient is not wanted.
  Rows<const T> backward(const T* seed, bool params = false, bool input = true) {
    sweep(seed, rows_, 0, params, input);
    if (!input) return {};
    return {gx_.data(), static_cast<std::size_t>(rows_ * in_dim())};
  }

  // After forward of R rows, of which the last P are penalty points (output width 1): adds to
  // grad the gradient of sum_{b < R-P} seed_b h_L,b (seed may be null when P = R) plus the
  // gradient of the penalty (lambda/P) sum_b (|u_b| - 1)^2 over the last P rows, u_b = grad_x
  // D(x_b), and returns the penalty. `norms` (if given, P entries) receives |u_b|.
  double penalty_backward(const T* seed, std::int64_t P, double lambda, double* norms = nullptr) {
    if (out_dim() != 1) throw std::invalid_argument("Mlp::penalty needs a scalar output");
    const std::int64_t R = rows_;
    if (P < 1 || P > R) throw std::invalid_argument("Mlp::penalty_backward: penalty rows out of range");
    const std::size_t L = layers_.size();
    // Input-gradient pass over the penalty rows: g_L = 1, then g_{l-1} = (g_l o s'_l) W_l.
    T* top = layers_.back().g();
    Kokkos::parallel_for("nn::penalty_seed", host_range(P), KOKKOS_LAMBDA(const std::int64_t r) { top[r] = T(1); });
    for (std::size_t l = L; l-- > 0;) layers_[l].penalty_input_grad(*la_, R, P, l > 0 ? layers_[l - 1].g() : gx_.data());
    // The penalty and its adjoint on u = g_0: gbar_0 = (2 lambda / P) (|u| - 1) / |u| u, stored
    // below the forward rows of the input so the first layer's weight product picks it up.
    const std::int64_t d0 = in_dim();
    const T* u = gx_.data();
    T* gbar = x_.data() + R * d0;
    const T scale = static_cast<T>(2.0 * lambda / static_cast<double>(P));
    double sum = 0;
    Kokkos::parallel_reduce("nn::penalty_norms", host_range(P), KOKKOS_LAMBDA(const std::int64_t r, double& acc) {
      T n2 = 0;
      for (std::int64_t j = 0; j < d0; ++j) n2 += u[r * d0 + j] * u[r * d0 + j];
      const T n = kc::sqrt(n2);
      if (norms) norms[r] = static_cast<double>(n);
      acc += static_cast<double>((n - T(1)) * (n - T(1)));
      const T c = n > T(0) ? scale * (n - T(1)) / n : T(0);
      for (std::int64_t j = 0; j < d0; ++j) gbar[r * d0 + j] = c * u[r * d0 + j];
    }, sum);
    // Double backward, from the input up: each layer turns gbar of its input into gbar of its
    // output and its second-order source abar.
    for (std::size_t l = 0; l < L; ++l)
      layers_[l].penalty_double_backward(*la_, layer_input(l) + R * layers_[l].din(), R, P, l + 1 < L);
    sweep(seed, R - P, P, true, false);
    return lambda / static_cast<double>(P) * sum;
  }

  // The penalty alone at x (rows x d_0): forward, then penalty_backward over every row.
  double penalty(const T* x, std::int64_t rows, double lambda, double* norms = nullptr) {
    forward(x, rows);
    return penalty_backward(nullptr, rows, lambda, norms);
  }

 private:
  const T* layer_input(std::size_t l) const { return l == 0 ? x_.data() : layers_[l - 1].out(); }

  // The parameter/input backward over the R forward rows: the top adjoint is seed o s' on rows
  // [0, S) and abar on the P penalty rows [S, R); weight products include the penalty's
  // delta' gbar rows.
  void sweep(const T* seed, std::int64_t S, std::int64_t P, bool params, bool input) {
    const std::int64_t R = rows_;
    layers_.back().seed_adjoint(seed, S, R, P);
    for (std::size_t l = layers_.size(); l-- > 0;) {
      if (params) layers_[l].accumulate_grad(*la_, layer_input(l), R, P);
      if (l > 0) {
        layers_[l].input_adjoint(*la_, R, layers_[l - 1].adj());
        layers_[l - 1].adjoint_through_activation(R, P);
      } else if (input) {
        layers_[0].input_adjoint(*la_, R, gx_.data());
      }
    }
  }

  std::vector<std::int64_t> widths_;
  std::vector<Dense<T>> layers_;
  const linalg::Backend* la_ = &linalg::host_backend();
  Vector<T> params_, grad_;
  Matrix<T> x_, gx_;
  std::int64_t cap_ = 0, rows_ = 0;
};

}  // namespace saddle::kernels::nn
