#pragma once
// The linalg::Backend of host memory: OpenBLAS (dgemm, sgemm, dgemv) and LAPACKE (gesdd for the
// thin SVD, gesvd without vectors for singular values, geqrf + orgqr, geev, gesv).
//
// Threads (docs/usage.md, "Threads and ranks"): with a host execution space of one thread
// (Kokkos Serial, or OpenMP on one thread) every call is one OpenBLAS call, as before. With more,
// OpenBLAS runs on one thread (engine/runtime.cpp sets it in OpenMP builds), so that the process
// has one thread pool, Kokkos's; a GEMM of at least kThreadedGemmFlops is then cut into one part
// per thread, rows of C (or columns, when C has more columns than rows and few rows per part),
// each part a single-threaded OpenBLAS call inside a Kokkos parallel_for. k is never split, but
// the bits still depend on the thread count: OpenBLAS 0.3.21 picks its kernels by the size of the
// product (small-matrix kernels, edge kernels), so a part is not always summed as the whole was. For a
// given thread count the split is fixed and the results deterministic
// (tests/unit/test_linalg_threads.cpp: against a naive product, and the same bits twice). LAPACK
// calls from 64³ run on OpenBLAS's own threads, as many as Kokkos has (BlasThreadsForLapack).
#include <cblas.h>
#include <lapacke.h>
#include <sched.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/host_loops.hpp"
#include "kernels/linalg/backend.hpp"
#include "kernels/spaces.hpp"

namespace saddle::kernels::linalg {

namespace detail {

inline void check(lapack_int info, const char* routine) {
  if (info != 0) throw Error(routine, static_cast<int>(info));
}

// A leading dimension BLAS accepts: >= 1 even when the matrix has no columns.
inline blasint ld(std::int64_t v) { return static_cast<blasint>(std::max<std::int64_t>(v, 1)); }

template <class T>
void blas_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda,
               const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  const auto op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n), K = static_cast<blasint>(k);
  if constexpr (std::is_same_v<T, double>)
    cblas_dgemm(CblasRowMajor, op_a, op_b, M, N, K, alpha, a, ld(lda), b, ld(ldb), beta, c, ld(ldc));
  else
    cblas_sgemm(CblasRowMajor, op_a, op_b, M, N, K, alpha, a, ld(lda), b, ld(ldb), beta, c, ld(ldc));
}

// Below this many flops (2 m n k) a GEMM is one call: the fork and join of the host threads
// (a few microseconds) would cost more than the split saves.
inline constexpr double kThreadedGemmFlops = 2.0 * 32 * 32 * 64;

// Parts start at multiples of this many rows (columns): whole register blocks of the kernels.
inline constexpr std::int64_t kGemmSplitAlign = 8;

// C is split by rows when it has at least as many rows as columns, or at least this many rows per
// part; by columns otherwise. Each part packs all of the operand it shares (op(B) for a row split,
// op(A) for a column split), yet a row split keeps each part's C contiguous and OpenBLAS's kernels
// prefer it: measured on the wgan networks' shapes (2 threads, interleaved, best of 7), m = 96,
// n = 256, k = 64 ran 1.87x faster split by rows against 1.48x by columns, k = 256 1.83-1.90x
// against 1.69-1.72x, m = 64 1.78-1.83x against 1.46-1.78x; with 32 rows in all the columns
// win (1.60x against 1.44-1.52x at k = 256).
inline constexpr std::int64_t kGemmRowsPerPart = 32;

// Threads of the host execution space: host_loop_threads() (kernels/host_loops.hpp), 1 for Serial
// and for any call already inside a parallel region (a GEMM from inside a kernel stays one call).
inline int host_threads() { return host_loop_threads(); }

