#include "engine/quantizer_options.hpp"

#include "engine/deck_choice.hpp"

namespace saddle::engine {

namespace q = kernels::quant;

QuantizerOptions read_quantizer_options(const Config& c, const std::string& table, bool quantised) {
  QuantizerOptions o;
  const std::string key = table + ".";
  o.compressed = quantised && c.string(key + "type") != "none";
  if (!o.compressed) return o;
  q::CodebookOptions& cb = o.codebook;
  cb.scheme = choice<q::Scheme>(c, key + "type",
                                {{"layerwise", q::Scheme::Layerwise}, {"global", q::Scheme::Global}, {"bucket", q::Scheme::Bucket}});
  cb.levels = choice<q::LevelFamily>(
      c, key + "levels", {{"uniform", q::LevelFamily::Uniform}, {"exponential", q::LevelFamily::Exponential}, {"adaptive", q::LevelFamily::Adaptive}});
  cb.num_levels = static_cast<int>(c.integer(key + "num_levels"));
  cb.norm = choice<q::Norm>(c, key + "norm", {{"l2", q::Norm::L2}, {"linf", q::Norm::Linf}});
  cb.coder = choice<q::Coder>(c, key + "coder", {{"elias", q::Coder::Elias}, {"huffman", q::Coder::Huffman}});
  if (c.has(key + "exp_base")) cb.exp_base = c.real(key + "exp_base");
  if (c.has(key + "bucket_size")) cb.bucket = c.integer(key + "bucket_size");
  o.adapt_every = static_cast<int>(c.integer(key + "adapt_every"));
  return o;
}

}  // namespace saddle::engine
