// kernels/nn: every gradient of the MLP (parameters and input, each activation), the WGAN-GP
// penalty's exact parameter gradient (the double backward, alone and fused with the seeded rows
// of the critic loss) and the generator's gradient through the critic agree with central finite
// differences in float64 to a relative error below 1e-6; the float32 network agrees with the
// float64 one on the same parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/nn/mlp.hpp"

using namespace saddle::kernels;
using namespace saddle::kernels::nn;

namespace {

std::vector<double> draw(std::size_t n, std::uint32_t step, double scale = 1.0) {
  const CounterRng rng(7, "test");
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * rng.normal(i, step);
  return v;
}

template <class V>
std::vector<double> to_vec(const V& v) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(v[i]);
  return out;
}

double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    n += b[i] * b[i];
  }
  return std::sqrt(d / n);
}

// Central differences of f at x (every coordinate; x a std::vector or a view).
template <class V>
std::vector<double> fd(V& x, const std::function<double()>& f, double h = 1e-5) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f();
    x[i] = x0 - h;
    const double fm = f();
    x[i] = x0;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

std::vector<double> init_params(const Mlp<double>& m, std::uint32_t purpose, double scale) {
  auto p = m.draw(Init::uniform_fan_in, 11, purpose);
  for (double& x : p) x *= scale;
  return p;
}

template <class T = double>
Mlp<T> make(std::vector<std::int64_t> w, std::vector<Activation> acts, std::uint32_t purpose, double scale = 2.0) {
  std::vector<ActivationFn> fns;
  for (auto a : acts) fns.push_back(ActivationFn{a, 0.2});
  Mlp<T> m(w, fns);
  // Larger weights than the default so that every activation works in its curved range.
  m.load_params(init_params(Mlp<double>(w, fns), purpose, scale).data());
  return m;
}

void check_layer(Activation act) {
  Mlp<double> m = make({5, 4, 3}, {act, Activation::identity}, 1);
  const std::int64_t B = 6;
  auto x = draw(static_cast<std::size_t>(B * 5), 1);
  const auto seed = draw(static_cast<std::size_t>(B * 3), 2);
  auto f = [&] {
    const auto y = m.forward(x.data(), B);
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += seed[i] * y[i];
    return s;
  };
  f();
  m.zero_grad();
  const auto gx = to_vec(m.backward(seed.data(), true, true));
  const auto gp = to_vec(m.grad());
  EXPECT_LT(rel_err(gp, fd(m.params(), f)), 1e-6);
  EXPECT_LT(rel_err(gx, fd(x, f)), 1e-6);
}

// The critic loss mean D(fake) - mean D(real) + (lambda/B) sum (|grad D(xhat)| - 1)^2, evaluated
// independently of the penalty code: the input gradient from a plain backward of ones.
double critic_loss(Mlp<double>& d, const std::vector<double>& fake, const std::vector<double>& real, const std::vector<double>& xhat,
                   std::int64_t B, double lambda) {
  double s = 0;
  for (double y : d.forward(fake.data(), B)) s += y / B;
  for (double y : d.forward(real.data(), B)) s -= y / B;
  d.forward(xhat.data(), B);
  const std::vector<double> ones(static_cast<std::size_t>(B), 1.0);
  const auto u = d.backward(ones.data());
  const std::int64_t d0 = d.in_dim();
  for (std::int64_t b = 0; b < B; ++b) {
    double n2 = 0;
    for (std::int64_t j = 0; j < d0; ++j) n2 += u[b * d0 + j] * u[b * d0 + j];
    s += lambda / B * (std::sqrt(n2) - 1) * (std::sqrt(n2) - 1);
  }
  return s;
}

// Rows [fake; real; xhat] in one forward, seeds +-1/B on the first 2B rows, penalty on the last B:
// the critic's whole gradient in one sweep (what apps/wgan does). Returns the penalty.
template <class T>
double fused_critic(Mlp<T>& d, const std::vector<double>& fake, const std::vector<double>& real, const std::vector<double>& xhat,
                    std::int64_t B, double lambda) {
  const std::int64_t d0 = d.in_dim();
  T* in = d.input(3 * B);
  for (std::int64_t i = 0; i < B * d0; ++i) {
    in[i] = static_cast<T>(fake[i]);
    in[B * d0 + i] = static_cast<T>(real[i]);
    in[2 * B * d0 + i] = static_cast<T>(xhat[i]);
  }
  std::vector<T> seed(static_cast<std::size_t>(2 * B), T(1) / static_cast<T>(B));
  for (std::int64_t r = B; r < 2 * B; ++r) seed[r] = -seed[r];
  d.forward(3 * B);
  d.zero_grad();
  return d.penalty_backward(seed.data(), B, lambda);
}

