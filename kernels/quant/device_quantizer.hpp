#pragma once
// The quantisers of quantizer.hpp as Kokkos kernels on an execution space `Space` (default Exec),
// on views in Space's memory space (docs/design.md, "Kokkos spaces"; docs/algorithms.md section
// 2). The same code runs on the host in a CPU build (Exec is Serial or OpenMP there) and on a GPU
// in a CUDA build. Encoding and decoding of the bit stream stay on the host (coder.hpp,
// payload.hpp).
//
// Guarantees (tests/unit/test_device_quant.cpp):
// - quantize_indices: given the per-block scales the host quantize writes into Quantized::scale,
//   the signed level indices are bit for bit those of quant::quantize: the same Philox word per
//   coordinate (word g % 4 of CounterRng::bits(g / 4, round, worker), g = first + i, as
//   for_random_chunks), the same u = min(1, |x| / N) (a multiplication by 1 / N unless that
//   reciprocal overflows, as Divider), the same interval, the same comparison
//   unit_uniform(w) < fraction.
// - dequantize: bit for bit quant::dequantize.
// - block_scales: Linf norms and bucket bounds bit for bit the host's (a maximum or minimum does
//   not depend on the order; a zero bound takes the sign of the first zero, as the host's loop).
//   L2 norms are a parallel sum of the same squares (scaled by the same power of two when the
//   entries are huge or tiny), so the double may differ from the host's sequential sum in its
//   last bits; rounded up to a float32 wire value (wire_scale) it is nearly always the host's
//   scale, else one float32 ulp away. A norm outside float32's normal range is sent as the
//   double itself and may then differ in its last bits.
// Non-finite input is refused like the host's: std::invalid_argument naming the coordinate and
// the block, thrown on the host after the reductions.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/kokkos_compat.hpp"
#include "kernels/quant/quantizer.hpp"
#include "kernels/spaces.hpp"

namespace saddle::kernels::quant {

// A Codebook's quantisation part in views of Space's memory: per block its offset and level-set
// type, per type its levels (s + 1 values), inverse widths (s values) and uniform flag; for the
// bucket scheme the bucket size and s. Huffman tables stay on the host (encoding does).
template <class Space = Exec>
struct DeviceCodebook {
  using execution_space = Space;
  using memory_space = typename Space::memory_space;
  Scheme scheme = Scheme::Layerwise;
  Norm norm = Norm::L2;
  int s = 1;
  std::int64_t n = 0;
  std::int64_t nblocks = 0;  // layer-wise, global: blocks of the layout
  std::int64_t bucket = 1;
  std::int64_t nbuckets = 0;  // bucket scheme
  Kokkos::View<const std::int64_t*, memory_space> offsets;  // nblocks + 1
  Kokkos::View<const int*, memory_space> types;             // nblocks
  Kokkos::View<const double**, Kokkos::LayoutRight, memory_space> levels;     // ntypes x (s + 1)
  Kokkos::View<const double**, Kokkos::LayoutRight, memory_space> inv_width;  // ntypes x s
  Kokkos::View<const int*, memory_space> uniform;                             // ntypes

