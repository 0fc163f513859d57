// engine::CompressedExchange: the allgather's average is bit for bit the rank-ordered mean of every
// worker's quantised vector (computed here from the kernels alone), the float64 allreduce averages
// and counts its bytes, a non-finite vector on one rank fails on every rank; the wire precisions (unquantised float64 / float32 / float16 allreduce)
// and its reduce_scatter collective, at 1, 2, 3 and 4 ranks: every rank holds the same bits of
// the average; float32 and float16 stay within their rounding bounds of the float64 average;
// reduce_scatter's average equals a reference built here from the kernels alone (segments, first
// roundings, rank-ordered partial averages, re-quantisation), is unbiased with the exact variance
// it reports, receives fewer bytes per rank than allgather from 3 ranks on, fails on every rank
// when one rank's vector is non-finite, works on a pipeline stage's part and restarts bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "engine/compressed_exchange.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "engine/half.hpp"
#include "kernels/counter_rng.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
namespace q = saddle::kernels::quant;
using saddle::kernels::CounterRng;
using namespace saddle::testing;

namespace {

const Scratch scratch("exchange");

// Worker k's vector: three blocks of scales 1, 0.1 and 0.01 (`scaled`), or all of scale 1.
std::vector<double> worker_vector(int k, std::int64_t n, bool scaled = true) {
  const CounterRng rng(99, "test_vector");
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = (scaled ? std::pow(10.0, -static_cast<double>(3 * i / n)) : 1.0) *
                                     rng.normal(static_cast<std::uint64_t>(i), 0, static_cast<std::uint32_t>(k));
  return v;
}

q::Layout three_blocks(std::int64_t n) {
  q::Layout l;
  l.offsets = {0, n / 3, 2 * n / 3, n};
  l.types = {0, 1, 2};
  l.ntypes = 3;
  return l;
}

std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, 8);
  return b;
}

// Number of coordinates whose bits differ from rank 0's (collective).
std::int64_t differing_from_rank0(const Comm& c, const std::vector<double>& x) {
  std::vector<double> first = x;
  c.bcast(first);
  std::int64_t d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) d += bits(x[i]) != bits(first[i]);
  return d;
}

QuantizerOptions quantised(const std::string& scheme, const std::string& coder, ExchangeCollective collective) {
  QuantizerOptions o;
  o.collective = collective;
  o.codebook.scheme = scheme == "bucket" ? q::Scheme::Bucket : scheme == "global" ? q::Scheme::Global : q::Scheme::Layerwise;
  o.codebook.coder = coder == "huffman" ? q::Coder::Huffman : q::Coder::Elias;
  o.codebook.levels = scheme == "bucket" ? q::LevelFamily::Uniform : q::LevelFamily::Adaptive;
  o.codebook.bucket = 16;
  o.adapt_every = 3;
  return o;
}

// The codebook of [a, b) as the test reads the design: cb's blocks intersected with the
// segment, each piece keeping its block's type.
q::Codebook segment_codebook(const q::Codebook& cb, std::int64_t a, std::int64_t b) {
  q::Codebook s = cb;
  s.layout.offsets = {0};
  s.layout.types.clear();
  for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
    const std::int64_t lo = std::max(a, cb.layout.offsets[m]), hi = std::min(b, cb.layout.offsets[m + 1]);
    if (lo < hi) {
      s.layout.offsets.push_back(hi - a);
      s.layout.types.push_back(cb.layout.types[m]);
    }
  }
  return s;
}

struct Reference {
  std::vector<double> avg, own;
  std::uint64_t round_bytes = 0, requant_bytes = 0;
};

