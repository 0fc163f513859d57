#pragma once
// What a ksvd run keeps of its singular triplets (docs/algorithms.md section 1): signs fixed
// (the largest-magnitude entry of each u_l positive, ties to the lower row), the scores G V and
// Gᵀ U from one matrix-free pass, the residuals ‖G v_l − σ_l u_l‖ and ‖Gᵀ u_l − σ_l v_l‖, and the
// scores of out-of-sample rows.
#include <cstdint>
#include <vector>

#include "apps/ksvd/kernel_operator.hpp"
#include "apps/ksvd/methods.hpp"
#include "engine/comm.hpp"

namespace saddle::apps::ksvd {

struct Results {
  std::vector<double> sigma, U, V;                // s; this rank's rows x s; m x s
  std::vector<double> scores_rows, scores_cols;   // G V (this rank's rows x s), Gᵀ U (m x s)
  std::vector<double> res_rows, res_cols;         // s each
  std::vector<double> scores_test;                // this rank's test rows x s
  std::vector<double> relative;                   // s: max(res_rows, res_cols) / σ_l (relative_residual)
  std::int64_t iterations = 0;                    // the solver's iterations (randomized, krylov)
  double max_relative() const;
};

// Collective. `first_row` is this rank's first row of G; `test` its out-of-sample rows (used
// when the data have any).
Results finish_triplets(Triplets t, KernelOperator& op, const engine::Comm& comm, std::int64_t first_row,
                        const RowSet& test, bool has_test);

}  // namespace saddle::apps::ksvd
