// kernels/linalg/host_backend.hpp's partitioned GEMM: C's rows (or columns) split over parts, each
// a single-threaded OpenBLAS call. For every transpose, float32 and float64, awkward shapes (0 and
// 1 rows or columns, fewer rows than parts, k = 0, padded leading dimensions, beta != 0), and 2 to
// 5 parts (run in parallel on an OpenMP build, one after the other on Serial): the split agrees
// with a naive triple loop, and gives the same bits every time for the same number of parts
// (concurrent single-threaded OpenBLAS calls are safe). It does not always give the bits of the
// unpartitioned call: OpenBLAS 0.3.21 picks its kernels by size (its small-matrix kernels below
// about 100^3 multiply-adds, edge kernels for remainders), so results depend on the thread count,
// as they do with OpenBLAS's own threads. With one thread the backend is one OpenBLAS call, as
// before. Also: the runtime keeps OpenBLAS at one thread when Kokkos has more, and LAPACK calls
// get Kokkos's threads back.
#include <gtest/gtest.h>
#include <sched.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/runtime.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/linalg/host_backend.hpp"
#include "kernels/linalg/ops.hpp"
#include "kernels/spaces.hpp"

using namespace saddle::kernels;

namespace {

template <class T>
std::vector<T> draw(std::size_t n, std::uint32_t stream) {
  const CounterRng rng(11, "linalg_threads");
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>(rng.normal(i, stream));
  return v;
}

struct Shape {
  std::int64_t m, n, k;
};

template <class T>
void check_shapes() {
  const Shape shapes[] = {{0, 5, 3},  {5, 0, 3},   {1, 1, 1},   {1, 300, 40}, {300, 1, 40}, {2, 7, 0},
                          {3, 2, 9},  {7, 130, 33}, {130, 7, 33}, {64, 256, 64}, {257, 255, 17}, {33, 33, 600}};
  for (const Shape& s : shapes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const std::int64_t pad = 3;
        // op(A) is m x k, op(B) is k x n; stored rows x cols with leading dimension cols + pad.
        const std::int64_t ar = ta ? s.k : s.m, ac = ta ? s.m : s.k, br = tb ? s.n : s.k, bc = tb ? s.k : s.n;
        const std::int64_t lda = ac + pad, ldb = bc + pad, ldc = s.n + pad;
        const auto a = draw<T>(static_cast<std::size_t>(ar * lda), 1), b = draw<T>(static_cast<std::size_t>(br * ldb), 2);
        const auto c0 = draw<T>(static_cast<std::size_t>(std::max<std::int64_t>(s.m, 1) * ldc), 3);
        const T alpha = T(0.75), beta = T(-0.5);
        auto ref = c0;
        linalg::detail::blas_gemm<T>(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, ref.data(), ldc);
        // A naive product, in double; C's padding must stay as it was.
        const auto near_naive = [&](const std::vector<T>& c) {
          double worst = 0;
          for (std::int64_t i = 0; i < s.m; ++i)
            for (std::int64_t j = 0; j < ldc; ++j) {
              const std::size_t at = static_cast<std::size_t>(i * ldc + j);
              if (j >= s.n) {
                if (c[at] != c0[at]) worst = 1e300;
                continue;
              }
              double sum = 0;
              for (std::int64_t l = 0; l < s.k; ++l)
                sum += double(ta ? a[l * lda + i] : a[i * lda + l]) * double(tb ? b[j * ldb + l] : b[l * ldb + j]);
              const double want = double(alpha) * sum + double(beta) * double(c0[at]);
              worst = std::max(worst, std::abs(want - double(c[at])) / (1 + std::abs(want)));
            }
          return worst;
        };
        const double tol = sizeof(T) == 4 ? 1e-4 : 1e-12;
        const std::string what = std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) + " ta " +
                                 std::to_string(ta) + " tb " + std::to_string(tb);
        EXPECT_LT(near_naive(ref), tol) << what;
        // One part, or the backend on a one-thread host space: the plain OpenBLAS call, bit for bit.
        auto one = c0;
        linalg::detail::threaded_gemm(1, ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, one.data(), ldc,
                                      /*min_flops=*/0);
        EXPECT_EQ(one, ref) << what;
        if (HostExec().concurrency() == 1) {
          auto c = c0;
          linalg::host_backend().gemm(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
          EXPECT_EQ(c, ref) << what << " backend";
        }
        for (int parts = 2; parts <= 5; ++parts) {
          std::vector<T> first;
          for (int rep = 0; rep < 3; ++rep) {
            auto c = c0;
            linalg::detail::threaded_gemm(parts, ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(),
                                          ldc, /*min_flops=*/0);
            EXPECT_LT(near_naive(c), tol) << what << " parts " << parts;
            if (rep == 0) first = c;
            else EXPECT_EQ(c, first) << what << " parts " << parts << " repeat " << rep;
          }
        }
      }
}

}  // namespace

