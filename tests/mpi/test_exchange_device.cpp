// engine::CompressedExchange on views in kernels::Mem against the pointer API on the same inputs,
// at 1, 2 and 3 ranks: for every wire precision of the allreduce and every quantiser (schemes,
// level families, norms, coders) under both collectives, over rounds that cross refits, the view
// API gives bit for bit the pointer API's avg and own and the same stats (bytes, error sums);
// a non-finite vector on one rank fails on every rank with the host path's message. In a CPU
// build Mem is host memory and Exec is Serial or OpenMP: the device path's kernels, copies and
// transport calls run here as they would on a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/compressed_exchange.hpp"
#include "engine/error.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/spaces.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
namespace q = saddle::kernels::quant;
using saddle::kernels::CounterRng;
using saddle::kernels::Mem;
using namespace saddle::testing;

namespace {

// Worker k's vector in round r: four blocks of scales 1, 0.1, 0.01 and 1e-3, different per round.
std::vector<double> worker_vector(int k, std::uint32_t r, std::int64_t n) {
  const CounterRng rng(7, "test_device_vector");
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = std::pow(10.0, -static_cast<double>(4 * i / n)) *
                                     rng.normal(static_cast<std::uint64_t>(i), r, static_cast<std::uint32_t>(k));
  return v;
}

q::Layout four_blocks(std::int64_t n) {
  // Uneven blocks, so that reduce_scatter's segments cut them.
  return q::block_layout({0, n / 5, n / 2, (3 * n) / 4, n});
}

std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, 8);
  return b;
}

std::int64_t differing(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return -1;
  std::int64_t d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d += bits(a[i]) != bits(b[i]);
  return d;
}

Kokkos::View<double*, Mem> to_mem(const std::vector<double>& x) {
  Kokkos::View<double*, Mem> d("test::v", x.size());
  auto h = Kokkos::create_mirror_view(d);
  for (std::size_t i = 0; i < x.size(); ++i) h(i) = x[i];
  Kokkos::deep_copy(d, h);
  return d;
}

std::vector<double> from_mem(const Kokkos::View<double*, Mem>& d) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

void expect_same_stats(const ExchangeStats& a, const ExchangeStats& b, const std::string& what) {
  EXPECT_EQ(a.bytes_total, b.bytes_total) << what;
  EXPECT_EQ(a.round_bytes, b.round_bytes) << what;
  EXPECT_EQ(a.received_bytes, b.received_bytes) << what;
  EXPECT_EQ(a.requant_bytes, b.requant_bytes) << what;
  EXPECT_EQ(bits(a.error_sq), bits(b.error_sq)) << what;
  EXPECT_EQ(bits(a.expected_sq), bits(b.expected_sq)) << what;
  EXPECT_EQ(bits(a.norm_sq), bits(b.norm_sq)) << what;
  EXPECT_EQ(bits(a.requant_error_sq), bits(b.requant_error_sq)) << what;
  EXPECT_EQ(bits(a.requant_expected_sq), bits(b.requant_expected_sq)) << what;
  EXPECT_EQ(differing(a.layer_error_sq, b.layer_error_sq), 0) << what;
  EXPECT_EQ(differing(a.layer_norm_sq, b.layer_norm_sq), 0) << what;
}

// Two exchanges built alike, one fed pointers and one views, over `rounds` rounds; returns the
// coordinates of avg that were not zero in the last round (so that a caller can tell that the
// exchange moved something).
std::int64_t compare(const QuantizerOptions& o, std::int64_t n, std::uint32_t rounds, const std::string& what,
                     const StagePart& part = {}) {
  CompressedExchange host(world(), o, four_blocks(n), 41, part), dev(world(), o, four_blocks(n), 41, part);
  std::vector<double> avg(static_cast<std::size_t>(n)), own(avg.size());
  Kokkos::View<double*, Mem> davg("test::avg", avg.size()), down("test::own", avg.size());
  std::int64_t nonzero = 0;
  for (std::uint32_t r = 0; r < rounds; ++r) {
    const std::vector<double> v = worker_vector(world().rank(), r, n);
    host.exchange(v.data(), avg.data(), own.data(), r);
    dev.exchange(to_mem(v), davg, down, r);
    const std::string at = what + ", round " + std::to_string(r);
    EXPECT_EQ(differing(avg, from_mem(davg)), 0) << at << ": avg";
    EXPECT_EQ(differing(own, from_mem(down)), 0) << at << ": own";
    expect_same_stats(host.stats(), dev.stats(), at);
    nonzero = 0;
    for (const double x : avg) nonzero += x != 0;
  }
  // Both hold the same codebook after the refits (the next round quantises alike).
  EXPECT_EQ(host.codebook().epoch, dev.codebook().epoch) << what;
  for (std::size_t t = 0; t < host.levels().size(); ++t) EXPECT_EQ(differing(host.levels()[t], dev.levels()[t]), 0) << what;
  return nonzero;
}

QuantizerOptions plain(WirePrecision p) {
  QuantizerOptions o;
  o.compressed = false;
  o.precision = p;
  return o;
}

}  // namespace

TEST(ExchangeViews, UncompressedEveryPrecisionIsBitForBitThePointerApi) {
  for (const auto& [p, name] : {std::pair{WirePrecision::Float64, "float64"}, std::pair{WirePrecision::Float32, "float32"},
                                std::pair{WirePrecision::Float16, "float16"}}) {
    const std::int64_t n = 1001;
    EXPECT_GT(compare(plain(p), n, 2, name), n / 2) << name;
  }
}

