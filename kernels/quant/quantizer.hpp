#pragma once
// Unbiased stochastic quantisers of docs/algorithms.md section 2 (no MPI):
// - layer-wise: the vector is split into blocks; block m is sent as its norm N = |v_m|_q
//   (q = 2 or infinity), and per coordinate a sign and the index of a level of its type's level
//   set, rounded up or down at random so that E[Q(v)] = v; exact variance
//   N^2 sum_i (l_{j+1} - u_i)(u_i - l_j) with u_i = |v_i| / N;
// - global: the same with one block and one level set for the whole vector;
// - bucket: min-max rounding onto 2^b - 1 equal steps per bucket of `bucket` coordinates
//   (the CGX scheme), also stochastic and unbiased.
// The random numbers come from a CounterRng keyed by the coordinate, the exchange round and the
// worker, so a quantisation is a pure function of its inputs (restarts redraw the same bits).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

// `#pragma GCC unroll` for GCC and clang; nvcc's front end (CUDA builds) does not know it.
#if defined(__NVCC__)
#define SADDLE_UNROLL_16
#else
#define SADDLE_UNROLL_16 _Pragma("GCC unroll 16")
#endif

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/counter_rng.hpp"
#include "kernels/quant/coder.hpp"
#include "kernels/quant/levels.hpp"
#include "kernels/quant/philox_blocks.hpp"

namespace saddle::kernels::quant {

enum class Scheme : std::uint8_t { Layerwise = 1, Global = 2, Bucket = 3 };
enum class Norm : std::uint8_t { L2 = 2, Linf = 255 };
enum class Coder : std::uint8_t { Elias = 1, Huffman = 2, Fixed = 3 };

// Blocks [offsets[m], offsets[m+1]) of the vector and the level-set type of each block.
struct Layout {
  std::vector<std::int64_t> offsets{0};
  std::vector<int> types;
  int ntypes = 0;
  std::int64_t n() const { return offsets.back(); }
  std::size_t blocks() const { return types.size(); }
};

// Everything sender and receiver must share: scheme, codes, levels and Huffman tables per type,
// and the epoch that numbers the refits of levels and tables (carried in every payload).
struct Codebook {
  Scheme scheme = Scheme::Layerwise;
  Norm norm = Norm::L2;
  Coder coder = Coder::Elias;
  int s = 7;  // intervals: levels 0..s (num_levels = s + 1)
  std::uint32_t epoch = 0;
  std::int64_t bucket = 1024;
  Layout layout;
  std::vector<std::vector<double>> levels;  // per type, s + 1 values from 0 to 1
  std::vector<HuffmanCode> huffman;         // per type, when coder == Huffman
  std::vector<char> uniform;                // per type: levels are j/s (interval by one multiplication)
  static constexpr int kLutCells = 4096;
  std::vector<std::vector<std::uint8_t>> lut;  // per type: the interval of u = c / kLutCells, a start for the search
  std::vector<std::vector<double>> inv_width;  // per type: 1 / (l_{j+1} - l_j)