// reduce_scatter from the kernels: vectors[k] is worker k's vector (this part's n coordinates),
// `first` where the part starts in the whole vector.
Reference reduce_scatter_reference(const std::vector<std::vector<double>>& vectors, const q::Codebook& cb, const std::vector<std::int64_t>& seg,
                                   std::uint64_t seed, std::uint32_t round, int me, std::uint64_t first = 0) {
  const int K = static_cast<int>(vectors.size());
  const auto n = vectors[0].size();
  Reference r;
  r.avg.assign(n, 0.0);
  r.own.assign(n, 0.0);
  const CounterRng rng(seed, "quantize"), rng2(seed, "requantize");
  for (int j = 0; j < K; ++j) {
    const std::int64_t a = seg[static_cast<std::size_t>(j)], b = seg[static_cast<std::size_t>(j) + 1];
    const q::Codebook cbj = segment_codebook(cb, a, b);
    std::vector<double> p(static_cast<std::size_t>(b - a), 0.0), x(p.size());
    for (int k = 0; k < K; ++k) {
      q::Quantized qk;
      q::quantize(vectors[static_cast<std::size_t>(k)].data() + a, cbj, rng, round, static_cast<std::uint32_t>(k), qk, first + static_cast<std::uint64_t>(a));
      std::vector<std::uint8_t> payload;
      r.round_bytes += q::encode(qk, cbj, payload);
      q::dequantize(qk, cbj, x.data());
      for (std::size_t i = 0; i < p.size(); ++i) p[i] += x[i];
      if (k == me) std::copy(x.begin(), x.end(), r.own.begin() + a);
    }
    for (double& y : p) y /= K;
    q::Quantized q2;
    q::quantize(p.data(), cbj, rng2, round, 0u, q2, first + static_cast<std::uint64_t>(a));
    std::vector<std::uint8_t> payload;
    const std::size_t b2 = q::encode(q2, cbj, payload);
    r.round_bytes += b2;
    r.requant_bytes += b2;
    q::dequantize(q2, cbj, r.avg.data() + a);
  }
  return r;
}

}  // namespace

TEST(CompressedExchange, AverageIsTheRankOrderedMeanOfEveryWorkersQuantisedVector) {
  const std::int64_t n = 300;
  const int K = world().size();
  for (const std::string type : {"layerwise", "global", "bucket"})
    for (const std::string coder : {"elias", "huffman"}) {
      if (type == "bucket" && coder == "huffman") continue;
      QuantizerOptions o;
      o.codebook.scheme = type == "bucket" ? q::Scheme::Bucket : type == "global" ? q::Scheme::Global : q::Scheme::Layerwise;
      o.codebook.coder = coder == "huffman" ? q::Coder::Huffman : q::Coder::Elias;
      o.codebook.levels = type == "bucket" ? q::LevelFamily::Uniform : q::LevelFamily::Adaptive;
      o.adapt_every = 3;
      o.codebook.bucket = 64;
      CompressedExchange ex(world(), o, three_blocks(n), 5);
      std::vector<double> avg(n), own(n);
      for (std::uint32_t round = 0; round < 5; ++round) {
        auto v = worker_vector(world().rank() + 10 * static_cast<int>(round), n);
        ex.exchange(v.data(), avg.data(), own.data(), round);
        // The reference: every worker's vector quantised here with the exchange's codebook.
        const q::Codebook& cb = ex.codebook();
        const CounterRng rng(5, "quantize");
        std::vector<double> ref(n, 0.0), one(n);
        std::uint64_t bytes = 0;
        for (int k = 0; k < K; ++k) {
          const auto vk = worker_vector(k + 10 * static_cast<int>(round), n);
          q::Quantized qk;
          q::quantize(vk.data(), cb, rng, round, static_cast<std::uint32_t>(k), qk);
          std::vector<std::uint8_t> p;
          bytes += q::encode(qk, cb, p);
          q::dequantize(qk, cb, one.data());
          for (std::int64_t i = 0; i < n; ++i) ref[i] += one[i];
          if (k == world().rank()) {
            for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(own[i], one[i]);
          }
        }
        for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(avg[i], ref[i] / K) << type << " " << coder << " round " << round << " i " << i;
        EXPECT_EQ(ex.stats().round_bytes, bytes);
      }
      // Every rank fitted the same levels.
      for (const auto& l : ex.levels()) {
        std::vector<double> lo = l, hi = l;
        world().allreduce(lo, Op::Min);
        world().allreduce(hi, Op::Max);
        EXPECT_EQ(lo, hi);
      }
      EXPECT_EQ(ex.codebook().epoch, type == "bucket" ? 0u : 2u);  // refits at rounds 0 and 3
    }
}

