// CudaBackend (kernels/linalg/cuda_backend.hpp) against HostBackend on random matrices of tall,
// wide, square and empty shapes. Without a CUDA device every test but the host-pointer selection
// reports itself skipped ("no CUDA device: cudaGetDeviceCount returned ...").
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "cuda/cuda_test_util.hpp"
#include "kernels/linalg/cuda_backend.hpp"
#include "kernels/linalg/host_backend.hpp"
#include "kernels/linalg/select.hpp"

using namespace saddle::kernels::linalg;
using saddle::test::DeviceVector;

namespace {

template <class T = double>
std::vector<T> random_vector(std::size_t n, unsigned seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(u(g));
  return v;
}

template <class T>
double max_abs_diff(const std::vector<T>& a, const std::vector<T>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d;
}

const CudaBackend& cuda() {
  static const CudaBackend backend;
  return backend;
}

struct Shape {
  std::int64_t m, n;
};
const std::vector<Shape> kShapes = {{7, 3}, {3, 7}, {6, 6}, {1, 5}, {5, 1}, {40, 17}, {17, 40}, {0, 4}, {4, 0}, {0, 0}};

// The row-major product u (m x r) diag(s) vt (r x n).
std::vector<double> usvt(std::int64_t m, std::int64_t n, std::int64_t r, const std::vector<double>& u, const std::vector<double>& s,
                         const std::vector<double>& vt) {
  std::vector<double> a(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t l = 0; l < r; ++l) a[i * n + j] += u[i * r + l] * s[l] * vt[l * n + j];
  return a;
}

}  // namespace

TEST(CudaLinalg, GemmDoubleAndFloatMatchHost) {
  SADDLE_SKIP_WITHOUT_DEVICE();
  const std::vector<std::array<std::int64_t, 3>> dims = {{7, 5, 3}, {3, 8, 6}, {16, 16, 16}, {1, 9, 4}, {9, 1, 4},
                                                         {5, 4, 0}, {0, 4, 3}, {4, 0, 3},     {33, 21, 47}};
  unsigned seed = 1;
  for (const auto& [m, n, k] : dims)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        // Leading dimensions with padding: op(A) is m x k, so A is stored k x m when transposed.
        const std::int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
        const std::int64_t lda = a_cols + 2, ldb = b_cols + 1, ldc = n + 3;
        const auto a = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(a_rows * lda, 1)), seed++);
        const auto b = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(b_rows * ldb, 1)), seed++);
        const auto c0 = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(m * ldc, 1)), seed++);
        auto c_host = c0;
        host_backend().gemm(ta, tb, m, n, k, 0.7, a.data(), lda, b.data(), ldb, -0.3, c_host.data(), ldc);
        DeviceVector<double> da(a), db(b), dc(c0);
        cuda().gemm(ta, tb, m, n, k, 0.7, da.get(), lda, db.get(), ldb, -0.3, dc.get(), ldc);
        EXPECT_LE(max_abs_diff(dc.host(), c_host), 1e-13 * double(k + 1)) << m << "x" << n << "x" << k << " " << ta << tb;

        std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end()), cf(c0.begin(), c0.end());
        auto cf_host = cf;
        host_backend().gemm(ta, tb, m, n, k, 0.7f, af.data(), lda, bf.data(), ldb, -0.3f, cf_host.data(), ldc);
        DeviceVector<float> daf(af), dbf(bf), dcf(cf);
        cuda().gemm(ta, tb, m, n, k, 0.7f, daf.get(), lda, dbf.get(), ldb, -0.3f, dcf.get(), ldc);
        EXPECT_LE(max_abs_diff(dcf.host(), cf_host), 1e-5 * double(k + 1)) << m << "x" << n << "x" << k << " " << ta << tb << " float";
      }
}

TEST(CudaLinalg, GemvMatchesHost) {
  SADDLE_SKIP_WITHOUT_DEVICE();
  unsigned seed = 100;
  for (const auto& [m, n] : kShapes) {
    const std::int64_t lda = n + 2;
    const auto a = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(m * lda, 1)), seed++);
    const auto x = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)), seed++);
    const auto y0 = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(m, 1)), seed++);
    auto y_host = y0;
    host_backend().gemv(m, n, 1.3, a.data(), lda, x.data(), 0.5, y_host.data());
    DeviceVector<double> da(a), dx(x), dy(y0);
    cuda().gemv(m, n, 1.3, da.get(), lda, dx.get(), 0.5, dy.get());
    EXPECT_LE(max_abs_diff(dy.host(), y_host), 1e-13 * double(n + 1)) << m << "x" << n;
  }
}

