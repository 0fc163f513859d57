#include "engine/compressed_exchange.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/error.hpp"
#include "engine/half.hpp"
#include "engine/pipeline.hpp"
#include "kernels/host_loops.hpp"
#if SADDLE_HAVE_CUDA
#include "engine/device_comm.hpp"
#endif

namespace saddle::engine {

namespace q = kernels::quant;

namespace {
using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }
}  // namespace

CompressedExchange::CompressedExchange(const Comm& comm, const QuantizerOptions& o, const q::Layout& layout,
                                       std::uint64_t seed, StagePart part)
    : comm_(comm), part_(std::move(part)), opt_(o), compressed_(o.compressed), n_(layout.n()), layers_(layout.offsets),
      rng_(seed, "quantize"), requant_rng_(seed, "requantize") {
  stats_.layer_error_sq.assign(layout.blocks(), 0.0);
  stats_.layer_norm_sq.assign(layout.blocks(), 0.0);
  if (!compressed_) return;
  cb_ = q::make_codebook(o.codebook, layout);
  adaptive_ = o.codebook.adaptive();
  huffman_ = o.codebook.huffman();
  if (adaptive_ || huffman_) hist_ = std::make_unique<q::LevelHistogram>(cb_.s, o.codebook.exp_base);
  // The level sets of the parts that start before this one come first.
  const std::int64_t mine = cb_.layout.ntypes;
  total_types_ = mine;
  if (part_.split()) {
    const auto firsts = part_.stages.allgather(part_.offset), counts = part_.stages.allgather(mine);
    total_types_ = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      total_types_ += counts[r];
      if (firsts[r] < part_.offset) first_type_ += counts[r];
    }
  }
  const int K = comm_.size();
  reduce_scatter_ = o.collective == ExchangeCollective::ReduceScatter && K > 1;
  if (!reduce_scatter_) return;
  // Segments: balanced cuts of the coordinates, or of the buckets (so that every bucket, keyed by
  // its place in the part, lies in one segment and rounds as it would whole).
  const bool bucket = cb_.scheme == q::Scheme::Bucket;
  const std::int64_t units = bucket ? cb_.buckets() : n_;
  for (int j = 0; j <= K; ++j) {
    const std::int64_t b = j == K ? units : block_rows(units, j, K).begin;
    seg_.push_back(bucket ? std::min(n_, b * cb_.bucket) : b);
  }
  // Each segment's pieces: the codebook's blocks intersected with it, each keeping its type.
  for (int j = 0; j < K; ++j) {
    const std::int64_t a = seg_[static_cast<std::size_t>(j)], b = seg_[static_cast<std::size_t>(j) + 1];
    q::Layout l;
    l.ntypes = cb_.layout.ntypes;
    for (std::size_t m = 0; m < cb_.layout.blocks(); ++m) {
      const std::int64_t lo = std::max(a, cb_.layout.offsets[m]), hi = std::min(b, cb_.layout.offsets[m + 1]);
      if (lo >= hi) continue;
      l.offsets.push_back(hi - a);
      l.types.push_back(cb_.layout.types[m]);
    }
    seg_layout_.push_back(std::move(l));
  }
  seg_q_.resize(static_cast<std::size_t>(K));
}

const q::Codebook& CompressedExchange::segment_codebook(int j) {
  if (seg_cb_stale_) {
    seg_cb_ = cb_;
    seg_cb_stale_ = false;
  }
  seg_cb_.layout = seg_layout_[static_cast<std::size_t>(j)];
  return seg_cb_;
}

// Per-type statistics of this rank's normalised coordinates, summed over ranks, refit the levels
// (adaptive) and the Huffman tables. reduce_scatter normalises each segment's piece of a block by
// the piece's norm, so its statistics are the pieces' (what the first rounding quantises).
void CompressedExchange::refit(const double* v) {
  std::vector<std::vector<double>> stats;
  if (reduce_scatter_) {
    stats.assign(static_cast<std::size_t>(cb_.layout.ntypes), hist_->empty_stats());
    for (int j = 0; j < comm_.size(); ++j) q::add_statistics(v + seg_[static_cast<std::size_t>(j)], segment_codebook(j), *hist_, stats);
  } else {
    stats = q::type_statistics(v, cb_, *hist_);
  }
  std::vector<double> flat;
  for (const auto& s : stats) flat.insert(flat.end(), s.begin(), s.end());
  comm_.allreduce(flat, Op::Sum);
  const auto K = static_cast<std::uint64_t>(comm_.size());
  stats_.bytes_total += K * flat.size() * sizeof(double);
  stats_.received_bytes += 2 * (K - 1) * flat.size() * sizeof(double) / K;
  const std::size_t per = hist_->empty_stats().size();
  for (std::size_t t = 0; t < stats.size(); ++t)
    stats[t].assign(flat.begin() + static_cast<std::ptrdiff_t>(t * per), flat.begin() + static_cast<std::ptrdiff_t>((t + 1) * per));
  q::refit_codebook(cb_, *hist_, stats, adaptive_, huffman_);
  seg_cb_stale_ = true;
  dcb_stale_ = true;
}

