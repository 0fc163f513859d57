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
// Mlp<T, Space> keeps its parameters, gradient and workspaces in the memory of execution space
// Space and runs its kernels there: HostExec (the default) on the host, kernels::Exec for a
// network on the device (a CUDA build's GPU; in a CPU build Exec is a host space and the two are
// the same code). Every T pointer the passes take or return (input(), forward's x, seeds, Rows,
// top_g, ...) is in that memory; load_params/store_grad take float64 host pointers, and the
// *_mem variants float64 views in kernels::Mem (a device-resident optimiser), staging through a
// buffer of Space's memory when Space cannot read them.
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/host_loops.hpp"
#include "kernels/linalg/select.hpp"
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
  // float64 vectors in the default execution space's memory (a device-resident optimiser's).
  using MemVector = Kokkos::View<double*, Mem>;
  using ConstMemVector = Kokkos::View<const double*, Mem>;

 public:
  // Called during a parameter backward as soon as the gradient of [lo, hi) is complete (one layer's
  // W and b, the last layer first), so that its exchange can start while the layers below are
  // still being differentiated.
  using GradReady = std::function<void(std::int64_t lo, std::int64_t hi)>;

  virtual ~ParameterAccess() = default;
  virtual std::int64_t size() const = 0;
  // From and to host memory.
  virtual void load_params(const double* p) = 0;
  void store_grad(double* g) const { store_grad(g, 0, size()); }
  // g[i] = gradient i for i in [lo, hi) (g indexed like the whole vector held here).
  virtual void store_grad(double* g, std::int64_t lo, std::int64_t hi) const = 0;
  // The same from and to views in Mem (size() values).
  virtual void load_params_mem(const ConstMemVector& p) = 0;
  virtual void store_grad_mem(const MemVector& g, std::int64_t lo, std::int64_t hi) const = 0;
  virtual std::vector<std::int64_t> tensor_offsets() const = 0;
  // An empty function (the default) stops the calls.
  void on_grad_ready(GradReady f) { grad_ready_ = std::move(f); }

 protected:
  GradReady grad_ready_;
};

// The layers [first, last) of a network, a pipeline stage's share of it (all layers by default).
struct LayerRange {
  std::int64_t first = 0, last = -1;  // last < 0: to the output
};

namespace kernel {  // the network's own element-wise kernels (namespace scope: nvcc launches no private types)
template <class T>
struct Fill {
  T* dst;
  T value;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t i) const { dst[i] = value; }
};
template <class To, class From>
struct Convert {  // dst[i] = To(src[i]) over [lo, hi) (space_chunks)
  To* dst;
  const From* src;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t lo, const std::int64_t hi) const {
    To* KOKKOS_RESTRICT d = dst;
    const From* KOKKOS_RESTRICT q = src;
    for (std::int64_t i = lo; i < hi; ++i) d[i] = static_cast<To>(q[i]);
  }
};
}  // namespace kernel