  std::int64_t n() const { return layout.n(); }
  std::int64_t buckets() const { return (n() + bucket - 1) / bucket; }
  int fixed_bits() const {
    int b = 0;
    while ((1 << b) < s + 1) ++b;
    return b;
  }
  void set_levels(int type, std::vector<double> l) {
    const auto t = static_cast<std::size_t>(type);
    if (lut.size() < levels.size()) lut.resize(levels.size());
    if (inv_width.size() < levels.size()) inv_width.resize(levels.size());
    inv_width[t].resize(static_cast<std::size_t>(s));
    for (std::size_t j = 0; j < static_cast<std::size_t>(s); ++j) inv_width[t][j] = 1.0 / (l[j + 1] - l[j]);
    uniform[t] = l == uniform_levels(s);
    lut[t].resize(kLutCells);
    for (int c = 0; c < kLutCells; ++c)
      lut[t][static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(level_interval(l.data(), s, static_cast<double>(c) / kLutCells));
    levels[t] = std::move(l);
  }
  // The interval [l_j, l_{j+1}] of u in [0, 1] (as level_interval).
  int interval(std::size_t type, const double* l, double u) const {
    if (uniform[type]) return std::min(s - 1, static_cast<int>(u * s));
    int j = lut[type][static_cast<std::size_t>(std::min(kLutCells - 1, static_cast<int>(u * kLutCells)))];
    while (j < s - 1 && l[j + 1] <= u) ++j;
    return j;
  }
};

// The scales a payload carries exactly (payload.hpp): zero and the float32 magnitudes from the
// smallest normal to the largest as 32 bits, anything else escaped as a float64. wire_scale(x,
// up) is the nearest of them at or above x (up) or at or below it: the quantisers round block
// norms up and bucket bounds outwards, so that every |v_i| stays within its scale and the
// rounding stays unbiased; a 1-element block then costs 32 bits of norm, not 64.
inline bool float_scale(double x) {
  const double a = std::fabs(x);
  return a == 0 || (a >= static_cast<double>(std::numeric_limits<float>::min()) && a <= static_cast<double>(std::numeric_limits<float>::max()));
}
inline double wire_scale(double x, bool up) {
  if (!float_scale(x)) return x;
  float f = static_cast<float>(x);
  if (up ? static_cast<double>(f) < x : static_cast<double>(f) > x) f = std::nextafter(f, up ? INFINITY : -INFINITY);
  return static_cast<double>(f);
}

// A quantised vector: per block its norm (layer-wise, global) or per bucket (min, max), and per
// coordinate the signed level index (layer-wise, global) or the bucket step (bucket).
struct Quantized {
  std::vector<double> scale;
  std::vector<std::int16_t> q;
};

// Throws std::invalid_argument naming the first non-finite coordinate of v[0, n).
template <class T>
[[noreturn]] void reject_nonfinite(const T* v, std::int64_t n, std::int64_t offset) {
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(static_cast<double>(v[i])))
      throw std::invalid_argument("quantize: non-finite value " + std::to_string(static_cast<double>(v[i])) +
                                  " at coordinate " + std::to_string(offset + i));
  throw std::invalid_argument("quantize: block norm overflows at coordinate " + std::to_string(offset));
}

namespace detail {
// max |v_i| over v[0, n) as a double; `bad` when some v_i is infinite or NaN. For IEEE types the
// magnitudes compare as unsigned integers (sign bit cleared), which vectorises; infinities and
// NaNs are the patterns from the all-ones exponent up.
template <class T>
double max_abs(const T* v, std::int64_t n, bool& bad) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    using U = std::conditional_t<std::is_same_v<T, float>, std::uint32_t, std::uint64_t>;
    constexpr U magnitude = ~U{0} >> 1;
    const U inf = [] {
      const T x = std::numeric_limits<T>::infinity();
      U b;
      std::memcpy(&b, &x, sizeof b);
      return b;
    }();
    U top = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      U b;
      std::memcpy(&b, v + i, sizeof b);
      b &= magnitude;
      top = b > top ? b : top;
    }
    bad = top >= inf;
    T m;
    std::memcpy(&m, &top, sizeof m);
    return static_cast<double>(m);
  } else {
    double m = 0;
    bad = false;
    for (std::int64_t i = 0; i < n; ++i) {
      const double a = std::fabs(static_cast<double>(v[i]));
      bad |= !(a <= std::numeric_limits<double>::max());
      m = a > m ? a : m;
    }
    return m;
  }
}
}  // namespace detail

// The norm of v[0, n), scaled so that huge finite entries do not overflow the 2-norm.
template <class T>
double block_norm(const T* v, std::int64_t n, Norm norm, std::int64_t offset) {
  bool bad = false;
  const double m = detail::max_abs(v, n, bad);
  if (bad) reject_nonfinite(v, n, offset);
  if (norm == Norm::Linf || m == 0) return m;
  double s = 0;
  if (m > 1e-140 && m < 1e140) {  // squares neither overflow nor lose anything that matters
    for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(v[i]) * static_cast<double>(v[i]);
    return std::sqrt(s);
  }
  // Huge or tiny entries: scale by a power of two (exact) so that the squares stay in range.
  int e = 0;
  std::frexp(m, &e);
  for (std::int64_t i = 0; i < n; ++i) {
    const double a = std::ldexp(static_cast<double>(v[i]), -e);
    s += a * a;
  }
  const double r = std::ldexp(std::sqrt(s), e);
  if (!std::isfinite(r)) reject_nonfinite(v, n, offset);
  return r;
}

