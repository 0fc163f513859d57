#pragma once
// The options of engine::CompressedExchange and the one function that reads them from a
// `[<workload>.exchange]` table of the deck (qoda and wgan declare its keys, each with its own
// defaults and help).
#include <string>

#include "engine/deck.hpp"
#include "kernels/quant/codebook.hpp"

namespace saddle::engine {

// The wire format of the unquantised allreduce (quantizer "none"): what each rank's float64
// vector is rounded to before it is summed. One rank sends nothing and rounds nothing.
enum class WirePrecision { Float64, Float32, Float16 };

// How quantised payloads travel: every rank gathers every rank's payload (allgather), or each
// rank owns a segment, reduces the segment's payloads, re-quantises the partial average and the
// segments are gathered (reduce_scatter: bytes received per rank independent of the rank count).
enum class ExchangeCollective { Allgather, ReduceScatter };

struct QuantizerOptions {
  bool compressed = true;                    // false: an allreduce in `precision` (quantizer "none")
  WirePrecision precision = WirePrecision::Float64;
  ExchangeCollective collective = ExchangeCollective::Allgather;
  kernels::quant::CodebookOptions codebook;  // scheme, levels, norm, coder, ...
  int adapt_every = 0;                       // rounds between refits of adaptive levels / Huffman tables; 0 = never
};

// The keys quantizer, precision, collective, levels, num_levels, norm, coder and adapt_every of
// `table` ("wgan.exchange"), and exp_base and bucket_size where the workload declares them.
// `quantised`: whether the workload's method exchanges quantised vectors at all (else compressed
// is false).
QuantizerOptions read_quantizer_options(const Config& c, const std::string& table, bool quantised);

}  // namespace saddle::engine