// With every hidden activation kind (tanh and sigmoid exercise the s'' terms of the double
// backward).
void check_critic(std::vector<Activation> acts) {
  Mlp<double> d = make({4, 6, 5, 1}, acts, 2);
  const std::int64_t B = 5;
  auto real = draw(static_cast<std::size_t>(B * 4), 3), fake = draw(static_cast<std::size_t>(B * 4), 4),
       xhat = draw(static_cast<std::size_t>(B * 4), 5, 0.7);
  const double lambda = 10;
  fused_critic(d, fake, real, xhat, B, lambda);
  const auto g = to_vec(d.grad());
  EXPECT_LT(rel_err(g, fd(d.params(), [&] { return critic_loss(d, fake, real, xhat, B, lambda); })), 1e-6);
  // The penalty alone (its gradient is the delicate part).
  d.zero_grad();
  d.penalty(xhat.data(), B, lambda);
  const auto gpen = to_vec(d.grad());
  EXPECT_LT(rel_err(gpen, fd(d.params(), [&] { return critic_loss(d, fake, real, xhat, B, lambda) - critic_loss(d, fake, real, xhat, B, 0); })),
            1e-6);
}

}  // namespace

TEST(Nn, DenseIdentity) { check_layer(Activation::identity); }
TEST(Nn, DenseLeakyRelu) { check_layer(Activation::leaky_relu); }
TEST(Nn, DenseRelu) { check_layer(Activation::relu); }
TEST(Nn, DenseTanh) { check_layer(Activation::tanh); }
TEST(Nn, DenseSigmoid) { check_layer(Activation::sigmoid); }

TEST(Nn, CriticWithPenaltyLeakyRelu) { check_critic({Activation::leaky_relu, Activation::leaky_relu, Activation::identity}); }
TEST(Nn, CriticWithPenaltyTanhSigmoid) { check_critic({Activation::tanh, Activation::sigmoid, Activation::identity}); }
TEST(Nn, CriticWithPenaltyCurvedOutput) { check_critic({Activation::leaky_relu, Activation::tanh, Activation::sigmoid}); }

// Generator loss -mean D(G(z)) w.r.t. the generator's parameters, through the critic's input
// gradient.
TEST(Nn, Generator) {
  Mlp<double> g = make({3, 7, 4}, {Activation::leaky_relu, Activation::tanh}, 3);
  Mlp<double> d = make({4, 6, 1}, {Activation::leaky_relu, Activation::identity}, 4);
  const std::int64_t B = 5;
  const auto z = draw(static_cast<std::size_t>(B * 3), 6);
  auto loss = [&] {
    const auto x = g.forward(z.data(), B);
    double s = 0;
    for (double y : d.forward(x.data(), B)) s -= y / B;
    return s;
  };
  const auto x = g.forward(z.data(), B);
  d.forward(x.data(), B);
  std::vector<double> seed(static_cast<std::size_t>(B), -1.0 / B);
  const auto gx = d.backward(seed.data(), false, true);
  g.zero_grad();
  g.backward(gx.data(), true, false);
  const auto grad = to_vec(g.grad());
  EXPECT_LT(rel_err(grad, fd(g.params(), loss)), 1e-6);
}

