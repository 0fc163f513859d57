#include "apps/ksvd/memory.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "apps/ksvd/exact_scalapack.hpp"
#include "engine/memory_check.hpp"
#include "kernels/spaces.hpp"

namespace saddle::apps::ksvd {
namespace {

// Bytes per rank of each size's arrays (float64): X and the row-side blocks (Q, Y, U, the row
// scores, the kernel's per-row terms: about 6 k per row), Z and the column-side blocks (GᵀQ, its
// SVD factors, V, the column scores: about 6 k per column, and k more per host thread beyond the
// first, the tiles' partial column sums, kernel_operator.cpp), the test rows and their scores, and
// the cluster centres; summed, and refused in the name of the key with the largest term (whose
// share says whether more ranks would help).
struct Term {
  const char* key;
  double bytes;
  engine::Share share;
};
void require(const engine::Config& c, const std::vector<Term>& terms) {
  double total = 0;
  const Term* largest = &terms.front();
  for (const Term& t : terms) {
    total += t.bytes;
    if (t.bytes > largest->bytes) largest = &t;
  }
  engine::require_memory(total, largest->key, c, largest->share);
}

double k_of(const engine::Config& c, double n, double m) {
  return std::min({static_cast<double>(c.integer("ksvd.rank")) + static_cast<double>(c.integer("ksvd.oversample")), n, m});
}

// The exact method's formed G and factors on one rank (split over ranks), named by ksvd.method.
Term exact_term(const engine::Config& c, double n, double m, int ranks) {
  return {"ksvd.method", c.string("ksvd.method") == "exact" ? exact_bytes_per_rank(n, m, std::min({static_cast<double>(c.integer("ksvd.rank")), n, m}), ranks) : 0.0, engine::Share::Split};
}

// Values per column of the column-side blocks (see above).
double col_values(double k) { return (6.0 + static_cast<double>(std::max(kernels::HostExec().concurrency(), 1) - 1)) * k; }

}  // namespace

std::int64_t sketch_columns(std::int64_t rank, std::int64_t oversample, std::int64_t n, std::int64_t m) {
  const std::int64_t cap = std::min(n, m), s = std::min(rank, cap);
  return s + std::min(oversample, cap - s);
}

void require_generated_memory(const engine::Config& c, int ranks) {
  const double P = ranks, w = sizeof(double);
  if (c.string("ksvd.data.generator") == "sbm") {
    // Rows of a CSR graph: the expected arcs of this rank's rows (index and value per arc).
    const double N = static_cast<double>(c.integer("ksvd.data.nodes")), B = static_cast<double>(c.integer("ksvd.data.blocks"));
    const double p = (c.real("ksvd.data.p_in") + c.real("ksvd.data.p_out")) / B + c.real("ksvd.data.p_noise");
    const double k = k_of(c, N, N);
    require(c, {{"ksvd.data.nodes", (N / P) * (N * p * 2 + 6 * k + 2) * w + N * 6 * k * w, engine::Share::Split},
                exact_term(c, N, N, ranks)});
    return;
  }
  const double n = static_cast<double>(c.integer("ksvd.data.n")), d = static_cast<double>(c.integer("ksvd.data.d"));
  const bool same = !c.has("ksvd.data.m");
  const double m = same ? n : static_cast<double>(c.integer("ksvd.data.m")), k = k_of(c, n, m);
  const auto split = engine::Share::Split, whole = engine::Share::Whole;
  require(c, {{"ksvd.data.n", (n / P) * (d + 6 * k) * w + (same ? m * (d + col_values(k)) * w : 0.0), same ? whole : split},
              {"ksvd.data.m", same ? 0.0 : m * (d + col_values(k)) * w, whole},
              {"ksvd.data.test_points", static_cast<double>(c.integer("ksvd.data.test_points")) / P * (d + k) * w, split},
              {"ksvd.data.clusters", static_cast<double>(c.integer("ksvd.data.clusters")) * d * w, whole},
              exact_term(c, n, m, ranks)});
}

void require_solver_memory(const engine::Config& c, std::int64_t n, std::int64_t m, std::int64_t d, std::int64_t tests, int ranks) {
  const double P = ranks, w = sizeof(double), k = k_of(c, static_cast<double>(n), static_cast<double>(m));
  const double rows = static_cast<double>(n) / P, cols = static_cast<double>(m), tr = static_cast<double>(tests) / P;
  require(c, {{"ksvd.data.path", rows * (static_cast<double>(d) + 6 * k) * w + cols * (static_cast<double>(d) + col_values(k)) * w + tr * k * w,
               cols > rows ? engine::Share::Whole : engine::Share::Split},
              exact_term(c, static_cast<double>(n), static_cast<double>(m), ranks)});
}

}  // namespace saddle::apps::ksvd
