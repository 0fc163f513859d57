#pragma once
// The s leading singular triplets of the kernel matrix G by the three methods of ksvd
// (docs/algorithms.md section 1): an exact SVD of the formed G, randomized range finding
// (Halko–Martinsson–Tropp) on the matrix-free operator in one call per driver step, and the
// asymmetric Nyström method. Collective over the ranks that hold G's rows.
#include <cstdint>
#include <vector>

#include "apps/ksvd/kernel_operator.hpp"
#include "engine/comm.hpp"

namespace saddle::apps::ksvd {

enum class Method { Exact, Randomized, Nystrom };
// "exact", "randomized", "nystrom" (the values of ksvd.method).
Method parse_method(const std::string& name);

// U (this rank's rows x s), V (m x s), sigma (s, descending).
struct Triplets {
  std::vector<double> U, V, sigma;
};

// The exact SVD of the formed G (its s leading triplets): each rank forms its rows of G; one rank
// factors them with LAPACK gesdd, more ranks with ScaLAPACK pdgesvd on a 2-D block-cyclic
// distribution (exact_scalapack.hpp), so that no rank holds all of G. `rows` are this rank's rows.
Triplets exact_svd(KernelOperator& op, const engine::Comm& comm, const engine::RowRange& rows, std::int64_t s);

// Randomized SVD with k = s + oversampling sketch columns; Q (this rank's rows x k, orthonormal
// over all ranks) carries the state from one step to the next.
// Step 1: Q = orth(G Ω), Ω Gaussian (m x k) from the stream (seed, "ksvd_omega").
void randomized_sketch(KernelOperator& op, const engine::Comm& comm, std::uint64_t seed, std::int64_t k, std::vector<double>& Q);
// One power iteration Q <- orth(G orth(Gᵀ Q)); returns the estimate of σ_1 from the R of Gᵀ Q.
double randomized_power(KernelOperator& op, const engine::Comm& comm, std::int64_t k, std::vector<double>& Q);
// The projection Bᵀ = Gᵀ Q = V_b Σ Ũᵀ, so G ≈ (Q Ũ) Σ V_bᵀ: the s leading triplets.
Triplets randomized_project(KernelOperator& op, std::int64_t k, std::int64_t s, const std::vector<double>& Q);

// Asymmetric Nyström on `sample_rows` rows and `sample_cols` columns drawn from the seed.
Triplets nystrom_svd(KernelOperator& op, const engine::Comm& comm, const engine::RowRange& rows, std::int64_t s,
                     std::uint64_t seed, std::int64_t sample_rows, std::int64_t sample_cols);

}  // namespace saddle::apps::ksvd