bool CompressedExchange::refit_due(std::uint32_t round) const {
  return (adaptive_ || huffman_) && opt_.adapt_every > 0 && round % static_cast<std::uint32_t>(opt_.adapt_every) == 0;
}

void CompressedExchange::maybe_refit(const double* v, std::uint32_t round) {
  if (!refit_due(round)) return;
  bool finite = true;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n_); ++i) finite &= std::isfinite(v[i]);
  if (!comm_.allreduce(static_cast<int>(finite), Op::Min)) throw std::invalid_argument("non-finite operator value before a refit");
  refit(v);
}

void CompressedExchange::exchange(const double* v, double* avg, double* own, std::uint32_t round) {
  const auto t0 = clock_type::now();
  stats_.received_bytes = 0;
  Io io;
  io.v = v;
  io.avg = avg;
  io.own = own;
  if (!compressed_) exchange_plain(v, avg, own);
  else if (reduce_scatter_) exchange_reduce_scatter(io, round);
  else exchange_allgather(io, round);
  stats_.exposed += since(t0);
}

void CompressedExchange::exchange(const DeviceVector& v, const DeviceArray& avg, const DeviceArray& own, std::uint32_t round) {
  for (const std::size_t e : {v.extent(0), avg.extent(0), own.extent(0)})
    if (static_cast<std::int64_t>(e) != n_)
      throw std::invalid_argument("CompressedExchange::exchange: views of " + std::to_string(n_) + " elements expected, not " + std::to_string(e));
  const auto t0 = clock_type::now();
  stats_.received_bytes = 0;
  if (!compressed_) {
    exchange_plain_device(v, avg, own);
  } else {
    // Host scratch for the steps that stay on the host (error statistics read own there).
    const auto n = static_cast<std::size_t>(n_);
    host_v_.resize(n);
    host_avg_.resize(n);
    host_own_.resize(n);
    host_v_ready_ = false;
    Io io;
    io.avg = host_avg_.data();
    io.own = host_own_.data();
    io.dv = &v;
    io.davg = &avg;
    io.down = &own;
    if (reduce_scatter_) exchange_reduce_scatter(io, round);
    else exchange_allgather(io, round);
  }
  stats_.exposed += since(t0);
}

namespace {
template <class T>
using HostUnmanaged = Kokkos::View<T*, kernels::HostMem, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
}  // namespace

// The view exchange's element-wise kernels, as free functions: nvcc refuses an extended lambda in
// a private member function.
namespace exchange_kernels {
using Vector = Kokkos::View<const double*, kernels::Mem>;
using Array = Kokkos::View<double*, kernels::Mem>;

void divide(const Array& x, double k) {
  Kokkos::parallel_for("saddle::exchange::divide", kernels::exec_range(static_cast<std::int64_t>(x.extent(0))),
                       KOKKOS_LAMBDA(const std::int64_t i) { x(i) /= k; });
}

// w = float(v), own = double(w).
void to_float(const Vector& v, const Kokkos::View<float*, kernels::Mem>& w, const Array& own) {
  Kokkos::parallel_for("saddle::exchange::to_float", kernels::exec_range(static_cast<std::int64_t>(v.extent(0))),
                       KOKKOS_LAMBDA(const std::int64_t i) {
                         w(i) = static_cast<float>(v(i));
                         own(i) = static_cast<double>(w(i));
                       });
}

void mean_float(const Kokkos::View<const float*, kernels::Mem>& w, const Array& avg, double k) {
  Kokkos::parallel_for("saddle::exchange::mean_float", kernels::exec_range(static_cast<std::int64_t>(w.extent(0))),
                       KOKKOS_LAMBDA(const std::int64_t i) { avg(i) = static_cast<double>(w(i)) / k; });
}

// w = half(v / k), own = k double(w) (exact: 11 significant bits times an int).
void to_half(const Vector& v, const Kokkos::View<std::uint16_t*, kernels::Mem>& w, const Array& own, double k) {
  Kokkos::parallel_for("saddle::exchange::to_half", kernels::exec_range(static_cast<std::int64_t>(v.extent(0))),
                       KOKKOS_LAMBDA(const std::int64_t i) {
                         w(i) = half_from_double(v(i) / k);
                         own(i) = half_to_double(w(i)) * k;
                       });
}

void from_half(const Kokkos::View<const std::uint16_t*, kernels::Mem>& w, const Array& avg) {
  Kokkos::parallel_for("saddle::exchange::from_half", kernels::exec_range(static_cast<std::int64_t>(w.extent(0))),
                       KOKKOS_LAMBDA(const std::int64_t i) { avg(i) = half_to_double(w(i)); });
}
}  // namespace exchange_kernels