TEST(CompressedExchange, UncompressedPathAveragesAndCountsFloat64Bytes) {
  const std::int64_t n = 50;
  QuantizerOptions o;
  o.compressed = false;
  CompressedExchange ex(world(), o, three_blocks(n), 1);
  auto v = worker_vector(world().rank(), n);
  std::vector<double> avg(n), own(n);
  ex.exchange(v.data(), avg.data(), own.data(), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int k = 0; k < world().size(); ++k) s += worker_vector(k, n)[i];
    EXPECT_NEAR(avg[i], s / world().size(), 1e-15 * (1 + std::fabs(s)));
    EXPECT_EQ(own[i], v[i]);
  }
  EXPECT_EQ(ex.stats().round_bytes, static_cast<std::uint64_t>(world().size() * n * 8));
}

TEST(CompressedExchange, NonFiniteOnOneRankFailsOnEveryRank) {
  const std::int64_t n = 30;
  QuantizerOptions o;
  CompressedExchange ex(world(), o, three_blocks(n), 1);
  auto v = worker_vector(world().rank(), n);
  if (world().rank() == world().size() - 1) v[7] = NAN;
  std::vector<double> avg(n), own(n);
  try {
    ex.exchange(v.data(), avg.data(), own.data(), 1);
    ADD_FAILURE() << "no error";
  } catch (const CollectiveError& e) {
    EXPECT_EQ(e.origin_rank(), world().size() - 1);
    if (world().rank() == world().size() - 1) {
      EXPECT_NE(std::string(e.what()).find("coordinate 7"), std::string::npos) << e.what();
    }
  }
}

TEST(Half, ConversionRoundsToNearestEvenAndOverflowsToInfinity) {
  EXPECT_EQ(half_from_double(1.0), 0x3C00);
  EXPECT_EQ(half_from_double(-2.0), 0xC000);
  EXPECT_EQ(half_from_double(0.0), 0x0000);
  EXPECT_EQ(half_from_double(-0.0), 0x8000);
  EXPECT_EQ(half_from_double(65504.0), 0x7BFF);
  EXPECT_EQ(half_from_double(65519.99), 0x7BFF);
  EXPECT_EQ(half_from_double(65520.0), 0x7C00);  // the tie above the largest half rounds to inf
  EXPECT_EQ(half_from_double(1e300), 0x7C00);
  EXPECT_EQ(half_from_double(-INFINITY), 0xFC00);
  EXPECT_EQ(half_from_double(NAN) & 0x7E00, 0x7E00);
  EXPECT_EQ(half_from_double(1.0 + 0x1p-11), 0x3C00);        // tie, to even
  EXPECT_EQ(half_from_double(1.0 + 3 * 0x1p-11), 0x3C02);    // tie, to even (up)
  EXPECT_EQ(half_from_double(1.0 + 0x1p-11 + 0x1p-30), 0x3C01);
  EXPECT_EQ(half_from_double(0x1p-14), 0x0400);              // the smallest normal
  EXPECT_EQ(half_from_double(0x1p-24), 0x0001);              // the smallest subnormal
  EXPECT_EQ(half_from_double(0x1p-25), 0x0000);              // tie, to even (zero)
  EXPECT_EQ(half_from_double(1.5 * 0x1p-24), 0x0002);        // tie, to even (up)
  EXPECT_EQ(half_from_double(0x1p-14 - 0x1p-26), 0x0400);    // rounds up into the normals
  EXPECT_EQ(half_from_double(1e-300), 0x0000);
  // Every finite half survives the round trip.
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const auto x = static_cast<std::uint16_t>(h);
    if ((x & 0x7C00) == 0x7C00) continue;
    const double d = half_to_double(x);
    ASSERT_EQ(half_from_double(d), x) << h;
  }
  // The float rounding equals the double one (checked on all 2^32 patterns once; here a sweep).
  std::int64_t differ = 0;
  for (std::uint64_t x = 0; x <= 0xFFFFFFFFull; x += 251) {
    const auto b = static_cast<std::uint32_t>(x);
    float f;
    std::memcpy(&f, &b, 4);
    const std::uint16_t h = half_from_float(f), g = half_from_double(static_cast<double>(f));
    differ += h != g && !(std::isnan(f) && (h & 0x7E00) == 0x7E00 && (g & 0x7E00) == 0x7E00);
  }
  EXPECT_EQ(differ, 0);
  EXPECT_EQ(half_to_double(0x7C00), INFINITY);
  EXPECT_EQ(half_to_double(0x3555), 0.333251953125);
  EXPECT_EQ(half_add(0x3C00, 0x3C00), 0x4000);
  EXPECT_EQ(half_add(0x7BFF, 0x7BFF), 0x7C00);
}

