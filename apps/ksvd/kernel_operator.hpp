#pragma once
// The kernel matrix G (n x m, rows distributed over ranks) as an operator that is never stored:
// one pass evaluates G tile by tile (a GEMM of inner products, then the kernel's element-wise
// step in a Kokkos kernel) and feeds each tile at once to the GEMMs of the products asked for,
//   row side    G A  (A: m x ka, every rank)     -> this rank's rows,
//   column side Gᵀ B (B: this rank's rows x kb)  -> m x kb, summed over ranks.
// Double centring G_c = (I − 11ᵀ/n) G (I − 11ᵀ/m) is applied as rank-one corrections with the
// row means a, column means c and grand mean g of G (one extra pass), never by forming G.
// Given matrices (dense rows, CSR rows) take the same products without tiles.
// Symmetrisation (n = m) replaces G by S = (G + Gᵀ)/2 in every product, matrix-free: the row side
// S A = ½(G A + (Gᵀ A)[own rows]) takes Gᵀ A from a column-side product with A's own rows, and the
// column side S B = ½(G B_all + Gᵀ B) a row-side product with B gathered from all ranks, both in
// the same pass. It composes with centring: (I − 11ᵀ/n) S (I − 11ᵀ/n) = (G_c + G_cᵀ)/2.
// Where the tiles are evaluated (KernelConfig::device): the point data, the tile and the products
// live in views of one memory space and run on its execution space (kernels/spaces.hpp): HostExec
// with the host backend, or Exec (a GPU on a CUDA build) with the backend of that space. Both are
// one template (tiles<Space>); views in host memory alias the host arrays, so on a CPU build the
// two choices are the same code and give the same bits. A and B go to the space once per product,
// the outputs come back; the methods, centring, symmetrisation and MPI stay on the host, as do
// the given matrices (dense, CSR) and block().
#include <cstdint>
#include <string>
#include <vector>

#include "apps/ksvd/data.hpp"
#include "engine/comm.hpp"
#include "kernels/kernel_functions.hpp"
#include "kernels/linalg/backend.hpp"

namespace saddle::apps::ksvd {

struct KernelConfig {
  std::string type = "rbf";  // linear, rbf, sne, kl, given
  double sigma = 1.0, perplexity = 30.0, a = 1.0;
  std::int64_t tile_rows = 128, tile_cols = 512;
  bool device = false;  // tiles and products on Exec (kernels/spaces.hpp) instead of HostExec
  // Parts the row tiles of a product are split into on a host space, each part's tiles whole on
  // one thread (0: one part per host thread; tests set more to check the split on one thread).
  int host_parts = 0;
};

// A set of point rows with their per-row constants (training rows or out-of-sample rows).
struct RowSet {
  std::int64_t count = 0, first_global = 0;
  std::vector<double> points;  // count x dim (kl: normalised histograms; rbf: (x, ‖x‖², 1))
  std::vector<double> norm, beta, shift, inv_sum, perplexity;
};

class KernelOperator {
 public:
  // Prepares the kernel (column constants, SNE bisection of this rank's rows, kl checks).
  // Throws InputError for data the kernel cannot take; no collective inside (use Comm::agree).
  // `la` is the host backend (methods, SNE calibration, block(), given matrices).
  KernelOperator(const Data& data, const KernelConfig& config, const kernels::linalg::Backend& la, const engine::Comm& comm);
  // Views below alias this object's own arrays.
  KernelOperator(const KernelOperator&) = delete;
  KernelOperator& operator=(const KernelOperator&) = delete;

  // Whether config.device can be honoured in this build: Exec is host memory (host backend), or
  // a CUDA build linked with the CUDA backend.
  static bool device_available();
  // The Kokkos execution space the tiles run on ("Serial", "OpenMP", "Cuda"; given matrices: "host").
  std::string tile_space() const;

  std::int64_t n() const { return data_.n; }
  std::int64_t m() const { return data_.m; }
  std::int64_t local_rows() const { return data_.rows.count(); }
  const RowSet& rows() const { return rows_; }

  // Collective: computes the means of G and centres every later product.
  void enable_centering();
  bool centered() const { return centered_; }
  // Every later product uses S = (G + Gᵀ)/2 (centred when centring is on). Requires n = m; the
  // caller refuses test rows (κ(z, x) of a new x is not a row of G). block() stays G's entries.
  void enable_symmetrize();
  bool symmetrized() const { return symmetrized_; }

