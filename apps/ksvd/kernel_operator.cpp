#include "apps/ksvd/kernel_operator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.hpp"
#include "kernels/host_loops.hpp"
#include "kernels/linalg/select.hpp"

namespace saddle::apps::ksvd {

using engine::InputError;
using kernels::KernelType;

namespace {

KernelType kernel_type(const std::string& name) {
  if (name == "linear") return KernelType::Linear;
  if (name == "rbf") return KernelType::Rbf;
  if (name == "sne") return KernelType::Sne;
  return KernelType::Kl;
}

// Histogram rows normalised to sum 1; throws for negative entries or empty rows.
std::vector<double> histograms(const std::vector<double>& v, std::int64_t d, const std::string& what,
                               std::int64_t first_global) {
  std::vector<double> out(v);
  for (std::size_t i = 0; i * static_cast<std::size_t>(d) < v.size(); ++i) {
    double s = 0;
    for (std::int64_t k = 0; k < d; ++k) {
      const double x = v[i * d + k];
      if (x < 0) throw InputError("kernel kl: " + what + " row " + std::to_string(first_global + static_cast<std::int64_t>(i)) + " has a negative entry; histograms must be >= 0");
      s += x;
    }
    if (!(s > 0)) throw InputError("kernel kl: " + what + " row " + std::to_string(first_global + static_cast<std::int64_t>(i)) + " sums to 0; histograms need mass");
    for (std::int64_t k = 0; k < d; ++k) out[i * d + k] /= s;
  }
  return out;
}

using HostView = Kokkos::View<double*, kernels::HostMem, Kokkos::MemoryUnmanaged>;

// A host array as a view; const_cast: the views built from it are only read.
HostView host_view(const double* p, std::size_t n) { return HostView(const_cast<double*>(p), n); }
HostView host_view(const std::vector<double>& v) { return host_view(v.data(), v.size()); }

// v in memory space M: create_mirror_view_and_copy returns the host view itself when M is host
// memory (no copy; the view aliases v), a copy in M otherwise.
template <class M>
Kokkos::View<double*, M> in_space(const std::vector<double>& v) {
  return Kokkos::View<double*, M>(Kokkos::create_mirror_view_and_copy(M(), host_view(v)));
}

}  // namespace

bool KernelOperator::device_available() { return kernels::linalg::kExecHasBackend; }

std::string KernelOperator::tile_space() const {
  if (data_.kind != Data::Kind::Points) return "host";
  return device_ ? kernels::Exec::name() : kernels::HostExec::name();
}

template <class M>
KernelOperator::Placed<M> KernelOperator::place(const RowSet& rows) {
  return Placed<M>{in_space<M>(rows.points), in_space<M>(rows.norm), in_space<M>(rows.beta), in_space<M>(rows.shift),
                   in_space<M>(rows.inv_sum)};
}

KernelOperator::KernelOperator(const Data& data, const KernelConfig& config, const kernels::linalg::Backend& la,
                               const engine::Comm& comm)
    : data_(data), config_(config), la_(la), comm_(comm) {
  rows_.count = data.rows.count();
  rows_.first_global = data.rows.begin;
  if (data.kind != Data::Kind::Points) return;
  spec_.type = kernel_type(config.type);
  spec_.gamma = 1.0 / (2.0 * config.sigma * config.sigma);
  spec_.a = config.a;
  spec_.exclude_self = spec_.type == KernelType::Sne && data.same_set;
  const std::int64_t d = data.d, m = data.m;
  if (spec_.type == KernelType::Kl) {
    cols_ = histograms(data.Z, d, data.same_set ? "/X" : "/Z", 0);
    for (std::size_t k = 0; k < cols_.size(); ++k) {
      if (!(cols_[k] > 0))
        throw InputError("kernel kl: column histogram " + std::to_string(k / static_cast<std::size_t>(d)) +
                         " has a zero entry, so KL(p||q) is infinite; the columns (z) must be strictly positive");
      cols_[k] = std::log(cols_[k]);
    }
  } else {
    cols_ = data.Z;
    col_norm_ = kernels::row_norms(m, d, cols_.data());
  }
  if (spec_.type == KernelType::Sne) {
    const std::int64_t neighbours = m - (data.same_set ? 1 : 0);
    if (!(config.perplexity < static_cast<double>(neighbours))) {
      char value[32];
      std::snprintf(value, sizeof value, "%.17g", config.perplexity);
      throw InputError("key 'ksvd.kernel.perplexity': " + std::string(value) +
                       " must be smaller than the number of neighbours of a row (" + std::to_string(neighbours) + ")");
    }
  }
  rows_.points = spec_.type == KernelType::Kl ? histograms(data.X, d, "/X", data.rows.begin) : data.X;
  prepare_rows(rows_, spec_.exclude_self);
  if (spec_.type == KernelType::Rbf) {
    // Coordinates (x, ‖x‖², 1) and (2γz, −γ, −γ‖z‖²): the GEMM gives −γ‖x − z‖² directly.
    spec_.prescaled = true;
    std::vector<double> z(static_cast<std::size_t>(m * (d + 2)));
    for (std::int64_t j = 0; j < m; ++j) {
      for (std::int64_t k = 0; k < d; ++k) z[j * (d + 2) + k] = 2.0 * spec_.gamma * cols_[j * d + k];
      z[j * (d + 2) + d] = -spec_.gamma;
      z[j * (d + 2) + d + 1] = -spec_.gamma * col_norm_[j];
    }
    cols_ = std::move(z);
    augment(rows_);
  }
  device_ = config.device;
  // One tile per host thread (tiles() splits the row tiles over them), one for a device.
  const auto tile_size = static_cast<std::size_t>(config.tile_rows * config.tile_cols);
  const auto host_tiles = static_cast<std::size_t>(std::max({1, kernels::HostExec().concurrency(), config.host_parts}));
  if (!device_) {
    host_cols_.points = in_space<kernels::HostMem>(cols_);
    host_cols_.norm = in_space<kernels::HostMem>(col_norm_);
    host_rows_ = place<kernels::HostMem>(rows_);
    host_tile_ = Kokkos::View<double*, kernels::HostMem>(Kokkos::view_alloc("ksvd::tile", Kokkos::WithoutInitializing), host_tiles * tile_size);
    return;
  }
  if (!device_available())
    throw InputError(std::string("ksvd.device = \"device\": this build has no linalg backend for the Kokkos execution space ") +
                     kernels::Exec::name() + " (only host and CUDA builds have one)");
  device_cols_.points = in_space<kernels::Mem>(cols_);
  device_cols_.norm = in_space<kernels::Mem>(col_norm_);
  device_rows_ = place<kernels::Mem>(rows_);
  device_tile_ = Kokkos::View<double*, kernels::Mem>(Kokkos::view_alloc("ksvd::tile", Kokkos::WithoutInitializing),
                                                     (kernels::kExecIsHost ? host_tiles : 1) * tile_size);
  // Host Exec: the operator's own backend. A device: cuBLAS on the stream of Exec's default
  // instance, the one transform_tile<Exec> runs on.
  if constexpr (kernels::kExecIsHost || !kernels::linalg::kExecHasBackend) device_la_ = &la_;
  else device_la_ = &kernels::linalg::backend_of_space<kernels::Exec>();
}

void KernelOperator::prepare_rows(RowSet& rows, bool exclude_self) const {
  const std::int64_t d = data_.d;
  if (spec_.type == KernelType::Kl) {
    rows.norm.assign(static_cast<std::size_t>(rows.count), 0.0);
    for (std::int64_t i = 0; i < rows.count; ++i)
      for (std::int64_t k = 0; k < d; ++k) {
        const double p = rows.points[i * d + k];
        if (p > 0) rows.norm[i] += p * std::log(p);
      }
    return;
  }
  rows.norm = kernels::row_norms(rows.count, d, rows.points.data());
  if (spec_.type == KernelType::Sne) {
    auto s = kernels::calibrate_sne(la_, rows.count, data_.m, d, rows.points.data(), cols_.data(), rows.norm.data(),
                                    col_norm_.data(), rows.first_global, exclude_self, config_.perplexity);
    rows.beta = std::move(s.beta);
    rows.shift = std::move(s.shift);
    rows.inv_sum = std::move(s.inv_sum);
    rows.perplexity = std::move(s.perplexity);
  }
}

void KernelOperator::augment(RowSet& rows) const {
  const std::int64_t d = data_.d;
  std::vector<double> x(static_cast<std::size_t>(rows.count * (d + 2)));
  for (std::int64_t i = 0; i < rows.count; ++i) {
    std::copy(rows.points.begin() + i * d, rows.points.begin() + (i + 1) * d, x.begin() + i * (d + 2));
    x[i * (d + 2) + d] = rows.norm[i];
    x[i * (d + 2) + d + 1] = 1.0;
  }
  rows.points = std::move(x);
}

RowSet KernelOperator::make_test_rows(const std::vector<double>& points, std::int64_t first_global) const {
  RowSet r;
  r.count = data_.d ? static_cast<std::int64_t>(points.size()) / data_.d : 0;
  r.first_global = first_global;
  r.points = spec_.type == KernelType::Kl ? histograms(points, data_.d, "/Xtest", first_global) : points;
  prepare_rows(r, false);
  if (spec_.prescaled) augment(r);
  return r;
}

void KernelOperator::pass(const RowSet& rows, const double* A, std::int64_t ka, double* out_row, const double* B,
                          std::int64_t kb, double* out_col) {
  const std::int64_t nr = rows.count, m = data_.m;
  if (A) std::fill(out_row, out_row + nr * ka, 0.0);
  if (B) std::fill(out_col, out_col + m * kb, 0.0);
  if (!A) ka = 0;
  if (!B) kb = 0;
  if (ka == 0 && kb == 0) return;
  if (data_.kind == Data::Kind::Dense) {
    if (ka) la_.gemm(false, false, nr, ka, m, 1.0, data_.G.data(), m, A, ka, 0.0, out_row, ka);
    if (kb) la_.gemm(true, false, m, kb, nr, 1.0, data_.G.data(), m, B, kb, 0.0, out_col, kb);
    flops_ += 2.0 * static_cast<double>(nr) * static_cast<double>(m) * static_cast<double>(ka + kb);
    return;
  }
  if (data_.kind == Data::Kind::Csr) {
    const auto& ptr = data_.indptr;
    // One vector on one side (krylov's products): loops without the inner column loop run about
    // 3× faster on a sparse row.
    if (ka == 1 && kb == 0) {
      for (std::int64_t i = 0; i < nr; ++i) {
        double sum = 0;
        for (std::int64_t p = ptr[i]; p < ptr[i + 1]; ++p) sum += data_.values[p] * A[data_.indices[p]];
        out_row[i] = sum;
      }
    } else if (ka == 0 && kb == 1) {
      for (std::int64_t i = 0; i < nr; ++i)
        for (std::int64_t p = ptr[i]; p < ptr[i + 1]; ++p) out_col[data_.indices[p]] += data_.values[p] * B[i];
    } else {
      for (std::int64_t i = 0; i < nr; ++i)
        for (std::int64_t p = ptr[i]; p < ptr[i + 1]; ++p) {
          const std::int64_t j = data_.indices[p];
          const double v = data_.values[p];
          for (std::int64_t c = 0; c < ka; ++c) out_row[i * ka + c] += v * A[j * ka + c];
          for (std::int64_t c = 0; c < kb; ++c) out_col[j * kb + c] += v * B[i * kb + c];
        }
    }
    flops_ += 2.0 * static_cast<double>(data_.values.size()) * static_cast<double>(ka + kb);
    return;
  }
  // Out-of-sample rows are other points than the columns: no self-exclusion (their indices count
  // from the start of the test set, and their SNE constants were calibrated over every column).
  const bool own = &rows == &rows_;
  kernels::KernelSpec spec = spec_;
  spec.exclude_self = spec_.exclude_self && own;
  if (device_) {
    // Test rows go to the device per product (few calls: the scores); the training rows once.
    const Placed<kernels::Mem> placed = own ? device_rows_ : place<kernels::Mem>(rows);
    tiles<kernels::Exec>(spec, placed, nr, rows.first_global, device_cols_, device_tile_, *device_la_, A, ka, out_row, B, kb, out_col);
  } else {
    const Placed<kernels::HostMem> placed = own ? host_rows_ : place<kernels::HostMem>(rows);
    tiles<kernels::HostExec>(spec, placed, nr, rows.first_global, host_cols_, host_tile_, la_, A, ka, out_row, B, kb, out_col);
  }
  const double entries = static_cast<double>(nr) * static_cast<double>(m);
  evaluations_ += entries;
  flops_ += entries * (2.0 * static_cast<double>(data_.d + ka + kb) + 3.0);
}

template <class Space>
void KernelOperator::tiles(const kernels::KernelSpec& spec, const Placed<typename Space::memory_space>& rows, std::int64_t nr, std::int64_t first_global,
                           const Placed<typename Space::memory_space>& cols, const Kokkos::View<double*, typename Space::memory_space>& tile_view,
                           const kernels::linalg::Backend& la, const double* A, std::int64_t ka, double* out_row, const double* B,
                           std::int64_t kb, double* out_col) {
  using M = typename Space::memory_space;
  const std::int64_t m = data_.m, d = dim(), TR = config_.tile_rows, TC = config_.tile_cols;
  const Space exec;
  // A and B into M, the outputs there (already zeroed by pass): in host memory these are the
  // caller's arrays themselves, on a device one copy each way per product.
  const HostView out_row_host(out_row, static_cast<std::size_t>(nr * ka)), out_col_host(out_col, static_cast<std::size_t>(m * kb));
  const Kokkos::View<double*, M> a = Kokkos::create_mirror_view_and_copy(M(), host_view(A, static_cast<std::size_t>(m * ka)));
  const Kokkos::View<double*, M> b_in = Kokkos::create_mirror_view_and_copy(M(), host_view(B, static_cast<std::size_t>(nr * kb)));
  const Kokkos::View<double*, M> o_row = Kokkos::create_mirror_view_and_copy(M(), out_row_host);
  const Kokkos::View<double*, M> o_col = Kokkos::create_mirror_view_and_copy(M(), out_col_host);
  const double* row_norm = rows.norm.size() ? rows.norm.data() : nullptr;
  const bool sne = rows.beta.size() > 0;
  // Row tiles [t0, t1) into the tile buffer `tile`, the column side accumulated into `col`.
  const auto row_tiles = [&](std::int64_t t0, std::int64_t t1, double* tile, double* col) {
    kernels::TileCols tc;
    for (std::int64_t i0 = t0 * TR; i0 < std::min(nr, t1 * TR); i0 += TR) {
      const std::int64_t b = std::min(TR, nr - i0);
      kernels::TileRows tr;
      tr.norm = row_norm ? row_norm + i0 : nullptr;
      if (sne) {
        tr.beta = rows.beta.data() + i0;
        tr.shift = rows.shift.data() + i0;
        tr.inv_sum = rows.inv_sum.data() + i0;
      }
      tr.first_global = first_global + i0;
      for (std::int64_t j0 = 0; j0 < m; j0 += TC) {
        const std::int64_t c = std::min(TC, m - j0);
        la.gemm(false, true, b, c, d, 1.0, rows.points.data() + i0 * d, d, cols.points.data() + j0 * d, d, 0.0, tile, c);
        tc.norm = cols.norm.size() ? cols.norm.data() + j0 : nullptr;
        tc.first_global = j0;
        kernels::transform_tile<Space>(spec, b, c, tile, c, tr, tc);
        if (ka) la.gemm(false, false, b, ka, c, 1.0, tile, c, a.data() + j0 * ka, ka, 1.0, o_row.data() + i0 * ka, ka);
        if (kb) la.gemm(true, false, c, kb, b, 1.0, tile, c, b_in.data() + i0 * kb, kb, 1.0, col + j0 * kb, kb);
      }
    }
  };
  const std::int64_t n_tiles = (nr + TR - 1) / TR, tile_size = TR * TC, col_size = m * kb;
  const std::int64_t parts =
      kernels::kHostSpace<Space>
          ? std::min({static_cast<std::int64_t>(config_.host_parts > 0 ? config_.host_parts : kernels::host_loop_threads()), n_tiles,
                      static_cast<std::int64_t>(tile_view.extent(0)) / tile_size})
          : 1;
  if (parts <= 1) {
    row_tiles(0, n_tiles, tile_view.data(), o_col.data());
  } else {
    // Host threads (docs/usage.md, "Threads and ranks"): part p takes the row tiles
    // [n_tiles p / parts, n_tiles (p + 1) / parts) whole, with its own tile buffer and
    // single-threaded GEMMs (inside the parallel region, host_loop_threads() is 1). Its rows of
    // G A are its own; its Gᵀ B goes to a partial sum (part 0: the output itself), and the
    // partials are added in part order: for a given thread count the bits are fixed.
    if (static_cast<std::int64_t>(col_partials_.size()) < (parts - 1) * col_size)
      col_partials_.resize(static_cast<std::size_t>((parts - 1) * col_size));
    double* partial = col_partials_.data();
    kernels::host_chunks((parts - 1) * col_size, [=](std::int64_t lo, std::int64_t hi) { std::fill(partial + lo, partial + hi, 0.0); });
    Kokkos::parallel_for(
        "ksvd::row_tiles", Kokkos::RangePolicy<kernels::HostExec, Kokkos::Schedule<Kokkos::Static>>(0, parts), [&](std::int64_t p) {
          row_tiles(n_tiles * p / parts, n_tiles * (p + 1) / parts, tile_view.data() + p * tile_size,
                    p == 0 ? o_col.data() : partial + (p - 1) * col_size);
        });
    Kokkos::fence();
    double* out = o_col.data();
    kernels::host_chunks(col_size, [=](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t p = 1; p < parts; ++p)
        for (std::int64_t i = lo; i < hi; ++i) out[i] += partial[(p - 1) * col_size + i];
    });
  }
  // The backend's calls and the tile kernels are ordered on exec; the copies back (none in host
  // memory: same data) follow them there.
  Kokkos::deep_copy(exec, out_row_host, o_row);
  Kokkos::deep_copy(exec, out_col_host, o_col);
  exec.fence();
}

