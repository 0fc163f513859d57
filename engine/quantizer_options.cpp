#include "engine/quantizer_options.hpp"

#include "engine/deck_choice.hpp"

namespace saddle::engine {

namespace q = kernels::quant;

void declare_exchange_keys(Schema& s, const std::string& table, const ExchangeDefaults& d) {
  const std::string k = table + ".", n = d.note;
  s.string(k + "precision").def(d.precision).one_of({"float64", "float32", "float16"})
      .help("wire format of the unquantised allreduce (quantizer = \"none\"): each rank's float64 gradient rounded to it before the sum; "
            "float16 is pre-scaled by 1/ranks (one rank rounds nothing)");
  s.string(k + "quantizer").def(d.quantizer).one_of({"none", "layerwise", "global", "bucket"})
      .help(n + "none (allreduce in `precision`), layer-wise (per block), global (one level set) or bucketed min-max quantisation");
  s.string(k + "collective").def(std::string("allgather")).one_of({"allgather", "reduce_scatter"})
      .help(n + "quantised payloads: every rank gathers every payload, or reduce-scatter + allgather with re-quantised segments "
                "(bytes per rank independent of the rank count)");
  s.string(k + "levels").def(std::string("uniform")).one_of({"uniform", "exponential", "adaptive"})
      .help(n + "level family; adaptive refits every adapt_every exchanges from statistics summed over ranks");
  s.integer(k + "num_levels").def(d.num_levels).range(2, 256)
      .help(n + "levels including 0 and 1 (indices 0..num_levels-1); bucket: steps + 1 (sent in ceil(log2) bits)");
  s.string(k + "norm").def(std::string("l2")).one_of({"l2", "linf"}).help(n + "block norm");
  s.string(k + "coder").def(std::string("elias")).one_of({"elias", "huffman"})
      .help(n + "index code: Elias-gamma, or canonical Huffman fitted with the levels");
  s.integer(k + "adapt_every").def(d.adapt_every).range(0, 1000000000)
      .help(n + "exchanges between refits of adaptive levels and Huffman tables (0 = never)");
  s.real(k + "exp_base").def(0.5).range(1e-3, 0.999).help(n + "p of the exponential levels p^(s - j)");
  s.integer(k + "bucket_size").def(std::int64_t{1024}).range(1, 1 << 24).help(n + "coordinates per bucket (bucket)");
  const std::string workload = table.substr(0, table.find('.'));
  s.renamed(workload + ".quantizer", table);
  s.renamed(workload + ".quantizer.type", table + ".quantizer");
}

void validate_exchange_keys(const Config& c, const std::string& table, bool quantised) {
  const std::string k = table + ".";
  const std::string type = c.string(k + "quantizer");
  if (type == "bucket") {
    if (c.is_set(k + "levels") && c.string(k + "levels") != "uniform") throw c.error(k + "levels", "the bucket scheme has uniform steps only");
    if (c.string(k + "coder") == "huffman") throw c.error(k + "coder", "the bucket scheme sends fixed-width steps");
  }
  if (quantised && type != "none" && type != "bucket" && c.integer(k + "adapt_every") == 0 &&
      (c.string(k + "levels") == "adaptive" || c.string(k + "coder") == "huffman"))
    throw c.error(k + "adapt_every", "adaptive levels and Huffman tables need adapt_every >= 1");
}

std::string unused_exchange_keys(const Config& c, const std::string& table, bool quantised) {
  const std::string k = table + ".";
  const bool compressed = quantised && c.string(k + "quantizer") != "none";
  std::string unused;
  if (compressed && c.is_set(k + "precision")) unused = k + "precision";
  if (!compressed)
    for (const std::string key : {"collective", "levels", "num_levels", "norm", "coder", "adapt_every", "exp_base", "bucket_size"})
      if (c.is_set(k + key)) unused += (unused.empty() ? "" : ", ") + k + key;
  return unused;
}

QuantizerOptions read_quantizer_options(const Config& c, const std::string& table, bool quantised) {
  QuantizerOptions o;
  const std::string key = table + ".";
  o.precision = choice<WirePrecision>(c, key + "precision",
                                      {{"float64", WirePrecision::Float64}, {"float32", WirePrecision::Float32}, {"float16", WirePrecision::Float16}});
  o.compressed = quantised && c.string(key + "quantizer") != "none";
  if (!o.compressed) return o;
  o.collective = choice<ExchangeCollective>(c, key + "collective",
                                            {{"allgather", ExchangeCollective::Allgather}, {"reduce_scatter", ExchangeCollective::ReduceScatter}});
  q::CodebookOptions& cb = o.codebook;
  cb.scheme = choice<q::Scheme>(c, key + "quantizer",
                                {{"layerwise", q::Scheme::Layerwise}, {"global", q::Scheme::Global}, {"bucket", q::Scheme::Bucket}});
  cb.levels = choice<q::LevelFamily>(
      c, key + "levels", {{"uniform", q::LevelFamily::Uniform}, {"exponential", q::LevelFamily::Exponential}, {"adaptive", q::LevelFamily::Adaptive}});
  cb.num_levels = static_cast<int>(c.integer(key + "num_levels"));
  cb.norm = choice<q::Norm>(c, key + "norm", {{"l2", q::Norm::L2}, {"linf", q::Norm::Linf}});
  cb.coder = choice<q::Coder>(c, key + "coder", {{"elias", q::Coder::Elias}, {"huffman", q::Coder::Huffman}});
  cb.exp_base = c.real(key + "exp_base");
  cb.bucket = c.integer(key + "bucket_size");
  o.adapt_every = static_cast<int>(c.integer(key + "adapt_every"));
  return o;
}

}  // namespace saddle::engine