TEST(ExchangePrecision, EveryRankHoldsTheSameBitsWithinTheRoundingBound) {
  // A small vector and one large enough for Open MPI's segmented (ring) allreduce algorithms.
  for (const std::int64_t n : {std::int64_t{2000}, std::int64_t{300001}}) {
  const int K = world().size();
  std::vector<std::vector<double>> vk;
  for (int k = 0; k < K; ++k) vk.push_back(worker_vector(k, n, false));
  const auto& v = vk[static_cast<std::size_t>(world().rank())];
  std::vector<double> ref(n, 0.0), mag(n, 0.0);
  for (int k = 0; k < K; ++k)
    for (std::int64_t i = 0; i < n; ++i) {
      ref[i] += vk[static_cast<std::size_t>(k)][i];
      mag[i] += std::fabs(vk[static_cast<std::size_t>(k)][i]);
    }
  for (double& x : ref) x /= K;
  for (const auto precision : {WirePrecision::Float64, WirePrecision::Float32, WirePrecision::Float16}) {
    const char* name = precision == WirePrecision::Float64 ? "float64" : precision == WirePrecision::Float32 ? "float32" : "float16";
    QuantizerOptions o;
    o.compressed = false;
    o.precision = precision;
    CompressedExchange ex(world(), o, three_blocks(n), 1);
    std::vector<double> avg(n), own(n);
    ex.exchange(v.data(), avg.data(), own.data(), 0);
    EXPECT_EQ(differing_from_rank0(world(), avg), 0) << name;
    const std::size_t bytes = precision == WirePrecision::Float64 ? 8 : precision == WirePrecision::Float32 ? 4 : 2;
    EXPECT_EQ(ex.stats().round_bytes, static_cast<std::uint64_t>(K) * n * bytes) << name;
    EXPECT_EQ(ex.stats().received_bytes, 2 * static_cast<std::uint64_t>(K - 1) * n * bytes / K) << name;
    double err = 0, norm = 0, worst = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      if (K == 1) {  // nothing on the wire, nothing rounded
        EXPECT_EQ(bits(avg[i]), bits(v[i])) << name << " " << i;
        EXPECT_EQ(bits(own[i]), bits(v[i])) << name << " " << i;
        continue;
      }
      const double d = std::fabs(avg[i] - ref[i]);
      err += d * d;
      norm += ref[i] * ref[i];
      // Bounds: float32, each rank's rounding and the K - 1 float sums (2^-24 each) of sum |v_k| / K
      // times K; float16, the same with 2^-11 (plus float's 2^-24 per combine) and 2^-25 per
      // rounding near zero (subnormals).
      double bound = 0;
      if (precision == WirePrecision::Float64) {
        bound = 4 * K * 0x1p-53 * mag[i];
        EXPECT_EQ(bits(own[i]), bits(v[i]));
      } else if (precision == WirePrecision::Float32) {
        bound = 0x1p-24 * mag[i] * 1.001;
        EXPECT_EQ(bits(own[i]), bits(static_cast<double>(static_cast<float>(v[i]))));
      } else {
        bound = (0x1p-11 + 0x1p-23) * mag[i] + K * 0x1p-24;
        EXPECT_EQ(bits(own[i]), bits(K * half_to_double(half_from_double(v[i] / K))));
      }
      EXPECT_LE(d, bound) << name << " i " << i << " avg " << avg[i] << " ref " << ref[i];
      worst = std::max(worst, d / bound);
    }
    if (K > 1) {
      const double rel = std::sqrt(err / norm);
      if (world().is_root())
        std::printf("%s at %d ranks, n = %lld: |avg - avg64| / |avg64| = %.3g (worst coordinate at %.2f of its bound)\n", name, K, static_cast<long long>(n), rel, worst);
      EXPECT_LT(rel, precision == WirePrecision::Float64 ? 1e-15 : precision == WirePrecision::Float32 ? 2e-7 : 2e-3) << name;
    }
  }
  }
}