// float32 against float64 on the same parameters and inputs, the digits networks of
// inputs/wgan_digits.toml at batch 64 (G 32-256-256-64 tanh, D 64-256-256-1). Each output is a
// sum of at most 256 + 1 products per layer over three layers: float32's unit roundoff 6e-8
// grows to ~sqrt(256) * 3 * 6e-8 ~ 3e-6 for random-sign sums, and the penalty gradient (four
// chained passes, the |u| - 1 factor cancelling where |u| ~ 1) loses about one more digit, so
// 1e-4 relative (norm-wise over each array) leaves an order of magnitude of margin over that
// estimate (measured: 2e-7 to 4e-7 for every array, 7e-9 for the penalty value) while a wrong
// derivative or a lost term (1e-3 and above) fails it.
TEST(Nn, Float32AgreesWithFloat64) {
  const std::vector<Activation> gacts{Activation::leaky_relu, Activation::leaky_relu, Activation::tanh},
      dacts{Activation::leaky_relu, Activation::leaky_relu, Activation::identity};
  const std::vector<std::int64_t> gw{32, 256, 256, 64}, dw{64, 256, 256, 1};
  auto g64 = make<double>(gw, gacts, 5, 1.0);
  auto g32 = make<float>(gw, gacts, 5, 1.0);
  auto d64 = make<double>(dw, dacts, 6, 1.0);
  auto d32 = make<float>(dw, dacts, 6, 1.0);
  const std::int64_t B = 64;
  const auto z = draw(static_cast<std::size_t>(B * 32), 7);
  std::vector<float> z32(z.begin(), z.end());
  // Generator forward, critic input gradient, generator backward.
  const auto x64 = to_vec(g64.forward(z.data(), B));
  const auto x32 = to_vec(g32.forward(z32.data(), B));
  EXPECT_LT(rel_err(x32, x64), 1e-4);
  const auto y64 = to_vec(d64.forward(x64.data(), B));
  std::vector<float> x32f(x32.begin(), x32.end());
  const auto y32 = to_vec(d32.forward(x32f.data(), B));
  EXPECT_LT(rel_err(y32, y64), 1e-4);
  std::vector<double> seed(static_cast<std::size_t>(B), -1.0 / B);
  std::vector<float> seed32(seed.begin(), seed.end());
  const auto u64 = to_vec(d64.backward(seed.data(), false, true));
  const auto u32 = to_vec(d32.backward(seed32.data(), false, true));
  EXPECT_LT(rel_err(u32, u64), 1e-4);
  std::vector<float> u32f(u32.begin(), u32.end());
  g64.zero_grad();
  g32.zero_grad();
  g64.backward(u64.data(), true, false);
  g32.backward(u32f.data(), true, false);
  std::vector<double> gg64(static_cast<std::size_t>(g64.size())), gg32(gg64.size());
  g64.store_grad(gg64.data());
  g32.store_grad(gg32.data());
  EXPECT_LT(rel_err(gg32, gg64), 1e-4);
  // Critic: fused fake/real/penalty sweep.
  const auto real = draw(static_cast<std::size_t>(B * 64), 8, 0.5);
  std::vector<double> xhat(real.size());
  for (std::size_t i = 0; i < xhat.size(); ++i) xhat[i] = 0.5 * (real[i] + x64[i]);
  const double p64 = fused_critic(d64, x64, real, xhat, B, 10.0);
  const double p32 = fused_critic(d32, x64, real, xhat, B, 10.0);
  EXPECT_LT(std::abs(p32 - p64) / std::abs(p64), 1e-4);
  std::vector<double> dg64(static_cast<std::size_t>(d64.size())), dg32(dg64.size());
  d64.store_grad(dg64.data());
  d32.store_grad(dg32.data());
  EXPECT_LT(rel_err(dg32, dg64), 1e-4);
  // And the float64 pair is not trivially equal to the float32 one (the comparison can fail).
  EXPECT_GT(rel_err(dg32, dg64), 0.0);
}

// The fused critic sweep equals the three separate passes (fake and real backward, then the
// penalty) to rounding: the shared forward and the merged products change nothing else.
TEST(Nn, FusedCriticEqualsSeparatePasses) {
  Mlp<double> d = make({4, 6, 5, 1}, {Activation::tanh, Activation::leaky_relu, Activation::identity}, 9);
  const std::int64_t B = 7;
  const auto real = draw(static_cast<std::size_t>(B * 4), 10), fake = draw(static_cast<std::size_t>(B * 4), 11),
             xhat = draw(static_cast<std::size_t>(B * 4), 12, 0.7);
  const double p = fused_critic(d, fake, real, xhat, B, 10.0);
  const auto fused = to_vec(d.grad());
  d.zero_grad();
  std::vector<double> seed(static_cast<std::size_t>(B), 1.0 / B);
  d.forward(fake.data(), B);
  d.backward(seed.data(), true, false);
  for (double& s : seed) s = -s;
  d.forward(real.data(), B);
  d.backward(seed.data(), true, false);
  EXPECT_NEAR(d.penalty(xhat.data(), B, 10.0), p, 1e-12 * std::abs(p));
  EXPECT_LT(rel_err(to_vec(d.grad()), fused), 1e-12);
}