const double* CompressedExchange::host_v(Io& io) {
  if (!io.dv) return io.v;
  if (!host_v_ready_) {
    Kokkos::deep_copy(HostUnmanaged<double>(host_v_.data(), host_v_.size()), *io.dv);
    host_v_ready_ = true;
  }
  return host_v_.data();
}

const double* CompressedExchange::host_own(Io& io) {
  if (io.down) Kokkos::deep_copy(HostUnmanaged<double>(io.own, static_cast<std::size_t>(n_)), *io.down);
  return io.own;
}

const q::DeviceCodebook<>& CompressedExchange::device_codebook(int which, const q::Codebook& cb) {
  if (dcb_stale_) {
    dcb_.clear();
    dcb_built_.clear();
    dcb_stale_ = false;
  }
  const auto w = static_cast<std::size_t>(which);
  if (dcb_.size() <= w) {
    dcb_.resize(w + 1);
    dcb_built_.resize(w + 1, 0);
  }
  if (!dcb_built_[w]) {  // built once per codebook version (a few small copies to the device)
    dcb_[w] = q::device_codebook<kernels::Exec>(cb);
    dcb_built_[w] = 1;
  }
  return dcb_[w];
}

void CompressedExchange::quantise(Io& io, std::int64_t a, int which, const q::Codebook& cb, const kernels::CounterRng& rng,
                                  std::uint32_t round, std::uint32_t worker, q::Quantized& out, std::uint64_t first) {
  if (!io.dv) {
    q::quantize(io.v + a, cb, rng, round, worker, out, first);
    return;
  }
  const q::DeviceCodebook<>& d = device_codebook(which, cb);
  const std::int64_t len = cb.n(), nscales = d.scales();
  if (static_cast<std::int64_t>(dq_.extent(0)) < len) dq_ = Kokkos::View<std::int16_t*, kernels::Mem>("saddle::exchange::q", static_cast<std::size_t>(len));
  if (static_cast<std::int64_t>(dscale_.extent(0)) < nscales)
    dscale_ = Kokkos::View<double*, kernels::Mem>("saddle::exchange::scales", static_cast<std::size_t>(nscales));
  const auto part = Kokkos::subview(*io.dv, std::make_pair(a, a + len));
  const Kokkos::View<std::int16_t*, kernels::Mem> qv(dq_.data(), static_cast<std::size_t>(len));
  const Kokkos::View<double*, kernels::Mem> sv(dscale_.data(), static_cast<std::size_t>(nscales));
  try {
    q::block_scales<kernels::Exec>(part, d, sv);
  } catch (const std::invalid_argument&) {
    // The host quantiser's message (the device's names the block, not the value).
    const double* hv = host_v(io) + a;
    for (std::int64_t i = 0; i < len; ++i)
      if (!std::isfinite(hv[i]))
        throw std::invalid_argument("quantize: non-finite value " + std::to_string(hv[i]) + " at coordinate " + std::to_string(i));
    throw;
  }
  q::quantize_indices<kernels::Exec>(part, d, sv, rng, round, worker, first, qv);
  out.q.resize(static_cast<std::size_t>(len));
  out.scale.resize(static_cast<std::size_t>(nscales));
  Kokkos::deep_copy(HostUnmanaged<std::int16_t>(out.q.data(), out.q.size()), qv);
  Kokkos::deep_copy(HostUnmanaged<double>(out.scale.data(), out.scale.size()), sv);
}

void CompressedExchange::dequantise(Io& io, const q::Quantized& x, int which, const q::Codebook& cb, std::int64_t a, bool to_avg,
                                    bool accumulate) {
  if (!io.dv) {
    q::dequantize(x, cb, (to_avg ? io.avg : io.own) + a, accumulate);
    return;
  }
  const q::DeviceCodebook<>& d = device_codebook(which, cb);
  const std::int64_t len = cb.n(), nscales = d.scales();
  if (static_cast<std::int64_t>(x.q.size()) != len || static_cast<std::int64_t>(x.scale.size()) != nscales)
    throw std::logic_error("CompressedExchange: a decoded vector does not fit its codebook");
  if (static_cast<std::int64_t>(dq_.extent(0)) < len) dq_ = Kokkos::View<std::int16_t*, kernels::Mem>("saddle::exchange::q", static_cast<std::size_t>(len));
  if (static_cast<std::int64_t>(dscale_.extent(0)) < nscales)
    dscale_ = Kokkos::View<double*, kernels::Mem>("saddle::exchange::scales", static_cast<std::size_t>(nscales));
  const Kokkos::View<std::int16_t*, kernels::Mem> qv(dq_.data(), static_cast<std::size_t>(len));
  const Kokkos::View<double*, kernels::Mem> sv(dscale_.data(), static_cast<std::size_t>(nscales));
  Kokkos::deep_copy(qv, HostUnmanaged<const std::int16_t>(x.q.data(), x.q.size()));
  Kokkos::deep_copy(sv, HostUnmanaged<const double>(x.scale.data(), x.scale.size()));
  const DeviceArray out = Kokkos::subview(to_avg ? *io.davg : *io.down, std::make_pair(a, a + len));
  q::dequantize<kernels::Exec>(qv, sv, d, out, accumulate);
}