TEST(ExchangePrecision, HalfOverflowReachesTheCallersDivergenceCheck) {
  const std::int64_t n = 12;
  QuantizerOptions o;
  o.compressed = false;
  o.precision = WirePrecision::Float16;
  CompressedExchange ex(world(), o, three_blocks(n), 1);
  std::vector<double> v(n, 1.0), avg(n), own(n);
  v[5] = 1e6 * world().size();  // v / K = 1e6 > 65504
  ex.exchange(v.data(), avg.data(), own.data(), 0);
  if (world().size() == 1) {
    EXPECT_EQ(avg[5], v[5]);
  } else {
    EXPECT_TRUE(std::isinf(avg[5]));
    EXPECT_TRUE(std::isinf(own[5]));
    EXPECT_EQ(avg[0], 1.0);
  }
}

TEST(ReduceScatter, AverageIsBitIdenticalAndEqualsTheKernelsReference) {
  const std::int64_t n = 301;
  const int K = world().size(), me = world().rank();
  for (const std::string scheme : {"layerwise", "global", "bucket"})
    for (const std::string coder : {"elias", "huffman"}) {
      if (scheme == "bucket" && coder == "huffman") continue;
      CompressedExchange rs(world(), quantised(scheme, coder, ExchangeCollective::ReduceScatter), three_blocks(n), 5);
      CompressedExchange ag(world(), quantised(scheme, coder, ExchangeCollective::Allgather), three_blocks(n), 5);
      std::vector<double> avg(n), own(n), avg_ag(n), own_ag(n);
      for (std::uint32_t round = 0; round < 5; ++round) {
        std::vector<std::vector<double>> vk;
        for (int k = 0; k < K; ++k) vk.push_back(worker_vector(k + 10 * static_cast<int>(round), n));
        rs.exchange(vk[static_cast<std::size_t>(me)].data(), avg.data(), own.data(), round);
        ag.exchange(vk[static_cast<std::size_t>(me)].data(), avg_ag.data(), own_ag.data(), round);
        EXPECT_EQ(differing_from_rank0(world(), avg), 0) << scheme << " " << coder << " round " << round;
        if (K == 1) {  // one rank: the allgather path, whatever the collective
          EXPECT_TRUE(rs.segment_begin().empty());
          for (std::int64_t i = 0; i < n; ++i) {
            EXPECT_EQ(bits(avg[i]), bits(avg_ag[i])) << i;
            EXPECT_EQ(bits(own[i]), bits(own_ag[i])) << i;
          }
          EXPECT_EQ(rs.stats().round_bytes, ag.stats().round_bytes);
          EXPECT_EQ(rs.stats().received_bytes, 0u);
          continue;
        }
        const auto& seg = rs.segment_begin();
        if (seg.size() != static_cast<std::size_t>(K) + 1) {  // the same on every rank: no collective skipped on one
          ADD_FAILURE() << "segments " << seg.size();
          continue;
        }
        if (scheme == "bucket") {
          for (int j = 0; j < K; ++j) EXPECT_TRUE(seg[static_cast<std::size_t>(j)] % 16 == 0 || seg[static_cast<std::size_t>(j)] == n);
        }
        const Reference r = reduce_scatter_reference(vk, rs.codebook(), seg, 5, round, me);
        std::int64_t bad_avg = 0, bad_own = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          bad_avg += bits(avg[i]) != bits(r.avg[i]);
          bad_own += bits(own[i]) != bits(r.own[i]);
        }
        EXPECT_EQ(bad_avg, 0) << scheme << " " << coder << " round " << round;
        EXPECT_EQ(bad_own, 0) << scheme << " " << coder << " round " << round;
        EXPECT_EQ(rs.stats().round_bytes, r.round_bytes) << scheme << " " << coder;
        EXPECT_EQ(rs.stats().requant_bytes, r.requant_bytes) << scheme << " " << coder;
        // The bucket scheme's segments hold whole buckets, so own is the allgather path's Q(v).
        if (scheme == "bucket") {
          for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(bits(own[i]), bits(own_ag[i])) << i;
        }
      }
      // Refits at rounds 0 and 3 (from the segments' pieces: levels of their own at K > 1),
      // identical on every rank.
      EXPECT_EQ(rs.codebook().epoch, scheme == "bucket" ? 0u : 2u);
      for (std::size_t t = 0; t < rs.levels().size(); ++t) {
        if (K == 1) {
          EXPECT_EQ(rs.levels()[t], ag.levels()[t]);
        }
        EXPECT_EQ(differing_from_rank0(world(), rs.levels()[t]), 0);
      }
    }
}

