#pragma once
// One dense layer h_out = s(h_in W' + b) (W: d_out x d_in row-major, rows are samples) in scalar T,
// with its share of every pass of the WGAN-GP critic (docs/algorithms.md section 3), so that a network
// is a stack of these and a pipeline stage is a contiguous run of them.
//
// The layer owns its workspaces (Kokkos views in the memory of its execution space Space: HostExec
// by default, Exec for a network on the device; allocated by reserve() and reused):
//   out_  (R + P) x d_out  rows [0, R): the outputs h of the forward rows; rows [R, R + P): gbar,
//                          the penalty's adjoint of the input-gradient g at this layer's output
//   adj_  (R + P) x d_out  rows [0, R): adjoint of the pre-activation a (the parameter backward);
//                          rows [R, R + P): delta = g o s'(a) of the input-gradient pass
//   g_    P x d_out        g, the input gradient of sum_b D(x_b) at this layer's output
//   s2_   P x d_out        abar = dbar o g o s''(a), the second-order source (curved s only)
//   db_   P x d_out        dbar = gbar_in W', scratch of the double backward
// The penalty rows are the last P of the R forward rows. Parameters live in the network's flat
// vectors (bind()); every pointer a layer takes or returns is in Space's memory. The products go
// through a linalg::Backend of that memory (OpenBLAS on the host, cuBLAS on a CUDA device), the
// element-wise work through rows_for<Space> (on the host: host_for, a plain loop below
// kHostChunksMin values; kernels/host_loops.hpp).
//
// A stage boundary between layer l and l + 1 exchanges, per pass: forward, h (R x d) downstream;
// input-gradient pass, g (P x d) upstream; double backward, gbar (P x d) downstream; parameter
// backward, the adjoint of h (R x d) upstream.
#include <Kokkos_Core.hpp>

#include <cstdint>

#include "kernels/host_loops.hpp"
#include "kernels/linalg/backend.hpp"
#include "kernels/nn/activation.hpp"
#include "kernels/spaces.hpp"

namespace saddle::kernels::nn {

// The element-wise kernels of a layer, as functors rather than lambdas: nvcc refuses extended
// (host-device) lambdas inside the generic lambdas of visit() and inside private members, and
// cannot capture in an `if constexpr` branch. One call of operator() handles one row of n values
// (the host form: the row loop vectorises); at(r, j) the one value (r, j) of it (the device form:
// a thread per value, since a thread per row would leave most of a GPU idle at minibatch sizes);
// rows_for picks the form by the space. Both compute the same expression, so the bits agree.
// The row form copies the members it uses to locals (restrict pointers) first: on more than one
// host thread the functor is run from an outlined parallel region through a pointer, and the
// row's stores could alias its members, which would keep the loop from vectorising (measured:
// 5-7 times slower on Kokkos OpenMP than the same loop on Serial).
namespace kernel {

template <class T, class S>
struct BiasActivation {  // out[r] = s(out[r] + b)
  T* out;
  const T* b;
  std::int64_t n;
  S s;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t r) const {
    const std::int64_t m = n;
    const S act = s;
    T* KOKKOS_RESTRICT row = out + r * m;
    const T* KOKKOS_RESTRICT bias = b;
    for (std::int64_t j = 0; j < m; ++j) row[j] = act.f(row[j] + bias[j]);
  }
  KOKKOS_INLINE_FUNCTION void at(const std::int64_t r, const std::int64_t j) const { out[r * n + j] = s.f(out[r * n + j] + b[j]); }
};

template <class T, class S>
struct SeedAdjoint {  // adj[r] = seed[r] o s'(h[r]) (r < S); abar (second) or 0 on the other rows
  T* adj;
  const T *seed, *out, *s2;
  std::int64_t n, S_;
  bool second;
  S s;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t r) const {
    const std::int64_t m = n;
    const S act = s;
    T* KOKKOS_RESTRICT a = adj + r * m;
    const T* KOKKOS_RESTRICT h = out + r * m;
    if (r < S_) {
      const T* KOKKOS_RESTRICT sd = seed + r * m;
      for (std::int64_t j = 0; j < m; ++j) a[j] = sd[j] * act.d1(h[j]);
    } else if (second) {
      const T* KOKKOS_RESTRICT q = s2 + (r - S_) * m;
      for (std::int64_t j = 0; j < m; ++j) a[j] = q[j];
    } else {
      for (std::int64_t j = 0; j < m; ++j) a[j] = T(0);
    }
  }
  KOKKOS_INLINE_FUNCTION void at(const std::int64_t r, const std::int64_t j) const {
    const std::int64_t i = r * n + j;
    adj[i] = r < S_ ? seed[i] * s.d1(out[i]) : second ? s2[(r - S_) * n + j] : T(0);
  }
};