// x / d, by a multiplication with 1 / d unless that reciprocal overflows (subnormal d).
class Divider {
 public:
  explicit Divider(double d) : d_(d), inv_(1.0 / d), exact_(!(std::fabs(inv_) <= std::numeric_limits<double>::max())) {}
  double operator()(double x) const { return exact_ ? x / d_ : x * inv_; }
  // Calls f with a functor of one of the two ways (DivideBy, MultiplyBy), so that loops over
  // coordinates have no branch.
  template <class F>
  void visit(F&& f) const {
    if (exact_) f(DivideBy{d_});
    else f(MultiplyBy{inv_});
  }
  struct DivideBy {
    double d;
    double operator()(double x) const { return x / d; }
#if defined(__AVX512F__)
    __m512d operator()(__m512d x) const { return _mm512_div_pd(x, _mm512_set1_pd(d)); }
#endif
  };
  struct MultiplyBy {
    double inv;
    double operator()(double x) const { return x * inv; }
#if defined(__AVX512F__)
    __m512d operator()(__m512d x) const { return _mm512_mul_pd(x, _mm512_set1_pd(inv)); }
#endif
  };

 private:
  double d_, inv_;
  bool exact_;
};

// Calls f(c0, c1, words) for chunks [c0, c1) of [lo, hi), where words[i - c0] is the random
// 32-bit word of coordinate i: word g % 4 of the Philox block g / 4 of (round, worker), g = first
// + i the coordinate's index in the whole vector (first > 0 when v is a pipeline stage's part).
// Drawing a chunk's words first keeps the rounding loops branch-free, so they vectorise.
template <class F>
void for_random_chunks(const CounterRng& rng, std::uint32_t round, std::uint32_t worker, std::int64_t lo, std::int64_t hi, std::uint64_t first, F&& f) {
  constexpr std::int64_t kChunk = 1024;
  std::uint32_t words[kChunk + 8];
  for (std::int64_t c0 = lo; c0 < hi; c0 += kChunk) {
    const std::int64_t c1 = std::min(hi, c0 + kChunk);
    const std::uint64_t g0 = first + static_cast<std::uint64_t>(c0), g1 = first + static_cast<std::uint64_t>(c1);
    const std::uint64_t b0 = g0 >> 2, b1 = (g1 + 3) >> 2;
    philox_blocks(rng, b0, static_cast<std::size_t>(b1 - b0), round, worker, words);
    f(c0, c1, words + (g0 - 4 * b0));
  }
}

inline double unit_uniform(std::uint32_t w) { return (static_cast<double>(w) + 0.5) * (1.0 / 4294967296.0); }

