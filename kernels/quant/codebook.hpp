#pragma once
// The one place a quantiser codebook is built (docs/algorithms.md section 2): from the options of
// a quantiser and the layers of the vector, the first codebook (uniform or exponential levels;
// adaptive ones start uniform; Huffman tables of a flat index histogram until the first refit),
// and its refits from per-type statistics of normalised coordinates (adaptive levels, Huffman
// tables of the expected index histogram under the levels). No MPI: the caller sums the
// statistics over workers (engine::CompressedExchange) or takes one worker's (tests, benchmarks).
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/quant/coder.hpp"
#include "kernels/quant/levels.hpp"
#include "kernels/quant/quantizer.hpp"

namespace saddle::kernels::quant {

enum class LevelFamily : std::uint8_t { Uniform, Exponential, Adaptive };

struct CodebookOptions {
  Scheme scheme = Scheme::Layerwise;
  LevelFamily levels = LevelFamily::Uniform;
  int num_levels = 8;          // levels 0 = l_0 < ... < l_s = 1, s = num_levels - 1 (bucket: steps + 1)
  Norm norm = Norm::L2;
  Coder coder = Coder::Elias;  // bucket: fixed width whatever this says
  double exp_base = 0.5;       // p of the exponential family l_j = p^(s - j)
  std::int64_t bucket = 1024;  // coordinates per bucket (bucket scheme)

  // Whether refits change the levels, the Huffman tables (the bucket scheme has neither).
  bool adaptive() const { return scheme != Scheme::Bucket && levels == LevelFamily::Adaptive; }
  bool huffman() const { return scheme != Scheme::Bucket && coder == Coder::Huffman; }
};

// Blocks at `offsets` (0 = o_0 < ... < o_B = n), each block its own level-set type.
inline Layout block_layout(std::vector<std::int64_t> offsets) {
  Layout l;
  l.offsets = std::move(offsets);
  for (std::size_t m = 0; m + 1 < l.offsets.size(); ++m) l.types.push_back(static_cast<int>(m));
  l.ntypes = static_cast<int>(l.types.size());
  return l;
}

// The codebook before any refit. `layers` are the caller's blocks; the global and bucket schemes
// use one block of the whole vector with one type.
inline Codebook make_codebook(const CodebookOptions& o, const Layout& layers) {
  if (o.num_levels < 2 || o.num_levels > 256) throw std::invalid_argument("num_levels must be in [2, 256]");
  Codebook cb;
  cb.scheme = o.scheme;
  cb.s = o.num_levels - 1;
  cb.norm = o.norm;
  cb.coder = o.coder;
  cb.bucket = o.bucket;
  cb.layout = o.scheme == Scheme::Layerwise ? layers : block_layout({0, layers.n()});
  const auto types = static_cast<std::size_t>(cb.layout.ntypes);
  cb.levels.resize(types);
  cb.uniform.resize(types);
  cb.huffman.resize(types);
  for (std::size_t t = 0; t < types; ++t) {
    cb.set_levels(static_cast<int>(t), o.levels == LevelFamily::Exponential ? exponential_levels(cb.s, o.exp_base) : uniform_levels(cb.s));
    if (o.huffman()) cb.huffman[t] = HuffmanCode(huffman_lengths(std::vector<double>(static_cast<std::size_t>(cb.s) + 1, 1.0)));
  }
  return cb;
}

// One refit from stats[type] (LevelHistogram::empty_stats() of `h` each): the levels minimising
// the variance on the histogram (when `levels`), then the Huffman code of the expected index
// histogram under the levels (when `huffman`); the codebook's epoch advances.
inline void refit_codebook(Codebook& cb, const LevelHistogram& h, const std::vector<std::vector<double>>& stats, bool levels, bool huffman) {
  for (std::size_t t = 0; t < static_cast<std::size_t>(cb.layout.ntypes); ++t) {
    if (levels) cb.set_levels(static_cast<int>(t), fit_levels(h, stats[t], uniform_levels(cb.s)));
    if (huffman) {
      const EdgeVariance ev(h, stats[t]);
      std::vector<std::size_t> idx;
      for (double l : cb.levels[t]) idx.push_back(ev.edge_of(l));
      cb.huffman[t] = HuffmanCode(huffman_lengths(ev.expected_indices(idx)));
    }
  }
  ++cb.epoch;
}

// Per-type statistics of v's normalised coordinates (add_statistics over every block).
template <class T>
std::vector<std::vector<double>> type_statistics(const T* v, const Codebook& cb, const LevelHistogram& h) {
  std::vector<std::vector<double>> stats(static_cast<std::size_t>(cb.layout.ntypes), h.empty_stats());
  add_statistics(v, cb, h, stats);
  return stats;
}

}  // namespace saddle::kernels::quant
