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
    const double N = block_norm(v.data() + lo, hi - lo, cb.norm, lo);
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
