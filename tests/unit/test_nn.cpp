// kernels/nn: every gradient of the MLP (parameters and input, each activation), the WGAN-GP
// penalty's exact parameter gradient (the double backward) and the generator's gradient through
// the critic agree with central finite differences in float64 to a relative error below 1e-6.
#include <gtest/gtest.h>

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

double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    n += b[i] * b[i];
  }
  return std::sqrt(d / n);
}

// Central differences of f at x (every coordinate).
std::vector<double> fd(std::vector<double>& x, const std::function<double()>& f, double h = 1e-5) {
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

Mlp make(std::vector<std::int64_t> w, std::vector<Activation> acts, std::uint32_t purpose) {
  std::vector<ActivationFn> fns;
  for (auto a : acts) fns.push_back(ActivationFn{a, 0.2});
  Mlp m(std::move(w), fns);
  m.initialise(Init::uniform_fan_in, 11, purpose);
  // Larger weights than the default so that every activation works in its curved range.
  for (double& p : m.params()) p *= 2.0;
  return m;
}

void check_layer(Activation act) {
  Mlp m = make({5, 4, 3}, {act, Activation::identity}, 1);
  const std::int64_t B = 6;
  auto x = draw(static_cast<std::size_t>(B * 5), 1);
  const auto seed = draw(static_cast<std::size_t>(B * 3), 2);
  auto f = [&] {
    const auto& y = m.forward(x.data(), B);
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += seed[i] * y[i];
    return s;
  };
  f();
  m.zero_grad();
  const auto gx = m.backward(seed.data());
  const auto gp = m.grad();
  EXPECT_LT(rel_err(gp, fd(m.params(), f)), 1e-6);
  EXPECT_LT(rel_err(gx, fd(x, f)), 1e-6);
}

}  // namespace

TEST(Nn, DenseIdentity) { check_layer(Activation::identity); }
TEST(Nn, DenseLeakyRelu) { check_layer(Activation::leaky_relu); }
TEST(Nn, DenseTanh) { check_layer(Activation::tanh); }
TEST(Nn, DenseSigmoid) { check_layer(Activation::sigmoid); }

// The whole critic loss mean D(fake) - mean D(real) + lambda E(|grad D(xhat)| - 1)^2, with every
// hidden activation kind (tanh and sigmoid exercise the s'' terms of the double backward).
void check_critic(std::vector<Activation> acts) {
  Mlp d = make({4, 6, 5, 1}, acts, 2);
  const std::int64_t B = 5;
  auto real = draw(static_cast<std::size_t>(B * 4), 3), fake = draw(static_cast<std::size_t>(B * 4), 4),
       xhat = draw(static_cast<std::size_t>(B * 4), 5, 0.7);
  const double lambda = 10;
  auto loss = [&] {
    double s = 0;
    for (double y : d.forward(fake.data(), B)) s += y / B;
    for (double y : d.forward(real.data(), B)) s -= y / B;
    return s + d.penalty(xhat.data(), B, lambda);
  };
  d.zero_grad();
  std::vector<double> seed(static_cast<std::size_t>(B), 1.0 / B);
  d.forward(fake.data(), B);
  d.backward(seed.data());
  for (double& s : seed) s = -s;
  d.forward(real.data(), B);
  d.backward(seed.data());
  d.penalty(xhat.data(), B, lambda);
  const auto g = d.grad();
  EXPECT_LT(rel_err(g, fd(d.params(), loss)), 1e-6);
  // The penalty alone (its gradient is the delicate part).
  d.zero_grad();
  d.penalty(xhat.data(), B, lambda);
  const auto gpen = d.grad();
  EXPECT_LT(rel_err(gpen, fd(d.params(), [&] { return d.penalty(xhat.data(), B, lambda); })), 1e-6);
}

TEST(Nn, CriticWithPenaltyLeakyRelu) { check_critic({Activation::leaky_relu, Activation::leaky_relu, Activation::identity}); }
TEST(Nn, CriticWithPenaltyTanhSigmoid) { check_critic({Activation::tanh, Activation::sigmoid, Activation::identity}); }

// Generator loss -mean D(G(z)) w.r.t. the generator's parameters, through the critic's input
// gradient.
TEST(Nn, Generator) {
  Mlp g = make({3, 7, 4}, {Activation::leaky_relu, Activation::tanh}, 3);
  Mlp d = make({4, 6, 1}, {Activation::leaky_relu, Activation::identity}, 4);
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
  const auto gx = d.backward(seed.data(), false);
  g.zero_grad();
  g.backward(gx.data());
  const auto grad = g.grad();
  EXPECT_LT(rel_err(grad, fd(g.params(), loss)), 1e-6);
}
