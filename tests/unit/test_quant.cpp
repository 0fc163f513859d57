// kernels/quant: the quantisers are unbiased, their empirical variance equals the exact-variance
// function, adaptive levels never have more variance than uniform ones, the codes are what the
// definitions say, payloads round-trip bit for bit (also on adversarial vectors) and corrupt
// payloads are detected.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/quant/codebook.hpp"
#include "kernels/quant/coder.hpp"
#include "kernels/quant/levels.hpp"
#include "kernels/quant/payload.hpp"
#include "kernels/quant/quantizer.hpp"

using namespace saddle::kernels;
using namespace saddle::kernels::quant;

namespace {

// A vector of `blocks` blocks whose magnitudes span orders of magnitude.
std::vector<double> layered(std::int64_t n_per, int blocks, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> nd;
  std::vector<double> v;
  for (int m = 0; m < blocks; ++m)
    for (std::int64_t i = 0; i < n_per; ++i) v.push_back(std::pow(10.0, -m) * nd(g));
  return v;
}

// A codebook of `blocks` equal blocks (bucket: 16 coordinates per bucket) from the one factory,
// with Huffman tables of a geometric index histogram (the factory's flat-histogram code gives
// every index nearly the same length; this one gives them lengths from 1 to s).
Codebook make_codebook(Scheme scheme, int num_levels, std::int64_t n, int blocks, Coder coder = Coder::Elias, Norm norm = Norm::L2,
                       LevelFamily family = LevelFamily::Uniform) {
  const CodebookOptions o{scheme, family, num_levels, norm, coder, /*exp_base=*/0.5, /*bucket=*/16};
  std::vector<std::int64_t> offsets{0};
  for (int m = 0; m < blocks; ++m) offsets.push_back(n * (m + 1) / blocks);
  Codebook cb = quant::make_codebook(o, block_layout(offsets));
  std::vector<double> counts(static_cast<std::size_t>(cb.s) + 1);
  for (std::size_t k = 0; k < counts.size(); ++k) counts[k] = std::pow(0.5, static_cast<double>(k)) * 1000;
  for (auto& h : cb.huffman) h = HuffmanCode(huffman_lengths(counts));
  return cb;
}

// Fits adaptive levels to v for every type of the codebook.
void adapt(Codebook& cb, const std::vector<double>& v) {
  const LevelHistogram h(cb.s, 0.5);
  refit_codebook(cb, h, type_statistics(v.data(), cb, h), true, false);
}

// Per-coordinate exact variance from the rounding interval, and in `scale` the magnitude that
// bounds the rounding error of a decoded value (block norm or bucket bound).
std::vector<double> coordinate_variance(const std::vector<double>& v, const Codebook& cb, std::vector<double>& scale) {
  std::vector<double> var(v.size(), 0.0);
  scale.assign(v.size(), 0.0);
  if (cb.scheme == Scheme::Bucket) {
    for (std::int64_t b = 0; b < cb.buckets(); ++b) {
      const std::int64_t lo = b * cb.bucket, hi = std::min<std::int64_t>(cb.n(), lo + cb.bucket);
      double mn = v[lo], mx = v[lo];
      for (std::int64_t i = lo; i < hi; ++i) {
        mn = std::min(mn, v[i]);
        mx = std::max(mx, v[i]);
      }
      mn = wire_scale(mn, false);
      mx = wire_scale(mx, true);
      const double unit = (mx - mn) / cb.s;
      for (std::int64_t i = lo; i < hi; ++i) {
        scale[i] = std::max(std::fabs(mn), std::fabs(mx));
        if (unit == 0) continue;
        const double x = (v[i] - mn) / unit, p = x - std::floor(x);
        var[i] = unit * unit * p * (1 - p);
      }
    }
    return var;
  }
  for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
    const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
    const double N = wire_scale(block_norm(v.data() + lo, hi - lo, cb.norm, lo), true);
    for (std::int64_t i = lo; i < hi; ++i) {
      var[i] = N * N * rounding_variance(cb.levels[cb.layout.types[m]], std::min(1.0, std::fabs(v[i]) / N));
      scale[i] = N;
    }
  }
  return var;
}

struct Case {
  const char* name;
  Scheme scheme;
  LevelFamily family;
  int num_levels;
  Norm norm;
};

const Case kCases[] = {
    {"layerwise uniform l2", Scheme::Layerwise, LevelFamily::Uniform, 4, Norm::L2},
    {"layerwise exponential linf", Scheme::Layerwise, LevelFamily::Exponential, 6, Norm::Linf},
    {"layerwise adaptive l2", Scheme::Layerwise, LevelFamily::Adaptive, 4, Norm::L2},
    {"global uniform l2", Scheme::Global, LevelFamily::Uniform, 8, Norm::L2},
    {"bucket 3 bits", Scheme::Bucket, LevelFamily::Uniform, 8, Norm::L2},
};

}  // namespace