template <class T, class S>
struct ActivationAdjoint {  // adj[r] *= s'(h[r]), plus abar on the penalty rows [first, R)
  T* adj;
  const T *out, *s2;
  std::int64_t n, first;
  bool second;
  S s;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t r) const {
    const std::int64_t m = n;
    const S act = s;
    T* KOKKOS_RESTRICT a = adj + r * m;
    const T* KOKKOS_RESTRICT h = out + r * m;
    if (second && r >= first) {
      const T* KOKKOS_RESTRICT q = s2 + (r - first) * m;
      for (std::int64_t j = 0; j < m; ++j) a[j] = a[j] * act.d1(h[j]) + q[j];
    } else {
      for (std::int64_t j = 0; j < m; ++j) a[j] *= act.d1(h[j]);
    }
  }
  KOKKOS_INLINE_FUNCTION void at(const std::int64_t r, const std::int64_t j) const {
    const std::int64_t i = r * n + j;
    if (second && r >= first) adj[i] = adj[i] * s.d1(out[i]) + s2[(r - first) * n + j];
    else adj[i] *= s.d1(out[i]);
  }
};

template <class T, class S>
struct PenaltyDelta {  // delta[r] = g[r] o s'(h[r])
  T* delta;
  const T *g, *hp;
  std::int64_t n;
  S s;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t r) const {
    const std::int64_t m = n;
    const S act = s;
    T* KOKKOS_RESTRICT d = delta + r * m;
    const T *KOKKOS_RESTRICT gr = g + r * m, *KOKKOS_RESTRICT h = hp + r * m;
    for (std::int64_t j = 0; j < m; ++j) d[j] = gr[j] * act.d1(h[j]);
  }
  KOKKOS_INLINE_FUNCTION void at(const std::int64_t r, const std::int64_t j) const { delta[r * n + j] = g[r * n + j] * s.d1(hp[r * n + j]); }
};

template <class T, class S>
struct PenaltyDouble {  // abar = dbar o g o s''(h) (curved s); gbar = dbar o s'(h) (gbar_out)
  T *gbar, *s2;
  const T *db, *g, *hp;
  std::int64_t n;
  bool gbar_out;
  S s;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t r) const {
    const std::int64_t m = n;
    const S act = s;
    const T *KOKKOS_RESTRICT d = db + r * m, *KOKKOS_RESTRICT gr = g + r * m, *KOKKOS_RESTRICT h = hp + r * m;
    if constexpr (S::curved) {  // s2 is allocated for curved activations only
      T* KOKKOS_RESTRICT sq = s2 + r * m;
      for (std::int64_t j = 0; j < m; ++j) sq[j] = d[j] * gr[j] * act.d2(h[j]);
    }
    if (gbar_out) {
      T* KOKKOS_RESTRICT gb = gbar + r * m;
      for (std::int64_t j = 0; j < m; ++j) gb[j] = d[j] * act.d1(h[j]);
    }
  }
  KOKKOS_INLINE_FUNCTION void at(const std::int64_t r, const std::int64_t j) const {
    const std::int64_t i = r * n + j;
    if constexpr (S::curved) s2[i] = db[i] * g[i] * s.d2(hp[i]);
    if (gbar_out) gbar[i] = db[i] * s.d1(hp[i]);
  }
};

// out[j] += sum_r weight_r x[r][j] (weight null: 1) over x (rows x n), one block of kBlock
// columns per call, so the inner loop runs along a row and vectorises.
template <class T>
struct ColumnSums {
  static constexpr std::int64_t kBlock = 16;
  std::int64_t rows, n;
  const T *weight, *x;
  T* out;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t c) const {
    const std::int64_t j0 = c * kBlock, w = n - j0 < kBlock ? n - j0 : kBlock;
    T acc[kBlock] = {};
    for (std::int64_t r = 0; r < rows; ++r) {
      const T a = weight ? weight[r] : T(1);
      for (std::int64_t j = 0; j < w; ++j) acc[j] += a * x[r * n + j0 + j];
    }
    for (std::int64_t j = 0; j < w; ++j) out[j0 + j] += acc[j];
  }
  // The device form: column j alone (the same sum, in the same order, as its block's).
  KOKKOS_INLINE_FUNCTION void column(const std::int64_t j) const {
    T acc = 0;
    for (std::int64_t r = 0; r < rows; ++r) acc += (weight ? weight[r] : T(1)) * x[r * n + j];
    out[j] += acc;
  }
};

