#include "apps/ksvd/results.hpp"

#include <algorithm>
#include <cmath>

namespace saddle::apps::ksvd {

Results finish_triplets(Triplets t, KernelOperator& op, const engine::Comm& comm, std::int64_t first_row,
                        const RowSet& test, bool has_test) {
  const std::int64_t nl = op.local_rows(), m = op.m(), s = static_cast<std::int64_t>(t.sigma.size());
  std::vector<double>&U = t.U, &V = t.V;
  const std::vector<double>& sigma = t.sigma;
  struct Best {
    double abs, value;
    std::int64_t row;
  };
  std::vector<Best> best(static_cast<std::size_t>(s), Best{-1.0, 0.0, -1});
  for (std::int64_t i = 0; i < nl; ++i)
    for (std::int64_t l = 0; l < s; ++l) {
      const double v = U[i * s + l];
      if (std::fabs(v) > best[l].abs) best[l] = Best{std::fabs(v), v, first_row + i};
    }
  const auto all = comm.allgatherv(best);
  for (std::int64_t l = 0; l < s; ++l) {
    Best b{-1.0, 0.0, -1};
    for (std::size_t p = 0; p < all.size() / static_cast<std::size_t>(s); ++p) {
      const Best& o = all[p * static_cast<std::size_t>(s) + static_cast<std::size_t>(l)];
      if (o.abs > b.abs || (o.abs == b.abs && o.row >= 0 && o.row < b.row)) b = o;
    }
    if (b.value < 0) {
      for (std::int64_t i = 0; i < nl; ++i) U[i * s + l] = -U[i * s + l];
      for (std::int64_t j = 0; j < m; ++j) V[j * s + l] = -V[j * s + l];
    }
  }
  Results r;
  r.scores_rows.assign(static_cast<std::size_t>(nl * s), 0.0);
  r.scores_cols.assign(static_cast<std::size_t>(m * s), 0.0);
  op.apply(V.data(), s, r.scores_rows.data(), U.data(), s, r.scores_cols.data());
  r.res_rows.assign(static_cast<std::size_t>(s), 0.0);
  r.res_cols.assign(static_cast<std::size_t>(s), 0.0);
  for (std::int64_t i = 0; i < nl; ++i)
    for (std::int64_t l = 0; l < s; ++l) {
      const double e = r.scores_rows[i * s + l] - sigma[l] * U[i * s + l];
      r.res_rows[l] += e * e;
    }
  comm.allreduce(r.res_rows, engine::Op::Sum);
  for (std::int64_t j = 0; j < m; ++j)
    for (std::int64_t l = 0; l < s; ++l) {
      const double e = r.scores_cols[j * s + l] - sigma[l] * V[j * s + l];
      r.res_cols[l] += e * e;
    }
  for (auto& x : r.res_rows) x = std::sqrt(x);
  for (auto& x : r.res_cols) x = std::sqrt(x);
  r.relative.resize(static_cast<std::size_t>(s));
  for (std::int64_t l = 0; l < s; ++l)
    r.relative[l] = relative_residual(std::max(r.res_rows[l], r.res_cols[l]), sigma[l], sigma[0]);
  r.iterations = t.iterations;
  if (has_test) {
    r.scores_test.assign(static_cast<std::size_t>(test.count * s), 0.0);
    op.apply_test(test, V.data(), s, r.scores_test.data());
  }
  r.U = std::move(U);
  r.V = std::move(V);
  r.sigma = std::move(t.sigma);
  return r;
}

}  // namespace saddle::apps::ksvd

namespace saddle::apps::ksvd {

double Results::max_relative() const { return relative.empty() ? 0.0 : *std::max_element(relative.begin(), relative.end()); }

}  // namespace saddle::apps::ksvd
