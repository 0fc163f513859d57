#pragma once
// Convenience functions on host vectors (row-major), on top of the host backend: what the
// workloads need for analysis and for generating problems (eigenvalues, solves, orthonormal bases,
// matrices with given singular vectors and values). Inputs taken by value are copies the
// routines may destroy.
#include <algorithm>
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/linalg/host_backend.hpp"

namespace saddle::kernels::linalg {

// Eigenvalues of a general n x n matrix.
inline std::vector<std::complex<double>> eigenvalues(std::int64_t n, std::vector<double> a) {
  std::vector<double> wr(static_cast<std::size_t>(n)), wi(wr.size());
  host_backend().eigenvalues(n, a.data(), wr.data(), wi.data());
  std::vector<std::complex<double>> out(wr.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = {wr[i], wi[i]};
  return out;
}

// Largest |eigenvalue| of a general n x n matrix.
inline double spectral_radius(std::int64_t n, std::vector<double> a) {
  double r = 0;
  for (const auto& z : eigenvalues(n, std::move(a))) r = std::max(r, std::abs(z));
  return r;
}

// Solves A x = b (A n x n, b of length n); throws Error for a singular A.
inline std::vector<double> solve(std::int64_t n, std::vector<double> a, std::vector<double> b) {
  host_backend().solve(n, 1, a.data(), b.data());
  return b;
}

// The orthonormal Q (m x n, m >= n) of the QR factorisation of a (m x n).
inline std::vector<double> orthonormal_basis(std::int64_t m, std::int64_t n, std::vector<double> a) {
  host_backend().qr(m, n, a.data(), nullptr);
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
// and V (cols x ldv): a matrix with given singular vectors and values.
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
  host_backend().gemm(false, true, rows, cols, k, 1.0, UD.data(), k, Vk.data(), k, 0.0, out.data(), cols);
  return out;
}

// Singular values of a (m x n), descending.
inline std::vector<double> singular_values(std::int64_t m, std::int64_t n, std::vector<double> a) {
  std::vector<double> s(static_cast<std::size_t>(std::min(m, n)));
  host_backend().singular_values(m, n, a.data(), s.data());
  return s;
}

}  // namespace saddle::kernels::linalg