TEST(Quantizer, UnbiasedWithinFourStandardErrorsAndVarianceIsExact) {
  const std::vector<double> v = layered(12, 3, 7);
  const CounterRng rng(11, "quantize");
  constexpr int kDraws = 100000;
  for (const Case& c : kCases) {
    Codebook cb = make_codebook(c.scheme, c.num_levels, static_cast<std::int64_t>(v.size()), 3, Coder::Elias, c.norm,
                                c.family);
    if (c.family == LevelFamily::Adaptive) adapt(cb, v);
    std::vector<double> scale;
    const auto var = coordinate_variance(v, cb, scale);
    std::vector<double> sum(v.size(), 0.0), out(v.size());
    double err_sum = 0, err_sq = 0;
    Quantized q;
    for (int d = 0; d < kDraws; ++d) {
      quantize(v.data(), cb, rng, static_cast<std::uint32_t>(d), 3, q);
      dequantize(q, cb, out.data());
      double e = 0;
      for (std::size_t i = 0; i < v.size(); ++i) {
        sum[i] += out[i] - v[i];  // deviations: a sum of 1e5 equal values would itself round
        e += (out[i] - v[i]) * (out[i] - v[i]);
      }
      err_sum += e;
      err_sq += e * e;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double bias = sum[i] / kDraws, se = std::sqrt(var[i] / kDraws);
      // 4 standard errors, plus the rounding of decoded values (a few ulps of the scale).
      EXPECT_LE(std::fabs(bias), 4 * se + 1e-15 * scale[i]) << c.name << " coordinate " << i;
    }
    const double exact = exact_variance(v.data(), cb), mean_err = err_sum / kDraws;
    const double se = std::sqrt((err_sq / kDraws - mean_err * mean_err) / kDraws);
    EXPECT_NEAR(mean_err, exact, 4 * se) << c.name;
    EXPECT_NEAR(exact, std::accumulate(var.begin(), var.end(), 0.0), 1e-12 * exact) << c.name;
    EXPECT_GT(exact, 0) << c.name;
  }
}

// The point of per-layer norms: a global norm drowns small layers (their variance relative to
// their own size explodes), a per-layer norm keeps every layer's relative variance bounded.
TEST(Quantizer, LayerwiseBoundsEachLayersRelativeVariance) {
  const std::vector<double> v = layered(64, 4, 3);
  const Codebook lw = make_codebook(Scheme::Layerwise, 8, 256, 4), gl = make_codebook(Scheme::Global, 8, 256, 4);
  std::vector<double> s_lw, s_gl;
  const auto var_lw = coordinate_variance(v, lw, s_lw), var_gl = coordinate_variance(v, gl, s_gl);
  double worst_lw = 0, worst_gl = 0;
  for (int m = 0; m < 4; ++m) {
    double a = 0, b = 0, size = 0;
    for (int i = 64 * m; i < 64 * (m + 1); ++i) {
      a += var_lw[i];
      b += var_gl[i];
      size += v[i] * v[i];
    }
    worst_lw = std::max(worst_lw, a / size);
    worst_gl = std::max(worst_gl, b / size);
  }
  EXPECT_LT(worst_lw, 1.0);     // per layer: at most about d / s^2 (here 64 / 49)
  EXPECT_GT(worst_gl, 100.0);   // the smallest layer (scale 1e-3) under the global norm
}

TEST(Levels, AdaptiveNeverAboveUniformOnTheSameData) {
  std::mt19937_64 g(5);
  std::normal_distribution<double> nd;
  std::student_t_distribution<double> heavy(1.5);
  std::uniform_real_distribution<double> flat(-1, 1);
  for (int kind = 0; kind < 3; ++kind)
    for (int num_levels : {2, 3, 4, 8, 16, 64}) {
      std::vector<double> v(2000);
      for (double& x : v) x = kind == 0 ? nd(g) : kind == 1 ? heavy(g) : flat(g);
      for (Norm norm : {Norm::L2, Norm::Linf}) {
        Codebook uni = make_codebook(Scheme::Global, num_levels, 2000, 1, Coder::Elias, norm);
        Codebook ada = uni;
        adapt(ada, v);
        const double vu = exact_variance(v.data(), uni), va = exact_variance(v.data(), ada);
        EXPECT_LE(va, vu * (1 + 1e-12)) << "kind " << kind << " levels " << num_levels;
        if (num_levels > 2 && kind == 0 && norm == Norm::L2) {
          EXPECT_LT(va, 0.5 * vu) << "levels " << num_levels;
        }
        // Levels stay a valid set: 0 = l_0 < ... < l_s = 1.
        const auto& l = ada.levels[0];
        EXPECT_EQ(l.front(), 0.0);
        EXPECT_EQ(l.back(), 1.0);
        for (std::size_t j = 1; j < l.size(); ++j) EXPECT_LT(l[j - 1], l[j]);
      }
    }
}

TEST(Levels, HistogramVarianceIsExactForEdgeLevels) {
  std::mt19937_64 g(9);
  std::uniform_real_distribution<double> u01(0, 1);
  const LevelHistogram h(7, 0.5);
  std::vector<double> u(5000), stats = h.empty_stats();
  for (double& x : u) {
    x = u01(g) * u01(g);
    h.add(stats, x);
  }
  const EdgeVariance ev(h, stats);
  for (const auto& levels : {uniform_levels(7), exponential_levels(7, 0.5)}) {
    double direct = 0;
    for (double x : u) direct += rounding_variance(levels, x);
    std::vector<std::size_t> idx;
    for (double l : levels) idx.push_back(ev.edge_of(l));
    EXPECT_NEAR(ev.total(idx), direct, 1e-9 * direct);
    // Expected index use sums to the number of coordinates, and its mean level is the mean u.
    const auto c = ev.expected_indices(idx);
    double n = 0, mean = 0;
    for (std::size_t j = 0; j < c.size(); ++j) {
      n += c[j];
      mean += c[j] * levels[j];
    }
    EXPECT_NEAR(n, 5000, 1e-6);
    EXPECT_NEAR(mean, std::accumulate(u.begin(), u.end(), 0.0), 1e-6);
  }
}

TEST(Coder, Crc32MatchesTheStandardCheckValue) {
  const char* s = "123456789";
  EXPECT_EQ(crc32(reinterpret_cast<const std::uint8_t*>(s), 9), 0xCBF43926u);
}