void CompressedExchange::divide_avg(Io& io, double K) {
  if (!io.dv) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(n_); ++i) io.avg[i] /= K;
    return;
  }
  exchange_kernels::divide(*io.davg, K);
}

#if SADDLE_HAVE_CUDA
DeviceComm& CompressedExchange::device_comm() {
  if (!device_comm_) {
    device_comm_ = std::make_shared<DeviceComm>(comm_, resolve_device_collectives(comm_, device_collectives_));
    // DeviceComm selects the device by the rank on the node within comm_; the views live on
    // Kokkos's device. Sent elsewhere they would be another device's pointers: refused, on
    // every rank alike.
    const int kokkos_device = Kokkos::Cuda().cuda_device(), mine = device_comm_->device();
    comm_.agree([&] {
      if (mine != kokkos_device)
        throw std::runtime_error("CompressedExchange: the device collectives selected CUDA device " + std::to_string(mine) +
                                 ", Kokkos runs on device " + std::to_string(kokkos_device) +
                                 " (one GPU per task, or Kokkos's device mapped by the node-local rank, avoids this)");
    });
  }
  return *device_comm_;
}
#endif

template <class T>
void CompressedExchange::device_allreduce(T* data, std::size_t n) {
#if SADDLE_HAVE_CUDA
  device_comm().allreduce(data, n, Op::Sum);
#else
  // Mem is host memory: the views' data go to MPI as they are.
  comm_.allreduce(data, n, Op::Sum);
#endif
}

void CompressedExchange::device_allreduce_half(std::uint16_t* data, std::size_t n) {
#if SADDLE_HAVE_CUDA
  device_comm().allreduce_half_sum(data, n);
#else
  comm_.allreduce_half_sum(data, n);
#endif
}

// exchange_plain on views: the same conversions, element by element on Exec, and the same sums.
void CompressedExchange::exchange_plain_device(const DeviceVector& v, const DeviceArray& avg, const DeviceArray& own) {
  const int K = comm_.size();
  const auto n = static_cast<std::size_t>(n_);
  const auto t0 = clock_type::now();
  if (K == 1) {
    Kokkos::deep_copy(avg, v);
    Kokkos::deep_copy(own, v);
  } else {
    const double k = K;
    if (opt_.precision == WirePrecision::Float64) {
      Kokkos::deep_copy(avg, v);
      Kokkos::deep_copy(own, v);
      kernels::Exec().fence();  // the transport reads avg outside Kokkos
      device_allreduce(avg.data(), n);
      exchange_kernels::divide(avg, k);
    } else if (opt_.precision == WirePrecision::Float32) {
      if (dwire32_.extent(0) != n) dwire32_ = Kokkos::View<float*, kernels::Mem>("saddle::exchange::wire32", n);
      exchange_kernels::to_float(v, dwire32_, own);
      kernels::Exec().fence();
      device_allreduce(dwire32_.data(), n);
      exchange_kernels::mean_float(dwire32_, avg, k);
    } else {
      if (dwire16_.extent(0) != n) dwire16_ = Kokkos::View<std::uint16_t*, kernels::Mem>("saddle::exchange::wire16", n);
      exchange_kernels::to_half(v, dwire16_, own, k);
      kernels::Exec().fence();
      device_allreduce_half(dwire16_.data(), n);
      exchange_kernels::from_half(dwire16_, avg);
    }
    kernels::Exec().fence();
  }
  stats_.exchange += since(t0);
  count_allreduce();
}

namespace {
std::size_t wire_bytes(WirePrecision p) {
  return p == WirePrecision::Float64 ? sizeof(double) : p == WirePrecision::Float32 ? sizeof(float) : sizeof(std::uint16_t);
}
}  // namespace

void CompressedExchange::to_wire(const double* v, double* own, std::int64_t lo, std::int64_t hi) {
  const double K = comm_.size();
  const auto b = static_cast<std::size_t>(lo), e = static_cast<std::size_t>(hi);
  if (opt_.precision == WirePrecision::Float64) {
    kernels::host_copy(v + b, hi - lo, own + b);
  } else if (opt_.precision == WirePrecision::Float32) {
    wire32_.resize(static_cast<std::size_t>(n_));
    for (std::size_t i = b; i < e; ++i) {
      wire32_[i] = static_cast<float>(v[i]);
      own[i] = static_cast<double>(wire32_[i]);
    }
  } else {
    wire16_.resize(static_cast<std::size_t>(n_));
    for (std::size_t i = b; i < e; ++i) {
      wire16_[i] = half_from_double(v[i] / K);
      own[i] = half_to_double(wire16_[i]) * K;  // exact: 11 significant bits times an int
    }
  }
}