template <class T = double, class Space = HostExec>
class Mlp final : public ParameterAccess {
 public:
  using value_type = T;
  using execution_space = Space;
  using memory_space = typename Space::memory_space;
  using Params = Vector<T, memory_space>;
  Mlp() = default;
  // widths = {d_0, ..., d_L}; acts has L entries (one per layer, the last is the output's).
  // `range` selects the layers this object holds (a pipeline stage; its parameters are the slice
  // [param_offset(), param_offset() + size()) of the whole network's flat vector), `slots` the
  // number of independent workspace sets (micro-batches in flight at once); every pass takes the
  // slot it works in, and all slots accumulate into the one gradient.
  Mlp(std::vector<std::int64_t> widths, std::vector<ActivationFn> acts, const linalg::Backend& la = linalg::backend_of_space<Space>(),
      LayerRange range = {}, int slots = 1)
      : widths_(std::move(widths)), la_(&la) {
    if (widths_.size() < 2 || acts.size() + 1 != widths_.size()) throw std::invalid_argument("Mlp: widths and activations disagree");
    const auto total = static_cast<std::int64_t>(acts.size());
    first_ = range.first;
    last_ = range.last < 0 ? total : range.last;
    if (first_ < 0 || first_ >= last_ || last_ > total) throw std::invalid_argument("Mlp: layer range out of bounds");
    if (slots < 1) throw std::invalid_argument("Mlp: needs at least one workspace slot");
    std::int64_t n = 0;
    for (std::int64_t l = 0; l < last_; ++l) {
      const std::int64_t c = widths_[static_cast<std::size_t>(l)] * widths_[static_cast<std::size_t>(l) + 1] + widths_[static_cast<std::size_t>(l) + 1];
      (l < first_ ? offset_ : n) += c;
    }
    params_ = Params("nn::params", static_cast<std::size_t>(n));
    grad_ = Params("nn::grad", static_cast<std::size_t>(n));
    slots_.resize(static_cast<std::size_t>(slots));
    for (auto& slot : slots_) {
      std::int64_t o = 0;
      for (std::int64_t l = first_; l < last_; ++l) {
        const auto i = static_cast<std::size_t>(l);
        Dense<T, Space>& layer = slot.layers.emplace_back(widths_[i], widths_[i + 1], acts[i]);
        const std::int64_t nw = layer.din() * layer.dout();
        layer.bind(params_.data() + o, params_.data() + o + nw, grad_.data() + o, grad_.data() + o + nw);
        o += nw + layer.dout();
      }
    }
  }

  // The layers point into this network's views: moving keeps them valid, a copy would alias.
  Mlp(const Mlp&) = delete;
  Mlp& operator=(const Mlp&) = delete;
  Mlp(Mlp&&) = default;
  Mlp& operator=(Mlp&&) = default;

  // Layers held here, and where they sit in the whole network.
  std::int64_t layers() const { return last_ - first_; }
  std::int64_t total_layers() const { return static_cast<std::int64_t>(widths_.size()) - 1; }
  bool input_stage() const { return first_ == 0; }
  bool output_stage() const { return last_ == total_layers(); }
  int slots() const { return static_cast<int>(slots_.size()); }
  std::int64_t in_dim() const { return widths_[static_cast<std::size_t>(first_)]; }
  std::int64_t out_dim() const { return widths_[static_cast<std::size_t>(last_)]; }
  // The whole network's widths.
  const std::vector<std::int64_t>& widths() const { return widths_; }
  const Dense<T, Space>& layer(std::int64_t l) const { return slots_.front().layers[static_cast<std::size_t>(l)]; }
  std::int64_t size() const override { return static_cast<std::int64_t>(params_.extent(0)); }
  std::int64_t param_offset() const { return offset_; }
  const Params& params() const { return params_; }
  const Params& grad() const { return grad_; }
  void zero_grad() const { Kokkos::deep_copy(grad_, T(0)); }
  // Bytes of every slot's workspaces (activations and the passes' scratch) allocated so far.
  std::size_t workspace_bytes() const {
    std::size_t b = 0;
    for (const auto& s : slots_) {
      b += (s.x.span() + s.gx.span()) * sizeof(T) + s.norms.span() * sizeof(double);
      for (const auto& layer : s.layers) b += layer.workspace_bytes();
    }
    return b;
  }

  // Offsets of the parameter tensors held here (W, b of each layer): 0 = o_0 < ... = size().
  std::vector<std::int64_t> tensor_offsets() const override {
    std::vector<std::int64_t> o{0};
    for (const auto& layer : slots_.front().layers) {
      o.push_back(o.back() + layer.din() * layer.dout());
      o.push_back(o.back() + layer.dout());
    }
    return o;
  }

