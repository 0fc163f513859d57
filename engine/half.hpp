#pragma once
// IEEE 754 binary16 ("half") conversions by bit manipulation, no compiler extension: the wire
// format of the float16 allreduce of engine::CompressedExchange (engine::Comm::allreduce_half_sum).
// half_from_double rounds to nearest, ties to even, in one rounding from the double: values whose
// magnitude rounds above 65504 (the largest half) become +-inf, values below half the smallest
// subnormal (2^-25) become +-0, NaN stays NaN (quiet).
// half_from_double and half_to_double are also device functions: the float16 exchange of views in
// kernels::Mem converts on Exec with the same code (so the same bits).
#include <Kokkos_Macros.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace saddle::engine {

KOKKOS_INLINE_FUNCTION std::uint16_t half_from_double(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, 8);
  const auto sign = static_cast<std::uint16_t>((b >> 48) & 0x8000u);
  const std::uint64_t a = b & 0x7FFFFFFFFFFFFFFFull;
  if (a >= 0x7FF0000000000000ull) return static_cast<std::uint16_t>(sign | (a > 0x7FF0000000000000ull ? 0x7E00u : 0x7C00u));
  const int e = static_cast<int>(a >> 52) - 1023;  // unbiased exponent (-1023: zero or a subnormal double)
  const std::uint64_t m = a & ((std::uint64_t{1} << 52) - 1);
  if (e > 15) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (e >= -14) {  // a normal half: 10 mantissa bits, 42 bits dropped
    const std::uint64_t rem = m & ((std::uint64_t{1} << 42) - 1), halfway = std::uint64_t{1} << 41;
    auto h = static_cast<std::uint32_t>((static_cast<std::uint64_t>(e + 15) << 10) | (m >> 42));
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;  // a carry moves to the next binade, or to inf
    return static_cast<std::uint16_t>(sign | h);
  }
  if (e < -25) return sign;  // below 2^-25: rounds to zero
  // A subnormal half: units of 2^-24; the value is (2^52 + m) 2^(e - 52), so drop 28 - e bits.
  const std::uint64_t mf = m | (std::uint64_t{1} << 52);
  const int shift = 28 - e;  // 43..53
  const std::uint64_t rem = mf & ((std::uint64_t{1} << shift) - 1), halfway = std::uint64_t{1} << (shift - 1);
  auto h = static_cast<std::uint32_t>(mf >> shift);
  if (rem > halfway || (rem == halfway && (h & 1u))) ++h;  // 0x400: the smallest normal, correctly encoded
  return static_cast<std::uint16_t>(sign | h);
}

KOKKOS_INLINE_FUNCTION double half_to_double(std::uint16_t h) {
  const bool neg = (h & 0x8000u) != 0;
  const unsigned e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  double x;
  if (e == 0) {
    x = static_cast<double>(m) * 0x1p-24;
  } else if (e == 31) {  // a quiet NaN or infinity, by bits (numeric_limits is host-only in device code)
    const std::uint64_t b = m ? 0x7FF8000000000000ull : 0x7FF0000000000000ull;
    std::memcpy(&x, &b, 8);
  } else {
    const std::uint64_t b = (static_cast<std::uint64_t>(e - 15 + 1023) << 52) | (static_cast<std::uint64_t>(m) << 42);
    std::memcpy(&x, &b, 8);
  }
  return neg ? -x : x;
}

// The same rounding from a float (32-bit arithmetic; equal to half_from_double(double(f)), which
// tests check on a sweep of the float bit patterns).
inline std::uint16_t half_from_float(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
  const std::uint32_t a = b & 0x7FFFFFFFu;
  if (a >= 0x7F800000u) return static_cast<std::uint16_t>(sign | (a > 0x7F800000u ? 0x7E00u : 0x7C00u));
  if (a >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520: rounds to inf
  if (a >= 0x38800000u) {                                                   // >= 2^-14: a normal half
    std::uint32_t h = (a - 0x38000000u) >> 13;                              // rebias 127 -> 15, 13 bits dropped
    const std::uint32_t rem = a & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  if (a <= 0x33000000u) return sign;  // <= 2^-25: rounds to zero (the tie to even included)
  // A subnormal half: (2^23 + m) 2^(e - 23) in units of 2^-24, e in [-25, -15]: drop -(e + 1) bits.
  const int e = static_cast<int>(a >> 23) - 127;
  const std::uint32_t mf = (a & 0x7FFFFFu) | 0x800000u;
  const int shift = -(e + 1);  // 14..24
  const std::uint32_t rem = mf & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
  std::uint32_t h = mf >> shift;
  if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

namespace detail {
// Every half as a float (exact), built once.
inline const float* half_floats() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (std::uint32_t h = 0; h < 65536; ++h) t[h] = static_cast<float>(half_to_double(static_cast<std::uint16_t>(h)));
    return t;
  }();
  return table.data();
}
}  // namespace detail

// a + b as an fp16 reduction does: both widened to float, added in float, rounded back to half.
inline std::uint16_t half_add(std::uint16_t a, std::uint16_t b) {
  const float* f = detail::half_floats();
  return half_from_float(f[a] + f[b]);
}

// out[i] = half_add(in[i], out[i]), i < n.
inline void half_add(const std::uint16_t* in, std::uint16_t* out, std::size_t n) {
  const float* f = detail::half_floats();
  for (std::size_t i = 0; i < n; ++i) out[i] = half_from_float(f[in[i]] + f[out[i]]);
}

}  // namespace saddle::engine