// avg: float64 sums in place; float32 and float16 sums in the wire buffers, read back here.
void CompressedExchange::exchange_plain(const double* v, double* avg, double* own) {
  const int K = comm_.size();
  const auto n = static_cast<std::size_t>(n_);
  const auto t0 = clock_type::now();
  if (K == 1) {
    // Nothing on the wire, nothing rounded (x / 1 == x, so no division either).
    kernels::host_copy(v, n_, avg);
    kernels::host_copy(v, n_, own);
  } else {
    if (opt_.precision == WirePrecision::Float64) kernels::host_copy(v, n_, avg);
    to_wire(v, own, 0, n_);
    if (opt_.precision == WirePrecision::Float64) comm_.allreduce(avg, n, Op::Sum);
    else if (opt_.precision == WirePrecision::Float32) comm_.allreduce(wire32_.data(), n, Op::Sum);
    else comm_.allreduce_half_sum(wire16_.data(), n);
    read_sums(avg, avg);
  }
  stats_.exchange += since(t0);
  count_allreduce();
}

void CompressedExchange::read_sums(const double* sum64, double* avg) const {
  const double K = comm_.size();
  for (std::size_t i = 0; i < static_cast<std::size_t>(n_); ++i)
    avg[i] = opt_.precision == WirePrecision::Float64 ? sum64[i] / K
             : opt_.precision == WirePrecision::Float32 ? static_cast<double>(wire32_[i]) / K
                                                         : half_to_double(wire16_[i]);
}

void CompressedExchange::count_allreduce() {
  const auto K = static_cast<std::uint64_t>(comm_.size()), n = static_cast<std::uint64_t>(n_);
  const std::uint64_t bytes = wire_bytes(opt_.precision);
  stats_.round_bytes = K * n * bytes;
  stats_.received_bytes = 2 * (K - 1) * n * bytes / K;
  stats_.bytes_total += stats_.round_bytes;
}

void CompressedExchange::begin(std::uint32_t round) {
  round_ = round;
  overlapping_ = overlaps();
  posted_.clear();
  requests_.clear();
  if (!overlapping_) return;
  const auto n = static_cast<std::size_t>(n_);
  own_wire_.resize(n);
  // float64 is summed in a buffer of its own, so that avg stays free until finish.
  if (opt_.precision == WirePrecision::Float64) wire64_.resize(n);
  // A user op is a local object: created per round, freed once its operations are complete.
  if (opt_.precision == WirePrecision::Float16) half_op_ = Comm::make_half_sum_op();
}

void CompressedExchange::start(const double* v, std::int64_t lo, std::int64_t hi) {
  if (opt_.precision == WirePrecision::Float64) std::copy(v + lo, v + hi, wire64_.begin() + lo);
  to_wire(v, own_wire_.data(), lo, hi);
  const auto len = static_cast<std::size_t>(hi - lo);
  if (opt_.precision == WirePrecision::Float64) requests_.push_back(comm_.iallreduce_sum(wire64_.data() + lo, len));
  else if (opt_.precision == WirePrecision::Float32) requests_.push_back(comm_.iallreduce_sum(wire32_.data() + lo, len));
  else requests_.push_back(comm_.iallreduce_sum(wire16_.data() + lo, len, half_op_));
  posted_.emplace_back(lo, hi);
}

void CompressedExchange::post(const double* v, std::int64_t lo, std::int64_t hi) {
  if (!overlapping_ || hi <= lo) return;
  const auto t0 = clock_type::now();
  start(v, lo, hi);
  // Drive the transfers in flight (MPI progresses non-blocking collectives inside MPI calls).
  int done = 0;
  MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE);
  const double dt = since(t0);
  stats_.exchange += dt;
  stats_.exposed += dt;
}

void CompressedExchange::finish(const double* v, double* avg, double* own) {
  if (!overlapping_) {
    exchange(v, avg, own, round_);
    return;
  }
  overlapping_ = false;
  const auto t0 = clock_type::now();
  stats_.received_bytes = 0;
  // The ranges never posted, in order (every rank posted the same ranges).
  auto posted = posted_;
  std::sort(posted.begin(), posted.end());
  std::int64_t at = 0;
  for (const auto& [lo, hi] : posted) {
    if (lo < at) throw std::logic_error("CompressedExchange::post: overlapping ranges");
    if (lo > at) start(v, at, lo);
    at = hi;
  }
  if (at < n_) start(v, at, n_);
  MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  requests_.clear();
  if (half_op_ != MPI_OP_NULL) MPI_Op_free(&half_op_);
  std::copy(own_wire_.begin(), own_wire_.end(), own);
  read_sums(wire64_.data(), avg);
  count_allreduce();
  const double dt = since(t0);
  stats_.exchange += dt;
  stats_.exposed += dt;
}