  void load_params(const double* p) override { load_from<HostMem>(p); }
  using ParameterAccess::store_grad;
  void store_grad(double* g, std::int64_t lo, std::int64_t hi) const override { store_to<HostMem>(g, lo, hi); }
  void load_params_mem(const ConstMemVector& p) override { load_from<Mem>(p.data()); }
  void store_grad_mem(const MemVector& g, std::int64_t lo, std::int64_t hi) const override { store_to<Mem>(g.data(), lo, hi); }

  // Initial parameters (of the layers held here) in float64 drawn from the stream (seed, purpose)
  // by the parameter's index in the whole network, so every stage draws its slice of the same
  // vector: biases as PyTorch's Linear (U(-1/sqrt(fan_in), +)), weights by `init`.
  std::vector<double> draw(Init init, std::uint64_t seed, std::uint32_t purpose) const {
    const CounterRng rng(seed, purpose);
    std::vector<double> p;
    p.reserve(static_cast<std::size_t>(size()));
    std::uint64_t i = static_cast<std::uint64_t>(offset_);
    for (const auto& layer : slots_.front().layers) {
      const double fin = static_cast<double>(layer.din()), fout = static_cast<double>(layer.dout());
      const double bound = 1.0 / std::sqrt(fin);
      for (std::int64_t k = 0; k < layer.din() * layer.dout(); ++k, ++i) {
        switch (init) {
          case Init::uniform_fan_in: p.push_back(bound * (2.0 * rng.uniform(i, 0) - 1.0)); break;
          case Init::he_normal: p.push_back(std::sqrt(2.0 / fin) * rng.normal(i, 0)); break;
          case Init::xavier_uniform: p.push_back(std::sqrt(6.0 / (fin + fout)) * (2.0 * rng.uniform(i, 0) - 1.0)); break;
        }
      }
      for (std::int64_t k = 0; k < layer.dout(); ++k, ++i) p.push_back(bound * (2.0 * rng.uniform(i, 0) - 1.0));
    }
    return p;
  }
  void initialise(Init init, std::uint64_t seed, std::uint32_t purpose) { load_params(draw(init, seed, purpose).data()); }

  // The input rows (rows x in_dim()) of `slot` to fill before forward(rows, slot); grows the
  // slot's workspaces if needed. A later stage receives its input (the earlier stage's output)
  // here.
  T* input(std::int64_t rows, int slot = 0) {
    Slot& s = at(slot);
    if (rows > s.cap) {
      s.cap = rows;
      const auto c = static_cast<std::size_t>(rows), d0 = static_cast<std::size_t>(in_dim());
      s.x = Matrix<T, memory_space>("nn::x", 2 * c, d0);
      s.gx = Matrix<T, memory_space>("nn::gx", c, d0);
      if constexpr (!kHostSpace<Space>) s.norms = Vector<double, memory_space>("nn::norms", c);
      for (auto& layer : s.layers) layer.reserve(rows);
    }
    s.rows = rows;
    return s.x.data();
  }

  // Forward pass of the rows in input(); returns h at the last layer held (rows x out_dim()).
  Rows<const T> forward(std::int64_t rows, int slot = 0) {
    Slot& s = at(slot);
    if (rows > s.cap) throw std::invalid_argument("Mlp::forward: more rows than input() reserved");
    s.rows = rows;
    const T* in = s.x.data();
    for (const auto& layer : s.layers) {
      layer.forward(*la_, in, rows);
      in = layer.out();
    }
    return output(slot);
  }
  Rows<const T> forward(const T* x, std::int64_t rows, int slot = 0) {
    T* dst = input(rows, slot);
    copy_in_space(x, rows * in_dim(), dst);
    return forward(rows, slot);
  }
  Rows<const T> output(int slot = 0) const {
    const Slot& s = at(slot);
    return {s.layers.back().out(), static_cast<std::size_t>(s.rows * out_dim())};
  }

  // After forward: with `params`, grad += d/dparams sum_b <seed_b, h_b> (seed: rows x out_dim(),
  // h the output of the last layer held); with `input`, returns the input gradient (rows x
  // in_dim(), else empty). The first layer's input product is skipped when it is not wanted.
  Rows<const T> backward(const T* seed, bool params = false, bool input = true, int slot = 0) {
    return backward_from(seed, 0, params, input, slot);
  }