void KernelOperator::enable_centering() {
  const std::int64_t nl = local_rows(), m = data_.m;
  std::vector<double> ones_m(static_cast<std::size_t>(m), 1.0), ones_n(static_cast<std::size_t>(nl), 1.0);
  row_mean_.assign(static_cast<std::size_t>(nl), 0.0);
  col_mean_.assign(static_cast<std::size_t>(m), 0.0);
  centered_ = false;
  apply_g(ones_m.data(), 1, row_mean_.data(), ones_n.data(), 1, col_mean_.data());
  double total = 0;
  for (double& a : row_mean_) {
    total += a;
    a /= static_cast<double>(m);
  }
  for (double& c : col_mean_) c /= static_cast<double>(data_.n);
  grand_mean_ = comm_.allreduce(total, engine::Op::Sum) / (static_cast<double>(data_.n) * static_cast<double>(m));
  centered_ = true;
}

void KernelOperator::enable_symmetrize() {
  if (data_.n != data_.m)
    throw InputError("symmetrisation (G + G')/2 needs a square kernel matrix, but G is " + std::to_string(data_.n) + " x " +
                     std::to_string(data_.m));
  symmetrized_ = true;
}

void KernelOperator::apply(const double* A, std::int64_t ka, double* out_row, const double* B, std::int64_t kb,
                           double* out_col) {
  if (!symmetrized_) return apply_g(A, ka, out_row, B, kb, out_col);
  if (ka + kb == 0) return;
  // One pass of G with k = ka + kb columns on both sides: row side [A | B_all], column side
  // [A_own | B]. Then S A = ½(G A + (Gᵀ A)_own) and S B = ½(G B_all (gathered) + Gᵀ B).
  const std::int64_t nl = local_rows(), m = data_.m, k = ka + kb, first = rows_.first_global;
  std::vector<double> B_all;
  if (kb) B_all = comm_.allgatherv(B, static_cast<std::size_t>(nl * kb));
  std::vector<double> left(static_cast<std::size_t>(m * k)), right(static_cast<std::size_t>(nl * k));
  for (std::int64_t j = 0; j < m; ++j) {
    for (std::int64_t c = 0; c < ka; ++c) left[j * k + c] = A[j * ka + c];
    for (std::int64_t c = 0; c < kb; ++c) left[j * k + ka + c] = B_all[j * kb + c];
  }
  for (std::int64_t i = 0; i < nl; ++i) {
    for (std::int64_t c = 0; c < ka; ++c) right[i * k + c] = A[(first + i) * ka + c];
    for (std::int64_t c = 0; c < kb; ++c) right[i * k + ka + c] = B[i * kb + c];
  }
  std::vector<double> row(static_cast<std::size_t>(nl * k)), col(static_cast<std::size_t>(m * k));
  apply_g(left.data(), k, row.data(), right.data(), k, col.data());
  for (std::int64_t i = 0; i < nl; ++i)
    for (std::int64_t c = 0; c < ka; ++c) out_row[i * ka + c] = 0.5 * (row[i * k + c] + col[(first + i) * k + c]);
  if (!kb) return;
  std::vector<double> g_b(static_cast<std::size_t>(nl * kb));
  for (std::int64_t i = 0; i < nl; ++i)
    for (std::int64_t c = 0; c < kb; ++c) g_b[i * kb + c] = row[i * k + ka + c];
  const auto g_b_all = comm_.allgatherv(g_b);
  for (std::int64_t j = 0; j < m; ++j)
    for (std::int64_t c = 0; c < kb; ++c) out_col[j * kb + c] = 0.5 * (g_b_all[j * kb + c] + col[j * k + ka + c]);
}