// C (m x n) = alpha op(A) op(B) + beta C, rows (or columns: kGemmRowsPerPart) of C split over
// `threads` parts, each one single-threaded BLAS call; one call when threads <= 1 or the product
// has fewer than min_flops.
template <class T>
void threaded_gemm(int threads, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                   std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc,
                   double min_flops = kThreadedGemmFlops) {
  if (m == 0 || n == 0) return;
  const bool by_rows = m >= n || m >= kGemmRowsPerPart * threads;
  const std::int64_t len = by_rows ? m : n, blocks = (len + kGemmSplitAlign - 1) / kGemmSplitAlign;
  const std::int64_t parts = std::min<std::int64_t>(threads, blocks);
  if (parts <= 1 || 2.0 * double(m) * double(n) * double(k) < min_flops) {
    blas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  Kokkos::parallel_for(
      "linalg::threaded_gemm", Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Static>>(0, parts),
      [=](std::int64_t p) {
        const std::int64_t lo = std::min(len, blocks * p / parts * kGemmSplitAlign);
        const std::int64_t hi = std::min(len, blocks * (p + 1) / parts * kGemmSplitAlign);
        if (hi == lo) return;
        if (by_rows)  // rows [lo, hi) of op(A) and C
          blas_gemm(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc);
        else  // columns [lo, hi) of op(B) and C
          blas_gemm(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc);
      });
  Kokkos::fence();
}

}  // namespace detail

// Limits OpenBLAS to `threads` threads (1 per MPI rank when ranks fill the cores; 1 whenever the
// host execution space has more than one thread, engine/runtime.cpp); returns the previous
// setting.
inline int set_blas_threads(int threads) {
  const int before = openblas_get_num_threads();
  openblas_set_num_threads(threads);
  return before;
}

// The threads OpenBLAS uses now.
inline int blas_threads() { return openblas_get_num_threads(); }

namespace detail {
struct RankCpus {
  bool set = false;
  cpu_set_t mask;
};
inline RankCpus& rank_cpus_storage() {
  static RankCpus r;
  return r;
}
}  // namespace detail

// The cores this rank may run on (all its threads' places), as the runtime found them before
// OpenMP bound the calling thread to its first place (OMP_PROC_BIND): engine/runtime.cpp sets it.
inline void set_rank_cpus(const cpu_set_t& mask) {
  detail::rank_cpus_storage().mask = mask;
  detail::rank_cpus_storage().set = true;
}

// Around a LAPACK call: with a multi-threaded host execution space (where OpenBLAS is kept at one
// thread for the partitioned GEMMs), OpenBLAS gets as many threads as Kokkos for the call, and
// the calling thread, which OMP_PROC_BIND pins to one core, may run on all the rank's cores for
// its duration (else OpenBLAS's threads share that one core with it: measured, ksvd_sne_blobs's
// gesdd no faster on 2 threads than on 1). Nothing otherwise.
class BlasThreadsForLapack {
 public:
  // Below kThreadedLapackWork (m n min(m, n) of the matrix) it does nothing: switching costs a few
  // system calls, more than OpenBLAS's threads save on a small matrix (hb's 4 x 4 eigenvalue
  // problems, one per grid point: 3.2 times slower with the switch).
  static constexpr double kThreadedLapackWork = 64.0 * 64 * 64;
  explicit BlasThreadsForLapack(double work = kThreadedLapackWork) {
    const int threads = detail::host_threads();
    if (threads <= 1 || work < kThreadedLapackWork || blas_threads() >= threads) return;
    before_ = set_blas_threads(threads);
    const auto& rank = detail::rank_cpus_storage();
    if (rank.set && sched_getaffinity(0, sizeof pinned_, &pinned_) == 0 && !CPU_EQUAL(&pinned_, &rank.mask))
      widened_ = sched_setaffinity(0, sizeof rank.mask, &rank.mask) == 0;
  }
  ~BlasThreadsForLapack() {
    if (before_ > 0) set_blas_threads(before_);
    if (widened_) sched_setaffinity(0, sizeof pinned_, &pinned_);
  }
  BlasThreadsForLapack(const BlasThreadsForLapack&) = delete;
  BlasThreadsForLapack& operator=(const BlasThreadsForLapack&) = delete;