TEST(Coder, EliasGammaLengthsAndRoundTrip) {
  std::vector<std::uint8_t> buf;
  BitWriter w(buf, 20 * 1000);
  std::uint64_t bits = 0;
  for (std::uint32_t x = 1; x <= 1000; ++x) {
    elias_put(w, x);
    bits += static_cast<std::uint64_t>(elias_length(x));
    EXPECT_EQ(elias_length(x), 2 * static_cast<int>(std::floor(std::log2(x))) + 1);
  }
  EXPECT_EQ(w.finish(), bits);
  BitReader r(buf.data(), bits);
  for (std::uint32_t x = 1; x <= 1000; ++x) EXPECT_EQ(elias_get(r, 1000), x);
  EXPECT_EQ(r.position(), bits);
}

TEST(Coder, HuffmanIsOptimalOnKnownHistogramsAndRoundTrips) {
  // Dyadic probabilities: the optimal lengths are -log2 p.
  EXPECT_EQ(huffman_lengths({8, 4, 2, 1, 1}), (std::vector<std::uint8_t>{1, 2, 3, 4, 4}));
  // Length limit: a geometric histogram over 40 symbols would need 39 bits.
  std::vector<double> geo;
  for (int k = 0; k < 40; ++k) geo.push_back(std::pow(2.0, 40 - k));
  const auto lim = huffman_lengths(geo);
  double kraft = 0;
  for (auto l : lim) {
    EXPECT_LE(l, kMaxHuffmanBits);
    kraft += std::ldexp(1.0, -l);
  }
  EXPECT_NEAR(kraft, 1.0, 1e-12);  // still a complete code
  // Average length within one bit of the entropy on a skewed histogram.
  std::vector<double> counts = {5000, 2500, 1200, 700, 300, 200, 80, 20};
  const HuffmanCode h(huffman_lengths(counts));
  const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  double entropy = 0, avg = 0;
  for (std::size_t s = 0; s < counts.size(); ++s) {
    const double p = counts[s] / total;
    entropy -= p * std::log2(p);
    avg += p * h.length(static_cast<std::uint32_t>(s));
  }
  EXPECT_GE(avg, entropy);
  EXPECT_LT(avg, entropy + 1);
  std::vector<std::uint8_t> buf;
  BitWriter w(buf, 15 * 5000);
  std::mt19937 g(1);
  std::vector<std::uint32_t> sym(5000);
  for (auto& s : sym) {
    s = g() % 8;
    h.put(w, s);
  }
  const auto bits = w.finish();
  BitReader r(buf.data(), bits);
  for (auto s : sym) EXPECT_EQ(h.get(r), s);
  EXPECT_EQ(r.position(), bits);
}

namespace {
void expect_round_trip(const std::vector<double>& v, const Codebook& cb, const std::string& what) {
  const CounterRng rng(3, "quantize");
  Quantized q, back;
  quantize(v.data(), cb, rng, 17, 0, q);
  std::vector<std::uint8_t> payload;
  const std::size_t size = encode(q, cb, payload);
  ASSERT_EQ(size, payload.size()) << what;
  EXPECT_EQ(payload_size(payload.data(), payload.size()), size) << what;
  decode(payload.data(), payload.size(), cb, back);
  EXPECT_EQ(back.q, q.q) << what;
  ASSERT_EQ(back.scale.size(), q.scale.size()) << what;
  for (std::size_t i = 0; i < q.scale.size(); ++i)
    EXPECT_EQ(std::memcmp(&back.scale[i], &q.scale[i], sizeof(double)), 0) << what;
  std::vector<double> out(v.size());
  dequantize(back, cb, out.data());
  for (double x : out) EXPECT_TRUE(std::isfinite(x)) << what;
}
}  // namespace

TEST(Payload, RoundTripsRandomAndAdversarialVectors) {
  const double big = std::numeric_limits<double>::max() / 64, tiny = std::numeric_limits<double>::denorm_min();
  std::vector<std::pair<std::string, std::vector<double>>> vectors = {
      {"layered", layered(40, 3, 1)},
      {"zeros", std::vector<double>(120, 0.0)},
      {"negative zeros", std::vector<double>(120, -0.0)},
      {"one huge entry", [] { std::vector<double> v(120, 1e-300); v[77] = 1e300; return v; }()},
      {"near overflow", [&] { std::vector<double> v(120, -big); v[5] = big; return v; }()},
      {"denormals", [&] { std::vector<double> v(120, tiny); v[3] = -tiny; return v; }()},
      {"alternating signs", [] { std::vector<double> v(120); for (std::size_t i = 0; i < v.size(); ++i) v[i] = (i % 2 ? -1.0 : 1.0) * (1 + i % 7); return v; }()},
  };
  for (const auto& [name, v] : vectors)
    for (Scheme scheme : {Scheme::Layerwise, Scheme::Global, Scheme::Bucket})
      for (Coder coder : {Coder::Elias, Coder::Huffman})
        for (int levels : {2, 5, 256}) {
          if (scheme == Scheme::Bucket && coder == Coder::Huffman) continue;
          const Codebook cb = make_codebook(scheme, levels, 120, 3, coder);
          expect_round_trip(v, cb, name + " scheme " + std::to_string(int(scheme)) + " coder " + std::to_string(int(coder)) +
                                       " levels " + std::to_string(levels));
        }
  // The zero vector quantises to zero exactly; a one-hot vector exactly to itself.
  const Codebook cb = make_codebook(Scheme::Layerwise, 4, 120, 3);
  Quantized q;
  std::vector<double> out(120);
  std::vector<double> hot(120, 0.0);
  hot[50] = -3.5;
  quantize(hot.data(), cb, CounterRng(1, "quantize"), 0, 0, q);
  dequantize(q, cb, out.data());
  EXPECT_EQ(out, hot);
}