TEST(LinalgThreads, PartitionedGemmFloat64EqualsOneCall) { check_shapes<double>(); }
TEST(LinalgThreads, PartitionedGemmFloat32EqualsOneCall) { check_shapes<float>(); }

// Inside a host parallel region a GEMM is one call (no nested split), with the same bits.
TEST(LinalgThreads, GemmInsideAParallelRegion) {
  const std::int64_t m = 96, n = 80, k = 50;
  const auto a = draw<double>(m * k, 4), b = draw<double>(k * n, 5);
  std::vector<double> ref(m * n);
  linalg::detail::threaded_gemm(1, false, false, m, n, k, 1.0, a.data(), k, b.data(), n, 0.0, ref.data(), n);
  const int parts = 4;
  std::vector<std::vector<double>> out(parts, std::vector<double>(m * n));
  Kokkos::parallel_for(host_range(parts), [&](std::int64_t p) {
    linalg::host_backend().gemm(false, false, m, n, k, 1.0, a.data(), k, b.data(), n, 0.0, out[p].data(), n);
  });
  Kokkos::fence();
  for (const auto& o : out) EXPECT_EQ(o, ref);
}

// One thread pool: OpenBLAS at one thread when the host space has more (engine/runtime.cpp); a
// LAPACK call gets Kokkos's threads for its duration and gives them back.
TEST(LinalgThreads, BlasThreadsFollowKokkos) {
  const int threads = HostExec().concurrency();
  const auto& layout = saddle::engine::thread_layout();
  EXPECT_EQ(layout.threads, threads);
#if defined(KOKKOS_ENABLE_OPENMP)
  EXPECT_EQ(linalg::blas_threads(), 1);  // also on one thread: OpenBLAS never adds threads of its own
#endif
  if (threads > 1) {
    EXPECT_EQ(linalg::blas_threads(), 1);
    // The calling thread may run on all the rank's cores during the call (OMP_PROC_BIND pins it
    // to one), and is pinned back after.
    cpu_set_t before, inside, after;
    ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
    {
      const linalg::BlasThreadsForLapack scope;
      EXPECT_EQ(linalg::blas_threads(), threads);
      ASSERT_EQ(sched_getaffinity(0, sizeof inside, &inside), 0);
      EXPECT_EQ(CPU_COUNT(&inside), layout.rank_cores);
    }
    EXPECT_EQ(linalg::blas_threads(), 1);
    ASSERT_EQ(sched_getaffinity(0, sizeof after, &after), 0);
    EXPECT_TRUE(CPU_EQUAL(&before, &after));
    {  // a small problem stays on one thread
      const linalg::BlasThreadsForLapack scope(4.0 * 4 * 4);
      EXPECT_EQ(linalg::blas_threads(), 1);
    }
  }
  const auto s = linalg::singular_values(3, 2, {3, 0, 0, 4, 0, 0});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_DOUBLE_EQ(s[0], 4);
  EXPECT_DOUBLE_EQ(s[1], 3);
  if (threads > 1) {
    EXPECT_EQ(linalg::blas_threads(), 1);
  }
  EXPECT_GE(layout.rank_cores, 1);
  EXPECT_GE(layout.node_cores, layout.rank_cores);
}