  // Entries of Quantized::scale: a norm per block, or (min, max) per bucket.
  std::int64_t scales() const { return scheme == Scheme::Bucket ? 2 * nbuckets : nblocks; }
};

template <class Space = Exec>
DeviceCodebook<Space> device_codebook(const Codebook& cb) {
  using memory_space = typename Space::memory_space;
  DeviceCodebook<Space> d;
  d.scheme = cb.scheme;
  d.norm = cb.norm;
  d.s = cb.s;
  d.n = cb.n();
  d.nblocks = static_cast<std::int64_t>(cb.layout.blocks());
  d.bucket = cb.bucket;
  d.nbuckets = cb.scheme == Scheme::Bucket ? cb.buckets() : 0;
  const auto ntypes = cb.levels.size();
  const auto s = static_cast<std::size_t>(cb.s);
  Kokkos::View<std::int64_t*, memory_space> offsets("saddle::quant::offsets", cb.layout.offsets.size());
  Kokkos::View<int*, memory_space> types("saddle::quant::types", cb.layout.types.size());
  Kokkos::View<double**, Kokkos::LayoutRight, memory_space> levels("saddle::quant::levels", ntypes, s + 1);
  Kokkos::View<double**, Kokkos::LayoutRight, memory_space> inv_width("saddle::quant::inv_width", ntypes, s);
  Kokkos::View<int*, memory_space> uniform("saddle::quant::uniform", ntypes);
  auto ho = Kokkos::create_mirror_view(offsets);
  auto ht = Kokkos::create_mirror_view(types);
  auto hl = Kokkos::create_mirror_view(levels);
  auto hw = Kokkos::create_mirror_view(inv_width);
  auto hu = Kokkos::create_mirror_view(uniform);
  for (std::size_t m = 0; m < cb.layout.offsets.size(); ++m) ho(m) = cb.layout.offsets[m];
  for (std::size_t m = 0; m < cb.layout.types.size(); ++m) ht(m) = cb.layout.types[m];
  for (std::size_t t = 0; t < ntypes; ++t) {
    if (cb.levels[t].size() != s + 1 || cb.inv_width[t].size() != s)
      throw std::invalid_argument("device_codebook: type " + std::to_string(t) + " has no s + 1 levels");
    for (std::size_t j = 0; j <= s; ++j) hl(t, j) = cb.levels[t][j];
    for (std::size_t j = 0; j < s; ++j) hw(t, j) = cb.inv_width[t][j];
    hu(t) = cb.uniform[t] != 0 ? 1 : 0;
  }
  Kokkos::deep_copy(offsets, ho);
  Kokkos::deep_copy(types, ht);
  Kokkos::deep_copy(levels, hl);
  Kokkos::deep_copy(inv_width, hw);
  Kokkos::deep_copy(uniform, hu);
  d.offsets = offsets;
  d.types = types;
  d.levels = levels;
  d.inv_width = inv_width;
  d.uniform = uniform;
  return d;
}

namespace device_detail {

// unit_uniform of quantizer.hpp.
KOKKOS_INLINE_FUNCTION double unit_uniform(std::uint32_t w) { return (static_cast<double>(w) + 0.5) * (1.0 / 4294967296.0); }

// y / d as Divider(d) computes it: a multiplication by 1 / d unless that reciprocal overflows.
KOKKOS_INLINE_FUNCTION double divide(double y, double d) {
  const double inv = 1.0 / d;
  return kc::fabs(inv) <= DBL_MAX ? y * inv : y / d;
}

// a * b rounded on its own. nvcc contracts a * b + c into one fused multiply-add by default
// (-fmad=true), which rounds once where the host rounds twice: the products that meet an addition
// (dequantisation, the uniform family's interval) are written with this so that the bits stay
// the host's on a GPU even where this header is compiled without the --fmad=false Saddle's own
// targets get (CMakeLists.txt).
KOKKOS_INLINE_FUNCTION double mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// Whether |x| is finite (false for infinities and NaN).
KOKKOS_INLINE_FUNCTION bool finite(double x) { return kc::fabs(x) <= DBL_MAX; }

// The block m with offsets(m) <= i < offsets(m + 1): the largest m < nblocks with offsets(m) <= i
// (an empty block shares its offset with the next one, which is the larger m).
template <class Offsets>
KOKKOS_INLINE_FUNCTION std::int64_t block_of(const Offsets& offsets, std::int64_t nblocks, std::int64_t i) {
  std::int64_t lo = 0, hi = nblocks - 1;
  while (lo < hi) {
    const std::int64_t mid = (lo + hi + 1) / 2;
    if (offsets(mid) <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// level_interval of levels.hpp on row t of the levels: the largest j <= s - 1 with l_j <= u.
template <class Levels>
KOKKOS_INLINE_FUNCTION int level_interval(const Levels& l, int t, int s, double u) {
  int lo = 0, hi = s - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (l(t, mid) <= u) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// 2^k for -1074 <= k <= 1023, exactly (subnormal below -1022).
KOKKOS_INLINE_FUNCTION double pow2(int k) {
  const std::uint64_t bits = k >= -1022 ? static_cast<std::uint64_t>(k + 1023) << 52 : std::uint64_t{1} << (k + 1074);
  return kc::bit_cast<double>(bits);
}

// std::ldexp(x, k) for k >= -1074: a product with an exact power of two is rounded once, as ldexp;
// above 1023 the first factor scales up exactly (the callers' x are far from overflow).
KOKKOS_INLINE_FUNCTION double ldexp(double x, int k) {
  if (k > 1023) {
    x *= pow2(k - 1023);
    k = 1023;
  }
  return x * pow2(k);
}

// The exponent std::frexp gives a positive finite m: m = f 2^e with f in [0.5, 1).
KOKKOS_INLINE_FUNCTION int frexp_exponent(double m) {
  const std::uint64_t bits = kc::bit_cast<std::uint64_t>(m);
  const int field = static_cast<int>(bits >> 52) & 0x7ff;
  if (field > 0) return field - 1022;
  int width = 0;  // subnormal: m = bits 2^-1074
  while (width < 64 && (bits >> width) != 0) ++width;
  return width - 1074;
}

// The first index i in [lo, hi) with pred(i), over the team's threads (the caller knows one exists).
template <class Member, class Pred>
KOKKOS_INLINE_FUNCTION std::int64_t first_where(const Member& team, std::int64_t lo, std::int64_t hi, const Pred& pred) {
  std::int64_t at = 0;
  Kokkos::parallel_reduce(
      Kokkos::TeamThreadRange(team, lo, hi),
      [=](const std::int64_t i, std::int64_t& acc) {
        if (pred(i) && i < acc) acc = i;
      },
      Kokkos::Min<std::int64_t>(at));
  return at;
}

// The first index in [lo, hi) where v is zero (either sign).
template <class Member, class V>
KOKKOS_INLINE_FUNCTION std::int64_t first_zero(const Member& team, const V& v, std::int64_t lo, std::int64_t hi) {
  return first_where(team, lo, hi, [=](std::int64_t i) { return static_cast<double>(v(i)) == 0; });
}

}  // namespace device_detail

// q(i) = the signed level index (layer-wise, global) or bucket step (bucket) of v(i), drawn from
// (round, worker) at index first + i, given `scales` as quant::quantize writes Quantized::scale
// (block_scales, or the host's); bit for bit quant::quantize's Quantized::q. One thread per
// Philox block of four coordinates.
template <class Space = Exec, class V>
void quantize_indices(const V& v, const DeviceCodebook<Space>& dcb, const Kokkos::View<const double*, typename Space::memory_space>& scales,
                      const CounterRng& rng, std::uint32_t round, std::uint32_t worker, std::uint64_t first,
                      const Kokkos::View<std::int16_t*, typename Space::memory_space>& q) {
  static_assert(V::rank == 1, "quantize_indices: v is a rank-1 view");
  static_assert(Kokkos::SpaceAccessibility<Space, typename V::memory_space>::accessible, "quantize_indices: v is not in Space's memory");
  const std::int64_t n = dcb.n;
  if (static_cast<std::int64_t>(v.extent(0)) != n || static_cast<std::int64_t>(q.extent(0)) != n)
    throw std::invalid_argument("quantize_indices: v and q must have the codebook's " + std::to_string(n) + " coordinates");
  if (static_cast<std::int64_t>(scales.extent(0)) != dcb.scales())
    throw std::invalid_argument("quantize_indices: expected " + std::to_string(dcb.scales()) + " scales");
  if (n == 0) return;
  const std::uint64_t end = first + static_cast<std::uint64_t>(n);
  const std::uint64_t b0 = first >> 2, b1 = (end + 3) >> 2;
  const auto groups = static_cast<std::int64_t>(b1 - b0);
  const DeviceCodebook<Space> cb = dcb;
  const CounterRng r = rng;
  if (cb.scheme == Scheme::Bucket) {
    Kokkos::parallel_for(
        "saddle::quant::quantize_indices_bucket", Kokkos::RangePolicy<Space>(0, groups), KOKKOS_LAMBDA(const std::int64_t p) {
          const std::uint64_t b = b0 + static_cast<std::uint64_t>(p);
          const Philox4x32 bits = r.bits(b, round, worker);
          const double steps = static_cast<double>(cb.s);
          for (int w = 0; w < 4; ++w) {
            const std::uint64_t g = 4 * b + static_cast<std::uint64_t>(w);
            if (g < first || g >= end) continue;
            const auto i = static_cast<std::int64_t>(g - first);
            const std::int64_t k = i / cb.bucket;
            const double mn = scales(2 * k), mx = scales(2 * k + 1);
            const double unit = (mx - mn) / steps;
            const double x = kc::min(steps, device_detail::divide(static_cast<double>(v(i)) - mn, unit > 0 ? unit : INFINITY));
            const int j = kc::min(cb.s - 1, static_cast<int>(x));
            q(i) = static_cast<std::int16_t>(j + (device_detail::unit_uniform(bits.v[w]) < x - j ? 1 : 0));
          }
        });
    return;
  }
  Kokkos::parallel_for(
      "saddle::quant::quantize_indices", Kokkos::RangePolicy<Space>(0, groups), KOKKOS_LAMBDA(const std::int64_t p) {
        const std::uint64_t b = b0 + static_cast<std::uint64_t>(p);
        const Philox4x32 bits = r.bits(b, round, worker);
        for (int w = 0; w < 4; ++w) {
          const std::uint64_t g = 4 * b + static_cast<std::uint64_t>(w);
          if (g < first || g >= end) continue;
          const auto i = static_cast<std::int64_t>(g - first);
          const std::int64_t m = device_detail::block_of(cb.offsets, cb.nblocks, i);
          const double norm = scales(m);
          const int t = cb.types(m);
          const double x = static_cast<double>(v(i));
          const double u = kc::min(1.0, device_detail::divide(kc::fabs(x), norm > 0 ? norm : INFINITY));
          const double r01 = device_detail::unit_uniform(bits.v[w]);
          int k;
          if (cb.uniform(t)) {  // as the host: t = u s, j = min(s - 1, floor t), up when r < t - j
            const double ts = device_detail::mul(u, static_cast<double>(cb.s));
            const int j = kc::min(cb.s - 1, static_cast<int>(ts));
            k = j + (r01 < ts - j ? 1 : 0);
          } else {
            const int j = device_detail::level_interval(cb.levels, t, cb.s, u);
            k = j + (r01 < (u - cb.levels(t, j)) * cb.inv_width(t, j) ? 1 : 0);
          }
          q(i) = static_cast<std::int16_t>(x < 0 ? -k : k);
        }
      });
}

// The per-block scales quant::quantize writes into Quantized::scale, into scales_out (dcb.scales()
// entries): block norms (L2 or Linf) rounded up to wire values, or bucket (min, max) rounded
// outwards; by team reductions, one team per block or bucket (see the header comment for what is
// bit for bit). Throws std::invalid_argument for non-finite input or a norm or bucket range that
// overflows, naming the coordinate (in v) and the block.
template <class Space = Exec, class V>
void block_scales(const V& v, const DeviceCodebook<Space>& dcb, const Kokkos::View<double*, typename Space::memory_space>& scales_out) {
  static_assert(V::rank == 1, "block_scales: v is a rank-1 view");
  static_assert(Kokkos::SpaceAccessibility<Space, typename V::memory_space>::accessible, "block_scales: v is not in Space's memory");
  using memory_space = typename Space::memory_space;
  using Member = typename Kokkos::TeamPolicy<Space>::member_type;
  const std::int64_t n = dcb.n;
  if (static_cast<std::int64_t>(v.extent(0)) != n) throw std::invalid_argument("block_scales: v must have the codebook's " + std::to_string(n) + " coordinates");
  if (static_cast<std::int64_t>(scales_out.extent(0)) != dcb.scales())
    throw std::invalid_argument("block_scales: expected room for " + std::to_string(dcb.scales()) + " scales");
  const DeviceCodebook<Space> cb = dcb;
  const bool bucket = cb.scheme == Scheme::Bucket;
  const std::int64_t league = bucket ? cb.nbuckets : cb.nblocks;
  if (league == 0) return;
  // Per block: raw(2 m) = the norm (bucket: min, raw(2 m + 1) = max) before rounding to a wire
  // value; bad(m) = the first non-finite coordinate, or -1.
  Kokkos::View<double*, memory_space> raw("saddle::quant::raw_scales", static_cast<std::size_t>(2 * league));
  Kokkos::View<std::int64_t*, memory_space> bad("saddle::quant::bad", static_cast<std::size_t>(league));
  if (bucket) {
    Kokkos::parallel_for(
        "saddle::quant::bucket_bounds", Kokkos::TeamPolicy<Space>(league, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
          const std::int64_t b = team.league_rank();
          const std::int64_t lo = b * cb.bucket, hi = kc::min(cb.n, lo + cb.bucket);
          double mn = 0, mx = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, lo, hi),
              [=](const std::int64_t i, double& acc) {
                const double x = static_cast<double>(v(i));
                const double y = device_detail::finite(x) ? x : -INFINITY;
                acc = y < acc ? y : acc;
              },
              Kokkos::Min<double>(mn));
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, lo, hi),
              [=](const std::int64_t i, double& acc) {
                const double x = static_cast<double>(v(i));
                const double y = device_detail::finite(x) ? x : INFINITY;
                acc = y > acc ? y : acc;
              },
              Kokkos::Max<double>(mx));
          std::int64_t first_bad = -1;
          if (!device_detail::finite(mn) || !device_detail::finite(mx)) {
            first_bad = device_detail::first_where(team, lo, hi, [=](std::int64_t i) { return !device_detail::finite(static_cast<double>(v(i))); });
          }
          // A zero bound: the host keeps the first of equal values, so its sign is the first zero's.
          if (mn == 0) mn = static_cast<double>(v(device_detail::first_zero(team, v, lo, hi)));
          if (mx == 0) mx = static_cast<double>(v(device_detail::first_zero(team, v, lo, hi)));
          Kokkos::single(Kokkos::PerTeam(team), [=]() {
            raw(2 * b) = mn;
            raw(2 * b + 1) = mx;
            bad(b) = first_bad;
          });
        });
  } else {
    const bool l2 = cb.norm == Norm::L2;
    Kokkos::parallel_for(
        "saddle::quant::block_norms", Kokkos::TeamPolicy<Space>(league, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
          const std::int64_t m = team.league_rank();
          const std::int64_t lo = cb.offsets(m), hi = cb.offsets(m + 1);
          double top = 0;  // max |v_i|, infinite when some v_i is not finite
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, lo, hi),
              [=](const std::int64_t i, double& acc) {
                const double a = kc::fabs(static_cast<double>(v(i)));
                const double y = a <= DBL_MAX ? a : INFINITY;
                acc = y > acc ? y : acc;
              },
              Kokkos::Max<double>(top));
          top = kc::max(top, 0.0);  // an empty block: the reduction's identity
          std::int64_t first_bad = -1;
          double norm = top;
          if (!device_detail::finite(top)) {
            first_bad = device_detail::first_where(team, lo, hi, [=](std::int64_t i) { return !device_detail::finite(static_cast<double>(v(i))); });
          } else if (l2 && top > 0) {
            double sum = 0;
            if (top > 1e-140 && top < 1e140) {  // as block_norm: squares neither overflow nor lose anything that matters
              Kokkos::parallel_reduce(
                  Kokkos::TeamThreadRange(team, lo, hi),
                  [=](const std::int64_t i, double& acc) {
                    const double x = static_cast<double>(v(i));
                    acc += x * x;
                  },
                  sum);
              norm = kc::sqrt(sum);
            } else {  // scaled by the same power of two as block_norm
              const int e = device_detail::frexp_exponent(top);
              Kokkos::parallel_reduce(
                  Kokkos::TeamThreadRange(team, lo, hi),
                  [=](const std::int64_t i, double& acc) {
                    const double a = device_detail::ldexp(static_cast<double>(v(i)), -e);
                    acc += a * a;
                  },
                  sum);
              norm = device_detail::ldexp(kc::sqrt(sum), e);
            }
          }
          Kokkos::single(Kokkos::PerTeam(team), [=]() {
            raw(2 * m) = norm;
            bad(m) = first_bad;
          });
        });
  }
  auto hraw = Kokkos::create_mirror_view(raw);
  auto hbad = Kokkos::create_mirror_view(bad);
  Kokkos::deep_copy(hraw, raw);
  Kokkos::deep_copy(hbad, bad);
  auto hout = Kokkos::create_mirror_view(scales_out);
  const std::string what = bucket ? "bucket " : "block ";
  for (std::int64_t m = 0; m < league; ++m) {  // the first failing block, as the host's loop
    if (hbad(m) >= 0)
      throw std::invalid_argument("quantize: non-finite value at coordinate " + std::to_string(hbad(m)) + " (" + what + std::to_string(m) + ")");
    if (bucket) {
      const double mn = wire_scale(hraw(2 * m), false), mx = wire_scale(hraw(2 * m + 1), true);
      if (!std::isfinite((mx - mn) / static_cast<double>(cb.s)))
        throw std::invalid_argument("quantize: bucket range overflows at coordinate " + std::to_string(m * cb.bucket) + " (bucket " + std::to_string(m) + ")");
      hout(2 * m) = mn;
      hout(2 * m + 1) = mx;
    } else {
      if (!std::isfinite(hraw(2 * m))) {
        const auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cb.offsets);
        throw std::invalid_argument("quantize: block norm overflows at coordinate " + std::to_string(offsets(m)) + " (block " + std::to_string(m) + ")");
      }
      hout(m) = wire_scale(hraw(2 * m), true);
    }
  }
  Kokkos::deep_copy(scales_out, hout);
}