TEST(Payload, NonFiniteValuesAreRejected) {
  for (double bad : {std::nan(""), double(INFINITY), -double(INFINITY)})
    for (Scheme scheme : {Scheme::Layerwise, Scheme::Global, Scheme::Bucket}) {
      std::vector<double> v = layered(20, 3, 2);
      v[33] = bad;
      const Codebook cb = make_codebook(scheme, 8, 60, 3);
      Quantized q;
      try {
        quantize(v.data(), cb, CounterRng(1, "quantize"), 0, 0, q);
        ADD_FAILURE() << "accepted " << bad;
      } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("coordinate 33"), std::string::npos) << e.what();
      }
    }
  // A finite vector whose 2-norm would overflow without scaling is fine.
  std::vector<double> v(60, 1e300);
  const Codebook cb = make_codebook(Scheme::Layerwise, 8, 60, 3);
  Quantized q;
  EXPECT_NO_THROW(quantize(v.data(), cb, CounterRng(1, "quantize"), 0, 0, q));
  EXPECT_NEAR(q.scale[0], 1e300 * std::sqrt(20.0), 1e286);
}

TEST(Payload, CorruptionIsDetected) {
  const std::vector<double> v = layered(100, 3, 4);
  for (Coder coder : {Coder::Elias, Coder::Huffman})
    for (Scheme scheme : {Scheme::Layerwise, Scheme::Bucket}) {
      if (scheme == Scheme::Bucket && coder == Coder::Huffman) continue;
      const Codebook cb = make_codebook(scheme, 8, 300, 3, coder);
      Quantized q, back;
      quantize(v.data(), cb, CounterRng(2, "quantize"), 5, 1, q);
      std::vector<std::uint8_t> p;
      encode(q, cb, p);
      // Every single-bit flip (CRC-32 detects them all).
      for (std::size_t bit = 0; bit < 8 * p.size(); ++bit) {
        auto bad = p;
        bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        EXPECT_THROW(decode(bad.data(), bad.size(), cb, back), PayloadError) << "bit " << bit;
      }
      // Every truncation and an extra byte.
      for (std::size_t len = 0; len < p.size(); ++len) EXPECT_THROW(decode(p.data(), len, cb, back), PayloadError) << len;
      auto longer = p;
      longer.push_back(0);
      EXPECT_THROW(decode(longer.data(), longer.size(), cb, back), PayloadError);
      // Random garbage of the right length, and a payload of another codebook epoch or size.
      std::mt19937 g(3);
      auto garbage = p;
      for (auto& b : garbage) b = static_cast<std::uint8_t>(g());
      EXPECT_THROW(decode(garbage.data(), garbage.size(), cb, back), PayloadError);
      Codebook other = cb;
      ++other.epoch;
      EXPECT_THROW(decode(p.data(), p.size(), other, back), PayloadError);
      // A forged payload with valid checksums but an index above s is still refused.
      if (coder == Coder::Elias) {
        const Codebook five = make_codebook(scheme, 5, 300, 3, coder);
        Quantized forged = q;
        for (auto& k : forged.q) k = static_cast<std::int16_t>(std::min<int>(std::abs(k), 4));
        forged.q[10] = 5;
        std::vector<std::uint8_t> f;
        encode(forged, five, f);
        EXPECT_THROW(decode(f.data(), f.size(), five, back), PayloadError);
      }
      decode(p.data(), p.size(), cb, back);  // the original still decodes
      EXPECT_EQ(back.q, q.q);
    }
}

// ---------------------------------------------------------------------------------------------
// The fast paths (table-driven codes, vectorised rounding, Philox sixteen blocks at a time, the
// next block's norm summed during rounding, CRC by slicing) against straightforward references
// written from the definitions, one coordinate and one bit at a time: equal to the bit.
namespace {

// The quantiser of docs/algorithms.md section 2 as first written: the norm by a plain sum (scaled
// by a power of two when squares could overflow or vanish), u = |x| * (1 / N), the interval by
// binary search (level_interval), the random word g % 4 of Philox block g / 4.
double reference_norm(const double* v, std::int64_t n, Norm norm) {
  double m = 0;
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(v[i]));
  if (norm == Norm::Linf || m == 0) return m;
  double s = 0;
  if (m > 1e-140 && m < 1e140) {
    for (std::int64_t i = 0; i < n; ++i) s += v[i] * v[i];
    return std::sqrt(s);
  }
  int e = 0;
  std::frexp(m, &e);
  for (std::int64_t i = 0; i < n; ++i) s += std::ldexp(v[i], -e) * std::ldexp(v[i], -e);
  return std::ldexp(std::sqrt(s), e);
}

double reference_divide(double x, double d) {
  const double inv = 1.0 / d;
  return std::fabs(inv) <= std::numeric_limits<double>::max() ? x * inv : x / d;
}

// A scale as the payload carries it: a float32 (rounded away from the inside: up, or down for a
// bucket's min) when its magnitude is zero or a normal float32, else the double itself.
double reference_wire(double x, bool up) {
  const double a = std::fabs(x);
  if (a != 0 && (a < std::numeric_limits<float>::min() || a > std::numeric_limits<float>::max())) return x;
  float f = static_cast<float>(x);
  while (up ? double(f) < x : double(f) > x) f = std::nextafterf(f, up ? INFINITY : -INFINITY);
  return f;
}