namespace detail {
// Stochastic rounding of coordinate i onto levels with s <= P intervals: lp[m] = l_m for m < s,
// +inf above; wp[m] = 1 / (l_{m+1} - l_m). The interval j counts the interior levels <= u,
// which is the largest j <= s - 1 with l_j <= u (level_interval); l_j and the width are
// selected on the way, so there is no search and no gather, and loops over i vectorise (lp and
// wp must be the caller's local arrays: loads through a pointer would not be if-converted).
template <int P, class T, class Div>
inline void round_few(const T* v, std::int16_t* qi, const std::uint32_t* w, const Div& by_norm, const double (&lp)[P],
                      const double (&wp)[P], std::int64_t i) {
  const double x = static_cast<double>(v[i]);
  const double u = std::min(1.0, by_norm(std::fabs(x)));
  double lj = lp[0], wj = wp[0];
  int j = 0;
SADDLE_UNROLL_16
  for (int m = 1; m < P; ++m) {
    const double lm = lp[m], wm = wp[m];  // loaded unconditionally, so the selections if-convert
    const bool ge = lm <= u;
    lj = ge ? lm : lj;
    wj = ge ? wm : wj;
    j += ge;
  }
  const int k = j + (unit_uniform(w[i]) < (u - lj) * wj ? 1 : 0);
  qi[i] = static_cast<std::int16_t>(x < 0 ? -k : k);
}

// The l2 norm of the block after the one being rounded, summed in between: the sum is a chain of
// dependent additions (its order fixes the norm's bits), which leaves the vector units idle; the
// rounding loop does sixteen of its additions per sixteen coordinates, so the two overlap.
template <class T>
struct NormAhead {
  std::size_t block = static_cast<std::size_t>(-1);
  const T* p = nullptr;
  std::int64_t left = 0;
  double sum = 0;
  void add(std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i) sum += static_cast<double>(p[i]) * static_cast<double>(p[i]);
    p += count;
    left -= count;
  }
  // As block_norm: the sum in order, then its square root.
  double finish() {
    add(left);
    return std::sqrt(sum);
  }
};

// body(i) for i in [c0, c1), sixteen coordinates at a time with sixteen of ahead's additions.
#if defined(__AVX512F__)
// GCC 12 warns about the undefined pass-through operands inside the intrinsics when inlined.
#pragma GCC diagnostic push
#if !defined(__clang__)  // a GCC warning; clang warns about the unknown group instead
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// eight(i) over [c0, c1) eight coordinates at a time, sixteen of ahead's additions per sixteen
// coordinates (as round_overlapping), then one(i) for the last c1 - c0 mod 8.
template <class T, class Eight, class One>
inline void eights_overlapping(std::int64_t c0, std::int64_t c1, NormAhead<T>& ahead_ref, const Eight& eight, const One& one) {
  NormAhead<T> ahead = ahead_ref;  // in registers, as in round_overlapping
  std::int64_t i = c0;
  for (; i + 16 <= c1 && ahead.left >= 16; i += 16) {
    eight(i);
    eight(i + 8);
    ahead.add(16);
  }
  for (; i + 8 <= c1; i += 8) eight(i);
  for (; i < c1; ++i) one(i);
  ahead_ref = ahead;
}

// round_few on [c0, c1) with AVX-512, eight coordinates per step, sixteen of them per sixteen of
// ahead's additions (round_overlapping): the same operations on eight lanes (IEEE arithmetic is
// exact to the bit in either form), with l_j and the width taken by an in-register permutation
// (P <= 16 levels fit in two vectors). All state is local: the int16 stores are of a type that may
// alias anything, so values kept behind pointers would be reloaded after each.
template <int P, class T, class Div>
void round_few_avx512(const T* v, std::int16_t* qi, const std::uint32_t* w, Div by_norm, const double* lpad, const double* wpad,
                      std::int64_t c0, std::int64_t c1, NormAhead<T>& ahead_ref) {
  static_assert(P <= 16, "two vectors of levels");
  double lp[P], wp[P];
  for (int m = 0; m < P; ++m) {
    lp[m] = lpad[m];
    wp[m] = wpad[m];
  }
  double l16[16] = {}, w16[16] = {};  // whole vectors to load
  for (int m = 0; m < P; ++m) {
    l16[m] = lp[m];
    w16[m] = wp[m];
  }
  __m512d level[P];
  for (int m = 0; m < P; ++m) level[m] = _mm512_set1_pd(lp[m]);
  const __m512d l_lo = _mm512_loadu_pd(l16), w_lo = _mm512_loadu_pd(w16);
  const __m512d l_hi = _mm512_loadu_pd(l16 + 8), w_hi = _mm512_loadu_pd(w16 + 8);
  const __m512d unit = _mm512_set1_pd(1.0), half = _mm512_set1_pd(0.5), scale = _mm512_set1_pd(1.0 / 4294967296.0);
  const __m512i one = _mm512_set1_epi64(1);
  auto eight = [&](std::int64_t i) {
    __m512d x;
    if constexpr (std::is_same_v<T, float>) x = _mm512_cvtps_pd(_mm256_loadu_ps(v + i));
    else x = _mm512_loadu_pd(v + i);
    const __m512d u = _mm512_min_pd(by_norm(_mm512_abs_pd(x)), unit);  // (y < 1) ? y : 1, as std::min(1.0, y)
    __m512i j = _mm512_setzero_si512();
SADDLE_UNROLL_16
    for (int m = 1; m < P; ++m) j = _mm512_mask_add_epi64(j, _mm512_cmp_pd_mask(level[m], u, _CMP_LE_OQ), j, one);
    const __m512d lj = P > 8 ? _mm512_permutex2var_pd(l_lo, j, l_hi) : _mm512_permutexvar_pd(j, l_lo);
    const __m512d wj = P > 8 ? _mm512_permutex2var_pd(w_lo, j, w_hi) : _mm512_permutexvar_pd(j, w_lo);
    const __m512d p = _mm512_mul_pd(_mm512_sub_pd(u, lj), wj);
    const __m512d r = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepu32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))), half), scale);
    __m512i k = _mm512_mask_add_epi64(j, _mm512_cmp_pd_mask(r, p, _CMP_LT_OQ), j, one);
    k = _mm512_mask_sub_epi64(k, _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LT_OQ), _mm512_setzero_si512(), k);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qi + i), _mm512_cvtepi64_epi16(k));
  };
  eights_overlapping(c0, c1, ahead_ref, eight, [&](std::int64_t i) { round_few<P>(v, qi, w, by_norm, lp, wp, i); });
}

