// engine::CompressedExchange per collective and wire precision, on a vector shaped like a network
// (the weight and bias tensors of a small VGG-like convnet with a fully connected head, 2.86 M
// coordinates): bytes received per rank per round (the most over ranks and timed rounds), the
// round's time (slowest rank, best of the rounds), bits per coordinate each rank sends
// (8 round_bytes / (K n): reduce_scatter's include the re-quantised segment), whether every rank
// holds the same bits, and the error of the average against the float64 average. Then the bytes
// received per rank predicted at 64 and 256 ranks from this run's payload sizes:
//   allgather       (K - 1) P                      (P: one rank's payload)
//   reduce_scatter  2 (K - 1) / K P + 2 (K - 1) 40, or (K - 1) / K (P + P2) + 2 (K - 1) 40 with P2
//                   the re-quantised vector's payload (all K segments) measured at this K
//   ring allreduce  2 (K - 1) / K n b              (b = 8, 4, 2 bytes for float64, float32, float16)
//     mpirun -np 4 --oversubscribe build/bench/bench_exchange [rounds = 5] [width = 1]
// `width` scales every tensor's channels.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/comm.hpp"
#include "engine/compressed_exchange.hpp"
#include "engine/runtime.hpp"
#include "kernels/counter_rng.hpp"

using namespace saddle::engine;
namespace q = saddle::kernels::quant;

namespace {

struct BenchConfig {
  std::string name;
  QuantizerOptions options;
};

// Tensor sizes: 3x3 convolutions 3-64-64-128-128-256-256-512, a 512 -> 1024 -> 10 head, biases.
q::Layout network(double width) {
  auto w = [&](int c) { return std::max(1, static_cast<int>(std::lround(c * width))); };
  const std::vector<std::pair<int, int>> convs = {{3, w(64)}, {w(64), w(64)}, {w(64), w(128)}, {w(128), w(128)},
                                                   {w(128), w(256)}, {w(256), w(256)}, {w(256), w(512)}};
  std::vector<std::int64_t> sizes;
  for (auto [in, out] : convs) {
    sizes.push_back(9LL * in * out);
    sizes.push_back(out);
  }
  sizes.push_back(static_cast<std::int64_t>(w(512)) * w(1024));
  sizes.push_back(w(1024));
  sizes.push_back(static_cast<std::int64_t>(w(1024)) * 10);
  sizes.push_back(10);
  q::Layout l;
  for (auto s : sizes) {
    l.offsets.push_back(l.offsets.back() + s);
    l.types.push_back(static_cast<int>(l.types.size()));
  }
  l.ntypes = static_cast<int>(l.types.size());
  return l;
}

// Worker k's gradient-like vector: a shared part plus the worker's noise, each tensor scaled by
// 1 / sqrt(its size) (weights) so that layers differ in scale.
std::vector<double> gradient(const q::Layout& l, int k) {
  const saddle::kernels::CounterRng rng(7, "bench_exchange");
  std::vector<double> v(static_cast<std::size_t>(l.n()));
  for (std::size_t m = 0; m < l.blocks(); ++m) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(l.offsets[m + 1] - l.offsets[m]));
    for (std::int64_t i = l.offsets[m]; i < l.offsets[m + 1]; ++i) {
      const auto g = static_cast<std::uint64_t>(i);
      v[static_cast<std::size_t>(i)] = scale * (rng.normal(g, 0, 0) + 0.5 * rng.normal(g, 1, static_cast<std::uint32_t>(k)));
    }
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Runtime runtime(argc, argv);
  const Comm world;
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const double width = argc > 2 ? std::atof(argv[2]) : 1.0;
  const int K = world.size(), me = world.rank();
  const q::Layout layout = network(width);
  const std::int64_t n = layout.n();
  const std::vector<double> v = gradient(layout, me);

  std::vector<BenchConfig> configs;
  for (auto p : {WirePrecision::Float64, WirePrecision::Float32, WirePrecision::Float16}) {
    BenchConfig c;
    c.name = p == WirePrecision::Float64 ? "allreduce float64" : p == WirePrecision::Float32 ? "allreduce float32" : "allreduce float16";
    c.options.compressed = false;
    c.options.precision = p;
    configs.push_back(c);
  }
  for (const char* scheme : {"layerwise", "bucket"})
    for (auto coll : {ExchangeCollective::Allgather, ExchangeCollective::ReduceScatter}) {
      BenchConfig c;
      const bool bucket = std::strcmp(scheme, "bucket") == 0;
      c.name = std::string(bucket ? "bucket 4-bit " : "layerwise adaptive ") + (coll == ExchangeCollective::Allgather ? "allgather" : "reduce_scatter");
      c.options.collective = coll;
      c.options.codebook.scheme = bucket ? q::Scheme::Bucket : q::Scheme::Layerwise;
      // bucket: 15 steps in 4 bits per 1024 coordinates (CGX); layer-wise: 8 adaptive levels per
      // tensor (l2 norm) fitted at the warm-up round, Huffman coded (qoda's quantiser).
      c.options.codebook.num_levels = bucket ? 16 : 8;
      c.options.codebook.bucket = 1024;
      if (!bucket) {
        c.options.codebook.levels = q::LevelFamily::Adaptive;
        c.options.codebook.coder = q::Coder::Huffman;
        c.options.adapt_every = 1 << 20;  // round 0 only
      }
      configs.push_back(c);
    }