TEST(ReduceScatter, VectorsShorterThanTheRankCountLeaveSegmentsEmpty) {
  const int K = world().size(), me = world().rank();
  q::Layout l;
  l.offsets = {0, 1, 2};
  l.types = {0, 1};
  l.ntypes = 2;
  for (const std::string scheme : {"layerwise", "bucket"}) {
    CompressedExchange ex(world(), quantised(scheme, "elias", ExchangeCollective::ReduceScatter), l, 4);
    std::vector<std::vector<double>> vk;
    for (int k = 0; k < K; ++k) vk.push_back({1.0 + k, -0.5 * k});
    std::vector<double> avg(2), own(2);
    ex.exchange(vk[static_cast<std::size_t>(me)].data(), avg.data(), own.data(), 0);
    EXPECT_EQ(differing_from_rank0(world(), avg), 0) << scheme;
    if (K == 1) continue;
    const Reference r = reduce_scatter_reference(vk, ex.codebook(), ex.segment_begin(), 4, 0, me);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(bits(avg[i]), bits(r.avg[i])) << scheme << " " << i;
      EXPECT_EQ(bits(own[i]), bits(r.own[i])) << scheme << " " << i;
    }
  }
}

TEST(ReduceScatter, IsUnbiasedWithTheExactVarianceItReports) {
  const std::int64_t n = 240;
  const int K = world().size(), me = world().rank();
  const std::uint32_t R = 400;
  for (const std::string scheme : {"layerwise", "bucket"}) {
    QuantizerOptions o = quantised(scheme, "elias", ExchangeCollective::ReduceScatter);
    o.codebook.levels = q::LevelFamily::Uniform;
    o.codebook.num_levels = 4;  // coarse, so the variance is large and measured well
    o.adapt_every = 0;
    CompressedExchange ex(world(), o, three_blocks(n), 17);
    std::vector<std::vector<double>> vk;
    for (int k = 0; k < K; ++k) vk.push_back(worker_vector(k, n));
    std::vector<double> vbar(n, 0.0);
    for (const auto& x : vk)
      for (std::int64_t i = 0; i < n; ++i) vbar[i] += x[i];
    for (double& x : vbar) x /= K;
    std::vector<double> avg(n), own(n), mean(n, 0.0);
    double sq = 0, expected = 0, err1 = 0, exp1 = 0, err2 = 0, exp2 = 0;
    for (std::uint32_t round = 0; round < R; ++round) {
      ex.exchange(vk[static_cast<std::size_t>(me)].data(), avg.data(), own.data(), round);
      for (std::int64_t i = 0; i < n; ++i) {
        mean[i] += avg[i] / R;
        sq += (avg[i] - vbar[i]) * (avg[i] - vbar[i]);
      }
      expected += ex.average_variance();
      err1 += ex.stats().error_sq;
      exp1 += ex.stats().expected_sq;
      err2 += ex.stats().requant_error_sq;
      exp2 += ex.stats().requant_expected_sq;
    }
    double bias = 0;
    for (std::int64_t i = 0; i < n; ++i) bias += (mean[i] - vbar[i]) * (mean[i] - vbar[i]);
    // E|mean - vbar|^2 = E|avg - vbar|^2 / R; a chi-square-like sum of many coordinates.
    EXPECT_LT(bias, 3 * expected / R / R) << scheme << ": |mean of avg - vbar|^2 against E/R = " << expected / R / R;
    EXPECT_NEAR(sq / expected, 1.0, 0.1) << scheme;
    EXPECT_NEAR(err1 / exp1, 1.0, 0.1) << scheme;
    if (K > 1) {
      EXPECT_GT(exp2, 0) << scheme;
      EXPECT_NEAR(err2 / exp2, 1.0, 0.15) << scheme;
    } else {
      EXPECT_EQ(exp2, 0);
    }
    if (me == 0)
      std::printf("%s at %d ranks: E|avg - vbar|^2 measured / exact = %.4f, bias^2 R / E = %.3f, first rounding %.4f, re-quantisation %.4f\n",
                  scheme.c_str(), K, sq / expected, bias * R / (expected / R), err1 / exp1, K > 1 ? err2 / exp2 : 0.0);
  }
}