// The float32 tanh (a rational function, so the loops vectorise) against the exact tanh on a
// grid over [-20, 20] with step 1e-4: measured 3.95e-7 at most, absolute and relative (libm's
// tanhf: 1e-7); the bound 5e-7 fails for a wrong coefficient (1e-5 and above).
TEST(Nn, Float32TanhApproximation) {
  double worst_abs = 0, worst_rel = 0;
  for (int i = -200000; i <= 200000; ++i) {
    const float a = static_cast<float>(i) * 1e-4f;
    const double exact = std::tanh(static_cast<double>(a)), got = act::fast_tanh(a);
    worst_abs = std::max(worst_abs, std::abs(got - exact));
    if (exact != 0) worst_rel = std::max(worst_rel, std::abs(got - exact) / std::abs(exact));
  }
  EXPECT_LT(worst_abs, 5e-7);
  EXPECT_LT(worst_rel, 5e-7);
  EXPECT_EQ(act::fast_tanh(0.0f), 0.0f);
  EXPECT_EQ(act::fast_tanh(-3.0f), -act::fast_tanh(3.0f));
}

namespace {

// A pipeline's view of the critic: D cut into stages (layers [0,2), [2,3), [3,4)) with two
// workspace slots, the batch in two micro-batches, the four penalty passes run stage by stage with
// the boundary buffers copied by hand (what engine::Pipeline's messages carry). The stages'
// gradients, concatenated, equal the whole network's fused gradient and central finite
// differences of the loss; the same for the generator's gradient through a staged critic.
void check_staged_critic(std::vector<Activation> acts) {
  const std::vector<std::int64_t> w = {4, 6, 5, 3, 1};
  std::vector<ActivationFn> fns;
  for (auto a : acts) fns.push_back({a, 0.2});
  Mlp<double> whole = make(w, acts, 11);
  std::vector<double> p(static_cast<std::size_t>(whole.size()));
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = whole.params()(i);
  const std::vector<LayerRange> ranges = {{0, 2}, {2, 3}, {3, 4}};
  std::vector<Mlp<double>> st;
  for (const auto& r : ranges) {
    st.emplace_back(w, fns, saddle::kernels::linalg::host_backend(), r, 2);
    st.back().load_params(p.data() + st.back().param_offset());
    st.back().zero_grad();
  }
  const std::int64_t B = 6, M = 3, R = 3 * M, S = st.size();
  auto real = draw(static_cast<std::size_t>(B * 4), 13), fake = draw(static_cast<std::size_t>(B * 4), 14),
       xhat = draw(static_cast<std::size_t>(B * 4), 15, 0.7);
  const double lambda = 10;
  std::vector<double> seed(static_cast<std::size_t>(2 * M), 1.0 / B);
  for (std::int64_t r = M; r < 2 * M; ++r) seed[r] = -seed[r];
  double gp = 0;
  const auto copy = [](auto rows, double* dst) { std::copy(rows.begin(), rows.end(), dst); };
  for (int mb = 0; mb < 2; ++mb) {  // micro-batch mb in slot mb
    double* in = st[0].input(R, mb);
    for (std::int64_t i = 0; i < M * 4; ++i) {
      in[i] = fake[mb * M * 4 + i];
      in[M * 4 + i] = real[mb * M * 4 + i];
      in[2 * M * 4 + i] = xhat[mb * M * 4 + i];
    }
    for (std::int64_t s = 0; s < S; ++s) {
      if (s > 0) copy(st[s - 1].output(mb), st[s].input(R, mb));
      st[s].forward(R, mb);
    }
    for (std::int64_t s = S; s-- > 0;) {
      if (s + 1 < S) std::copy_n(st[s + 1].input_adjoint(mb), M * st[s].out_dim(), st[s].top_g(mb));
      st[s].penalty_input_grad(M, mb);
    }
    gp += st[0].penalty_norms(M, 2 * lambda / B, nullptr, mb);
    for (std::int64_t s = 0; s < S; ++s) {
      if (s > 0) copy(st[s - 1].penalty_double_backward(M, mb), st[s].input_gbar(mb));
      else st[s].penalty_double_backward(M, mb);
    }
    for (std::int64_t s = S; s-- > 0;) {
      const auto gx = st[s].backward_from(seed.data(), M, true, s > 0, mb);
      if (s > 0) copy(gx, st[s - 1].top_adjoint(mb));
    }
  }
  std::vector<double> staged;
  for (auto& s : st) {
    const auto g = to_vec(s.grad());
    staged.insert(staged.end(), g.begin(), g.end());
  }
  const double whole_gp = fused_critic(whole, fake, real, xhat, B, lambda);
  EXPECT_NEAR(lambda / B * gp, whole_gp, 1e-12 * std::fabs(whole_gp));
  EXPECT_LT(rel_err(staged, to_vec(whole.grad())), 1e-12);
  EXPECT_LT(rel_err(staged, fd(whole.params(), [&] { return critic_loss(whole, fake, real, xhat, B, lambda); })), 1e-6);
}

}  // namespace

