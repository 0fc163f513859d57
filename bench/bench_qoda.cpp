// Quantise + encode and decode + dequantise throughput of kernels/quant on one core, in MB/s of
// float32 input (docs/benchmarks.md; goal of issue 15: >= 1 GB/s each way for every case), for
// each scheme and coder, with the bits per coordinate they produce. The numpy peer
// (bench/qoda_numpy_quant.py, same vector shape) runs beside it in bench/qoda_bench.sh.
//   build/bench/bench_qoda [coordinates] [repeats]
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/quant/codebook.hpp"
#include "kernels/quant/levels.hpp"
#include "kernels/quant/payload.hpp"
#include "kernels/quant/quantizer.hpp"

using namespace saddle::kernels;
using namespace saddle::kernels::quant;

namespace {
// This thread's CPU time: the machine may be shared, and a rate per core is what is asked for.
double now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// The codebook of the one factory, refitted once to v (the Huffman tables of its expected index
// histogram; adaptive: its levels too).
Codebook codebook(Scheme scheme, Coder coder, LevelFamily family, std::int64_t n, std::int64_t block, const std::vector<float>& v) {
  CodebookOptions o;
  o.scheme = scheme;
  o.levels = family;
  o.coder = coder;
  o.num_levels = scheme == Scheme::Bucket ? 16 : 8;
  std::vector<std::int64_t> offsets{0};
  for (std::int64_t end = block; end < n + block; end += block) offsets.push_back(std::min(end, n));
  Codebook cb = make_codebook(o, block_layout(offsets));
  if (scheme == Scheme::Bucket) return cb;
  const LevelHistogram h(cb.s, o.exp_base);
  refit_codebook(cb, h, type_statistics(v.data(), cb, h), o.adaptive(), o.huffman());
  return cb;
}
}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : (1 << 22);
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  // Layer-like blocks of 65536 coordinates whose scales span three orders of magnitude.
  const std::int64_t block = 65536;
  std::vector<float> v(static_cast<std::size_t>(n));
  const CounterRng data(1, "bench_data");
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = static_cast<float>(std::pow(10.0, -static_cast<double>((i / block) % 4)) * data.normal(static_cast<std::uint64_t>(i), 0));
  const double mb = 4.0 * static_cast<double>(n) / 1e6;
  struct Case {
    const char* name;
    Scheme scheme;
    Coder coder;
    LevelFamily family;
  };
  const Case cases[] = {{"layerwise_uniform_elias", Scheme::Layerwise, Coder::Elias, LevelFamily::Uniform},
                        {"layerwise_adaptive_huffman", Scheme::Layerwise, Coder::Huffman, LevelFamily::Adaptive},
                        {"global_adaptive_huffman", Scheme::Global, Coder::Huffman, LevelFamily::Adaptive},
                        {"bucket_4bit", Scheme::Bucket, Coder::Elias, LevelFamily::Uniform}};
  const CounterRng rng(2, "quantize");
  std::printf("coordinates %lld (float32, %.1f MB), best of %d, CPU time of one core\n", static_cast<long long>(n), mb, reps);
  for (const Case& c : cases) {
    const Codebook cb = codebook(c.scheme, c.coder, c.family, n, block, v);
    Quantized q, back;
    std::vector<std::uint8_t> payload;
    std::vector<double> out(static_cast<std::size_t>(n));
    double best_q = 1e30, best_e = 1e30, best_d = 1e30;
    for (int r = 0; r < reps; ++r) {
      double t0 = now();
      quantize(v.data(), cb, rng, static_cast<std::uint32_t>(r), 0, q);
      double t1 = now();
      payload.clear();
      encode(q, cb, payload);
      double t2 = now();
      decode(payload.data(), payload.size(), cb, back);
      dequantize(back, cb, out.data());
      double t3 = now();
      best_q = std::min(best_q, t1 - t0);
      best_e = std::min(best_e, t2 - t1);
      best_d = std::min(best_d, t3 - t2);
    }
    std::printf("%-28s quantize_encode_MBps %7.1f  (quantize %7.1f, encode %7.1f)  decode_MBps %7.1f  bits_per_coord %.3f\n", c.name,
                mb / (best_q + best_e), mb / best_q, mb / best_e, mb / best_d, 8.0 * static_cast<double>(payload.size()) / static_cast<double>(n));
  }
  return 0;
}