// out(i) = Q(v)_i, or out(i) += Q(v)_i when `accumulate`, from the indices q and the scales as
// quant::quantize writes them; bit for bit quant::dequantize.
template <class Space = Exec>
void dequantize(const Kokkos::View<const std::int16_t*, typename Space::memory_space>& q,
                const Kokkos::View<const double*, typename Space::memory_space>& scales, const DeviceCodebook<Space>& dcb,
                const Kokkos::View<double*, typename Space::memory_space>& out, bool accumulate = false) {
  const std::int64_t n = dcb.n;
  if (static_cast<std::int64_t>(q.extent(0)) != n || static_cast<std::int64_t>(out.extent(0)) != n)
    throw std::invalid_argument("dequantize: q and out must have the codebook's " + std::to_string(n) + " coordinates");
  if (static_cast<std::int64_t>(scales.extent(0)) != dcb.scales())
    throw std::invalid_argument("dequantize: expected " + std::to_string(dcb.scales()) + " scales");
  const DeviceCodebook<Space> cb = dcb;
  if (cb.scheme == Scheme::Bucket) {
    Kokkos::parallel_for(
        "saddle::quant::dequantize_bucket", Kokkos::RangePolicy<Space>(0, n), KOKKOS_LAMBDA(const std::int64_t i) {
          const std::int64_t b = i / cb.bucket;
          const double mn = scales(2 * b), mx = scales(2 * b + 1);
          const double unit = (mx - mn) / static_cast<double>(cb.s);
          const double x = mn + device_detail::mul(unit, q(i));
          out(i) = accumulate ? out(i) + x : x;
        });
    return;
  }
  Kokkos::parallel_for(
      "saddle::quant::dequantize", Kokkos::RangePolicy<Space>(0, n), KOKKOS_LAMBDA(const std::int64_t i) {
        const std::int64_t m = device_detail::block_of(cb.offsets, cb.nblocks, i);
        const double norm = scales(m);
        const int t = cb.types(m);
        const int k = q(i);
        const double x = k < 0 ? -device_detail::mul(norm, cb.levels(t, -k)) : device_detail::mul(norm, cb.levels(t, k));
        out(i) = accumulate ? out(i) + x : x;
      });
}

}  // namespace saddle::kernels::quant
