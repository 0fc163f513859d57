#pragma once
// The dense linear algebra a matrix-free solver needs (GEMM in float64 and float32, thin SVD,
// thin QR, Cholesky-free), behind an interface: the host implementation calls OpenBLAS and
// LAPACKE; a CUDA one (cuBLAS, cuSOLVER) implements the same calls on device pointers. Arrays
// are row-major and live in the backend's memory space. LAPACK failures throw std::runtime_error
// naming the routine.
#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace saddle::kernels {

class LinalgBackend {
 public:
  virtual ~LinalgBackend() = default;
  virtual const char* name() const = 0;
  // C (m x n) = alpha op(A) op(B) + beta C.
  virtual void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                    const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                    std::int64_t ldc) const = 0;
  // The same in float32 (the neural networks' single-precision path).
  virtual void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                    const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                    std::int64_t ldc) const = 0;
  // Thin SVD of a (m x n, overwritten): s (r = min(m, n), descending), u (m x r), vt (r x n).
  virtual void svd(std::int64_t m, std::int64_t n, double* a, double* s, double* u, double* vt) const = 0;
  // Thin QR of a (m x n): a is overwritten by Q (m x r, r = min(m, n), orthonormal columns) and
  // r_out (r x n) receives R, upper triangular (trapezoidal when m < n).
  virtual void qr(std::int64_t m, std::int64_t n, double* a, double* r_out) const = 0;
};


namespace detail {

inline void check(lapack_int info, const char* routine) {
  if (info != 0) throw std::runtime_error(std::string(routine) + " failed with info = " + std::to_string(info));
}

class HostBackend final : public LinalgBackend {
 public:
  const char* name() const override { return "openblas"; }

  void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a,
            std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc) const override {
    if (m == 0 || n == 0) return;
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
                static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(std::max<std::int64_t>(lda, 1)),
                b, static_cast<blasint>(std::max<std::int64_t>(ldb, 1)), beta, c, static_cast<blasint>(std::max<std::int64_t>(ldc, 1)));
  }

  void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
            std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) const override {
    if (m == 0 || n == 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
                static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(std::max<std::int64_t>(lda, 1)),
                b, static_cast<blasint>(std::max<std::int64_t>(ldb, 1)), beta, c, static_cast<blasint>(std::max<std::int64_t>(ldc, 1)));
  }

  void svd(std::int64_t m, std::int64_t n, double* a, double* s, double* u, double* vt) const override {
    const std::int64_t r = std::min(m, n);
    if (r == 0) return;
    check(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a,
                         static_cast<lapack_int>(n), s, u, static_cast<lapack_int>(r), vt, static_cast<lapack_int>(n)),
          "LAPACKE_dgesdd");
  }

  void qr(std::int64_t m, std::int64_t n, double* a, double* r_out) const override {
    const std::int64_t r = std::min(m, n);
    if (r == 0) return;
    std::vector<double> tau(static_cast<std::size_t>(r));
    check(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(n), a,
                         static_cast<lapack_int>(n), tau.data()),
          "LAPACKE_dgeqrf");
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < n; ++j) r_out[i * n + j] = j >= i ? a[i * n + j] : 0.0;
    // orgqr wants the m x r leading block with leading dimension n; compact it when r < n.
    if (r < n)
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < r; ++j) a[i * r + j] = a[i * n + j];
    check(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(r),
                         static_cast<lapack_int>(r), a, static_cast<lapack_int>(r), tau.data()),
          "LAPACKE_dorgqr");
  }
};

}  // namespace detail

// OpenBLAS + LAPACKE on host memory (gesdd, geqrf + orgqr).
inline const LinalgBackend& host_backend() {
  static const detail::HostBackend backend;
  return backend;
}

// Limits OpenBLAS to `threads` threads (1 per MPI rank when ranks fill the cores); returns the
// previous setting.
inline int set_blas_threads(int threads) {
  const int before = openblas_get_num_threads();
  openblas_set_num_threads(threads);
  return before;
}

}  // namespace saddle::kernels