template <class T>
struct Outer {  // dst[r][j] = a[r] w[j]
  T* dst;
  const T *a, *w;
  std::int64_t n;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t r) const {
    const std::int64_t m = n;
    const T ar = a[r];
    T* KOKKOS_RESTRICT d = dst + r * m;
    const T* KOKKOS_RESTRICT wr = w;
    for (std::int64_t j = 0; j < m; ++j) d[j] = ar * wr[j];
  }
  KOKKOS_INLINE_FUNCTION void at(const std::int64_t r, const std::int64_t j) const { dst[r * n + j] = a[r] * w[j]; }
};

template <class F>
struct PerValue {  // f.at(i / n, i % n)
  F f;
  std::int64_t n;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t i) const { f.at(i / n, i % n); }
};
template <class T>
struct PerColumn {  // f.column(j)
  ColumnSums<T> f;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t j) const { f.column(j); }
};

}  // namespace kernel

// f over R rows of n values on Space: the row form f(r) on a host space (host_for, with R n cost
// units of work), the value form f.at(r, j) on a device (R n threads). PerValueForm forces the
// value form (tests).
template <class Space, bool PerValueForm = !kHostSpace<Space>, class F>
void rows_for(const char* name, std::int64_t R, std::int64_t n, const F& f, std::int64_t cost = 1) {
  if constexpr (PerValueForm) Kokkos::parallel_for(name, Kokkos::RangePolicy<Space>(0, R * n), kernel::PerValue<F>{f, n});
  else host_for(name, R, R * n * cost, f);
}

// A network's arrays in memory space M (HostMem, or Mem for a network on the device).
template <class T, class M = HostMem>
using Matrix = Kokkos::View<T**, Kokkos::LayoutRight, M>;
template <class T, class M = HostMem>
using Vector = Kokkos::View<T*, M>;

template <class T, class Space = HostExec>
class Dense {
 public:
  Dense() = default;
  Dense(std::int64_t din, std::int64_t dout, ActivationFn act) : din_(din), dout_(dout), act_(act) {}

  std::int64_t din() const { return din_; }
  std::int64_t dout() const { return dout_; }
  const ActivationFn& activation() const { return act_; }

  // Parameter and gradient storage (W then b) inside the network's flat vectors.
  void bind(T* w, T* b, T* gw, T* gb) {
    w_ = w;
    b_ = b;
    gw_ = gw;
    gb_ = gb;
  }

  // Workspaces for up to `rows` forward rows and as many penalty rows; allocates only to grow.
  void reserve(std::int64_t rows) {
    if (rows <= cap_) return;
    cap_ = rows;
    const auto c = static_cast<std::size_t>(rows), d = static_cast<std::size_t>(dout_);
    using M = Matrix<T, typename Space::memory_space>;
    out_ = M("nn::out", 2 * c, d);
    adj_ = M("nn::adj", 2 * c, d);
    g_ = M("nn::g", c, d);
    db_ = M("nn::dbar", c, d);
    if (act_.curved()) s2_ = M("nn::abar", c, d);
  }

  T* out() const { return out_.data(); }
  std::size_t workspace_bytes() const { return (out_.span() + adj_.span() + g_.span() + s2_.span() + db_.span()) * sizeof(T); }
  T* adj() const { return adj_.data(); }
  T* g() const { return g_.data(); }

  // out[0, R) = s(in W' + b): one GEMM, then bias and activation in one pass.
  void forward(const linalg::Backend& la, const T* in, std::int64_t R) const {
    la.gemm(false, true, R, dout_, din_, T(1), in, din_, w_, din_, T(0), out_.data(), dout_);
    T* out = out_.data();
    const T* b = b_;
    const std::int64_t n = dout_;
    visit<T>(act_, [&](auto s) {
      rows_for<Space>("nn::bias_activation", R, n, kernel::BiasActivation<T, decltype(s)>{out, b, n, s}, decltype(s)::cost);
    });
  }

  // Top layer: adj rows [0, S) = seed o s'(a); rows [S, R) (the penalty rows, whose output the
  // loss does not see) = abar when the penalty ran and s is curved, else 0.
  void seed_adjoint(const T* seed, std::int64_t S, std::int64_t R, std::int64_t P) const {
    T *adj = adj_.data(), *s2 = s2_.data();
    const T* out = out_.data();
    const std::int64_t n = dout_;
    const bool second = P > 0 && act_.curved();
    visit<T>(act_, [&](auto s) {
      rows_for<Space>("nn::seed_adjoint", R, n, kernel::SeedAdjoint<T, decltype(s)>{adj, seed, out, s2, n, S, second, s});
    });
  }

  // adj rows [0, R) hold the adjoint of h (written by the layer above): times s'(a), plus abar on
  // the penalty rows [R - P, R) when s is curved.
  void adjoint_through_activation(std::int64_t R, std::int64_t P) const {
    T *adj = adj_.data(), *s2 = s2_.data();
    const T* out = out_.data();
    const std::int64_t n = dout_, first = R - P;
    const bool second = P > 0 && act_.curved();
    visit<T>(act_, [&](auto s) {
      rows_for<Space>("nn::activation_adjoint", R, n, kernel::ActivationAdjoint<T, decltype(s)>{adj, out, s2, n, first, second, s});
    });
  }

