// ksvd's kernel building blocks against independent references: fast_exp against std::exp, SNE
// rows (sum 1, perplexity hit, σ_i consistent with a direct evaluation), tiles against direct
// formulas, and the backend's SVD/QR against their definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernel_functions.hpp"
#include "kernels/linalg/host_backend.hpp"

namespace sk = saddle::kernels;

namespace {

std::vector<double> gaussian(std::size_t n, unsigned seed, double scale = 1.0) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d;
  std::vector<double> v(n);
  for (auto& x : v) x = scale * d(g);
  return v;
}

double sqdist(const double* a, const double* b, int d) {
  double s = 0;
  for (int k = 0; k < d; ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
  return s;
}

void check_fast_exp() {
  double worst = 0;
  for (double x = -708; x < 709; x += 0.01237) worst = std::max(worst, std::fabs(sk::fast_exp(x) / std::exp(x) - 1.0));
  EXPECT_LT(worst, 1e-15);
  EXPECT_LT(sk::fast_exp(-1000.0), 3.4e-308);
  EXPECT_GT(sk::fast_exp(-1000.0), 0.0);
  EXPECT_EQ(sk::fast_exp(0.0), 1.0);
}

// SNE with Z = X: p_{j|i} over the n − 1 other points.
void check_sne(double perplexity) {
  const int n = 150, d = 4;
  const auto x = gaussian(n * d, 7, 2.0);
  const auto xn = sk::row_norms(n, d, x.data());
  const auto s = sk::calibrate_sne(sk::linalg::host_backend(), n, n, d, x.data(), x.data(), xn.data(), xn.data(), 0, true, perplexity);
  std::vector<double> tile(n * n);
  sk::linalg::host_backend().gemm(false, true, n, n, d, 1.0, x.data(), d, x.data(), d, 0.0, tile.data(), n);
  sk::KernelSpec spec;
  spec.type = sk::KernelType::Sne;
  spec.exclude_self = true;
  sk::TileRows rows{xn.data(), s.beta.data(), s.shift.data(), s.inv_sum.data(), nullptr, 0};
  sk::TileCols cols{xn.data(), 0, nullptr};
  sk::transform_tile(spec, n, n, tile.data(), n, rows, cols);
  for (int i = 0; i < n; ++i) {
    double sum = 0, h = 0;
    // Direct: p_j ∝ exp(−‖x_i − x_j‖² / 2σ_i²) with σ_i from β_i, j ≠ i.
    const double sigma2 = 1.0 / (2.0 * s.beta[i]);
    double z = 0;
    std::vector<double> p(n, 0.0);
    for (int j = 0; j < n; ++j)
      if (j != i) z += p[j] = std::exp(-(sqdist(&x[i * d], &x[j * d], d) - s.shift[i]) / (2.0 * sigma2));
    for (int j = 0; j < n; ++j) {
      const double v = tile[i * n + j];
      sum += v;
      if (v > 0) h -= v * std::log(v);
      EXPECT_NEAR(v, p[j] / z, 1e-14) << i << "," << j;
    }
    EXPECT_EQ(tile[i * n + i], 0.0);
    EXPECT_NEAR(sum, 1.0, 1e-13);
    EXPECT_NEAR(std::exp(h), perplexity, 1e-7 * perplexity) << "row " << i;
    EXPECT_NEAR(s.perplexity[i], perplexity, 1e-7 * perplexity);
  }
}

void check_rbf_kl_tiles() {
  const int n = 23, m = 31, d = 5;
  const auto x = gaussian(n * d, 1), z = gaussian(m * d, 2);
  const auto xn = sk::row_norms(n, d, x.data()), zn = sk::row_norms(m, d, z.data());
  std::vector<double> tile(n * m);
  sk::linalg::host_backend().gemm(false, true, n, m, d, 1.0, x.data(), d, z.data(), d, 0.0, tile.data(), m);
  sk::KernelSpec spec;
  spec.type = sk::KernelType::Rbf;
  spec.gamma = 1.0 / (2.0 * 1.7 * 1.7);
  sk::transform_tile(spec, n, m, tile.data(), m, sk::TileRows{xn.data()}, sk::TileCols{zn.data()});
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j)
      EXPECT_NEAR(tile[i * m + j], std::exp(-sqdist(&x[i * d], &z[j * d], d) / (2 * 1.7 * 1.7)), 1e-14);
  // KL on histograms: exp(−a Σ p log(p/q)).
  std::vector<double> p(n * d), q(m * d), logq(m * d), negent(n, 0.0);
  for (int i = 0; i < n * d; ++i) p[i] = std::fabs(x[i]) + (i % 3 == 0 ? 0.0 : 0.1);
  for (int i = 0; i < m * d; ++i) q[i] = std::fabs(z[i]) + 0.05;
  for (auto* h : {&p, &q}) {
    for (std::size_t r = 0; r < h->size() / d; ++r) {
      double s = 0;
      for (int k = 0; k < d; ++k) s += (*h)[r * d + k];
      for (int k = 0; k < d; ++k) (*h)[r * d + k] /= s;
    }
  }
  for (int i = 0; i < m * d; ++i) logq[i] = std::log(q[i]);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < d; ++k)
      if (p[i * d + k] > 0) negent[i] += p[i * d + k] * std::log(p[i * d + k]);
  sk::linalg::host_backend().gemm(false, true, n, m, d, 1.0, p.data(), d, logq.data(), d, 0.0, tile.data(), m);
  spec.type = sk::KernelType::Kl;
  spec.a = 0.8;
  sk::transform_tile(spec, n, m, tile.data(), m, sk::TileRows{negent.data()}, sk::TileCols{});
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) {
      double kl = 0;
      for (int k = 0; k < d; ++k)
        if (p[i * d + k] > 0) kl += p[i * d + k] * std::log(p[i * d + k] / q[j * d + k]);
      EXPECT_NEAR(tile[i * m + j], std::exp(-0.8 * kl), 1e-13);
    }
}