namespace {
// The message of a rank that could not quantise: the quantiser names coordinates of the block or
// segment it was given, so a non-finite value is named by its index in the caller's vector.
std::string quantise_failure(const std::invalid_argument& e, const double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return "quantize: non-finite value " + std::to_string(v[i]) + " at coordinate " + std::to_string(i);
  return e.what();
}

[[noreturn]] void throw_failed_rank(int k, int me, const std::string& failure, const std::string& others) {
  throw CollectiveError(k == me && !failure.empty() ? failure + " (rank " + std::to_string(k) + ")" : "rank " + std::to_string(k) + " " + others,
                        kExitFailure, k);
}

const char* const kCouldNotQuantise = "could not quantise its vector (non-finite values: the iteration diverged)";
}  // namespace

void CompressedExchange::layer_errors(const double* v, const double* own) {
  stats_.error_sq = stats_.norm_sq = 0;
  for (std::size_t m = 0; m + 1 < layers_.size(); ++m) {
    double e = 0, s = 0;
    for (auto i = static_cast<std::size_t>(layers_[m]); i < static_cast<std::size_t>(layers_[m + 1]); ++i) {
      e += (own[i] - v[i]) * (own[i] - v[i]);
      s += v[i] * v[i];
    }
    stats_.layer_error_sq[m] = e;
    stats_.layer_norm_sq[m] = s;
    stats_.error_sq += e;
    stats_.norm_sq += s;
  }
}

void CompressedExchange::exchange_allgather(Io& io, std::uint32_t round) {
  const int K = comm_.size();
  // A rank whose vector cannot be quantised sends an empty payload, so every rank learns of it
  // from the gather instead of waiting for it in a collective.
  std::string failure;
  payload_.clear();
  try {
    if (refit_due(round)) maybe_refit(host_v(io), round);
    auto t0 = clock_type::now();
    quantise(io, 0, 0, cb_, rng_, round, static_cast<std::uint32_t>(comm_.rank()), mine_, static_cast<std::uint64_t>(part_.offset));
    stats_.quantize += since(t0);
    t0 = clock_type::now();
    q::encode(mine_, cb_, payload_);
    stats_.encode += since(t0);
  } catch (const std::invalid_argument& e) {
    failure = e.what();
    payload_.clear();
  }
  auto t0 = clock_type::now();
  std::vector<std::size_t> counts;
  const std::vector<std::uint8_t> all = comm_.allgatherv(payload_, &counts);
  stats_.exchange += since(t0);
  for (int k = 0; k < K; ++k)
    if (counts[static_cast<std::size_t>(k)] == 0) throw_failed_rank(k, comm_.rank(), failure, kCouldNotQuantise);
  t0 = clock_type::now();
  std::size_t offset = 0;
  stats_.round_bytes = 0;
  for (int k = 0; k < K; ++k) {
    const std::size_t c = counts[static_cast<std::size_t>(k)];
    const std::uint8_t* p = all.data() + offset;
    // This rank's own payload decodes to what it encoded: its indices are used as they are.
    if (k != comm_.rank()) {
      try {
        q::decode(p, c, cb_, theirs_);
      } catch (const q::PayloadError& e) {
        throw CollectiveError(std::string(e.what()) + " (from rank " + std::to_string(k) + ")", kExitFailure, k);
      }
    }
    dequantise(io, k == comm_.rank() ? mine_ : theirs_, 0, cb_, 0, true, k > 0);
    offset += c;
    stats_.round_bytes += c;
  }
  divide_avg(io, K);
  dequantise(io, mine_, 0, cb_, 0, false);
  if (io.dv) kernels::Exec().fence();
  stats_.decode += since(t0);
  stats_.received_bytes += stats_.round_bytes - counts[static_cast<std::size_t>(comm_.rank())];
  if (opt_.error_statistics) {
    layer_errors(host_v(io), host_own(io));
    stats_.expected_sq = q::exact_variance(host_v(io), cb_);
  }
  stats_.requant_error_sq = stats_.requant_expected_sq = 0;
  stats_.bytes_total += stats_.round_bytes;
}