TEST(ReduceScatter, ReceivesFewerBytesPerRankThanAllgatherFromThreeRanks) {
  const std::int64_t n = 30000;
  const int K = world().size(), me = world().rank();
  const auto v = worker_vector(me, n);
  std::vector<double> avg(n), own(n);
  QuantizerOptions o;  // layer-wise, uniform 8 levels, Elias
  CompressedExchange ag(world(), o, three_blocks(n), 3);
  o.collective = ExchangeCollective::ReduceScatter;
  CompressedExchange rs(world(), o, three_blocks(n), 3);
  o.compressed = false;
  CompressedExchange plain(world(), o, three_blocks(n), 3);
  ag.exchange(v.data(), avg.data(), own.data(), 0);
  rs.exchange(v.data(), avg.data(), own.data(), 0);
  plain.exchange(v.data(), avg.data(), own.data(), 0);
  const double payload = static_cast<double>(ag.stats().round_bytes) / K;  // a mean payload
  const auto got_ag = static_cast<double>(ag.stats().received_bytes), got_rs = static_cast<double>(rs.stats().received_bytes);
  if (me == 0)
    std::printf("%d ranks, payload %.0f B: received per rank allgather %.0f B ((K-1) payloads %.0f), reduce_scatter %.0f B (2(K-1)/K payloads %.0f), "
                "float64 allreduce %llu B\n",
                K, payload, got_ag, (K - 1) * payload, got_rs, 2.0 * (K - 1) / K * payload, static_cast<unsigned long long>(plain.stats().received_bytes));
  EXPECT_NEAR(got_ag, (K - 1) * payload, 0.01 * payload + 1);
  // About 2 (K - 1) / K payloads, plus a 40-byte header and a norm or two per segment payload;
  // segments of different blocks code to different sizes, hence the slack.
  EXPECT_LE(got_rs, 1.1 * 2.0 * (K - 1) / K * payload + 2.0 * (K - 1) * 64);
  EXPECT_GE(got_rs, 0.85 * 2.0 * (K - 1) / K * payload);
  if (K >= 3) {
    EXPECT_LT(got_rs, got_ag);
  }
  if (K == 1) {
    EXPECT_EQ(got_rs, 0);
    EXPECT_EQ(got_ag, 0);
  }
  // The same numbers on every rank for round_bytes: every worker's payloads.
  std::vector<double> rb = {static_cast<double>(rs.stats().round_bytes)};
  EXPECT_EQ(differing_from_rank0(world(), rb), 0);
}

TEST(ReduceScatter, NonFiniteOnOneRankFailsOnEveryRank) {
  const std::int64_t n = 30;
  for (const std::string scheme : {"layerwise", "bucket"})
    for (const int adapt : {0, 1}) {
      QuantizerOptions o = quantised(scheme, "elias", ExchangeCollective::ReduceScatter);
      o.adapt_every = adapt;
      if (!adapt) o.codebook.levels = q::LevelFamily::Uniform;
      CompressedExchange ex(world(), o, three_blocks(n), 1);
      auto v = worker_vector(world().rank(), n);
      const int bad = world().size() - 1;
      if (world().rank() == bad) v[7] = NAN;
      std::vector<double> avg(n), own(n);
      bool threw = false;
      try {
        ex.exchange(v.data(), avg.data(), own.data(), 1);  // round 1: adapt_every = 1 refits first
      } catch (const CollectiveError& e) {
        threw = true;
        if (!adapt || scheme == "bucket") {
          EXPECT_EQ(e.origin_rank(), bad) << scheme;
          if (world().rank() == bad) {
            EXPECT_NE(std::string(e.what()).find("coordinate 7"), std::string::npos) << e.what();
          }
        }
      }
      EXPECT_TRUE(threw) << scheme << " adapt " << adapt;
      // The exchange is still usable afterwards (nothing hangs, every rank agrees).
      v = worker_vector(world().rank(), n);
      ex.exchange(v.data(), avg.data(), own.data(), 2);
      EXPECT_EQ(differing_from_rank0(world(), avg), 0);
    }
}

