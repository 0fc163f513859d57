#pragma once
// The codebooks of fuzz_payload and its seed generator: the first input byte picks one of 256
// (scheme, coder, level family, norm, level count, refitted or not), over a fixed vector layout
// of four blocks of 1, 8, 31 and 60 coordinates (buckets of 16: six full, one partial).
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/quant/codebook.hpp"

namespace saddle::fuzz {

// A fixed vector over the layout, spanning magnitudes (a refit's statistics).
inline std::vector<double> payload_vector() {
  std::vector<double> v(100);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(1.7 * static_cast<double>(i)) * std::pow(0.9, static_cast<double>(i % 37));
  return v;
}

// bits 0-1: scheme (0, 3 layer-wise; 1 global; 2 bucket); bit 2: Huffman (else Elias); bit 3:
// exponential levels (else uniform; adaptive when refitted); bit 4: l-infinity norm (else l2);
// bits 5-6: 2, 4, 16 or 256 levels; bit 7: one refit of levels and Huffman tables (epoch 1).
inline kernels::quant::Codebook payload_codebook(std::uint8_t selector) {
  using namespace kernels::quant;
  static const Scheme schemes[] = {Scheme::Layerwise, Scheme::Global, Scheme::Bucket, Scheme::Layerwise};
  static const int levels[] = {2, 4, 16, 256};
  const bool refit = selector & 128u;
  CodebookOptions o;
  o.scheme = schemes[selector & 3u];
  o.coder = selector & 4u ? Coder::Huffman : Coder::Elias;
  o.levels = refit ? LevelFamily::Adaptive : selector & 8u ? LevelFamily::Exponential : LevelFamily::Uniform;
  o.norm = selector & 16u ? Norm::Linf : Norm::L2;
  o.num_levels = levels[(selector >> 5) & 3u];
  o.bucket = 16;
  Codebook cb = make_codebook(o, block_layout({0, 1, 9, 40, 100}));
  if (refit) {
    const LevelHistogram h(cb.s, o.exp_base);
    const auto v = payload_vector();
    refit_codebook(cb, h, type_statistics(v.data(), cb, h), o.adaptive(), o.huffman());
  }
  return cb;
}

}  // namespace saddle::fuzz