TEST(CudaLinalg, SvdMatchesHost) {
  SADDLE_SKIP_WITHOUT_DEVICE();
  unsigned seed = 200;
  for (const auto& [m, n] : kShapes) {
    const std::int64_t r = std::min(m, n);
    const double tol = 1e-12 * double(std::max<std::int64_t>({m, n, 1}));
    const auto a = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(m * n, 1)), seed++);
    auto a_host = a;
    std::vector<double> s_host(std::max<std::int64_t>(r, 1)), u_host(std::max<std::int64_t>(m * r, 1)),
        vt_host(std::max<std::int64_t>(r * n, 1));
    host_backend().svd(m, n, a_host.data(), s_host.data(), u_host.data(), vt_host.data());
    DeviceVector<double> da(a), ds(s_host.size()), du(u_host.size()), dvt(vt_host.size());
    cuda().svd(m, n, da.get(), ds.get(), du.get(), dvt.get());
    if (r == 0) continue;
    const auto s = ds.host(), u = du.host(), vt = dvt.host();
    EXPECT_LE(max_abs_diff(s, s_host), tol) << m << "x" << n;
    for (std::int64_t l = 1; l < r; ++l) EXPECT_GE(s[l - 1], s[l]);
    // Singular vectors are unique up to sign: compare the reconstruction and orthonormality.
    std::vector<double> a_packed(a.begin(), a.begin() + m * n);
    EXPECT_LE(max_abs_diff(usvt(m, n, r, u, s, vt), a_packed), tol) << m << "x" << n;
    for (std::int64_t p = 0; p < r; ++p)
      for (std::int64_t q = 0; q < r; ++q) {
        double uu = 0, vv = 0;
        for (std::int64_t i = 0; i < m; ++i) uu += u[i * r + p] * u[i * r + q];
        for (std::int64_t j = 0; j < n; ++j) vv += vt[p * n + j] * vt[q * n + j];
        EXPECT_NEAR(uu, p == q ? 1.0 : 0.0, tol);
        EXPECT_NEAR(vv, p == q ? 1.0 : 0.0, tol);
      }
  }
}

TEST(CudaLinalg, SingularValuesMatchHost) {
  SADDLE_SKIP_WITHOUT_DEVICE();
  unsigned seed = 300;
  for (const auto& [m, n] : kShapes) {
    const std::int64_t r = std::min(m, n);
    auto a = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(m * n, 1)), seed++);
    DeviceVector<double> da(a), ds(static_cast<std::size_t>(std::max<std::int64_t>(r, 1)));
    std::vector<double> s_host(std::max<std::int64_t>(r, 1));
    host_backend().singular_values(m, n, a.data(), s_host.data());
    cuda().singular_values(m, n, da.get(), ds.get());
    if (r == 0) continue;
    EXPECT_LE(max_abs_diff(ds.host(), s_host), 1e-12 * double(std::max(m, n))) << m << "x" << n;
  }
}

TEST(CudaLinalg, QrMatchesHost) {
  SADDLE_SKIP_WITHOUT_DEVICE();
  unsigned seed = 400;
  for (const auto& [m, n] : kShapes)
    for (bool want_r : {true, false}) {
      const std::int64_t r = std::min(m, n);
      const double tol = 1e-12 * double(std::max<std::int64_t>({m, n, 1}));
      const auto a = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(m * n, 1)), seed++);
      auto q_host = a;
      std::vector<double> r_host(std::max<std::int64_t>(r * n, 1));
      host_backend().qr(m, n, q_host.data(), r_host.data());
      DeviceVector<double> dq(a), dr(std::vector<double>(r_host.size(), 7.0));
      cuda().qr(m, n, dq.get(), want_r ? dr.get() : nullptr);
      if (r == 0) continue;
      const auto q = dq.host(), rr = dr.host();
      // Q' Q = I, and Q R = A when R is asked for; Householder signs agree with LAPACK's, but
      // compare magnitudes so that a sign convention change does not fail the test.
      for (std::int64_t p = 0; p < r; ++p)
        for (std::int64_t s = 0; s < r; ++s) {
          double qq = 0;
          for (std::int64_t i = 0; i < m; ++i) qq += q[i * r + p] * q[i * r + s];
          EXPECT_NEAR(qq, p == s ? 1.0 : 0.0, tol);
        }
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < r; ++j) EXPECT_NEAR(std::abs(q[i * r + j]), std::abs(q_host[i * r + j]), tol);
      if (!want_r) {
        EXPECT_EQ(rr, std::vector<double>(rr.size(), 7.0)) << "r_out = nullptr must not write R";
        continue;
      }
      for (std::int64_t i = 0; i < r; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          if (j < i) {
            EXPECT_EQ(rr[i * n + j], 0.0);
          }
          EXPECT_NEAR(std::abs(rr[i * n + j]), std::abs(r_host[i * n + j]), tol);
        }
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          double qr = 0;
          for (std::int64_t l = 0; l < r; ++l) qr += q[i * r + l] * rr[l * n + j];
          EXPECT_NEAR(qr, a[i * n + j], tol) << m << "x" << n << " (" << i << "," << j << ")";
        }
    }
}