void CompressedExchange::exchange_reduce_scatter(Io& io, std::uint32_t round) {
  const int K = comm_.size(), me = comm_.rank();
  const auto n = static_cast<std::size_t>(n_);
  const auto seg = [&](int j) { return static_cast<std::size_t>(seg_[static_cast<std::size_t>(j)]); };
  // Phase 1: every segment of this rank's vector quantised and encoded, segment j's payload for
  // rank j. A rank that cannot quantise sends no bytes to anyone, so every rank learns of it from
  // the alltoallv's counts.
  std::string failure;
  payload_.clear();
  std::vector<std::size_t> send_counts(static_cast<std::size_t>(K), 0);
  try {
    if (refit_due(round)) maybe_refit(host_v(io), round);
    auto t0 = clock_type::now();
    for (int j = 0; j < K; ++j)
      quantise(io, seg_[static_cast<std::size_t>(j)], j, segment_codebook(j), rng_, round, static_cast<std::uint32_t>(me),
               seg_q_[static_cast<std::size_t>(j)], static_cast<std::uint64_t>(part_.offset) + seg(j));
    stats_.quantize += since(t0);
    t0 = clock_type::now();
    for (int j = 0; j < K; ++j) send_counts[static_cast<std::size_t>(j)] = q::encode(seg_q_[static_cast<std::size_t>(j)], segment_codebook(j), payload_);
    stats_.encode += since(t0);
  } catch (const std::invalid_argument& e) {
    failure = quantise_failure(e, host_v(io), n);
    payload_.clear();
    send_counts.assign(static_cast<std::size_t>(K), 0);
  }
  auto t0 = clock_type::now();
  std::vector<std::size_t> counts;
  const std::vector<std::uint8_t> mine = comm_.alltoallv(payload_, send_counts, &counts);
  stats_.exchange += since(t0);
  for (int k = 0; k < K; ++k)
    if (counts[static_cast<std::size_t>(k)] == 0) throw_failed_rank(k, me, failure, kCouldNotQuantise);

  // Phase 2: this rank's segment, averaged in rank order and re-quantised. A failure here (a
  // damaged payload) is this rank's alone: it sends an empty segment so that every rank fails.
  std::string failure2;
  std::vector<std::uint8_t> requant_payload;
  const std::size_t a = seg(me), len = seg(me + 1) - a;
  std::uint64_t phase1_bytes = 0;
  partial_.assign(len, 0.0);
  try {
    const q::Codebook& cb = segment_codebook(me);
    t0 = clock_type::now();
    std::size_t offset = 0;
    for (int k = 0; k < K; ++k) {
      const std::size_t c = counts[static_cast<std::size_t>(k)];
      try {
        q::decode(mine.data() + offset, c, cb, theirs_);
      } catch (const q::PayloadError& e) {
        throw std::invalid_argument(std::string(e.what()) + " (segment " + std::to_string(me) + " from rank " + std::to_string(k) + ")");
      }
      q::dequantize(theirs_, cb, partial_.data(), k > 0);
      offset += c;
      phase1_bytes += c;
    }
    for (double& x : partial_) x /= K;
    stats_.decode += since(t0);
    t0 = clock_type::now();
    q::quantize(partial_.data(), cb, requant_rng_, round, 0u, requant_, static_cast<std::uint64_t>(part_.offset) + a);
    stats_.quantize += since(t0);
    t0 = clock_type::now();
    q::encode(requant_, cb, requant_payload);
    stats_.encode += since(t0);
  } catch (const std::invalid_argument& e) {
    failure2 = e.what();
    requant_payload.clear();
  }
  t0 = clock_type::now();
  std::vector<std::size_t> counts2;
  const std::vector<std::uint8_t> all = comm_.allgatherv(requant_payload, &counts2);
  stats_.exchange += since(t0);
  for (int k = 0; k < K; ++k)
    if (counts2[static_cast<std::size_t>(k)] == 0) throw_failed_rank(k, me, failure2, "could not reduce its segment (a damaged payload)");

  // Every segment decoded into avg (the same bytes on every rank, so the same bits or the same
  // error), this rank's own segments into own.
  t0 = clock_type::now();
  std::size_t offset = 0;
  std::uint64_t phase2_bytes = 0;
  for (int j = 0; j < K; ++j) {
    const std::size_t c = counts2[static_cast<std::size_t>(j)];
    const q::Codebook& cb = segment_codebook(j);
    try {
      q::decode(all.data() + offset, c, cb, theirs_);
    } catch (const q::PayloadError& e) {
      throw CollectiveError(std::string(e.what()) + " (segment " + std::to_string(j) + " from rank " + std::to_string(j) + ")", kExitFailure, j);
    }
    dequantise(io, theirs_, j, cb, seg_[static_cast<std::size_t>(j)], true);
    dequantise(io, seg_q_[static_cast<std::size_t>(j)], j, cb, seg_[static_cast<std::size_t>(j)], false);
    offset += c;
    phase2_bytes += c;
  }
  if (io.dv) kernels::Exec().fence();
  stats_.decode += since(t0);

  if (opt_.error_statistics) {
    const double* v = host_v(io);
    layer_errors(v, host_own(io));
    stats_.expected_sq = 0;
    for (int j = 0; j < K; ++j) stats_.expected_sq += q::exact_variance(v + seg(j), segment_codebook(j));
    stats_.requant_error_sq = 0;
    // This rank's segment of avg: the re-quantised partial average (on the host here, dequantised
    // here again for a device Io, whose avg is on the device).
    std::vector<double> mine_avg(len);
    if (io.dv) q::dequantize(requant_, segment_codebook(me), mine_avg.data());
    const double* avg_a = io.dv ? mine_avg.data() : io.avg + a;
    for (std::size_t i = 0; i < len; ++i) stats_.requant_error_sq += (avg_a[i] - partial_[i]) * (avg_a[i] - partial_[i]);
    stats_.requant_expected_sq = q::exact_variance(partial_.data(), segment_codebook(me));
  }
  // Every rank's phase-1 bytes.
  stats_.round_bytes = comm_.allreduce(phase1_bytes, Op::Sum) + phase2_bytes;
  stats_.requant_bytes = phase2_bytes;
  stats_.received_bytes += phase1_bytes - counts[static_cast<std::size_t>(me)] + phase2_bytes - counts2[static_cast<std::size_t>(me)];
  stats_.bytes_total += stats_.round_bytes;
}