// The uniform levels j / s on [c0, c1) likewise: t = u s, j = min(s - 1, floor t), k = j + (r < t - j).
template <class T, class Div>
void round_uniform_avx512(const T* v, std::int16_t* qi, const std::uint32_t* w, Div by_norm, int s, std::int64_t c0, std::int64_t c1,
                          NormAhead<T>& ahead_ref) {
  const double sd = s;
  const __m512d unit = _mm512_set1_pd(1.0), steps = _mm512_set1_pd(sd), half = _mm512_set1_pd(0.5), scale = _mm512_set1_pd(1.0 / 4294967296.0);
  const __m256i top = _mm256_set1_epi32(s - 1);
  const __m512i one = _mm512_set1_epi64(1);
  auto eight = [&](std::int64_t i) {
    __m512d x;
    if constexpr (std::is_same_v<T, float>) x = _mm512_cvtps_pd(_mm256_loadu_ps(v + i));
    else x = _mm512_loadu_pd(v + i);
    const __m512d t = _mm512_mul_pd(_mm512_min_pd(by_norm(_mm512_abs_pd(x)), unit), steps);
    const __m256i j32 = _mm256_min_epi32(_mm512_cvttpd_epi32(t), top);  // t >= 0: truncation is the floor
    const __m512d frac = _mm512_sub_pd(t, _mm512_cvtepi32_pd(j32));
    const __m512d r = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepu32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))), half), scale);
    const __m512i j = _mm512_cvtepi32_epi64(j32);
    __m512i k = _mm512_mask_add_epi64(j, _mm512_cmp_pd_mask(r, frac, _CMP_LT_OQ), j, one);
    k = _mm512_mask_sub_epi64(k, _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LT_OQ), _mm512_setzero_si512(), k);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qi + i), _mm512_cvtepi64_epi16(k));
  };
  eights_overlapping(c0, c1, ahead_ref, eight, [&](std::int64_t i) {
    const double x = static_cast<double>(v[i]);
    const double t = std::min(1.0, by_norm(std::fabs(x))) * sd;
    const int j = std::min(s - 1, static_cast<int>(t));
    const int k = j + (unit_uniform(w[i]) < t - j ? 1 : 0);
    qi[i] = static_cast<std::int16_t>(x < 0 ? -k : k);
  });
}
#pragma GCC diagnostic pop
#endif