Quantized reference_quantize(const std::vector<double>& v, const Codebook& cb, const CounterRng& rng, std::uint32_t round,
                             std::uint32_t worker, std::uint64_t first) {
  Quantized q;
  q.q.resize(v.size());
  auto word = [&](std::int64_t i) {
    const std::uint64_t g = first + static_cast<std::uint64_t>(i);
    return rng.bits(g / 4, round, worker).v[g % 4];
  };
  auto uniform01 = [](std::uint32_t w) { return (static_cast<double>(w) + 0.5) / 4294967296.0; };
  if (cb.scheme == Scheme::Bucket) {
    for (std::int64_t b = 0; b < cb.buckets(); ++b) {
      const std::int64_t lo = b * cb.bucket, hi = std::min(cb.n(), lo + cb.bucket);
      double mn = v[lo], mx = v[lo];
      for (std::int64_t i = lo; i < hi; ++i) {
        mn = v[i] < mn ? v[i] : mn;
        mx = v[i] > mx ? v[i] : mx;
      }
      mn = reference_wire(mn, false);
      mx = reference_wire(mx, true);
      q.scale.push_back(mn);
      q.scale.push_back(mx);
      const double unit = (mx - mn) / cb.s;
      for (std::int64_t i = lo; i < hi; ++i) {
        const double x = std::min<double>(cb.s, reference_divide(v[i] - mn, unit > 0 ? unit : INFINITY));
        const int j = std::min(cb.s - 1, static_cast<int>(x));
        q.q[i] = static_cast<std::int16_t>(j + (uniform01(word(i)) < x - j ? 1 : 0));
      }
    }
    return q;
  }
  for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
    const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
    const double norm = reference_wire(reference_norm(v.data() + lo, hi - lo, cb.norm), true);
    q.scale.push_back(norm);
    const auto type = static_cast<std::size_t>(cb.layout.types[m]);
    const std::vector<double>& l = cb.levels[type];
    for (std::int64_t i = lo; i < hi; ++i) {
      const double u = std::min(1.0, reference_divide(std::fabs(v[i]), norm > 0 ? norm : INFINITY));
      int k;
      if (cb.uniform[type]) {
        const double t = u * cb.s;
        const int j = std::min(cb.s - 1, static_cast<int>(t));
        k = j + (uniform01(word(i)) < t - j ? 1 : 0);
      } else {
        const int j = level_interval(l.data(), cb.s, u);
        k = j + (uniform01(word(i)) < (u - l[j]) * (1.0 / (l[j + 1] - l[j])) ? 1 : 0);
      }
      q.q[i] = static_cast<std::int16_t>(v[i] < 0 ? -k : k);
    }
  }
  return q;
}

// The payload format of kernels/quant/payload.hpp, one bit at a time.
struct Bits {
  std::vector<bool> b;
  void put(std::uint64_t v, int n) {
    for (int k = 0; k < n; ++k) b.push_back((v >> k) & 1u);
  }
  void put_msb_first(std::uint32_t code, int n) {
    for (int k = n - 1; k >= 0; --k) b.push_back((code >> k) & 1u);
  }
  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out((b.size() + 7) / 8, 0);
    for (std::size_t k = 0; k < b.size(); ++k) out[k / 8] |= static_cast<std::uint8_t>(b[k]) << (k % 8);
    return out;
  }
};

// Canonical Huffman codes from lengths: in (length, symbol) order, each code the previous plus one,
// shifted left by the growth in length.
std::vector<std::uint32_t> canonical_codes(const std::vector<std::uint8_t>& len) {
  std::vector<std::uint32_t> order(len.size()), code(len.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return len[a] < len[b]; });
  std::uint32_t c = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (k > 0) c = (c + 1) << (len[order[k]] - len[order[k - 1]]);
    code[order[k]] = c;
  }
  return code;
}

std::vector<std::uint8_t> reference_body(const Quantized& q, const Codebook& cb) {
  Bits bits;
  auto dbl = [&](double x) {
    const double a = std::fabs(x);
    if (a == 0 || (a >= std::numeric_limits<float>::min() && a <= std::numeric_limits<float>::max())) {
      const float f = static_cast<float>(x);
      std::uint32_t u;
      std::memcpy(&u, &f, 4);
      bits.put(u, 32);
    } else {
      std::uint64_t u;
      std::memcpy(&u, &x, 8);
      bits.put(0xFFFFFFFFu, 32);
      bits.put(u, 64);
    }
  };
  if (cb.scheme == Scheme::Bucket) {
    for (std::int64_t b = 0; b < cb.buckets(); ++b) {
      dbl(q.scale[2 * b]);
      dbl(q.scale[2 * b + 1]);
      for (std::int64_t i = b * cb.bucket; i < std::min(cb.n(), (b + 1) * cb.bucket); ++i) bits.put(q.q[i], cb.fixed_bits());
    }
    return bits.bytes();
  }
  for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
    dbl(q.scale[m]);
    const HuffmanCode* h = cb.coder == Coder::Huffman ? &cb.huffman[cb.layout.types[m]] : nullptr;
    const std::vector<std::uint32_t> codes = h ? canonical_codes(h->lengths()) : std::vector<std::uint32_t>();
    for (std::int64_t i = cb.layout.offsets[m]; i < cb.layout.offsets[m + 1]; ++i) {
      const int k = q.q[i];
      const auto a = static_cast<std::uint32_t>(std::abs(k));
      if (h) {
        bits.put_msb_first(codes[a], h->length(a));
      } else {  // Elias-gamma of x = a + 1: nb = floor(log2 x) zeros, a one, the low nb bits of x
        const std::uint32_t x = a + 1;
        int nb = 0;
        while ((x >> (nb + 1)) != 0) ++nb;
        bits.put(0, nb);
        bits.put(1, 1);
        bits.put(x, nb);
      }
      if (a) bits.put(k < 0, 1);
    }
  }
  return bits.bytes();
}