TEST(ReduceScatter, WorksOnAPipelineStagesPart) {
  // 2 stages when the rank count is even (the data communicator has K = ranks / 2), else 1.
  const int layers = world().size() % 2 == 0 ? 2 : 1;
  const ProcessGrid g = make_process_grid(world(), layers);
  const std::int64_t total = 300, cut = 120;
  const int stage = g.layer_index();
  const std::int64_t offset = layers == 1 ? 0 : stage == 0 ? 0 : cut, n = layers == 1 ? total : stage == 0 ? cut : total - cut;
  StagePart part;
  if (layers > 1) part = StagePart{g.layer, offset, total};
  q::Layout l;  // the part's layers: cut into two blocks each
  l.offsets = {0, n / 2, n};
  l.types = {0, 1};
  l.ntypes = 2;
  const int K = g.data.size(), me = g.data_index();
  QuantizerOptions o = quantised("layerwise", "huffman", ExchangeCollective::ReduceScatter);
  CompressedExchange ex(g.data, o, l, 8, part);
  std::vector<double> avg(n), own(n);
  for (std::uint32_t round = 0; round < 4; ++round) {
    std::vector<std::vector<double>> vk;
    for (int k = 0; k < K; ++k) {
      const auto whole = worker_vector(k + 10 * static_cast<int>(round), total);
      vk.emplace_back(whole.begin() + offset, whole.begin() + offset + n);
    }
    ex.exchange(vk[static_cast<std::size_t>(me)].data(), avg.data(), own.data(), round);
    EXPECT_EQ(differing_from_rank0(g.data, avg), 0);
    if (K == 1) continue;
    const Reference r = reduce_scatter_reference(vk, ex.codebook(), ex.segment_begin(), 8, round, me, static_cast<std::uint64_t>(offset));
    std::int64_t bad = 0;
    for (std::int64_t i = 0; i < n; ++i) bad += bits(avg[i]) != bits(r.avg[i]) || bits(own[i]) != bits(r.own[i]);
    EXPECT_EQ(bad, 0) << "stage " << stage << " round " << round;
    EXPECT_EQ(ex.segment_begin().back(), n);
  }
}

TEST(ReduceScatter, RestartIsBitForBit) {
  const std::int64_t n = 200;
  const int me = world().rank();
  if (world().is_root()) fs::create_directories(dir());
  world().barrier();
  const std::string file = dir() + "/restart_rank" + std::to_string(me) + ".h5";
  const QuantizerOptions o = quantised("layerwise", "huffman", ExchangeCollective::ReduceScatter);  // refits every 3 rounds
  CompressedExchange a(world(), o, three_blocks(n), 21);
  std::vector<std::vector<double>> avg_a, own_a;
  std::vector<double> avg(n), own(n);
  std::uint64_t bytes_a = 0;
  for (std::uint32_t round = 0; round < 8; ++round) {
    const auto v = worker_vector(me + 10 * static_cast<int>(round), n);
    a.exchange(v.data(), avg.data(), own.data(), round);
    avg_a.push_back(avg);
    own_a.push_back(own);
    if (round == 4) {
      h5::File f = h5::File::create(file);
      a.save(f.root().create_group("exchange"));
      f.close();
    }
  }
  bytes_a = a.stats().bytes_total;
  CompressedExchange b(world(), o, three_blocks(n), 21);
  {
    h5::File f = h5::File::open(file, h5::File::Mode::ReadOnly);
    b.load(f.root().open_group("exchange"));
  }
  std::int64_t bad = 0;
  for (std::uint32_t round = 5; round < 8; ++round) {
    const auto v = worker_vector(me + 10 * static_cast<int>(round), n);
    b.exchange(v.data(), avg.data(), own.data(), round);
    for (std::int64_t i = 0; i < n; ++i) bad += bits(avg[i]) != bits(avg_a[round][i]) || bits(own[i]) != bits(own_a[round][i]);
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(b.stats().bytes_total, bytes_a);
  EXPECT_EQ(b.codebook().epoch, a.codebook().epoch);
}