  // Collective when kb > 0, or when symmetrised and ka + kb > 0 (on every rank, also one that
  // holds no rows: its B and out_row may then be null). out_row (local rows x ka) = G A; out_col
  // (m x kb) = Gᵀ B over all ranks (G replaced by S when symmetrised). A side is skipped by giving
  // it 0 columns.
  void apply(const double* A, std::int64_t ka, double* out_row, const double* B, std::int64_t kb, double* out_col);
  // Row side for out-of-sample rows: out (test rows x ka) = κ(Xtest, Z) A (centred like G).
  void apply_test(const RowSet& test, const double* A, std::int64_t ka, double* out);
  RowSet make_test_rows(const std::vector<double>& points, std::int64_t first_global) const;

  // Entries of G (uncentred): rows given as local indices, columns as global ones (nullptr: all),
  // into out (rows x cols, row-major).
  void block(const std::vector<std::int64_t>* rows, const std::vector<std::int64_t>* cols, double* out);

  // Means (valid once centred): this rank's row means, all column means, the grand mean.
  const std::vector<double>& row_means() const { return row_mean_; }
  const std::vector<double>& col_means() const { return col_mean_; }
  double grand_mean() const { return grand_mean_; }

  // Work done so far: kernel evaluations and floating-point operations (GEMMs and element-wise).
  double evaluations() const { return evaluations_; }
  double flops() const { return flops_; }
  const kernels::linalg::Backend& linalg() const { return la_; }

 private:
  // One point set's tile data in memory space M: points (n x dim()) and the per-row constants
  // (empty views where the kernel has none).
  template <class M>
  struct Placed {
    Kokkos::View<double*, M> points, norm, beta, shift, inv_sum;
  };
  // The products of G itself (centred when centring is on), whatever symmetrised() says.
  void apply_g(const double* A, std::int64_t ka, double* out_row, const double* B, std::int64_t kb, double* out_col);
  void pass(const RowSet& rows, const double* A, std::int64_t ka, double* out_row, const double* B, std::int64_t kb,
            double* out_col);
  void prepare_rows(RowSet& rows, bool exclude_self) const;
  void augment(RowSet& rows) const;
  // Coordinates per point in the inner-product GEMM (d, or d + 2 for prescaled rbf).
  std::int64_t dim() const { return spec_.prescaled ? data_.d + 2 : data_.d; }
  template <class M>
  static Placed<M> place(const RowSet& rows);
  // The tile loop of pass() for points, on Space with backend `la` (arrays in Space's memory).
  template <class Space>
  void tiles(const kernels::KernelSpec& spec, const Placed<typename Space::memory_space>& rows, std::int64_t nr, std::int64_t first_global,
             const Placed<typename Space::memory_space>& cols, const Kokkos::View<double*, typename Space::memory_space>& tile,
             const kernels::linalg::Backend& la, const double* A, std::int64_t ka, double* out_row, const double* B,
             std::int64_t kb, double* out_col);

  const Data& data_;
  KernelConfig config_;
  const kernels::linalg::Backend& la_;
  engine::Comm comm_;
  kernels::KernelSpec spec_;
  std::vector<double> cols_;      // m x dim(): Z, log q for kl, (2γz, −γ, −γ‖z‖²) for rbf
  std::vector<double> col_norm_;  // ‖z_j‖²
  RowSet rows_;
  bool device_ = false;
  // Host: aliases of cols_/col_norm_ and rows_ (points only), and the tile buffer.
  Placed<kernels::HostMem> host_cols_, host_rows_;
  Kokkos::View<double*, kernels::HostMem> host_tile_;  // one tile per host thread
  std::vector<double> col_partials_;  // tiles() on host threads: the column side of parts 1, 2, ...
  // Device (config.device): the same in Mem (copies, or aliases when Mem is host memory), and the
  // backend of Exec: la_ when Exec is host, a CUDA backend on Exec's stream otherwise.
  Placed<kernels::Mem> device_cols_, device_rows_;
  Kokkos::View<double*, kernels::Mem> device_tile_;
  const kernels::linalg::Backend* device_la_ = nullptr;
  bool centered_ = false, symmetrized_ = false;
  std::vector<double> row_mean_, col_mean_;
  double grand_mean_ = 0;
  double evaluations_ = 0, flops_ = 0;
};

}  // namespace saddle::apps::ksvd