void expect_matches_reference(const std::vector<double>& v, const Codebook& cb, const std::string& what) {
  const CounterRng rng(21, "quantize");
  for (std::uint64_t first : {std::uint64_t{0}, std::uint64_t{5}, (std::uint64_t{1} << 34) - 3}) {
    const Quantized want = reference_quantize(v, cb, rng, 9, 2, first);
    Quantized got;
    quantize(v.data(), cb, rng, 9, 2, got, first);
    ASSERT_EQ(got.q, want.q) << what << " first " << first;
    ASSERT_EQ(got.scale.size(), want.scale.size()) << what;
    for (std::size_t m = 0; m < want.scale.size(); ++m)
      ASSERT_EQ(std::memcmp(&got.scale[m], &want.scale[m], 8), 0) << what << " scale " << m << ": " << got.scale[m] << " vs " << want.scale[m];
    std::vector<std::uint8_t> payload;
    encode(got, cb, payload);
    const std::vector<std::uint8_t> body = reference_body(want, cb);
    const PayloadHeader h = read_header(payload.data(), payload.size());
    ASSERT_EQ(std::vector<std::uint8_t>(payload.begin() + static_cast<std::ptrdiff_t>(h.header_bytes), payload.end()), body) << what;
    EXPECT_EQ(h.bits, 8 * body.size() - (8 - h.bits % 8) % 8) << what;
    Quantized back;
    decode(payload.data(), payload.size(), cb, back);
    ASSERT_EQ(back.q, want.q) << what;
    std::vector<double> out(v.size(), 0.25), ref(v.size(), 0.25);
    dequantize(back, cb, out.data(), true);
    for (std::size_t m = 0; m < (cb.scheme == Scheme::Bucket ? static_cast<std::size_t>(cb.buckets()) : cb.layout.blocks()); ++m) {
      const std::int64_t lo = cb.scheme == Scheme::Bucket ? m * cb.bucket : cb.layout.offsets[m];
      const std::int64_t hi = cb.scheme == Scheme::Bucket ? std::min(cb.n(), lo + cb.bucket) : cb.layout.offsets[m + 1];
      for (std::int64_t i = lo; i < hi; ++i) {
        const int k = want.q[i];
        double x;
        if (cb.scheme == Scheme::Bucket) {
          x = want.scale[2 * m] + (want.scale[2 * m + 1] - want.scale[2 * m]) / cb.s * k;
        } else {
          const std::vector<double>& l = cb.levels[cb.layout.types[m]];
          x = k < 0 ? -(want.scale[m] * l[-k]) : want.scale[m] * l[k];
        }
        ref[i] += x;
      }
    }
    for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(std::memcmp(&out[i], &ref[i], 8), 0) << what << " value " << i;
  }
}

}  // namespace

TEST(FastPaths, QuantizeEncodeDecodeMatchTheReferenceBitForBit) {
  std::mt19937_64 g(42);
  std::normal_distribution<double> nd;
  // Blocks of 1 (bias-like), 2, 3, 17, 64, 200 and 1100 coordinates (several rounding chunks).
  const std::vector<std::int64_t> offsets = {0, 1, 3, 6, 23, 87, 287, 1387};
  const std::int64_t n = offsets.back();
  std::vector<std::pair<std::string, std::vector<double>>> vectors;
  vectors.push_back({"normal, mixed scales", [&] {
                       std::vector<double> v(n);
                       for (std::int64_t i = 0; i < n; ++i) v[i] = nd(g) * std::pow(10.0, -static_cast<double>(i % 5));
                       return v;
                     }()});
  vectors.push_back({"zeros and signed zeros", [&] {
                       std::vector<double> v(n, 0.0);
                       for (std::int64_t i = 0; i < n; i += 3) v[i] = -0.0;
                       for (std::int64_t i = 0; i < n; i += 7) v[i] = nd(g);
                       return v;
                     }()});
  vectors.push_back({"huge and tiny", [&] {
                       std::vector<double> v(n);
                       for (std::int64_t i = 0; i < n; ++i) v[i] = (i % 2 ? 1e200 : 1e-200) * nd(g);
                       return v;
                     }()});
  for (const auto& [name, v] : vectors)
    for (Scheme scheme : {Scheme::Layerwise, Scheme::Global, Scheme::Bucket})
      for (LevelFamily family : {LevelFamily::Uniform, LevelFamily::Exponential, LevelFamily::Adaptive})
        for (Norm norm : {Norm::L2, Norm::Linf})
          for (int levels : {2, 3, 5, 8, 9, 16, 17, 33, 256}) {
            if (scheme == Scheme::Bucket && (family != LevelFamily::Uniform || norm == Norm::Linf)) continue;
            const Coder coder = levels % 2 ? Coder::Huffman : Coder::Elias;
            CodebookOptions o{scheme, family, levels, norm, scheme == Scheme::Bucket ? Coder::Elias : coder, 0.5, 100};
            Codebook cb = quant::make_codebook(o, block_layout(offsets));
            if (scheme != Scheme::Bucket) {
              // Huffman tables of a steep histogram: lengths up to 15 bits, past the decode table.
              std::vector<double> counts(static_cast<std::size_t>(cb.s) + 1);
              for (std::size_t k = 0; k < counts.size(); ++k) counts[k] = std::pow(0.3, static_cast<double>(k)) * 1e9;
              for (auto& h : cb.huffman) h = HuffmanCode(huffman_lengths(counts));
              if (family == LevelFamily::Adaptive) adapt(cb, v);
            }
            expect_matches_reference(v, cb, name + " scheme " + std::to_string(int(scheme)) + " family " + std::to_string(int(family)) +
                                                 " norm " + std::to_string(int(norm)) + " levels " + std::to_string(levels));
          }
}

