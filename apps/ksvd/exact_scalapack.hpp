#pragma once
// The exact SVD of the formed kernel matrix on more than one rank, with ScaLAPACK on a 2-D
// block-cyclic distribution of G over a BLACS grid built from the engine's communicator, so that
// no rank ever holds all of G (docs/workloads/ksvd.md, method exact).
//
// Each rank forms its contiguous rows of G (row-major, which is column-major Gᵀ restricted to
// those columns), so ScaLAPACK factors Gᵀ = V Σ Uᵀ (m x n): the rows are moved to the uniform
// 1-D layout ScaLAPACK can describe (blocks of ceil(n/P) columns of Gᵀ on a 1 x P grid, a shift
// of a few rows between neighbours) and redistributed by pdgemr2d to the 2-D block-cyclic
// layout. The SVD is pdgesvd's with its bidiagonal step narrowed to the s triplets wanted:
// pdgebrd reduces Gᵀ to bidiagonal B = Qᵀ Gᵀ P, LAPACK dbdsvdx finds the s largest singular
// values of B and their vectors, pdormbr applies Q and P to them. (pdgesvd itself finds all
// min(n, m) vectors of B by QR iteration: on 2 ranks it took 5x as long as gesdd on one.) The s
// columns come back by pdgemr2d: U to the contiguous row distribution, V (m x s) to rank 0 and
// broadcast.
#include <cstdint>
#include <vector>

#include "apps/ksvd/methods.hpp"
#include "engine/comm.hpp"

namespace saddle::apps::ksvd {

// The process grid and block size used for a rows x cols matrix on `ranks` ranks: the most
// nearly square pr x pc = ranks, with more process rows than columns when rows >= cols; blocks of
// 64, smaller for small matrices so that every process row and column holds several blocks.
struct ScalapackLayout {
  int prow = 1, pcol = 1, block = 64;
};
ScalapackLayout scalapack_layout(std::int64_t rows, std::int64_t cols, int ranks);

// Collective. `local`: this rank's rows of the (centred) G in engine::block_rows order, row-major
// (rows x m); it is released. Returns U (this rank's rows x s), V (m x s, every rank) and the s
// leading singular values (every rank). Throws std::runtime_error naming the ScaLAPACK or LAPACK
// routine and its info when one fails.
// With `symmetrize` (n = m) the matrix factored is (G + Gᵀ)/2, formed on the grid by PBLAS pdtran.
Triplets scalapack_svd(std::vector<double>& local, std::int64_t n, std::int64_t m, std::int64_t s, const engine::Comm& comm,
                       bool symmetrize);

// Bytes one rank allocates at its peak for the exact method on an n x m matrix and s triplets
// over `ranks` ranks (1 rank: LAPACK gesdd on the whole G; more: the ScaLAPACK path, about
// 2 n m / P), and the largest number of entries one of its local arrays holds, which LAPACK's and
// ScaLAPACK's 32-bit indices limit to below 2^31.
double exact_bytes_per_rank(double n, double m, double s, int ranks);
double exact_entries_per_rank(double n, double m, int ranks);

}  // namespace saddle::apps::ksvd
