#pragma once
// The data-parallel exchange of docs/algorithms.md section 2: every worker (rank) holds a vector
// v_k and every worker needs (1/K) sum_k Q(v_k).
// - compressed: each rank quantises and encodes its vector (kernels/quant), one allgatherv of the
//   payloads, and every rank decodes all payloads and averages them in rank order, so all ranks
//   hold the same bits. Adaptive levels and Huffman tables are refitted every `adapt_every`
//   rounds from per-type statistics summed over ranks, so every rank holds identical codebooks.
// - uncompressed: one allreduce of the float64 vectors.
// Bytes sent are counted (payloads and the refits' statistics), and time is split into
// quantise, encode, exchange and decode.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/comm.hpp"
#include "engine/h5.hpp"
#include "engine/pipeline.hpp"
#include "engine/quantizer_options.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/quant/codebook.hpp"
#include "kernels/quant/levels.hpp"
#include "kernels/quant/payload.hpp"

namespace saddle::engine {

struct ExchangeStats {
  std::uint64_t bytes_total = 0;       // every worker's payloads and statistics, all rounds so far
  std::uint64_t round_bytes = 0;       // every worker's payloads of the last round
  double quantize = 0, encode = 0, exchange = 0, decode = 0;  // this rank's seconds
  // This rank's last round: |Q(v) - v|^2 (empirical), E|Q(v) - v|^2 (exact) and |v|^2.
  double error_sq = 0, expected_sq = 0, norm_sq = 0;
  // The same two sums per layer of the layout given to the constructor (whatever the scheme).
  std::vector<double> layer_error_sq, layer_norm_sq;
};

class CompressedExchange {
 public:
  // `layout`: the layers of the vector (offsets 0 = o_0 < ... < o_B = n) with one level-set type
  // per block (layout.types). The global and bucket schemes use one block and one type whatever
  // `layout` is (kernels::quant::make_codebook).
  // `part`: where the vector sits in a whole vector split over pipeline stages (the other parts on
  // the ranks of part.stages). Rounding draws are then keyed by the coordinate's index in the whole
  // vector and checkpoints hold the whole vector's codebook (this part's level sets placed after
  // those of the parts that start earlier), so a layer-wise exchange of the parts is the exchange
  // of the whole; the global and bucket schemes have one level set per part.
  CompressedExchange(const Comm& comm, const QuantizerOptions& options, const kernels::quant::Layout& layout,
                     std::uint64_t seed, StagePart part = {});

  bool compressed() const { return compressed_; }
  std::int64_t n() const { return n_; }
  // avg = (1/K) sum_k Q(v_k) and own = Q(v_this_rank), identical bits on every rank (avg);
  // `round` numbers the exchange (random rounding draws and refit schedule depend on it).
  // Collective; v, avg and own are distinct arrays of n(). Quantised: a non-finite v on any rank
  // makes every rank throw CollectiveError (unquantised: the caller checks avg).
  void exchange(const double* v, double* avg, double* own, std::uint32_t round);

  const ExchangeStats& stats() const { return stats_; }
  const kernels::quant::Codebook& codebook() const { return cb_; }
  // Levels of each type (for /result/levels/<type>).
  const std::vector<std::vector<double>>& levels() const { return cb_.levels; }

  // The codebook (levels, Huffman code lengths, epoch) and the counters, of the whole vector
  // (collective over the part's stages; the counters are the stages' sums, restored on stage 0).
  void save(const h5::Group& g) const;
  void load(const h5::Group& g);

 private:
  void refit(const double* v);

  Comm comm_;
  StagePart part_;
  std::int64_t first_type_ = 0, total_types_ = 0;  // this part's level sets among the whole vector's
  QuantizerOptions opt_;
  bool compressed_ = false, adaptive_ = false, huffman_ = false;
  std::int64_t n_ = 0;
  std::vector<std::int64_t> layers_;  // offsets of the caller's layers
  kernels::quant::Codebook cb_;
  kernels::CounterRng rng_;
  std::unique_ptr<kernels::quant::LevelHistogram> hist_;
  kernels::quant::Quantized mine_, theirs_;
  std::vector<std::uint8_t> payload_;
  ExchangeStats stats_;
};

}  // namespace saddle::engine