TEST(Nn, StagedCriticEqualsTheWholeNetworkLeakyRelu) {
  check_staged_critic({Activation::leaky_relu, Activation::leaky_relu, Activation::leaky_relu, Activation::identity});
}
TEST(Nn, StagedCriticEqualsTheWholeNetworkCurved) {
  check_staged_critic({Activation::tanh, Activation::sigmoid, Activation::tanh, Activation::identity});
}

// A network on the default execution space (Mlp<T, Exec>: the GPU in a CUDA build, a host space in
// a CPU build) against the same network on the host: the fused critic sweep (penalty value, norms,
// parameter gradient) and an input backward, with its rows, seeds and float64 vectors moved in
// and out as a device-resident caller does (views in Mem, load_params_mem/store_grad_mem) and as
// a host caller does (host pointers, staged by the network). On a host space the two are the same
// code and agree exactly; on a device the products are cuBLAS's, so the tolerance is 1e-12.
TEST(Nn, NetworkOnTheDefaultExecutionSpaceEqualsTheHostNetwork) {
  using DeviceNet = Mlp<double, Exec>;
  const std::vector<std::int64_t> w{4, 6, 5, 1};
  std::vector<ActivationFn> fns;
  for (auto a : {Activation::tanh, Activation::leaky_relu, Activation::identity}) fns.push_back(ActivationFn{a, 0.2});
  const std::int64_t B = 5, d0 = 4;
  const double lambda = 10;
  Mlp<double> host = make(w, {Activation::tanh, Activation::leaky_relu, Activation::identity}, 21);
  const std::vector<double> p = init_params(Mlp<double>(w, fns), 21, 2.0);
  DeviceNet dev(w, fns);
  // Parameters through a view in Mem (a device-resident optimiser's vector).
  Kokkos::View<double*, Mem> p_mem("p", p.size());
  Kokkos::deep_copy(p_mem, Kokkos::View<const double*, HostMem, Kokkos::MemoryUnmanaged>(p.data(), p.size()));
  dev.load_params_mem(p_mem);

  const auto fake = draw(static_cast<std::size_t>(B * d0), 31), real = draw(static_cast<std::size_t>(B * d0), 32),
             xhat = draw(static_cast<std::size_t>(B * d0), 33);
  std::vector<double> rows(fake);
  rows.insert(rows.end(), real.begin(), real.end());
  rows.insert(rows.end(), xhat.begin(), xhat.end());
  using Host = Kokkos::View<double*, HostMem, Kokkos::MemoryUnmanaged>;
  using Device = Kokkos::View<double*, Mem, Kokkos::MemoryUnmanaged>;
  Kokkos::deep_copy(Device(dev.input(3 * B), rows.size()), Host(rows.data(), rows.size()));
  std::vector<double> seed(static_cast<std::size_t>(2 * B), 1.0 / B);
  for (std::int64_t r = B; r < 2 * B; ++r) seed[static_cast<std::size_t>(r)] = -seed[static_cast<std::size_t>(r)];
  Kokkos::View<double*, Mem> seed_mem("seed", seed.size());
  Kokkos::deep_copy(seed_mem, Host(seed.data(), seed.size()));

  std::vector<double> norms_dev(static_cast<std::size_t>(B)), norms_host(static_cast<std::size_t>(B));
  dev.forward(3 * B);
  dev.zero_grad();
  const double gp_dev = dev.penalty_backward(seed_mem.data(), B, lambda, norms_dev.data());
  host.forward(rows.data(), 3 * B);
  host.zero_grad();
  const double gp_host = host.penalty_backward(seed.data(), B, lambda, norms_host.data());
  EXPECT_NEAR(gp_dev, gp_host, 1e-12 * std::fabs(gp_host));
  EXPECT_LT(rel_err(norms_dev, norms_host), 1e-12);

  // The gradient out through a host pointer and through a view in Mem, in two ranges.
  const auto n = static_cast<std::size_t>(host.size());
  std::vector<double> g_host(n), g_dev(n), g_mem(n);
  host.store_grad(g_host.data());
  dev.store_grad(g_dev.data());
  Kokkos::View<double*, Mem> g_view("g", n);
  const std::int64_t mid = host.tensor_offsets()[2];
  dev.store_grad_mem(g_view, 0, mid);
  dev.store_grad_mem(g_view, mid, host.size());
  Kokkos::deep_copy(Host(g_mem.data(), n), g_view);
  EXPECT_LT(rel_err(g_dev, g_host), 1e-12);
  EXPECT_EQ(g_mem, g_dev);
  EXPECT_GT(rel_err(g_host, std::vector<double>(n, 0.0)), 0.5);  // a gradient was formed

  // Input backward (the generator's seed through the critic), rows given as a pointer in Mem.
  Kokkos::View<double*, Mem> x_mem("x", fake.size()), ones("ones", static_cast<std::size_t>(B));
  Kokkos::deep_copy(x_mem, Host(const_cast<double*>(fake.data()), fake.size()));
  Kokkos::deep_copy(ones, 1.0);
  dev.forward(x_mem.data(), B);
  const auto gx = dev.backward(ones.data(), false, true);
  std::vector<double> gx_dev(gx.size());
  Kokkos::deep_copy(Host(gx_dev.data(), gx_dev.size()), Device(const_cast<double*>(gx.data()), gx.size()));
  const std::vector<double> ones_host(static_cast<std::size_t>(B), 1.0);
  host.forward(fake.data(), B);
  EXPECT_LT(rel_err(gx_dev, to_vec(host.backward(ones_host.data(), false, true))), 1e-12);
}