TEST(FastPaths, ValuesExactlyOnLevelsRoundToThem) {
  // l-infinity norm 1: u is the value itself, so coordinates on a level are that level's index.
  for (LevelFamily family : {LevelFamily::Uniform, LevelFamily::Exponential})
    for (int levels : {2, 4, 8, 9, 16, 17, 256}) {
      CodebookOptions o{Scheme::Layerwise, family, levels, Norm::Linf, Coder::Elias, 0.5, 1024};
      const std::int64_t n = 3 * levels;
      Codebook cb = quant::make_codebook(o, block_layout({0, n}));
      const std::vector<double>& l = cb.levels[0];
      std::vector<double> v(n);
      for (std::int64_t i = 0; i < n; ++i) v[i] = (i % 2 ? -1.0 : 1.0) * l[static_cast<std::size_t>(i % levels)];
      v[0] = 1.0;
      expect_matches_reference(v, cb, "on levels, family " + std::to_string(int(family)) + " levels " + std::to_string(levels));
      Quantized q;
      quantize(v.data(), cb, CounterRng(4, "quantize"), 1, 0, q);
      for (std::int64_t i = 1; i < n; ++i) EXPECT_EQ(std::abs(q.q[i]), i % levels) << "levels " << levels << " i " << i;
    }
}

// The table-started search of non-uniform level sets (uniform ones round with u s instead).
TEST(FastPaths, LevelLookupMatchesBinarySearch) {
  std::mt19937_64 g(5);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  for (int s : {1, 2, 7, 16, 17, 40, 255})
    for (int kind = 0; kind < 3; ++kind) {
      CodebookOptions o{Scheme::Layerwise, LevelFamily::Exponential, s + 1, Norm::L2, Coder::Elias, 0.5, 1024};
      Codebook cb = quant::make_codebook(o, block_layout({0, 1}));
      if (kind > 0) {  // random levels; kind 2: crowded into [0, 1e-3) (many per table cell)
        std::vector<double> l(static_cast<std::size_t>(s) + 1);
        for (auto& x : l) x = kind == 1 ? U(g) : 1e-3 * U(g);
        l[0] = 0;
        std::sort(l.begin(), l.end());
        l.erase(std::unique(l.begin(), l.end()), l.end());
        while (static_cast<int>(l.size()) < s + 1) l.push_back(std::nextafter(l.back(), 2.0));
        l[static_cast<std::size_t>(s)] = 1.0;
        cb.set_levels(0, l);
      }
      if (cb.uniform[0]) continue;  // s = 1: {0, 1} are the uniform levels
      const std::vector<double>& l = cb.levels[0];
      std::vector<double> us = {0.0, 1.0, std::nextafter(1.0, 0.0), std::numeric_limits<double>::denorm_min()};
      for (double x : l) {
        us.push_back(x);
        us.push_back(std::nextafter(x, 0.0));
        us.push_back(std::nextafter(x, 2.0));
      }
      for (int k = 0; k < 20000; ++k) us.push_back(k % 2 ? U(g) : std::pow(U(g), 8));
      for (double u : us) {
        if (!(u >= 0 && u <= 1)) continue;
        ASSERT_EQ(cb.interval(0, l.data(), u), level_interval(l.data(), s, u)) << "s " << s << " kind " << kind << " u " << u;
      }
      // And the quantiser (compare-select for s <= 16, the table above that) on those values.
      std::vector<double> v(us.begin(), us.begin() + std::min<std::size_t>(us.size(), 3000));
      v[1] = -1.0;
      cb.layout = block_layout({0, static_cast<std::int64_t>(v.size())});
      cb.norm = Norm::Linf;
      expect_matches_reference(v, cb, "levels s " + std::to_string(s) + " kind " + std::to_string(kind));
    }
}

TEST(FastPaths, TableDecodingMatchesBitByBitDecoding) {
  std::mt19937_64 g(9);
  // Codes of every length from 1 to 15 (a geometric histogram), a flat code, and Elias-gamma.
  std::vector<double> steep(40);
  for (std::size_t k = 0; k < steep.size(); ++k) steep[k] = std::pow(0.45, static_cast<double>(k)) * 1e12;
  for (const auto& counts : {steep, std::vector<double>(256, 1.0), std::vector<double>{5, 1}}) {
    const HuffmanCode h(huffman_lengths(counts));
    const int s = static_cast<int>(counts.size()) - 1;
    std::vector<int> lengths(h.lengths().begin(), h.lengths().end());
    EXPECT_EQ(h.tables().s(), s);
    for (bool huffman : {true, false}) {
      const IndexTables& t = huffman ? h.tables() : elias_tables(s);
      std::vector<std::int16_t> k(5000);
      for (std::size_t i = 0; i < k.size(); ++i) {
        const int a = (i % 3 == 0) ? static_cast<int>(g() % (s + 1)) : static_cast<int>(g() % std::min(s + 1, 4));
        k[i] = static_cast<std::int16_t>(g() % 2 ? -a : a);
      }
      // Table encoding against the coder's own writer.
      std::vector<std::uint8_t> fast, slow;
      {
        BitWriter w(fast, 0);
        detail::put_indices(w, k.data(), static_cast<std::int64_t>(k.size()), t, [](BitWriter&, int) { FAIL(); });
        BitWriter r(slow, 0);
        for (int x : k) {
          const auto a = static_cast<std::uint32_t>(std::abs(x));
          if (huffman) h.put(r, a);
          else elias_put(r, a + 1);
          if (a) r.put(x < 0, 1);
        }
        EXPECT_EQ(w.finish(), r.finish());
      }
      ASSERT_EQ(fast, slow) << (huffman ? "huffman" : "elias") << " s " << s;
      // Table decoding (any start offset: 0..3 indices before) against bit-by-bit decoding.
      const std::uint64_t bits = 8 * fast.size();
      for (std::size_t start : {0, 1, 2, 3}) {
        BitReader a(fast.data(), bits), b(fast.data(), bits);
        std::vector<std::int16_t> got(k.size());
        for (std::size_t i = 0; i < start; ++i) {
          const std::uint32_t m = huffman ? h.get(a) : elias_get(a, static_cast<std::uint32_t>(s) + 1) - 1;
          if (m) a.get(1);
          got[i] = k[i];
        }
        detail::get_indices(a, got.data() + start, static_cast<std::int64_t>(k.size() - start), t, [&](BitReader& br) {
          const std::uint32_t m = huffman ? h.get(br) : elias_get(br, static_cast<std::uint32_t>(s) + 1) - 1;
          return static_cast<std::int16_t>(m && br.get(1) ? -static_cast<int>(m) : static_cast<int>(m));
        });
        for (std::size_t i = 0; i < k.size(); ++i) {
          const std::uint32_t m = huffman ? h.get(b) : elias_get(b, static_cast<std::uint32_t>(s) + 1) - 1;
          const int want = m && b.get(1) ? -static_cast<int>(m) : static_cast<int>(m);
          ASSERT_EQ(got[i], want) << (huffman ? "huffman" : "elias") << " s " << s << " i " << i;
        }
        EXPECT_EQ(a.position(), b.position());
      }
    }
  }
}

