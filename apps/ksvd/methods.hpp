#pragma once
// The s leading singular triplets of the kernel matrix G by the three methods of ksvd
// (docs/algorithms.md section 1): an exact SVD of the formed G, randomized subspace iteration
// (Halko–Martinsson–Tropp range finding iterated to ksvd.tol) on the matrix-free operator in one
// call per driver step, and the asymmetric Nyström method (the fourth, SLEPc's Krylov solvers, is
// krylov.hpp). Collective over
// the ranks that hold G's rows.
#include <cmath>
#include <cstdint>
#include <vector>

#include "apps/ksvd/kernel_operator.hpp"
#include "engine/comm.hpp"

namespace saddle::apps::ksvd {

enum class Method { Exact, Randomized, Krylov, Nystrom };
// "exact", "randomized", "krylov", "nystrom" (the values of ksvd.method).
Method parse_method(const std::string& name);

// U (this rank's rows x s), V (m x s), sigma (s, descending).
struct Triplets {
  std::vector<double> U, V, sigma;
  std::int64_t iterations = 0;  // solver iterations (randomized, krylov)
};

// The exact SVD of the formed G (its s leading triplets): each rank forms its rows of G; one rank
// factors them with LAPACK gesdd, more ranks with ScaLAPACK (pdgesvd's steps narrowed to the s
// triplets) on a 2-D block-cyclic distribution (exact_scalapack.hpp), so that no rank holds all of G.
// A symmetrised operator's (G + Gᵀ)/2 is formed from G (ScaLAPACK: by PBLAS pdtran).
Triplets exact_svd(KernelOperator& op, const engine::Comm& comm, std::int64_t s);

// Randomized subspace iteration with k = s + oversampling columns; Q (this rank's rows x k,
// orthonormal over all ranks) carries the state from one step to the next.
// Step 1: Q = orth(G Ω), Ω Gaussian (m x k) from the stream (seed, "ksvd_omega").
void randomized_sketch(KernelOperator& op, const engine::Comm& comm, std::uint64_t seed, std::int64_t k, std::vector<double>& Q);
// One iteration: Rayleigh–Ritz on span(Q), Bᵀ = Gᵀ Q = V_b Σ Ũᵀ (U = Q Ũ, V = V_b), then
// Y = G V_b, which gives the row residuals ‖G v_l − σ_l u_l‖ (the column residuals Gᵀu_l − σ_l v_l
// vanish by construction) and the next basis: Q <- orth(Y) unless the residual is <= stop_below. The same subspace as
// Q <- orth(G orth(GᵀQ)) of a power iteration, at the same two passes over G.
struct RitzStep {
  Triplets ritz;          // the s leading Ritz triplets (U: this rank's rows x s)
  double residual = 0;    // max_l relative_residual(‖G v_l − σ_l u_l‖, σ_l, σ_1) over l < s
  bool advanced = false;  // Q was replaced by orth(Y)
};
RitzStep randomized_iterate(KernelOperator& op, const engine::Comm& comm, std::int64_t k, std::int64_t s, std::vector<double>& Q,
                            double stop_below);
// r / σ_l, or r / σ_1 for a σ_l below 1e-12 σ_1 (a numerically zero singular value, whose
// direction has no relative accuracy to reach).
inline double relative_residual(double r, double sigma_l, double sigma_1) {
  const double d = sigma_l > 1e-12 * sigma_1 ? sigma_l : sigma_1;
  return d > 0 ? r / d : (r > 0 ? HUGE_VAL : 0.0);
}

// Asymmetric Nyström on `sample_rows` rows and `sample_cols` columns drawn from the seed.
Triplets nystrom_svd(KernelOperator& op, const engine::Comm& comm, const engine::RowRange& rows, std::int64_t s,
                     std::uint64_t seed, std::int64_t sample_rows, std::int64_t sample_cols);

}  // namespace saddle::apps::ksvd