 private:
  int before_ = 0;
  bool widened_ = false;
  cpu_set_t pinned_;
};

class HostBackend final : public Backend {
 public:
  const char* name() const override { return "openblas"; }

  void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a,
            std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc) const override {
    detail::threaded_gemm(detail::host_threads(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
            std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) const override {
    detail::threaded_gemm(detail::host_threads(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }

  void gemv(std::int64_t m, std::int64_t n, double alpha, const double* a, std::int64_t lda, const double* x, double beta,
            double* y) const override {
    if (m == 0) return;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n), alpha, a, detail::ld(lda), x,
                1, beta, y, 1);
  }

  void svd(std::int64_t m, std::int64_t n, double* a, double* s, double* u, double* vt) const override {
    const std::int64_t r = std::min(m, n);
    if (r == 0) return;
    const BlasThreadsForLapack lapack_threads(double(m) * double(n) * double(r));
    detail::check(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a,
                                 static_cast<lapack_int>(n), s, u, static_cast<lapack_int>(r), vt, static_cast<lapack_int>(n)),
                  "LAPACKE_dgesdd");
  }

  void singular_values(std::int64_t m, std::int64_t n, double* a, double* s) const override {
    const std::int64_t r = std::min(m, n);
    if (r == 0) return;
    const BlasThreadsForLapack lapack_threads(double(m) * double(n) * double(r));
    std::vector<double> superb(static_cast<std::size_t>(std::max<std::int64_t>(r - 1, 1)));
    detail::check(LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a,
                                 static_cast<lapack_int>(n), s, nullptr, 1, nullptr, 1, superb.data()),
                  "LAPACKE_dgesvd");
  }

  void qr(std::int64_t m, std::int64_t n, double* a, double* r_out) const override {
    const std::int64_t r = std::min(m, n);
    if (r == 0) return;
    const BlasThreadsForLapack lapack_threads(double(m) * double(n) * double(r));
    std::vector<double> tau(static_cast<std::size_t>(r));
    detail::check(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(n), a,
                                 static_cast<lapack_int>(n), tau.data()),
                  "LAPACKE_dgeqrf");
    if (r_out)
      for (std::int64_t i = 0; i < r; ++i)
        for (std::int64_t j = 0; j < n; ++j) r_out[i * n + j] = j >= i ? a[i * n + j] : 0.0;
    // orgqr wants the m x r leading block with leading dimension r; compact it when r < n.
    if (r < n)
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < r; ++j) a[i * r + j] = a[i * n + j];
    detail::check(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(r),
                                 static_cast<lapack_int>(r), a, static_cast<lapack_int>(r), tau.data()),
                  "LAPACKE_dorgqr");
  }

  void eigenvalues(std::int64_t n, double* a, double* wr, double* wi) const override {
    if (n == 0) return;
    const BlasThreadsForLapack lapack_threads(double(n) * double(n) * double(n));
    detail::check(LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', static_cast<lapack_int>(n), a, static_cast<lapack_int>(n), wr,
                                wi, nullptr, 1, nullptr, 1),
                  "LAPACKE_dgeev");
  }

  void solve(std::int64_t n, std::int64_t nrhs, double* a, double* b) const override {
    if (n == 0 || nrhs == 0) return;
    const BlasThreadsForLapack lapack_threads(double(n) * double(n) * double(std::max(n, nrhs)));
    std::vector<lapack_int> piv(static_cast<std::size_t>(n));
    detail::check(LAPACKE_dgesv(LAPACK_ROW_MAJOR, static_cast<lapack_int>(n), static_cast<lapack_int>(nrhs), a,
                                static_cast<lapack_int>(n), piv.data(), b, static_cast<lapack_int>(nrhs)),
                  "LAPACKE_dgesv");
  }
};

inline const Backend& host_backend() {
  static const HostBackend backend;
  return backend;
}

}  // namespace saddle::kernels::linalg