  if (me == 0) {
    std::printf("ranks %d  coordinates %lld  tensors %zu  rounds %d\n", K, static_cast<long long>(n), layout.blocks(), rounds);
    std::printf("%-34s %14s %12s %12s %10s %10s %16s\n", "exchange", "recv_B/rank", "recv/n(B)", "round_ms", "bits/coord", "identical", "rel_err_vs_f64");
  }
  std::vector<double> avg(static_cast<std::size_t>(n)), own(static_cast<std::size_t>(n)), avg64;
  struct Row {
    std::string name;
    double received, payload, requant;
  };
  std::vector<Row> rows;
  using clock = std::chrono::steady_clock;
  for (const BenchConfig& c : configs) {
    CompressedExchange ex(world, c.options, layout, 11);
    double best = 1e30, received = 0;
    for (int r = 0; r <= rounds; ++r) {  // round 0 warms up
      world.barrier();
      const auto t0 = clock::now();
      ex.exchange(v.data(), avg.data(), own.data(), static_cast<std::uint32_t>(r));
      const double t = world.allreduce(std::chrono::duration<double>(clock::now() - t0).count(), Op::Max);
      const double got = world.allreduce(static_cast<double>(ex.stats().received_bytes), Op::Max);
      if (r == 0) continue;  // the warm-up round (its refit's statistics are not a round's bytes)
      best = std::min(best, t);
      received = std::max(received, got);
    }
    // Same bits on every rank: the bytes of avg against rank 0's.
    std::vector<double> first = avg;
    world.bcast(first);
    const int same = world.allreduce(std::memcmp(first.data(), avg.data(), avg.size() * sizeof(double)) == 0 ? 1 : 0, Op::Min);
    if (avg64.empty()) avg64 = avg;
    double e = 0, s = 0;
    for (std::size_t i = 0; i < avg.size(); ++i) {
      e += (avg[i] - avg64[i]) * (avg[i] - avg64[i]);
      s += avg64[i] * avg64[i];
    }
    const double bits = 8.0 * static_cast<double>(ex.stats().round_bytes) / (static_cast<double>(K) * static_cast<double>(n));
    // One rank's payload P: a K-th of every worker's payloads (reduce_scatter: of the first
    // phase's, the K segment payloads of a rank); allreduce, n b.
    double P = static_cast<double>(n) * (c.options.precision == WirePrecision::Float64 ? 8 : c.options.precision == WirePrecision::Float32 ? 4 : 2);
    if (ex.compressed()) P = static_cast<double>(ex.stats().round_bytes - ex.stats().requant_bytes) / K;
    rows.push_back({c.name, received, P, static_cast<double>(ex.stats().requant_bytes)});
    if (me == 0)
      std::printf("%-34s %14.0f %12.3f %12.2f %10.3f %10s %16.3g\n", c.name.c_str(), received, received / static_cast<double>(n), 1e3 * best, bits,
                  same ? "yes" : "NO", std::sqrt(e / s));
  }
  if (me == 0) {
    // allgather (K - 1) P; ring allreduce 2 (K - 1) / K n b; reduce_scatter 2 (K - 1) / K P (the
    // re-quantised vector costing what the first rounding does) and, with this run's re-quantised
    // vector P2, (K - 1) / K (P + P2); plus a 40-byte header per segment payload, 2 (K - 1).
    std::printf("\npredicted bytes received per rank per round (P: one rank's payload, P2: the re-quantised vector's, both of this run)\n");
    std::printf("%-34s %12s %12s %16s %16s %16s %16s\n", "exchange", "P (B)", "P2 (B)", "K = 64", "K = 256", "K = 64 (P2)", "K = 256 (P2)");
    for (const Row& r : rows) {
      const bool ag = r.name.find("allgather") != std::string::npos, rs = r.name.find("reduce_scatter") != std::string::npos;
      auto at = [&](double k, bool with_p2) {
        if (ag) return (k - 1) * r.payload;
        if (!rs) return 2 * (k - 1) / k * r.payload;
        return (with_p2 ? (k - 1) / k * (r.payload + r.requant) : 2 * (k - 1) / k * r.payload) + 2 * (k - 1) * 40;
      };
      if (rs)
        std::printf("%-34s %12.0f %12.0f %16.4g %16.4g %16.4g %16.4g\n", r.name.c_str(), r.payload, r.requant, at(64, false), at(256, false), at(64, true), at(256, true));
      else
        std::printf("%-34s %12.0f %12s %16.4g %16.4g %16s %16s\n", r.name.c_str(), r.payload, "", at(64, false), at(256, false), "", "");
    }
  }
  return 0;
}
