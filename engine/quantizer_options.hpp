#pragma once
// The options of engine::CompressedExchange and the one function that reads them from a
// `[<workload>.exchange]` table of the deck (qoda and wgan declare its keys, each with its own
// defaults and help).
#include <cstdint>
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
  // Whether every round computes the quantisation's error statistics (ExchangeStats error_sq,
  // expected_sq, requant_*, the per-layer sums): two more passes over the vector, for a workload
  // that reports them (qoda); off, they stay 0.
  bool error_statistics = true;
};

// The defaults that differ between the workloads that declare an exchange table.
struct ExchangeDefaults {
  std::string precision = "float32";  // of the unquantised allreduce
  std::string quantizer = "none";
  std::int64_t num_levels = 8, adapt_every = 50;
  std::string note;  // prefixed to the quantiser keys' help ("qoda/qgenx: ")
};

// Declares the keys of `table` ("wgan.exchange"): precision, quantizer, collective, levels,
// num_levels, norm, coder, adapt_every, exp_base, bucket_size; and the old `[<workload>.quantizer]`
// table as renamed (its `type` is now `quantizer`).
void declare_exchange_keys(Schema& s, const std::string& table, const ExchangeDefaults& d);
// The combinations no exchange accepts (bucket with Huffman or non-uniform levels, refits that
// never happen); with `quantised` (the method can quantise), also precision set beside a quantizer
// and quantiser keys set beside quantizer = "none".
void validate_exchange_keys(const Config& c, const std::string& table, bool quantised);
// The options of `table`; `quantised` as above (else compressed is false).
QuantizerOptions read_quantizer_options(const Config& c, const std::string& table, bool quantised);

}  // namespace saddle::engine
