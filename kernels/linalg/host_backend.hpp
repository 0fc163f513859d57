#pragma once
// The linalg::Backend of host memory: OpenBLAS (dgemm, sgemm, dgemv) and LAPACKE (gesdd for the
// thin SVD, gesvd without vectors for singular values, geqrf + orgqr, geev, gesv).
#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/linalg/backend.hpp"

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

}  // namespace detail

class HostBackend final : public Backend {
 public:
  const char* name() const override { return "openblas"; }

  void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a,
            std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc) const override {
    detail::blas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
            std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) const override {
    detail::blas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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
    detail::check(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a,
                                 static_cast<lapack_int>(n), s, u, static_cast<lapack_int>(r), vt, static_cast<lapack_int>(n)),
                  "LAPACKE_dgesdd");
  }

  void singular_values(std::int64_t m, std::int64_t n, double* a, double* s) const override {
    const std::int64_t r = std::min(m, n);
    if (r == 0) return;
    std::vector<double> superb(static_cast<std::size_t>(std::max<std::int64_t>(r - 1, 1)));
    detail::check(LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a,
                                 static_cast<lapack_int>(n), s, nullptr, 1, nullptr, 1, superb.data()),
                  "LAPACKE_dgesvd");
  }

  void qr(std::int64_t m, std::int64_t n, double* a, double* r_out) const override {
    const std::int64_t r = std::min(m, n);
    if (r == 0) return;
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
    detail::check(LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', static_cast<lapack_int>(n), a, static_cast<lapack_int>(n), wr,
                                wi, nullptr, 1, nullptr, 1),
                  "LAPACKE_dgeev");
  }

  void solve(std::int64_t n, std::int64_t nrhs, double* a, double* b) const override {
    if (n == 0 || nrhs == 0) return;
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

// Limits OpenBLAS to `threads` threads (1 per MPI rank when ranks fill the cores); returns the
// previous setting.
inline int set_blas_threads(int threads) {
  const int before = openblas_get_num_threads();
  openblas_set_num_threads(threads);
  return before;
}

}  // namespace saddle::kernels::linalg
