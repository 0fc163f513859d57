#pragma once
// Many consecutive Philox4x32-10 blocks of one CounterRng at once: with AVX-512, sixteen blocks
// per vector (the two 32x32 -> 64-bit products of a round as even/odd-lane multiplies), else one
// at a time. The words are those of CounterRng::bits, bit for bit (tests/unit/test_quant.cpp).
#include <cstddef>
#include <cstdint>

#include "kernels/counter_rng.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace saddle::kernels::quant {

#if defined(__AVX512F__)
namespace detail {
// High and low 32-bit halves of the sixteen products a_i * m.
inline void mul_hi_lo(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}
}  // namespace detail
#endif

// GCC 12 warns about the undefined pass-through operand inside _mm512_mul_epu32 when inlined.
#pragma GCC diagnostic push
#if !defined(__clang__)  // a GCC warning; clang warns about the unknown group instead
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// words[4 j + w] = rng.bits(first + j, step, k).v[w] for j < count.
inline void philox_blocks(const CounterRng& rng, std::uint64_t first, std::size_t count, std::uint32_t step, std::uint32_t k,
                          std::uint32_t* words) {
  std::size_t j = 0;
#if defined(__AVX512F__)
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u)), m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // Two groups of sixteen per step: a round's multiplies wait on the previous round, so a
  // second, independent chain keeps the vector units busy.
  auto start = [&](std::uint64_t b, __m512i& c0, __m512i& c1) {
    const __m512i lo32 = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(b)));
    const __m512i hi32 = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(b >> 32)));
    // Counter (index low, index high, step, k); the low word may wrap within the sixteen.
    c0 = _mm512_add_epi32(lo32, lane);
    c1 = _mm512_mask_add_epi32(hi32, _mm512_cmplt_epu32_mask(c0, lo32), hi32, _mm512_set1_epi32(1));
  };
  auto round = [&](__m512i& c0, __m512i& c1, __m512i& c2, __m512i& c3, __m512i key0, __m512i key1) {
    __m512i h0, l0, h1, l1;
    detail::mul_hi_lo(c0, m0, h0, l0);
    detail::mul_hi_lo(c2, m1, h1, l1);
    c0 = _mm512_ternarylogic_epi32(h1, c1, key0, 0x96);  // three-way xor
    c2 = _mm512_ternarylogic_epi32(h0, c3, key1, 0x96);
    c1 = l1;
    c3 = l0;
  };
  // Transposes the four word vectors into sixteen consecutive 4-word blocks at out.
  auto store = [&](__m512i c0, __m512i c1, __m512i c2, __m512i c3, std::uint32_t* out) {
    const __m512i t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
    const __m512i t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
    const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);  // blocks 0 4 8 12, 1 5 9 13
    const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);  // 2 6 10 14, 3 7 11 15
    const __m512i v0 = _mm512_shuffle_i32x4(u0, u1, 0x44), v1 = _mm512_shuffle_i32x4(u2, u3, 0x44);  // 0 4 1 5, 2 6 3 7
    const __m512i v2 = _mm512_shuffle_i32x4(u0, u1, 0xEE), v3 = _mm512_shuffle_i32x4(u2, u3, 0xEE);  // 8 12 9 13, 10 14 11 15
    _mm512_storeu_si512(out, _mm512_shuffle_i32x4(v0, v1, 0x88));
    _mm512_storeu_si512(out + 16, _mm512_shuffle_i32x4(v0, v1, 0xDD));
    _mm512_storeu_si512(out + 32, _mm512_shuffle_i32x4(v2, v3, 0x88));
    _mm512_storeu_si512(out + 48, _mm512_shuffle_i32x4(v2, v3, 0xDD));
  };
  const __m512i step_v = _mm512_set1_epi32(static_cast<int>(step)), k_v = _mm512_set1_epi32(static_cast<int>(k));
  for (; j + 32 <= count; j += 32) {
    __m512i a0, a1, a2 = step_v, a3 = k_v, b0, b1, b2 = step_v, b3 = k_v;
    start(first + j, a0, a1);
    start(first + j + 16, b0, b1);
    std::uint32_t k0 = rng.key0(), k1 = rng.key1();
    for (int r = 0; r < 10; ++r) {
      if (r > 0) {
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
      }
      const __m512i key0 = _mm512_set1_epi32(static_cast<int>(k0)), key1 = _mm512_set1_epi32(static_cast<int>(k1));
      round(a0, a1, a2, a3, key0, key1);
      round(b0, b1, b2, b3, key0, key1);
    }
    store(a0, a1, a2, a3, words + 4 * j);
    store(b0, b1, b2, b3, words + 4 * j + 64);
  }
  for (; j + 16 <= count; j += 16) {
    __m512i a0, a1, a2 = step_v, a3 = k_v;
    start(first + j, a0, a1);
    std::uint32_t k0 = rng.key0(), k1 = rng.key1();
    for (int r = 0; r < 10; ++r) {
      if (r > 0) {
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
      }
      round(a0, a1, a2, a3, _mm512_set1_epi32(static_cast<int>(k0)), _mm512_set1_epi32(static_cast<int>(k1)));
    }
    store(a0, a1, a2, a3, words + 4 * j);
  }
#endif
  for (; j < count; ++j) {
    const Philox4x32 bits = rng.bits(first + j, step, k);
    for (int w = 0; w < 4; ++w) words[4 * j + static_cast<std::size_t>(w)] = bits.v[w];
  }
}
#pragma GCC diagnostic pop

}  // namespace saddle::kernels::quant