  // grad W += adj[0, R + P)' in[0, R + P) (the parameter backward and, on rows [R, R + P), the
  // penalty's delta' gbar term in the same product); grad b += column sums of adj[0, R).
  // A scalar output's weight row is a weighted column sum, done here: BLAS's m = 1 GEMM path
  // runs at a few GFLOP/s.
  void accumulate_grad(const linalg::Backend& la, const T* in, std::int64_t R, std::int64_t P) const {
    if (dout_ == 1) column_sums(R + P, din_, adj_.data(), in, gw_);
    else la.gemm(true, false, dout_, din_, R + P, T(1), adj_.data(), dout_, in, din_, T(1), gw_, din_);
    column_sums(R, dout_, nullptr, adj_.data(), gb_);
  }

  // dst (R x d_in) = adj[0, R) W: the adjoint of this layer's input (an outer product for a
  // scalar output).
  void input_adjoint(const linalg::Backend& la, std::int64_t R, T* dst) const {
    if (dout_ == 1) outer(R, adj_.data(), dst);
    else la.gemm(false, false, R, din_, dout_, T(1), adj_.data(), dout_, w_, din_, T(0), dst, din_);
  }

  // Input-gradient pass of the penalty: delta = g o s'(a) on the penalty rows into adj rows
  // [R, R + P), and g_in (P x d_in) = delta W.
  void penalty_input_grad(const linalg::Backend& la, std::int64_t R, std::int64_t P, T* g_in) const {
    T* delta = adj_.data() + R * dout_;
    const T *g = g_.data(), *hp = out_.data() + (R - P) * dout_;
    const std::int64_t n = dout_;
    visit<T>(act_, [&](auto s) {
      rows_for<Space>("nn::penalty_delta", P, n, kernel::PenaltyDelta<T, decltype(s)>{delta, g, hp, n, s});
    });
    if (dout_ == 1) outer(P, delta, g_in);
    else la.gemm(false, false, P, din_, dout_, T(1), delta, dout_, w_, din_, T(0), g_in, din_);
  }

  // Double backward through g_in = (g o s'(a)) W, given gbar_in (P x d_in, the adjoint of g_in):
  // dbar = gbar_in W'; abar = dbar o g o s''(a) (curved s); gbar = dbar o s'(a) into out rows
  // [R, R + P) when the layer below the output needs it. Nothing to do for the output layer of a
  // piecewise-linear activation.
  void penalty_double_backward(const linalg::Backend& la, const T* gbar_in, std::int64_t R, std::int64_t P, bool gbar_out) const {
    if (!act_.curved() && !gbar_out) return;
    la.gemm(false, true, P, dout_, din_, T(1), gbar_in, din_, w_, din_, T(0), db_.data(), dout_);
    const T *db = db_.data(), *g = g_.data(), *hp = out_.data() + (R - P) * dout_;
    T *gbar = out_.data() + R * dout_, *s2 = s2_.data();
    const std::int64_t n = dout_;
    visit<T>(act_, [&](auto s) {
      rows_for<Space>("nn::penalty_double", P, n, kernel::PenaltyDouble<T, decltype(s)>{gbar, s2, db, g, hp, n, gbar_out, s});
    });
  }

 private:
  // out[j] += sum_r weight_r x[r][j] (weight null: 1) over x (rows x n).
  static void column_sums(std::int64_t rows, std::int64_t n, const T* weight, const T* x, T* out) {
    constexpr std::int64_t kBlock = kernel::ColumnSums<T>::kBlock;
    const kernel::ColumnSums<T> f{rows, n, weight, x, out};
    if constexpr (kHostSpace<Space>) host_for("nn::column_sums", (n + kBlock - 1) / kBlock, rows * n, f);
    else Kokkos::parallel_for("nn::column_sums", Kokkos::RangePolicy<Space>(0, n), kernel::PerColumn<T>{f});
  }

  // dst[r][j] = a[r] W[0][j] (rows x d_in): the input adjoint of a scalar-output layer.
  void outer(std::int64_t rows, const T* a, T* dst) const {
    rows_for<Space>("nn::outer", rows, din_, kernel::Outer<T>{dst, a, w_, din_});
  }

  std::int64_t din_ = 0, dout_ = 0, cap_ = 0;
  ActivationFn act_;
  T *w_ = nullptr, *b_ = nullptr, *gw_ = nullptr, *gb_ = nullptr;
  Matrix<T, typename Space::memory_space> out_, adj_, g_, s2_, db_;
};

}  // namespace saddle::kernels::nn