void check_backend() {
  const auto& la = sk::linalg::host_backend();
  const int m = 40, n = 7;
  auto a = gaussian(m * n, 3);
  const auto a0 = a;
  std::vector<double> s(n), u(m * n), vt(n * n), r(n * n);
  la.svd(m, n, a.data(), s.data(), u.data(), vt.data());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double v = 0;
      for (int l = 0; l < n; ++l) v += u[i * n + l] * s[l] * vt[l * n + j];
      EXPECT_NEAR(v, a0[i * n + j], 1e-13);
    }
  a = a0;
  la.qr(m, n, a.data(), r.data());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double v = 0;
      for (int l = 0; l < n; ++l) v += a[i * n + l] * r[l * n + j];
      EXPECT_NEAR(v, a0[i * n + j], 1e-13);
    }
  for (int p = 0; p < n; ++p)
    for (int q = 0; q < n; ++q) {
      double v = 0;
      for (int i = 0; i < m; ++i) v += a[i * n + p] * a[i * n + q];
      EXPECT_NEAR(v, p == q ? 1.0 : 0.0, 1e-14);
    }
  // Wide QR (m < n): Q is m x m.
  auto w = gaussian(3 * 5, 4);
  const auto w0 = w;
  std::vector<double> rw(3 * 5);
  la.qr(3, 5, w.data(), rw.data());
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) {
      double v = 0;
      for (int l = 0; l < 3; ++l) v += w[i * 3 + l] * rw[l * 5 + j];
      EXPECT_NEAR(v, w0[i * 5 + j], 1e-14);
    }
}

// Every kernel type's tile on the default execution space (a device in a CUDA build), from views
// in Mem, against the host tile: the same bits (fast_exp is fma and bit operations only, and
// CUDA builds compile with --fmad=false).
void check_tiles_on_exec_space() {
  using sk::Exec;
  using sk::Mem;
  const int n = 37, m = 23, d = 5;
  const auto x = gaussian(n * d, 21), z = gaussian(m * d, 22);
  const auto xn = sk::row_norms(n, d, x.data()), zn = sk::row_norms(m, d, z.data());
  std::vector<double> beta(n), shift(n), inv(n);
  for (int i = 0; i < n; ++i) {
    beta[i] = 0.1 + 0.01 * i;
    shift[i] = 0.5 * i / n;
    inv[i] = 1.0 / (1.0 + i);
  }
  std::vector<double> inner(n * m);
  sk::linalg::host_backend().gemm(false, true, n, m, d, 1.0, x.data(), d, z.data(), d, 0.0, inner.data(), m);
  auto to_mem = [](const std::vector<double>& v) {
    Kokkos::View<double*, Mem> out("v", v.size());
    Kokkos::deep_copy(out, Kokkos::View<const double*, sk::HostMem, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(v.data(), v.size()));
    return out;
  };
  const auto dxn = to_mem(xn), dzn = to_mem(zn), dbeta = to_mem(beta), dshift = to_mem(shift), dinv = to_mem(inv);
  for (const auto type : {sk::KernelType::Linear, sk::KernelType::Rbf, sk::KernelType::Sne, sk::KernelType::Kl}) {
    sk::KernelSpec spec;
    spec.type = type;
    spec.gamma = 0.3;
    spec.a = 0.7;
    spec.exclude_self = type == sk::KernelType::Sne;
    std::vector<double> host = inner;
    sk::transform_tile(spec, n, m, host.data(), m, sk::TileRows{xn.data(), beta.data(), shift.data(), inv.data(), nullptr, 3},
                       sk::TileCols{zn.data(), 0, nullptr});
    auto tile = to_mem(inner);
    sk::transform_tile<Exec>(spec, n, m, tile.data(), m, sk::TileRows{dxn.data(), dbeta.data(), dshift.data(), dinv.data(), nullptr, 3},
                             sk::TileCols{dzn.data(), 0, nullptr});
    const auto back = Kokkos::create_mirror_view_and_copy(sk::HostMem(), tile);
    int differ = 0;
    for (int i = 0; i < n * m; ++i) differ += back(i) != host[i];
    EXPECT_EQ(differ, 0) << "kernel type " << static_cast<int>(type) << " on " << Exec::name();
  }
}

}  // namespace

TEST(KsvdKernels, TilesOnTheDefaultExecutionSpaceEqualHostTiles) { check_tiles_on_exec_space(); }
TEST(KsvdKernels, FastExpMatchesStdExp) { check_fast_exp(); }
TEST(KsvdKernels, SneRowsSumToOneAndHitThePerplexity) {
  check_sne(5.0);
  check_sne(30.0);
}
TEST(KsvdKernels, RbfAndKlTilesMatchDirectFormulas) { check_rbf_kl_tiles(); }
TEST(KsvdKernels, BackendSvdAndQrReconstruct) { check_backend(); }