  // After forward of R rows, of which the last P are penalty points (output width 1): adds to
  // grad the gradient of sum_{b < R-P} seed_b h_L,b (seed may be null when P = R) plus the
  // gradient of the penalty (lambda/P) sum_b (|u_b| - 1)^2 over the last P rows, u_b = grad_x
  // D(x_b), and returns the penalty. `norms` (if given, P entries) receives |u_b|. The whole
  // network only: a pipeline runs the four passes below stage by stage.
  double penalty_backward(const T* seed, std::int64_t P, double lambda, double* norms = nullptr, int slot = 0) {
    if (!input_stage() || !output_stage()) throw std::invalid_argument("Mlp::penalty_backward needs the whole network");
    penalty_input_grad(P, slot);
    const double sum = penalty_norms(P, 2.0 * lambda / static_cast<double>(P), norms, slot);
    penalty_double_backward(P, slot);
    backward_from(seed, P, true, false, slot);
    return lambda / static_cast<double>(P) * sum;
  }

  // The penalty alone at x (rows x d_0): forward, then penalty_backward over every row.
  double penalty(const T* x, std::int64_t rows, double lambda, double* norms = nullptr) {
    forward(x, rows);
    return penalty_backward(nullptr, rows, lambda, norms);
  }

  // --- The passes of the penalty one stage at a time (docs/algorithms.md section 3). A stage
  // that is not the network's output (input) receives what its neighbour computed into the
  // buffers named below before the pass. R = the slot's forward rows, P = its penalty rows (the
  // last P of the R).

  // Where a non-output stage receives g (P x out_dim()) from the stage above before
  // penalty_input_grad, and the adjoint of its output h (R x out_dim()) before backward_from.
  T* top_g(int slot) const { return at(slot).layers.back().g(); }
  T* top_adjoint(int slot) const { return at(slot).layers.back().adj(); }
  // The input adjoint the slot's last backward_from(..., input = true) or penalty_input_grad left.
  const T* input_adjoint(int slot) const { return at(slot).gx.data(); }
  // Where a non-input stage receives gbar (P x in_dim()) from the stage below before
  // penalty_double_backward.
  T* input_gbar(int slot) const {
    const Slot& s = at(slot);
    return s.x.data() + s.rows * in_dim();
  }

  // Input-gradient pass over the penalty rows: g = 1 at the output, g_{l-1} = (g_l o s'_l) W_l;
  // returns g at the stage's input (P x in_dim()), which the stage below receives as its top_g.
  Rows<const T> penalty_input_grad(std::int64_t P, int slot = 0) {
    Slot& s = at(slot);
    const std::int64_t R = s.rows;
    if (P < 1 || P > R) throw std::invalid_argument("Mlp::penalty: penalty rows out of range");
    if (output_stage()) {
      if (out_dim() != 1) throw std::invalid_argument("Mlp::penalty needs a scalar output");
      T* top = s.layers.back().g();
      space_for<Space>("nn::penalty_seed", P, P, kernel::Fill<T>{top, T(1)});
    }
    for (std::size_t l = s.layers.size(); l-- > 0;) s.layers[l].penalty_input_grad(*la_, R, P, l > 0 ? s.layers[l - 1].g() : s.gx.data());
    return {s.gx.data(), static_cast<std::size_t>(P * in_dim())};
  }