void KernelOperator::apply_g(const double* A, std::int64_t ka, double* out_row, const double* B, std::int64_t kb,
                             double* out_col) {
  const std::int64_t nl = local_rows(), m = data_.m;
  // Column side: partial sums of this rank, plus (centred) 1ᵀB and aᵀB, reduced in one call.
  std::vector<double> col(kb ? static_cast<std::size_t>((m + 2) * kb) : 0, 0.0);
  pass(rows_, ka ? A : nullptr, ka, out_row, kb ? B : nullptr, kb, kb ? col.data() : nullptr);
  if (kb) {
    double *ones_b = col.data() + m * kb, *a_b = ones_b + kb;
    if (centered_)
      for (std::int64_t i = 0; i < nl; ++i)
        for (std::int64_t c = 0; c < kb; ++c) {
          ones_b[c] += B[i * kb + c];
          a_b[c] += row_mean_[i] * B[i * kb + c];
        }
    comm_.allreduce(col, engine::Op::Sum);
    for (std::int64_t j = 0; j < m; ++j)
      for (std::int64_t c = 0; c < kb; ++c) {
        double v = col[j * kb + c];
        if (centered_) v += -col_mean_[j] * ones_b[c] - a_b[c] + grand_mean_ * ones_b[c];
        out_col[j * kb + c] = v;
      }
  }
  if (ka && centered_) {
    std::vector<double> ca(static_cast<std::size_t>(ka), 0.0), oa(static_cast<std::size_t>(ka), 0.0);
    for (std::int64_t j = 0; j < m; ++j)
      for (std::int64_t c = 0; c < ka; ++c) {
        ca[c] += col_mean_[j] * A[j * ka + c];
        oa[c] += A[j * ka + c];
      }
    for (std::int64_t i = 0; i < nl; ++i)
      for (std::int64_t c = 0; c < ka; ++c) out_row[i * ka + c] += -ca[c] - row_mean_[i] * oa[c] + grand_mean_ * oa[c];
  }
}

