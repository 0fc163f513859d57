#pragma once
// The dense linear algebra of the workloads behind one interface: kernels/linalg/host_backend.hpp
// implements it with OpenBLAS and LAPACKE; a CUDA backend (cuBLAS, cuSOLVER) implements the same
// calls on device pointers. Rules shared by every call and every backend:
// - arrays are row-major and live in the backend's memory space;
// - gemm and gemv take leading dimensions (row strides, any value >= 1 when a dimension is 0);
//   the factorisations take packed arrays (leading dimension = number of columns);
// - a call whose result is empty (a zero dimension) returns without touching its arguments;
// - a failed routine throws linalg::Error naming the routine and its info code.
#include <cstdint>
#include <stdexcept>
#include <string>

namespace saddle::kernels::linalg {

class Error : public std::runtime_error {
 public:
  Error(const std::string& routine, int info)
      : std::runtime_error(routine + " failed with info = " + std::to_string(info)), routine_(routine), info_(info) {}
  const std::string& routine() const { return routine_; }
  int info() const { return info_; }

 private:
  std::string routine_;
  int info_;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // C (m x n) = alpha op(A) op(B) + beta C, in float64 and in float32 (the networks'
  // single-precision path).
  virtual void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                    const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                    std::int64_t ldc) const = 0;
  virtual void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                    const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                    std::int64_t ldc) const = 0;
  // y = alpha A x + beta y, A m x n (y: m values, x: n values).
  virtual void gemv(std::int64_t m, std::int64_t n, double alpha, const double* a, std::int64_t lda, const double* x,
                    double beta, double* y) const = 0;

  // Thin SVD of a (m x n, destroyed): s (r = min(m, n), descending), u (m x r), vt (r x n).
  virtual void svd(std::int64_t m, std::int64_t n, double* a, double* s, double* u, double* vt) const = 0;
  // The singular values alone of a (m x n, destroyed): s (min(m, n), descending).
  virtual void singular_values(std::int64_t m, std::int64_t n, double* a, double* s) const = 0;
  // Thin QR of a (m x n): a is overwritten by Q (m x r, r = min(m, n), orthonormal columns) and
  // r_out (r x n), unless nullptr, receives R, upper triangular (trapezoidal when m < n).
  virtual void qr(std::int64_t m, std::int64_t n, double* a, double* r_out) const = 0;
  // Eigenvalues wr + i wi (n each) of a general n x n matrix a (destroyed).
  virtual void eigenvalues(std::int64_t n, double* a, double* wr, double* wi) const = 0;
  // Solves A X = B by LU with partial pivoting: a (n x n) is overwritten by its factors, b
  // (n x nrhs) by X. A singular A throws Error (info > 0).
  virtual void solve(std::int64_t n, std::int64_t nrhs, double* a, double* b) const = 0;
};

}  // namespace saddle::kernels::linalg