template <class T, class Body>
void round_overlapping(std::int64_t c0, std::int64_t c1, NormAhead<T>& ahead_ref, const Body& body) {
  constexpr int kGroup = 16;
  NormAhead<T> ahead = ahead_ref;  // in registers: a sum kept in memory would add a store and a load to each addition
  std::int64_t i = c0;
  for (; i + kGroup <= c1 && ahead.left >= kGroup; i += kGroup) {
    for (int t = 0; t < kGroup; ++t) body(i + t);
    ahead.add(kGroup);
  }
  for (; i < c1; ++i) body(i);
  ahead_ref = ahead;
}
}  // namespace detail

// Q(v) into out, the rounding of coordinate i drawn from (round, worker) at index first + i (first:
// where v starts in the whole vector, so a pipeline stage's part rounds as the whole would).
template <class T>
void quantize(const T* v, const Codebook& cb, const CounterRng& rng, std::uint32_t round, std::uint32_t worker,
              Quantized& out, std::uint64_t first = 0) {
  const std::int64_t n = cb.n();
  out.q.resize(static_cast<std::size_t>(n));
  std::int16_t* qi = out.q.data();
  if (cb.scheme == Scheme::Bucket) {
    const std::int64_t nb = cb.buckets();
    out.scale.resize(static_cast<std::size_t>(2 * nb));
    const double steps = static_cast<double>(cb.s);
    for (std::int64_t b = 0; b < nb; ++b) {
      const std::int64_t lo = b * cb.bucket, hi = std::min(n, lo + cb.bucket);
      double mn = static_cast<double>(v[lo]), mx = mn;
      bool bad = false;
      for (std::int64_t i = lo; i < hi; ++i) {
        const double x = static_cast<double>(v[i]);
        bad |= !std::isfinite(x);
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
      }
      if (bad) reject_nonfinite(v + lo, hi - lo, lo);
      mn = wire_scale(mn, false);  // the range still holds every coordinate
      mx = wire_scale(mx, true);
      const double unit = (mx - mn) / steps;
      if (!std::isfinite(unit)) throw std::invalid_argument("quantize: bucket range overflows at coordinate " + std::to_string(lo));
      out.scale[static_cast<std::size_t>(2 * b)] = mn;
      out.scale[static_cast<std::size_t>(2 * b + 1)] = mx;
      const Divider per_unit(unit > 0 ? unit : INFINITY);
      const int top = cb.s - 1;
      for_random_chunks(rng, round, worker, lo, hi, first, [&](std::int64_t c0, std::int64_t c1, const std::uint32_t* rw) {
        for (std::int64_t i = c0; i < c1; ++i) {
          const double x = std::min(steps, per_unit(static_cast<double>(v[i]) - mn));
          const int j = std::min(top, static_cast<int>(x));
          qi[i] = static_cast<std::int16_t>(j + (unit_uniform(rw[i - c0]) < x - j ? 1 : 0));
        }
      });
    }
    return;
  }
  const std::size_t nblocks = cb.layout.blocks();
  out.scale.resize(nblocks);
  detail::NormAhead<T> ahead;
  for (std::size_t m = 0; m < nblocks; ++m) {
    const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
    // Rounded up to a wire value: |v_i| <= N still, so the rounding stays unbiased.
    const double norm = wire_scale(ahead.block == m ? ahead.finish() : block_norm(v + lo, hi - lo, cb.norm, lo), true);
    out.scale[m] = norm;
    // The next block's l2 norm overlaps this block's rounding when its squares need no scaling
    // (else, and for non-finite entries, block_norm takes it in turn).
    ahead = detail::NormAhead<T>();
    if (cb.norm == Norm::L2 && m + 1 < nblocks) {
      const std::int64_t lo1 = cb.layout.offsets[m + 1], hi1 = cb.layout.offsets[m + 2];
      bool bad = false;
      const double top = detail::max_abs(v + lo1, hi1 - lo1, bad);
      if (!bad && top > 1e-140 && top < 1e140) {
        ahead.block = m + 1;
        ahead.p = v + lo1;
        ahead.left = hi1 - lo1;
      }
    }
    const auto type = static_cast<std::size_t>(cb.layout.types[m]);
    const double* l = cb.levels[type].data();
    const double* iw = cb.inv_width[type].data();
    const bool uni = cb.uniform[type] != 0;
    const int s = cb.s;
    // Few levels: round_few (levels padded with +inf to a power of two P >= s). More levels: a
    // table lookup and a short search.
    Divider(norm > 0 ? norm : INFINITY).visit([&](auto by_norm) {
      auto few = [&](auto tag) {
        constexpr int P = decltype(tag)::value;
        double lp[P], wp[P];
        for (int j = 0; j < P; ++j) {
          lp[j] = j < s ? l[j] : INFINITY;
          wp[j] = j < s ? iw[j] : 0.0;
        }
        for_random_chunks(rng, round, worker, lo, hi, first, [&](std::int64_t c0, std::int64_t c1, const std::uint32_t* rw) {
          const std::uint32_t* w = rw - c0;
          double lpc[P], wpc[P];  // see round_few
          for (int j = 0; j < P; ++j) {
            lpc[j] = lp[j];
            wpc[j] = wp[j];
          }
#if defined(__AVX512F__)
          if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
            detail::round_few_avx512<P>(v, qi, w, by_norm, lp, wp, c0, c1, ahead);
            return;
          }
#endif
          detail::round_overlapping(c0, c1, ahead, [&](std::int64_t i) { detail::round_few<P>(v, qi, w, by_norm, lpc, wpc, i); });
        });
      };
      if (uni) {
        const double sd = s;
        for_random_chunks(rng, round, worker, lo, hi, first, [&](std::int64_t c0, std::int64_t c1, const std::uint32_t* rw) {
          const std::uint32_t* w = rw - c0;
#if defined(__AVX512F__)
          if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
            detail::round_uniform_avx512(v, qi, w, by_norm, s, c0, c1, ahead);
            return;
          }
#endif
          detail::round_overlapping(c0, c1, ahead, [&](std::int64_t i) {
            const double x = static_cast<double>(v[i]);
            const double t = std::min(1.0, by_norm(std::fabs(x))) * sd;
            const int j = std::min(s - 1, static_cast<int>(t));
            const int k = j + (unit_uniform(w[i]) < t - j ? 1 : 0);
            qi[i] = static_cast<std::int16_t>(x < 0 ? -k : k);
          });
        });
      } else if (s <= 2) {
        few(std::integral_constant<int, 2>());
      } else if (s <= 4) {
        few(std::integral_constant<int, 4>());
      } else if (s <= 8) {
        few(std::integral_constant<int, 8>());
      } else if (s <= 16) {
        few(std::integral_constant<int, 16>());
      } else {
        for_random_chunks(rng, round, worker, lo, hi, first, [&](std::int64_t c0, std::int64_t c1, const std::uint32_t* rw) {
          const std::uint32_t* w = rw - c0;
          detail::round_overlapping(c0, c1, ahead, [&](std::int64_t i) {
            const double x = static_cast<double>(v[i]);
            const double u = std::min(1.0, by_norm(std::fabs(x)));
            const int j = cb.interval(type, l, u);
            const int k = j + (unit_uniform(w[i]) < (u - l[j]) * iw[j] ? 1 : 0);
            qi[i] = static_cast<std::int16_t>(x < 0 ? -k : k);
          });
        });
      }
    });
  }
}