void KernelOperator::apply_test(const RowSet& test, const double* A, std::int64_t ka, double* out) {
  const std::int64_t m = data_.m, nt = test.count;
  if (!centered_) {
    pass(test, A, ka, out, nullptr, 0, nullptr);
    return;
  }
  // One more column of ones gives each new row's mean μ(x): k_c(x) = k(x) − c − μ(x) + g.
  std::vector<double> A1(static_cast<std::size_t>(m * (ka + 1))), o1(static_cast<std::size_t>(nt * (ka + 1)));
  for (std::int64_t j = 0; j < m; ++j) {
    std::copy(A + j * ka, A + (j + 1) * ka, A1.begin() + j * (ka + 1));
    A1[j * (ka + 1) + ka] = 1.0;
  }
  pass(test, A1.data(), ka + 1, o1.data(), nullptr, 0, nullptr);
  std::vector<double> ca(static_cast<std::size_t>(ka), 0.0), oa(static_cast<std::size_t>(ka), 0.0);
  for (std::int64_t j = 0; j < m; ++j)
    for (std::int64_t c = 0; c < ka; ++c) {
      ca[c] += col_mean_[j] * A[j * ka + c];
      oa[c] += A[j * ka + c];
    }
  for (std::int64_t i = 0; i < nt; ++i) {
    const double mu = o1[i * (ka + 1) + ka] / static_cast<double>(m);
    for (std::int64_t c = 0; c < ka; ++c) out[i * ka + c] = o1[i * (ka + 1) + c] - ca[c] - mu * oa[c] + grand_mean_ * oa[c];
  }
}