double CompressedExchange::average_variance() const {
  const double K = comm_.size();
  double sums[2] = {stats_.expected_sq, stats_.requant_expected_sq};
  if (comm_.size() > 1) comm_.allreduce(sums, 2, Op::Sum);
  return sums[0] / (K * K) + sums[1];
}

void CompressedExchange::save(const h5::Group& g) const {
  // Counters and times summed over the stages (the whole vector's), restored on stage 0 by load.
  std::vector<double> counters = {static_cast<double>(stats_.bytes_total), static_cast<double>(stats_.round_bytes), stats_.quantize,
                                  stats_.encode, stats_.exchange, stats_.decode};
  if (part_.stages.size() > 1) part_.stages.allreduce(counters, Op::Sum);
  g.write_attr("bytes_total", static_cast<std::int64_t>(counters[0]));
  g.write_attr("round_bytes", static_cast<std::int64_t>(counters[1]));
  g.write("times", std::vector<double>(counters.begin() + 2, counters.end()));
  if (!compressed_) return;
  g.write_attr("epoch", static_cast<std::int64_t>(cb_.epoch));
  std::vector<double> levels;
  std::vector<std::uint8_t> lengths;
  for (std::size_t t = 0; t < cb_.levels.size(); ++t) {
    levels.insert(levels.end(), cb_.levels[t].begin(), cb_.levels[t].end());
    if (huffman_) lengths.insert(lengths.end(), cb_.huffman[t].lengths().begin(), cb_.huffman[t].lengths().end());
  }
  const auto cols = static_cast<std::int64_t>(cb_.s + 1);
  const auto rows = static_cast<hsize_t>(total_types_);
  g.write("levels", gather_parts(part_.stages, levels, first_type_ * cols, total_types_ * cols), {rows, static_cast<hsize_t>(cols)});
  if (huffman_)
    g.write("huffman_lengths", gather_parts(part_.stages, lengths, first_type_ * cols, total_types_ * cols), {rows, static_cast<hsize_t>(cols)});
}

void CompressedExchange::load(const h5::Group& g) {
  const bool lead = part_.stages.rank() == 0;
  stats_.bytes_total = lead ? static_cast<std::uint64_t>(g.read_attr<std::int64_t>("bytes_total")) : 0;
  stats_.round_bytes = lead ? static_cast<std::uint64_t>(g.read_attr<std::int64_t>("round_bytes")) : 0;
  const auto t = g.read<double>("times");
  if (t.size() != 4) throw InputError("checkpoint: exchange times must hold 4 values");
  stats_.quantize = lead ? t[0] : 0;
  stats_.encode = lead ? t[1] : 0;
  stats_.exchange = lead ? t[2] : 0;
  stats_.decode = lead ? t[3] : 0;
  if (!compressed_) return;
  seg_cb_stale_ = true;
  dcb_stale_ = true;
  cb_.epoch = static_cast<std::uint32_t>(g.read_attr<std::int64_t>("epoch"));
  std::vector<hsize_t> dims;
  const auto levels = g.read<double>("levels", &dims);
  const auto cols = static_cast<std::size_t>(cb_.s + 1);
  if (dims.size() != 2 || dims[1] != cols) throw InputError("checkpoint: quantiser levels have another shape");
  if (dims[0] != static_cast<hsize_t>(total_types_))
    throw InputError("checkpoint: " + g.path() + " holds " + std::to_string(dims[0]) + " quantiser level sets, this run " +
                     std::to_string(total_types_) +
                     (opt_.codebook.scheme == q::Scheme::Layerwise ? std::string(" (another network?)")
                                                                   : std::string(" (the global and bucket schemes keep one per pipeline stage: restart with the parallel.layer it was written with)")));
  const auto first = static_cast<std::size_t>(first_type_) * cols;
  for (std::size_t t = 0; t < cb_.levels.size(); ++t)
    cb_.set_levels(static_cast<int>(t), std::vector<double>(levels.begin() + static_cast<std::ptrdiff_t>(first + t * cols),
                                                            levels.begin() + static_cast<std::ptrdiff_t>(first + (t + 1) * cols)));
  if (huffman_) {
    const auto lengths = g.read<std::uint8_t>("huffman_lengths");
    if (lengths.size() != levels.size()) throw InputError("checkpoint: Huffman tables have another shape");
    for (std::size_t t = 0; t < cb_.levels.size(); ++t)
      cb_.huffman[t] = q::HuffmanCode(std::vector<std::uint8_t>(lengths.begin() + static_cast<std::ptrdiff_t>(first + t * cols),
                                                                lengths.begin() + static_cast<std::ptrdiff_t>(first + (t + 1) * cols)));
  }
}

}  // namespace saddle::engine