// out[i] = Q(v)_i, or out[i] += Q(v)_i when `accumulate`.
inline void dequantize(const Quantized& in, const Codebook& cb, double* out, bool accumulate = false) {
  const std::int64_t n = cb.n();
  if (cb.scheme == Scheme::Bucket) {
    for (std::int64_t b = 0; b < cb.buckets(); ++b) {
      const double mn = in.scale[static_cast<std::size_t>(2 * b)], mx = in.scale[static_cast<std::size_t>(2 * b + 1)];
      const double unit = (mx - mn) / static_cast<double>(cb.s);
      for (std::int64_t i = b * cb.bucket; i < std::min(n, (b + 1) * cb.bucket); ++i) {
        const double x = mn + unit * in.q[static_cast<std::size_t>(i)];
        out[i] = accumulate ? out[i] + x : x;
      }
    }
    return;
  }
  // Per block the 2s + 1 values the indices stand for, then one lookup per coordinate.
  const int s = cb.s;
  std::vector<double> values(2 * static_cast<std::size_t>(s) + 1);
  const std::int16_t* q = in.q.data();
  for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
    const double norm = in.scale[m];
    const double* l = cb.levels[static_cast<std::size_t>(cb.layout.types[m])].data();
    const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
    if (hi - lo < 2 * s + 1) {
      for (std::int64_t i = lo; i < hi; ++i) {
        const int k = q[i];
        const double x = k < 0 ? -(norm * l[-k]) : norm * l[k];
        out[i] = accumulate ? out[i] + x : x;
      }
      continue;
    }
    for (int k = -s; k <= s; ++k) values[static_cast<std::size_t>(k + s)] = k < 0 ? -(norm * l[-k]) : norm * l[k];
    const double* x = values.data() + s;
    if (accumulate)
      for (std::int64_t i = lo; i < hi; ++i) out[i] += x[q[i]];
    else
      for (std::int64_t i = lo; i < hi; ++i) out[i] = x[q[i]];
  }
}