void KernelOperator::block(const std::vector<std::int64_t>* rows, const std::vector<std::int64_t>* cols, double* out) {
  const std::int64_t nr = rows ? static_cast<std::int64_t>(rows->size()) : local_rows();
  const std::int64_t nc = cols ? static_cast<std::int64_t>(cols->size()) : data_.m;
  auto row_at = [&](std::int64_t i) { return rows ? (*rows)[i] : i; };
  auto col_at = [&](std::int64_t j) { return cols ? (*cols)[j] : j; };
  if (data_.kind == Data::Kind::Dense) {
    for (std::int64_t i = 0; i < nr; ++i)
      for (std::int64_t j = 0; j < nc; ++j) out[i * nc + j] = data_.G[row_at(i) * data_.m + col_at(j)];
    return;
  }
  if (data_.kind == Data::Kind::Csr) {
    std::vector<std::int64_t> where(static_cast<std::size_t>(data_.m), -1);
    for (std::int64_t j = 0; j < nc; ++j) where[col_at(j)] = j;
    std::fill(out, out + nr * nc, 0.0);
    for (std::int64_t i = 0; i < nr; ++i) {
      const std::int64_t r = row_at(i);
      for (std::int64_t p = data_.indptr[r]; p < data_.indptr[r + 1]; ++p)
        if (where[data_.indices[p]] >= 0) out[i * nc + where[data_.indices[p]]] += data_.values[p];
    }
    return;
  }
  const std::int64_t d = dim();
  std::vector<double> xp(static_cast<std::size_t>(nr * d)), zp(static_cast<std::size_t>(nc * d));
  std::vector<double> xn(static_cast<std::size_t>(nr)), bt, sh, inv, zn(static_cast<std::size_t>(nc));
  std::vector<std::int64_t> gi(static_cast<std::size_t>(nr)), gj(static_cast<std::size_t>(nc));
  const bool sne = !rows_.beta.empty();
  if (sne) {
    bt.resize(xn.size());
    sh.resize(xn.size());
    inv.resize(xn.size());
  }
  for (std::int64_t i = 0; i < nr; ++i) {
    const std::int64_t r = row_at(i);
    std::copy(rows_.points.begin() + r * d, rows_.points.begin() + (r + 1) * d, xp.begin() + i * d);
    xn[i] = rows_.norm[r];
    gi[i] = rows_.first_global + r;
    if (sne) {
      bt[i] = rows_.beta[r];
      sh[i] = rows_.shift[r];
      inv[i] = rows_.inv_sum[r];
    }
  }
  for (std::int64_t j = 0; j < nc; ++j) {
    const std::int64_t c = col_at(j);
    std::copy(cols_.begin() + c * d, cols_.begin() + (c + 1) * d, zp.begin() + j * d);
    if (!col_norm_.empty()) zn[j] = col_norm_[c];
    gj[j] = c;
  }
  if (nr == 0 || nc == 0) return;
  la_.gemm(false, true, nr, nc, d, 1.0, xp.data(), d, zp.data(), d, 0.0, out, nc);
  kernels::TileRows tr{xn.data(), sne ? bt.data() : nullptr, sne ? sh.data() : nullptr, sne ? inv.data() : nullptr, gi.data(), 0};
  kernels::TileCols tc{zn.data(), 0, gj.data()};
  kernels::transform_tile(spec_, nr, nc, out, nc, tr, tc);
  evaluations_ += static_cast<double>(nr) * static_cast<double>(nc);
  flops_ += static_cast<double>(nr) * static_cast<double>(nc) * (2.0 * static_cast<double>(data_.d) + 3.0);
}

}  // namespace saddle::apps::ksvd