  // Input stage, after penalty_input_grad: u = g_0 (P x d_0), writes |u_b| to norms (if given)
  // and the penalty's adjoint gbar_0 = coef (|u| - 1) / |u| u below the forward rows of the
  // input, where the first layer's weight product picks it up (coef = 2 lambda / N for the
  // penalty (lambda / N) sum over N rows, these P and those of other micro-batches); returns
  // sum_b (|u_b| - 1)^2 over these P rows.
  double penalty_norms(std::int64_t P, double coef, double* norms = nullptr, int slot = 0) {
    if (!input_stage()) throw std::invalid_argument("Mlp::penalty_norms: on the network's input stage only");
    Slot& s = at(slot);
    const std::int64_t d0 = in_dim();
    const T* u = s.gx.data();
    T* gbar = s.x.data() + s.rows * d0;
    const T scale = static_cast<T>(coef);
    // The norms go to the caller's host array directly when Space is the host, else to the slot's
    // buffer and then to the host.
    double* out = kHostSpace<Space> ? norms : (norms ? s.norms.data() : nullptr);
    double sum = 0;
    Kokkos::parallel_reduce("nn::penalty_norms", Kokkos::RangePolicy<Space>(0, P), KOKKOS_LAMBDA(const std::int64_t r, double& acc) {
      T n2 = 0;
      for (std::int64_t j = 0; j < d0; ++j) n2 += u[r * d0 + j] * u[r * d0 + j];
      const T n = kc::sqrt(n2);
      if (out) out[r] = static_cast<double>(n);
      acc += static_cast<double>((n - T(1)) * (n - T(1)));
      const T c = n > T(0) ? scale * (n - T(1)) / n : T(0);
      for (std::int64_t j = 0; j < d0; ++j) gbar[r * d0 + j] = c * u[r * d0 + j];
    }, sum);
    if (!kHostSpace<Space> && norms)
      Kokkos::deep_copy(Kokkos::View<double*, HostMem, Kokkos::MemoryUnmanaged>(norms, static_cast<std::size_t>(P)),
                        Kokkos::subview(s.norms, std::make_pair(std::int64_t{0}, P)));
    return sum;
  }

  // Double backward, from the input up: each layer turns gbar of its input into gbar of its
  // output and its second-order source abar. Returns gbar at the stage's output (P x out_dim(),
  // for the stage above's input_gbar; empty on the output stage).
  Rows<const T> penalty_double_backward(std::int64_t P, int slot = 0) {
    Slot& s = at(slot);
    const std::int64_t R = s.rows, total = total_layers();
    for (std::size_t l = 0; l < s.layers.size(); ++l)
      s.layers[l].penalty_double_backward(*la_, layer_input(s, l) + R * s.layers[l].din(), R, P, first_ + static_cast<std::int64_t>(l) + 1 < total);
    if (output_stage()) return {};
    return {s.layers.back().out() + R * out_dim(), static_cast<std::size_t>(P * out_dim())};
  }

  // The parameter/input backward over the slot's R forward rows, of which the last P are penalty
  // rows (P = 0: none, or the penalty did not run). The top adjoint: on the output stage seed o
  // s' on rows [0, R - P) (seed: (R - P) x out_dim(); null when P = R) and abar on the penalty
  // rows; on another stage the adjoint of the output received into top_adjoint() (R rows), then
  // through the activation. Weight products include the penalty's delta' gbar rows. With
  // `params`, grad += the parameter gradient; with `input`, returns the adjoint of the stage's
  // input (R x in_dim()).
  Rows<const T> backward_from(const T* seed, std::int64_t P, bool params, bool input, int slot = 0) {
    Slot& s = at(slot);
    const std::int64_t R = s.rows;
    if (output_stage()) s.layers.back().seed_adjoint(seed, R - P, R, P);
    else s.layers.back().adjoint_through_activation(R, P);
    const std::vector<std::int64_t> tensors = params && grad_ready_ ? tensor_offsets() : std::vector<std::int64_t>{};
    for (std::size_t l = s.layers.size(); l-- > 0;) {
      if (params) s.layers[l].accumulate_grad(*la_, layer_input(s, l), R, P);
      if (!tensors.empty()) grad_ready_(tensors[2 * l], tensors[2 * l + 2]);
      if (l > 0) {
        s.layers[l].input_adjoint(*la_, R, s.layers[l - 1].adj());
        s.layers[l - 1].adjoint_through_activation(R, P);
      } else if (input) {
        s.layers[0].input_adjoint(*la_, R, s.gx.data());
      }
    }
    if (!input) return {};
    return {s.gx.data(), static_cast<std::size_t>(R * in_dim())};
  }

