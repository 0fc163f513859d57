#pragma once
// The options of engine::CompressedExchange and the one function that reads them from a
// `[<workload>.quantizer]` table of the deck (qoda and wgan declare its keys, each with its own
// defaults and help).
#include <string>

#include "engine/deck.hpp"
#include "kernels/quant/codebook.hpp"

namespace saddle::engine {

struct QuantizerOptions {
  bool compressed = true;                    // false: a float64 allreduce (quantizer type "none")
  kernels::quant::CodebookOptions codebook;  // scheme, levels, norm, coder, ...
  int adapt_every = 0;                       // rounds between refits of adaptive levels / Huffman tables; 0 = never
};

// The keys type, levels, num_levels, norm, coder and adapt_every of `table` ("qoda.quantizer"),
// and exp_base and bucket_size where the workload declares them. `quantised`: whether the
// workload's method exchanges quantised vectors at all (else compressed is false).
QuantizerOptions read_quantizer_options(const Config& c, const std::string& table, bool quantised);

}  // namespace saddle::engine
