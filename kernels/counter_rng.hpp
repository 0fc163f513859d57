#pragma once
// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11). A draw is a pure function
// of (seed, purpose, index, step, k): no generator state to carry, so restarts and different
// rank counts see the same numbers, and any Kokkos thread can draw independently.
#include <cstdint>
#include <string_view>

#include "kernels/kokkos_compat.hpp"

namespace saddle::kernels {

struct Philox4x32 {
  std::uint32_t v[4];
};

// One Philox4x32 block with 10 rounds; verified against the Random123 known-answer vectors.
KOKKOS_INLINE_FUNCTION Philox4x32 philox4x32_10(Philox4x32 ctr, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += W0;
      k1 += W1;
    }
    const std::uint64_t p0 = static_cast<std::uint64_t>(M0) * ctr.v[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(M1) * ctr.v[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
  }
  return ctr;
}

// 32-bit FNV-1a of a purpose name, so streams are named ("noise", "init", "batch") not numbered.
constexpr std::uint32_t purpose_id(std::string_view name) {
  std::uint32_t h = 2166136261u;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

// A named stream of one run: key = (seed, purpose); counter = (index, step, k).
// `index` is a global index (a row, a coordinate, a trajectory), never a rank, so that results
// do not depend on the number of ranks. `k` numbers the 4-word blocks drawn for one (index, step).
class CounterRng {
 public:
  KOKKOS_DEFAULTED_FUNCTION CounterRng() = default;
  KOKKOS_INLINE_FUNCTION CounterRng(std::uint64_t seed, std::uint32_t purpose)
      : k0_(static_cast<std::uint32_t>(seed) ^ purpose),
        k1_(static_cast<std::uint32_t>(seed >> 32) ^ (purpose * 0x9E3779B9u)) {}
  CounterRng(std::uint64_t seed, std::string_view purpose) : CounterRng(seed, purpose_id(purpose)) {}

  // The key (seed and purpose mixed), for code that runs Philox on many counters at once with
  // vector instructions (kernels/quant/philox_blocks.hpp) and must draw the same bits as bits().
  KOKKOS_INLINE_FUNCTION std::uint32_t key0() const { return k0_; }
  KOKKOS_INLINE_FUNCTION std::uint32_t key1() const { return k1_; }

  KOKKOS_INLINE_FUNCTION Philox4x32 bits(std::uint64_t index, std::uint32_t step, std::uint32_t k = 0) const {
    return philox4x32_10(Philox4x32{{static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
                                     step, k}},
                         k0_, k1_);
  }

  // Uniform in the open interval (0, 1), 53 random bits from two words.
  KOKKOS_INLINE_FUNCTION static double to_unit(std::uint32_t hi, std::uint32_t lo) {
    const std::uint64_t m = (static_cast<std::uint64_t>(hi) << 21) ^ (lo >> 11);  // 53 bits
    return (static_cast<double>(m) + 0.5) * (1.0 / 9007199254740992.0);
  }

  // Two independent uniforms in (0, 1) for (index, step, k).
  KOKKOS_INLINE_FUNCTION void uniform2(std::uint64_t index, std::uint32_t step, std::uint32_t k, double& u0,
                                       double& u1) const {
    const Philox4x32 b = bits(index, step, k);
    u0 = to_unit(b.v[0], b.v[1]);
    u1 = to_unit(b.v[2], b.v[3]);
  }

  KOKKOS_INLINE_FUNCTION double uniform(std::uint64_t index, std::uint32_t step, std::uint32_t k = 0) const {
    const Philox4x32 b = bits(index, step, k);
    return to_unit(b.v[0], b.v[1]);
  }

  // Two independent standard normals by Box-Muller.
  KOKKOS_INLINE_FUNCTION void normal2(std::uint64_t index, std::uint32_t step, std::uint32_t k, double& z0,
                                      double& z1) const {
    double u0, u1;
    uniform2(index, step, k, u0, u1);
    const double r = kc::sqrt(-2.0 * kc::log(u0));
    const double t = 6.283185307179586476925 * u1;
    z0 = r * kc::cos(t);
    z1 = r * kc::sin(t);
  }

  KOKKOS_INLINE_FUNCTION double normal(std::uint64_t index, std::uint32_t step, std::uint32_t k = 0) const {
    double z0, z1;
    normal2(index, step, k, z0, z1);
    return z0;
  }

 private:
  std::uint32_t k0_ = 0, k1_ = 0;
};

}  // namespace saddle::kernels