// E|Q(v) - v|^2, exactly (docs/algorithms.md section 2: N^2 sum_i (l_{j+1} - u_i)(u_i - l_j) per
// block; for buckets unit^2 sum_i p_i (1 - p_i)).
template <class T>
double exact_variance(const T* v, const Codebook& cb) {
  double var = 0;
  const std::int64_t n = cb.n();
  if (cb.scheme == Scheme::Bucket) {
    for (std::int64_t b = 0; b < cb.buckets(); ++b) {
      const std::int64_t lo = b * cb.bucket, hi = std::min(n, lo + cb.bucket);
      double mn = static_cast<double>(v[lo]), mx = mn;
      for (std::int64_t i = lo; i < hi; ++i) {
        mn = std::min(mn, static_cast<double>(v[i]));
        mx = std::max(mx, static_cast<double>(v[i]));
      }
      mn = wire_scale(mn, false);
      mx = wire_scale(mx, true);
      const double unit = (mx - mn) / static_cast<double>(cb.s);
      if (unit == 0) continue;
      for (std::int64_t i = lo; i < hi; ++i) {
        const double x = (static_cast<double>(v[i]) - mn) / unit;
        const double p = x - std::floor(x);
        var += unit * unit * p * (1 - p);
      }
    }
    return var;
  }
  for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
    const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
    const double norm = wire_scale(block_norm(v + lo, hi - lo, cb.norm, lo), true);  // the quantiser's
    if (norm == 0) continue;
    const auto& l = cb.levels[static_cast<std::size_t>(cb.layout.types[m])];
    const Divider by_norm(norm);
    double s = 0;
    for (std::int64_t i = lo; i < hi; ++i) s += rounding_variance(l, std::min(1.0, by_norm(std::fabs(static_cast<double>(v[i])))));
    var += norm * norm * s;
  }
  return var;
}

// Adds the normalised coordinates u_i = |v_i| / N of each block to its type's statistics
// (stats[type], LevelHistogram::empty_stats() each), and each block's level indices' expected
// use follows from them (LevelHistogram, EdgeVariance).
template <class T>
void add_statistics(const T* v, const Codebook& cb, const LevelHistogram& h, std::vector<std::vector<double>>& stats) {
  for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
    const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
    const double norm = wire_scale(block_norm(v + lo, hi - lo, cb.norm, lo), true);  // the quantiser's
    if (norm == 0) continue;
    auto& st = stats[static_cast<std::size_t>(cb.layout.types[m])];
    const Divider by_norm(norm);
    for (std::int64_t i = lo; i < hi; ++i) h.add(st, std::min(1.0, by_norm(std::fabs(static_cast<double>(v[i])))));
  }
}

}  // namespace saddle::kernels::quant