 private:
  // One set of workspaces: the layers (bound to the shared parameters) with their buffers, the
  // input rows x (forward rows, then gbar rows) and the input gradient gx.
  struct Slot {
    std::vector<Dense<T, Space>> layers;
    Matrix<T, memory_space> x, gx;
    Vector<double, memory_space> norms;  // the penalty's |u_b| on a device (empty on the host)
    std::int64_t cap = 0, rows = 0;
  };
  // dst[i] = To(src[i]), i in [0, n), on Space.
  template <class To, class From>
  static void convert(std::int64_t n, const From* src, To* dst) {
    space_chunks<Space>("nn::convert", n, kernel::Convert<To, From>{dst, src});
  }
  // A float64 buffer of size() values in Space's memory, for values Space cannot read where they are.
  Vector<double, memory_space>& stage() const {
    if (stage_.extent(0) == 0) stage_ = Vector<double, memory_space>("nn::stage", static_cast<std::size_t>(size()));
    return stage_;
  }
  template <class SrcMem>
  using Unmanaged = Kokkos::View<double*, SrcMem, Kokkos::MemoryUnmanaged>;
  // params = T(p), p (size() values) in memory SrcMem.
  template <class SrcMem>
  void load_from(const double* p) {
    if constexpr (Kokkos::SpaceAccessibility<Space, SrcMem>::accessible) {
      convert(size(), p, params_.data());
    } else {
      Kokkos::deep_copy(stage(), Unmanaged<SrcMem>(const_cast<double*>(p), static_cast<std::size_t>(size())));
      convert(size(), stage().data(), params_.data());
    }
  }
  // g[lo, hi) = double(grad[lo, hi)), g in memory DstMem; done when this returns.
  template <class DstMem>
  void store_to(double* g, std::int64_t lo, std::int64_t hi) const {
    if constexpr (Kokkos::SpaceAccessibility<Space, DstMem>::accessible) {
      convert(hi - lo, grad_.data() + lo, g + lo);
      if constexpr (!kHostSpace<Space>) Space().fence();
    } else {
      const auto range = std::make_pair(lo, hi);
      convert(hi - lo, grad_.data() + lo, stage().data() + lo);
      Kokkos::deep_copy(Kokkos::subview(Unmanaged<DstMem>(g, static_cast<std::size_t>(size())), range), Kokkos::subview(stage(), range));
    }
  }
  // dst[0, n) = src[0, n), both in Space's memory.
  static void copy_in_space(const T* src, std::int64_t n, T* dst) {
    if constexpr (kHostSpace<Space>) {
      host_copy(src, n, dst);
    } else {
      using U = Kokkos::View<T*, memory_space, Kokkos::MemoryUnmanaged>;
      Kokkos::deep_copy(Space(), U(dst, static_cast<std::size_t>(n)), U(const_cast<T*>(src), static_cast<std::size_t>(n)));
    }
  }
  Slot& at(int slot) { return slots_.at(static_cast<std::size_t>(slot)); }
  const Slot& at(int slot) const { return slots_.at(static_cast<std::size_t>(slot)); }
  static const T* layer_input(const Slot& s, std::size_t l) { return l == 0 ? s.x.data() : s.layers[l - 1].out(); }

  std::vector<std::int64_t> widths_;
  std::int64_t first_ = 0, last_ = 0, offset_ = 0;
  std::vector<Slot> slots_;
  const linalg::Backend* la_ = &linalg::backend_of_space<Space>();
  Params params_, grad_;
  mutable Vector<double, memory_space> stage_;
};

}  // namespace saddle::kernels::nn