TEST(CudaLinalg, EigenvaluesMatchHost) {
  SADDLE_SKIP_WITHOUT_DEVICE();
  unsigned seed = 500;
  for (std::int64_t n : {0, 1, 2, 5, 12, 31}) {
    auto a = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(n * n, 1)), seed++);
    DeviceVector<double> da(a), dwr(std::max<std::int64_t>(n, 1)), dwi(std::max<std::int64_t>(n, 1));
    std::vector<double> wr(std::max<std::int64_t>(n, 1)), wi(std::max<std::int64_t>(n, 1));
    host_backend().eigenvalues(n, a.data(), wr.data(), wi.data());
    cuda().eigenvalues(n, da.get(), dwr.get(), dwi.get());
    if (n == 0) continue;
    const auto cwr = dwr.host(), cwi = dwi.host();
    // Both orders are the QR algorithm's; compare as sorted sets of (re, im).
    std::vector<std::pair<double, double>> host_w, cuda_w;
    for (std::int64_t i = 0; i < n; ++i) {
      host_w.emplace_back(wr[i], wi[i]);
      cuda_w.emplace_back(cwr[i], cwi[i]);
    }
    std::sort(host_w.begin(), host_w.end());
    std::sort(cuda_w.begin(), cuda_w.end());
    for (std::int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(cuda_w[i].first, host_w[i].first, 1e-10 * double(n)) << "n = " << n;
      EXPECT_NEAR(cuda_w[i].second, host_w[i].second, 1e-10 * double(n)) << "n = " << n;
    }
  }
}

TEST(CudaLinalg, SolveMatchesHostAndSingularThrows) {
  SADDLE_SKIP_WITHOUT_DEVICE();
  unsigned seed = 600;
  for (std::int64_t n : {0, 1, 4, 9, 30})
    for (std::int64_t nrhs : {0, 1, 3}) {
      auto a = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(n * n, 1)), seed++);
      for (std::int64_t i = 0; i < n; ++i) a[i * n + i] += 4.0;  // well conditioned
      const auto b = random_vector(static_cast<std::size_t>(std::max<std::int64_t>(n * nrhs, 1)), seed++);
      DeviceVector<double> da(a), db(b);
      auto a_host = a, x_host = b;
      host_backend().solve(n, nrhs, a_host.data(), x_host.data());
      cuda().solve(n, nrhs, da.get(), db.get());
      EXPECT_LE(max_abs_diff(db.host(), x_host), 1e-12 * double(n + 1)) << n << " x " << nrhs;
    }
  // Rank 2 of 3: the third row is the sum of the first two.
  std::vector<double> singular = {1, 2, 3, 4, 5, 6, 5, 7, 9}, rhs = {1, 1, 1};
  DeviceVector<double> ds(singular), drhs(rhs);
  EXPECT_THROW(cuda().solve(3, 1, ds.get(), drhs.get()), Error);
  std::vector<double> zero(9, 0.0);
  DeviceVector<double> dz(zero), drhs2(rhs);
  try {
    cuda().solve(3, 1, dz.get(), drhs2.get());
    ADD_FAILURE() << "a zero matrix must throw";
  } catch (const Error& e) {
    EXPECT_GT(e.info(), 0);
    EXPECT_NE(e.routine().find("getrf"), std::string::npos) << e.what();
  }
}

TEST(CudaLinalg, BackendForDevicePointerIsCuda) {
  SADDLE_SKIP_WITHOUT_DEVICE();
  DeviceVector<double> d(std::vector<double>(4, 1.0));
  EXPECT_STREQ(backend_for(d.get()).name(), "cuda");
  double* managed = nullptr;
  saddle::test::cuda_check(cudaMallocManaged(reinterpret_cast<void**>(&managed), 4 * sizeof(double)), "cudaMallocManaged");
  EXPECT_STREQ(backend_for(managed).name(), "cuda");
  cudaFree(managed);
  double* pinned = nullptr;
  saddle::test::cuda_check(cudaMallocHost(reinterpret_cast<void**>(&pinned), 4 * sizeof(double)), "cudaMallocHost");
  EXPECT_STREQ(backend_for(pinned).name(), "openblas");
  cudaFreeHost(pinned);
}

// Runs everywhere: without a device or driver the runtime knows no pointer and the host backend
// is chosen.
TEST(BackendForHost, HostPointersGetTheHostBackend) {
  std::vector<double> v(4, 1.0);
  EXPECT_STREQ(backend_for(v.data()).name(), "openblas");
  EXPECT_STREQ(backend_for(nullptr).name(), "openblas");
  static const double constant = 2.0;
  EXPECT_STREQ(backend_for(&constant).name(), "openblas");
}
