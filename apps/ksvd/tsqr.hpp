#pragma once
// TSQR (Demmel et al.) of a row-distributed tall matrix Y (rows over ranks, k columns): a local
// Householder QR per rank, the small R factors gathered on every rank and factored again
// (identically everywhere), then Q = blockdiag(Q_local) Q_stack. Householder QR keeps Q
// orthonormal to rounding even when Y is (numerically) rank deficient, where CholeskyQR2 breaks
// down: a linear kernel of rank d < k sketches such a Y.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/comm.hpp"
#include "kernels/linalg/backend.hpp"

namespace saddle::apps::ksvd {

// Y (local_rows x k) is overwritten by this rank's rows of Q; R (k x k) is the same on every rank.
// Needs the global row count >= k.
inline void tsqr(const engine::Comm& comm, const kernels::linalg::Backend& la, std::int64_t local_rows, std::int64_t k,
                 double* Y, std::vector<double>& R) {
  const std::int64_t r_loc = std::min(local_rows, k);
  std::vector<double> r1(static_cast<std::size_t>(r_loc * k));
  if (r_loc > 0) la.qr(local_rows, k, Y, r1.data());
  std::vector<std::size_t> counts;
  std::vector<double> stacked = comm.allgatherv(r1, &counts);
  const auto total = static_cast<std::int64_t>(stacked.size()) / k;
  std::int64_t offset = 0;
  for (int p = 0; p < comm.rank(); ++p) offset += static_cast<std::int64_t>(counts[static_cast<std::size_t>(p)]) / k;
  R.assign(static_cast<std::size_t>(std::min(total, k) * k), 0.0);
  la.qr(total, k, stacked.data(), R.data());
  const std::int64_t q_cols = std::min(total, k);
  if (r_loc == 0) return;
  std::vector<double> q1(Y, Y + local_rows * r_loc);
  la.gemm(false, false, local_rows, q_cols, r_loc, 1.0, q1.data(), r_loc, stacked.data() + offset * q_cols, q_cols, 0.0, Y, k);
}

}  // namespace saddle::apps::ksvd