namespace {

// Every element-wise kernel of a layer in its row form (the host's) and its value form (a
// device's, forced here on the host) on the same inputs: the same bits.
template <class S>
void check_kernel_forms(S s) {
  const std::int64_t R = 7, n = 5, S_ = 4, P = R - S_;
  const auto base = draw(static_cast<std::size_t>(R * n), 41), seed = draw(static_cast<std::size_t>(R * n), 42),
             other = draw(static_cast<std::size_t>(R * n), 43), bias = draw(static_cast<std::size_t>(n), 44),
             weight = draw(static_cast<std::size_t>(R), 45);
  // Runs make(a, b) on copies a (row form) and b (value form) of `base` and compares them.
  const auto both = [&](const char* what, auto make) {
    std::vector<double> a(base), b(base), a2(base), b2(base);
    rows_for<HostExec, false>(what, R, n, make(a.data(), a2.data()));
    rows_for<HostExec, true>(what, R, n, make(b.data(), b2.data()));
    EXPECT_EQ(a, b) << what;
    EXPECT_EQ(a2, b2) << what;
  };
  both("bias_activation", [&](double* out, double*) { return kernel::BiasActivation<double, S>{out, bias.data(), n, s}; });
  for (bool second : {false, true}) {
    both("seed_adjoint", [&](double* adj, double*) {
      return kernel::SeedAdjoint<double, S>{adj, seed.data(), other.data(), base.data(), n, S_, second, s};
    });
    both("activation_adjoint", [&](double* adj, double*) {
      return kernel::ActivationAdjoint<double, S>{adj, other.data(), seed.data(), n, S_, second, s};
    });
    both("penalty_double", [&](double* gbar, double* s2) {
      return kernel::PenaltyDouble<double, S>{gbar, s2, seed.data(), other.data(), base.data(), n, second, s};
    });
  }
  both("penalty_delta", [&](double* delta, double*) { return kernel::PenaltyDelta<double, S>{delta, seed.data(), other.data(), n, s}; });
  both("outer", [&](double* dst, double*) { return kernel::Outer<double>{dst, weight.data(), bias.data(), n}; });
  for (const double* w : {static_cast<const double*>(nullptr), weight.data()}) {
    std::vector<double> a(bias), b(bias);
    const kernel::ColumnSums<double> fa{P + S_, n, w, seed.data(), a.data()}, fb{P + S_, n, w, seed.data(), b.data()};
    for (std::int64_t c = 0; c < (n + fa.kBlock - 1) / fa.kBlock; ++c) fa(c);
    for (std::int64_t j = 0; j < n; ++j) fb.column(j);
    EXPECT_EQ(a, b) << "column_sums";
  }
}

}  // namespace

TEST(Nn, LayerKernelsGiveTheSameBitsPerRowAndPerValue) {
  for (auto act : {Activation::identity, Activation::leaky_relu, Activation::relu, Activation::tanh, Activation::sigmoid})
    visit<double>(ActivationFn{act, 0.2}, [](auto s) { check_kernel_forms(s); });
}
