#pragma once
// Dense linear algebra on host arrays (row-major), through OpenBLAS and LAPACKE. Small and direct:
// what the workloads need for analysis (eigenvalues, solves, orthonormal bases) and batched
// products. Errors from LAPACK become std::runtime_error naming the routine and its info code.
#include <cblas.h>
#include <lapacke.h>

#include <complex>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"

namespace saddle::kernels::linalg {

inline void check_info(lapack_int info, const char* routine) {
  if (info != 0) throw std::runtime_error(std::string(routine) + " failed with info = " + std::to_string(info));
}

// C (m x n) = alpha * op(A) * op(B) + beta * C, row-major.
inline void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                 const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                 std::int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

// Eigenvalues of a general n x n matrix (copied; the input is not modified).
inline std::vector<std::complex<double>> eigenvalues(std::int64_t n, std::vector<double> a) {
  std::vector<double> wr(static_cast<std::size_t>(n)), wi(static_cast<std::size_t>(n));
  if (n == 0) return {};
  check_info(LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', static_cast<lapack_int>(n), a.data(), static_cast<lapack_int>(n),
                           wr.data(), wi.data(), nullptr, 1, nullptr, 1),
             "LAPACKE_dgeev");
  std::vector<std::complex<double>> out(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = {wr[i], wi[i]};
  return out;
}

// Largest |eigenvalue| of a general n x n matrix.
inline double spectral_radius(std::int64_t n, std::vector<double> a) {
  double r = 0;
  for (const auto& z : eigenvalues(n, std::move(a))) r = std::max(r, std::abs(z));
  return r;
}

// Solves A x = b (A n x n, b of length n); throws for a singular A.
inline std::vector<double> solve(std::int64_t n, std::vector<double> a, std::vector<double> b) {
  std::vector<lapack_int> piv(static_cast<std::size_t>(n));
  check_info(LAPACKE_dgesv(LAPACK_ROW_MAJOR, static_cast<lapack_int>(n), 1, a.data(), static_cast<lapack_int>(n),
                           piv.data(), b.data(), 1),
             "LAPACKE_dgesv");
  return b;
}

// The orthonormal Q (m x n, m >= n) of the QR factorisation of a (m x n, row-major).
inline std::vector<double> orthonormal_basis(std::int64_t m, std::int64_t n, std::vector<double> a) {
  std::vector<double> tau(static_cast<std::size_t>(std::min(m, n)));
  check_info(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(n), a.data(),
                            static_cast<lapack_int>(n), tau.data()),
             "LAPACKE_dgeqrf");
  check_info(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(n),
                            static_cast<lapack_int>(tau.size()), a.data(), static_cast<lapack_int>(n), tau.data()),
             "LAPACKE_dorgqr");
  return a;
}

// A random orthonormal n x n basis: the Q factor of a Gaussian matrix drawn from the stream
// (seed, purpose), so the same seed gives the same basis on every rank.
inline std::vector<double> random_orthonormal(std::uint64_t seed, const std::string& purpose, std::int64_t n) {
  const CounterRng rng(seed, purpose);
  std::vector<double> g(static_cast<std::size_t>(n * n));
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = rng.normal(i, 0);
  return orthonormal_basis(n, n, std::move(g));
}

// U_k diag(d) V_kᵀ (rows x cols), U_k and V_k the first k = d.size() columns of U (rows x ldu)
// and V (cols x ldv), row-major: a matrix with given singular vectors and values.
inline std::vector<double> compose_svd(const std::vector<double>& U, std::int64_t ldu, const std::vector<double>& d,
                                       const std::vector<double>& V, std::int64_t ldv, std::int64_t rows,
                                       std::int64_t cols) {
  const auto k = static_cast<std::int64_t>(d.size());
  std::vector<double> UD(static_cast<std::size_t>(rows * k)), Vk(static_cast<std::size_t>(cols * k));
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < k; ++j)
      UD[static_cast<std::size_t>(i * k + j)] = U[static_cast<std::size_t>(i * ldu + j)] * d[static_cast<std::size_t>(j)];
  for (std::int64_t i = 0; i < cols; ++i)
    for (std::int64_t j = 0; j < k; ++j) Vk[static_cast<std::size_t>(i * k + j)] = V[static_cast<std::size_t>(i * ldv + j)];
  gemm(false, true, rows, cols, k, 1.0, UD.data(), k, Vk.data(), k, 0.0, out.data(), cols);
  return out;
}

// Singular values of a (m x n, row-major), descending.
inline std::vector<double> singular_values(std::int64_t m, std::int64_t n, std::vector<double> a) {
  std::vector<double> s(static_cast<std::size_t>(std::min(m, n)));
  std::vector<double> superb(s.size() > 1 ? s.size() - 1 : 1);
  check_info(LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a.data(),
                            static_cast<lapack_int>(n), s.data(), nullptr, 1, nullptr, 1, superb.data()),
             "LAPACKE_dgesvd");
  return s;
}

}  // namespace saddle::kernels::linalg
