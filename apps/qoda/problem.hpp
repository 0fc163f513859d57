#pragma once
// The monotone linear VIs of the qoda workload: F(z) = M z + q with M + M' positive semidefinite.
// - bilinear: f(x, y) = x'Ay + b'x + c'y, z = [x; y], F(z) = [A y + b; -(A'x + c)], so
//   M = [[0, A], [-A', 0]] and q = [b; -c];
// - quadratic: F(z) = M z + q directly.
// Both come from HDF5 (/A, /b, /c or /M, /q) or are generated from the run's seed with a given
// condition number and per-block scales s_m: M = D M0 D, D = diag(sqrt(s_m)) on block m, where
// M0 is well conditioned (bilinear: A0 = U diag(sigma) V' with sigma log-spaced in
// [1/condition, 1]; quadratic: M0 = P diag(lambda) P' + skew Q J Q', lambda log-spaced in
// [1/condition, 1], J the 2x2 rotation blocks), and q = -M z* for z* ~ N(0, I).
// The blocks ("layers") partition z; the layer-wise quantiser gives each block its own norm and
// level set.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/deck.hpp"

namespace saddle::apps::qoda {

struct Problem {
  std::int64_t n = 0;               // dimension of z
  std::int64_t dim_x = 0;           // bilinear: x is z[0, dim_x)
  std::vector<double> M, q;         // row-major n x n, n
  std::vector<std::int64_t> blocks; // block sizes, summing to n
  std::vector<double> x_star;       // the solution, when M is nonsingular (LAPACK dgesv); else empty

  // out = M z + q.
  void apply(const double* z, double* out) const;
};

// Builds the problem of the deck's [qoda.problem] table (reads the HDF5 file when `path` is set).
// Throws InputError naming the key or the file for bad data.
Problem make_problem(const engine::Config& c, std::uint64_t seed);

}  // namespace saddle::apps::qoda