TEST(FastPaths, PhiloxBlocksAndCrcMatchTheirDefinitions) {
  const CounterRng rng(77, "quantize");
  std::vector<std::uint32_t> words(4 * 100);
  for (std::uint64_t first : {std::uint64_t{0}, std::uint64_t{13}, std::uint64_t{0xFFFFFFF0u}, (std::uint64_t{7} << 32) - 5})
    for (std::size_t count : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{37}, std::size_t{100}}) {
      philox_blocks(rng, first, count, 3, 1, words.data());
      for (std::size_t j = 0; j < count; ++j)
        for (int w = 0; w < 4; ++w) ASSERT_EQ(words[4 * j + w], rng.bits(first + j, 3, 1).v[w]) << first << " " << j;
    }
  std::mt19937 g(1);
  std::vector<std::uint8_t> data(1000);
  for (auto& b : data) b = static_cast<std::uint8_t>(g());
  for (std::size_t n : {0, 1, 15, 16, 17, 100, 1000}) {
    std::uint32_t c = 0xFFFFFFFFu;  // bit by bit, reflected polynomial
    for (std::size_t i = 0; i < n; ++i) {
      c ^= data[i];
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    EXPECT_EQ(crc32(data.data(), n), ~c) << n;
  }
}

// A small layer costs its 32-bit norm, not 64 bits; the header is a few varints; the decoder takes
// only the encoder's own forms (shortest varints, escapes only for scales without a float32).
TEST(Payload, SmallBlocksAndHeadersAreCompact) {
  const std::vector<std::int64_t> offsets = {0, 4096, 4160, 4224, 4225};  // 64x64 weight, 64 bias, 1x64, 1 bias
  std::mt19937_64 g(3);
  std::normal_distribution<double> nd;
  std::vector<double> v(4225);
  for (auto& x : v) x = nd(g);
  CodebookOptions o{Scheme::Layerwise, LevelFamily::Uniform, 8, Norm::L2, Coder::Elias, 0.5, 1024};
  const Codebook cb = quant::make_codebook(o, block_layout(offsets));
  Quantized q;
  quantize(v.data(), cb, CounterRng(1, "quantize"), 0, 0, q);
  std::vector<std::uint8_t> p;
  encode(q, cb, p);
  const PayloadHeader h = read_header(p.data(), p.size());
  EXPECT_EQ(h.header_bytes, 5u + 1 + 2 + 2 + 8);
  std::uint64_t codes = 0;
  for (auto k : q.q) codes += static_cast<std::uint64_t>(elias_length(static_cast<std::uint32_t>(std::abs(k)) + 1) + (k != 0));
  EXPECT_EQ(h.bits, 4 * 32 + codes);
  for (double N : q.scale) EXPECT_EQ(static_cast<double>(static_cast<float>(N)), N);
  EXPECT_GE(q.scale[3], std::fabs(v[4224]));  // rounded up: the lone bias is within its norm
  EXPECT_LE(q.scale[3], std::fabs(v[4224]) * (1 + 1e-7));

  // A scale with a float32 sent escaped is refused, as is an overlong varint.
  std::vector<double> tiny = {1e-300};
  const Codebook one = quant::make_codebook(o, block_layout({0, 1}));
  quantize(tiny.data(), one, CounterRng(1, "quantize"), 0, 0, q);
  EXPECT_EQ(q.scale[0], 1e-300);  // outside the float32 range: exact, escaped
  encode(q, one, p = {});
  Quantized back;
  decode(p.data(), p.size(), one, back);
  EXPECT_EQ(back.scale[0], 1e-300);
  const std::size_t body = read_header(p.data(), p.size()).header_bytes;
  const std::uint64_t unit = detail::bits_of(1.0);
  for (int k = 0; k < 8; ++k) p[body + 4 + k] = static_cast<std::uint8_t>(unit >> (8 * k));
  detail::rewrite_checksums(p.data(), p.size());
  EXPECT_THROW(decode(p.data(), p.size(), one, back), PayloadError);
  const std::uint8_t overlong[] = {0x85, 0x00}, fine[] = {0x85, 0x01};
  const std::uint8_t* at = overlong;
  EXPECT_THROW(detail::get_varint(at, overlong + 2, 1000, "test"), PayloadError);
  at = fine;
  EXPECT_EQ(detail::get_varint(at, fine + 2, 1000, "test"), 133u);
}
