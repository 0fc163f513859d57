#include "engine/compressed_exchange.hpp"

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/error.hpp"
#include "engine/pipeline.hpp"

namespace saddle::engine {

namespace q = kernels::quant;

namespace {
using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }
}  // namespace

CompressedExchange::CompressedExchange(const Comm& comm, const QuantizerOptions& o, const q::Layout& layout,
                                       std::uint64_t seed, StagePart part)
    : comm_(comm), part_(std::move(part)), opt_(o), compressed_(o.compressed), n_(layout.n()), layers_(layout.offsets), rng_(seed, "quantize") {
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
}

// Per-type statistics of this rank's normalised coordinates, summed over ranks, refit the levels
// (adaptive) and the Huffman tables.
void CompressedExchange::refit(const double* v) {
  auto stats = q::type_statistics(v, cb_, *hist_);
  std::vector<double> flat;
  for (const auto& s : stats) flat.insert(flat.end(), s.begin(), s.end());
  comm_.allreduce(flat, Op::Sum);
  stats_.bytes_total += static_cast<std::uint64_t>(comm_.size()) * flat.size() * sizeof(double);
  const std::size_t per = hist_->empty_stats().size();
  for (std::size_t t = 0; t < stats.size(); ++t)
    stats[t].assign(flat.begin() + static_cast<std::ptrdiff_t>(t * per), flat.begin() + static_cast<std::ptrdiff_t>((t + 1) * per));
  q::refit_codebook(cb_, *hist_, stats, adaptive_, huffman_);
}

void CompressedExchange::exchange(const double* v, double* avg, double* own, std::uint32_t round) {
  const int K = comm_.size();
  const auto n = static_cast<std::size_t>(n_);
  if (!compressed_) {
    const auto t0 = clock_type::now();
    // Summed in place in avg (one rank: a copy and nothing else; x / 1 == x, so no division).
    std::copy(v, v + n, avg);
    if (K > 1) {
      comm_.allreduce(avg, n, Op::Sum);
      for (std::size_t i = 0; i < n; ++i) avg[i] /= K;
    }
    std::copy(v, v + n, own);
    stats_.exchange += since(t0);
    stats_.round_bytes = static_cast<std::uint64_t>(K) * n * sizeof(double);
    stats_.bytes_total += stats_.round_bytes;
    return;
  }
  // A rank whose vector cannot be quantised sends an empty payload, so every rank learns of it
  // from the gather instead of waiting for it in a collective.
  std::string failure;
  payload_.clear();
  try {
    if ((adaptive_ || huffman_) && opt_.adapt_every > 0 && round % static_cast<std::uint32_t>(opt_.adapt_every) == 0) {
      bool finite = true;
      for (std::size_t i = 0; i < n; ++i) finite &= std::isfinite(v[i]);
      if (!comm_.allreduce(static_cast<int>(finite), Op::Min)) throw std::invalid_argument("non-finite operator value before a refit");
      refit(v);
    }
    auto t0 = clock_type::now();
    q::quantize(v, cb_, rng_, round, static_cast<std::uint32_t>(comm_.rank()), mine_, static_cast<std::uint64_t>(part_.offset));
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
    if (counts[static_cast<std::size_t>(k)] == 0)
      throw CollectiveError(k == comm_.rank() && !failure.empty() ? failure + " (rank " + std::to_string(k) + ")"
                                                                  : "rank " + std::to_string(k) + " could not quantise its vector (non-finite values: the iteration diverged)",
                            kExitFailure, k);
  t0 = clock_type::now();
  std::size_t offset = 0;
  stats_.round_bytes = 0;
  for (int k = 0; k < K; ++k) {
    const std::size_t c = counts[static_cast<std::size_t>(k)];
    const std::uint8_t* p = all.data() + offset;
    try {
      q::decode(p, c, cb_, theirs_);
    } catch (const q::PayloadError& e) {
      throw CollectiveError(std::string(e.what()) + " (from rank " + std::to_string(k) + ")", kExitFailure, k);
    }
    q::dequantize(theirs_, cb_, avg, k > 0);
    offset += c;
    stats_.round_bytes += c;
  }
  for (std::size_t i = 0; i < n; ++i) avg[i] /= K;
  q::dequantize(mine_, cb_, own);
  stats_.decode += since(t0);
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
  stats_.expected_sq = q::exact_variance(v, cb_);
  stats_.bytes_total += stats_.round_bytes;
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