TEST(ExchangeViews, QuantisedEveryQuantiserAndCollectiveIsBitForBitThePointerApi) {
  struct Case {
    q::Scheme scheme;
    q::LevelFamily levels;
    q::Norm norm;
    q::Coder coder;
    const char* name;
  };
  const Case cases[] = {
      {q::Scheme::Layerwise, q::LevelFamily::Adaptive, q::Norm::L2, q::Coder::Huffman, "layerwise adaptive l2 huffman"},
      {q::Scheme::Layerwise, q::LevelFamily::Uniform, q::Norm::Linf, q::Coder::Elias, "layerwise uniform linf elias"},
      {q::Scheme::Layerwise, q::LevelFamily::Exponential, q::Norm::L2, q::Coder::Elias, "layerwise exponential l2 elias"},
      {q::Scheme::Global, q::LevelFamily::Adaptive, q::Norm::Linf, q::Coder::Elias, "global adaptive linf elias"},
      {q::Scheme::Global, q::LevelFamily::Uniform, q::Norm::L2, q::Coder::Huffman, "global uniform l2 huffman"},
      {q::Scheme::Bucket, q::LevelFamily::Uniform, q::Norm::L2, q::Coder::Fixed, "bucket"},
  };
  for (const Case& c : cases)
    for (const auto collective : {ExchangeCollective::Allgather, ExchangeCollective::ReduceScatter})
      for (const bool error_statistics : {true, false}) {
        QuantizerOptions o;
        o.collective = collective;
        o.codebook.scheme = c.scheme;
        o.codebook.levels = c.levels;
        o.codebook.norm = c.norm;
        o.codebook.coder = c.coder;
        o.codebook.num_levels = 6;
        o.codebook.bucket = 16;
        o.adapt_every = 2;
        o.error_statistics = error_statistics;
        const std::string what = std::string(c.name) + (collective == ExchangeCollective::Allgather ? ", allgather" : ", reduce_scatter") +
                                 (error_statistics ? ", statistics" : "");
        // 1003: the bucket scheme's last bucket is short and the segments are uneven.
        EXPECT_GT(compare(o, 1003, 5, what), 20) << what;  // global l2: the small blocks round to 0
      }
}

TEST(ExchangeViews, APartOfAWholeVectorDrawsAsThePointerApi) {
  // A pipeline stage's part (here alone on its stage communicator): rounding draws keyed by the
  // coordinate's index in the whole vector, from offset 37 (not a multiple of the Philox block).
  const std::int64_t n = 501;
  const StagePart part{Comm(MPI_COMM_SELF), 37, n + 100};
  for (const auto scheme : {q::Scheme::Layerwise, q::Scheme::Bucket})
    for (const auto collective : {ExchangeCollective::Allgather, ExchangeCollective::ReduceScatter}) {
      QuantizerOptions o;
      o.collective = collective;
      o.codebook.scheme = scheme;
      o.codebook.bucket = 16;
      const std::string what = std::string(scheme == q::Scheme::Bucket ? "bucket" : "layerwise") +
                               (collective == ExchangeCollective::Allgather ? ", allgather" : ", reduce_scatter");
      EXPECT_GT(compare(o, n, 2, what, part), 20) << what;
    }
}

TEST(ExchangeViews, ShortVectorsLeaveReduceScatterSegmentsEmpty) {
  QuantizerOptions o;
  o.collective = ExchangeCollective::ReduceScatter;
  o.codebook.levels = q::LevelFamily::Adaptive;
  o.adapt_every = 1;
  // n = 2 < K at 3 ranks: a segment holds nothing. Not tested for nonzero output (two coordinates).
  compare(o, 2, 3, "n = 2");
}

TEST(ExchangeViews, NonFiniteOnOneRankFailsOnEveryRankWithTheHostsMessage) {
  // adapt_every 1: round 1 refits first, and the refit's finiteness check fails.
  for (const auto collective : {ExchangeCollective::Allgather, ExchangeCollective::ReduceScatter})
  for (const int adapt_every : {0, 1}) {
    QuantizerOptions o;
    o.collective = collective;
    o.codebook.levels = q::LevelFamily::Adaptive;
    o.adapt_every = adapt_every;
    const std::int64_t n = 64;
    CompressedExchange host(world(), o, four_blocks(n), 3), dev(world(), o, four_blocks(n), 3);
    std::vector<double> v = worker_vector(world().rank(), 0, n), avg(v.size()), own(v.size());
    const int bad = world().size() - 1;
    if (world().rank() == bad) v[37] = std::numeric_limits<double>::quiet_NaN();
    std::string host_msg, dev_msg;
    try {
      host.exchange(v.data(), avg.data(), own.data(), 1);
    } catch (const CollectiveError& e) {
      host_msg = e.what();
    }
    Kokkos::View<double*, Mem> davg("test::avg", v.size()), down("test::own", v.size());
    try {
      dev.exchange(to_mem(v), davg, down, 1);
    } catch (const CollectiveError& e) {
      dev_msg = e.what();
    }
    EXPECT_FALSE(dev_msg.empty()) << "every rank throws";
    EXPECT_EQ(dev_msg, host_msg);
    if (world().rank() == bad && adapt_every == 0) {
      EXPECT_NE(dev_msg.find("coordinate 37"), std::string::npos) << dev_msg;
    }
  }
}

TEST(ExchangeViews, RefusesViewsOfAnotherLength) {
  QuantizerOptions o;
  CompressedExchange ex(world(), o, four_blocks(40), 3);
  Kokkos::View<double*, Mem> v("test::v", 40), avg("test::avg", 39), own("test::own", 40);
  EXPECT_THROW(ex.exchange(v, avg, own, 0), std::invalid_argument);
}
