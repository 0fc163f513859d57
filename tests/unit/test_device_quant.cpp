// kernels/quant/device_quantizer.hpp against the host quantiser (quantizer.hpp): for every scheme,
// both norms, uniform, exponential and adaptive levels with s = 1, 3, 7, 15, 31, float and double
// input and several offsets `first`, the device indices equal the host's bit for bit (given the
// host's scales), the device dequantisation equals the host's bit for bit, the device scales equal
// the host's (or lie one float32 ulp away), and non-finite input is refused. The kernels run on
// Exec: on the host in a CPU build, on the GPU in a CUDA build. No KOKKOS_LAMBDA here: the
// kernels are the header's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/quant/codebook.hpp"
#include "kernels/quant/device_quantizer.hpp"
#include "kernels/quant/quantizer.hpp"
#include "kernels/spaces.hpp"

using namespace saddle::kernels;
using namespace saddle::kernels::quant;

namespace {

template <class T>
Kokkos::View<T*, Mem> to_device(const std::vector<T>& h, const char* label) {
  Kokkos::View<T*, Mem> d(std::string(label), h.size());
  auto m = Kokkos::create_mirror_view(d);
  for (std::size_t i = 0; i < h.size(); ++i) m(i) = h[i];
  Kokkos::deep_copy(d, m);
  return d;
}

template <class View>
std::vector<typename View::non_const_value_type> to_host(const View& d) {
  auto m = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  std::vector<typename View::non_const_value_type> h(d.extent(0));
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = m(i);
  return h;
}

std::uint64_t bits_of(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// Blocks of sizes 1, 0, 3, 1000, 1, 0, 2000, 7, 1, 517, magnitudes from 1 to 1e-6, with exact
// zeros (of both signs), repeated values and coordinates equal to the block's largest magnitude.
std::vector<std::int64_t> block_offsets() {
  const std::int64_t sizes[] = {1, 0, 3, 1000, 1, 0, 2000, 7, 1, 517};
  std::vector<std::int64_t> o{0};
  for (std::int64_t s : sizes) o.push_back(o.back() + s);
  return o;
}

template <class T>
std::vector<T> test_vector(std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> nd;
  std::vector<T> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double scale = std::pow(10.0, -static_cast<double>((i / 300) % 7));
    v[static_cast<std::size_t>(i)] = static_cast<T>(scale * nd(g));
  }
  for (std::int64_t i = 5; i < n; i += 97) v[static_cast<std::size_t>(i)] = T(0);
  for (std::int64_t i = 11; i < n; i += 131) v[static_cast<std::size_t>(i)] = -T(0);
  for (std::int64_t i = 20; i + 1 < n; i += 89) v[static_cast<std::size_t>(i + 1)] = v[static_cast<std::size_t>(i)];
  return v;
}

Codebook codebook(Scheme scheme, LevelFamily family, int s, Norm norm, std::int64_t bucket) {
  const CodebookOptions o{scheme, family, s + 1, norm, Coder::Elias, /*exp_base=*/0.5, bucket};
  return make_codebook(o, block_layout(block_offsets()));
}

// One float32 ulp apart (or equal); a norm outside float32's range is sent as the float64 itself,
// a sum in another order: a few float64 ulps apart.
bool within_float_ulp(double a, double b) {
  if (a == b) return true;
  if (!float_scale(a)) return std::fabs(a - b) <= 1e-13 * std::fabs(a);
  const float fa = static_cast<float>(a);
  if (static_cast<double>(fa) != a) return false;
  return static_cast<double>(std::nextafter(fa, INFINITY)) == b || static_cast<double>(std::nextafter(fa, -INFINITY)) == b;
}

struct Counts {
  int cases = 0, scales_exact = 0;
};

// The whole comparison for one configuration.
template <class T>
void check_case(const Codebook& cb, const std::vector<T>& v, std::uint64_t first, const std::string& name, Counts& counts) {
  const CounterRng rng(2026, "quantize");
  const std::uint32_t round = 17, worker = 3;
  Quantized host;
  quantize(v.data(), cb, rng, round, worker, host, first);

  const auto dcb = device_codebook<Exec>(cb);
  const auto dv = to_device(v, "v");
  ASSERT_EQ(dcb.scales(), static_cast<std::int64_t>(host.scale.size())) << name;

  // Scales by the device's reductions.
  Kokkos::View<double*, Mem> dscales("scales", host.scale.size());
  block_scales<Exec>(Kokkos::View<const T*, Mem>(dv), dcb, dscales);
  const auto got_scales = to_host(dscales);
  bool exact = true;
  for (std::size_t m = 0; m < host.scale.size(); ++m) {
    if (cb.norm == Norm::Linf || cb.scheme == Scheme::Bucket) {
      EXPECT_EQ(bits_of(got_scales[m]), bits_of(host.scale[m])) << name << " scale " << m;
    } else {
      EXPECT_TRUE(within_float_ulp(host.scale[m], got_scales[m])) << name << " scale " << m << ": " << got_scales[m] << " vs " << host.scale[m];
    }
    exact &= bits_of(got_scales[m]) == bits_of(host.scale[m]);
  }
  ++counts.cases;
  counts.scales_exact += exact;

  // Indices from the host's scales.
  const auto hscales = to_device(host.scale, "host scales");
  Kokkos::View<std::int16_t*, Mem> dq("q", v.size());
  quantize_indices<Exec>(dv, dcb, hscales, rng, round, worker, first, dq);
  const auto got_q = to_host(dq);
  std::size_t differ = 0, first_diff = 0;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (got_q[i] != host.q[i] && differ++ == 0) first_diff = i;
  EXPECT_EQ(differ, 0u) << name << ": first at " << first_diff << " device " << (differ ? got_q[first_diff] : 0) << " host "
                        << (differ ? host.q[first_diff] : 0);
  // With the device's own scales, where they are the host's.
  if (exact) {
    Kokkos::View<std::int16_t*, Mem> dq2("q2", v.size());
    quantize_indices<Exec>(dv, dcb, dscales, rng, round, worker, first, dq2);
    EXPECT_EQ(to_host(dq2), host.q) << name << " (device scales)";
  }

  // Dequantisation, assigned and accumulated.
  std::vector<double> ref(v.size()), acc(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) acc[i] = 0.25 * static_cast<double>(i % 13) - 1.0;
  std::vector<double> ref_acc = acc;
  dequantize(host, cb, ref.data());
  dequantize(host, cb, ref_acc.data(), true);
  const auto hq = to_device(host.q, "host q");
  Kokkos::View<double*, Mem> dout("out", v.size());
  auto dacc = to_device(acc, "acc");
  dequantize<Exec>(hq, hscales, dcb, dout);
  dequantize<Exec>(hq, hscales, dcb, dacc, true);
  const auto got_out = to_host(dout), got_acc = to_host(dacc);
  std::size_t out_differ = 0, acc_differ = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out_differ += bits_of(got_out[i]) != bits_of(ref[i]);
    acc_differ += bits_of(got_acc[i]) != bits_of(ref_acc[i]);
  }
  EXPECT_EQ(out_differ, 0u) << name << " dequantize";
  EXPECT_EQ(acc_differ, 0u) << name << " dequantize accumulate";
}

template <class T>
void check_all(const char* type_name, Counts& counts) {
  const std::int64_t n = block_offsets().back();
  const std::vector<T> v = test_vector<T>(n, 99);
  const std::uint64_t firsts[] = {0, 1, 6, (std::uint64_t{1} << 34) - 6};
  for (Scheme scheme : {Scheme::Layerwise, Scheme::Global, Scheme::Bucket}) {
    for (Norm norm : {Norm::L2, Norm::Linf}) {
      if (scheme == Scheme::Bucket && norm == Norm::Linf) continue;  // the bucket scheme has no norm
      for (LevelFamily family : {LevelFamily::Uniform, LevelFamily::Exponential, LevelFamily::Adaptive}) {
        if (scheme == Scheme::Bucket && family != LevelFamily::Uniform) continue;  // nor levels
        for (int s : {1, 3, 7, 15, 31}) {
          for (std::int64_t bucket : {std::int64_t{16}, std::int64_t{1000}}) {
            if (scheme != Scheme::Bucket && bucket != 16) continue;
            Codebook cb = codebook(scheme, family, s, norm, bucket);
            if (family == LevelFamily::Adaptive) {
              std::vector<double> vd(v.begin(), v.end());
              const LevelHistogram h(cb.s, 0.5);
              refit_codebook(cb, h, type_statistics(vd.data(), cb, h), true, false);
            }
            for (std::uint64_t first : firsts) {
              const std::string name = std::string(type_name) + " scheme " + std::to_string(static_cast<int>(scheme)) + " norm " +
                                       std::to_string(static_cast<int>(norm)) + " family " + std::to_string(static_cast<int>(family)) +
                                       " s " + std::to_string(s) + " bucket " + std::to_string(bucket) + " first " + std::to_string(first);
              check_case(cb, v, first, name, counts);
            }
          }
        }
      }
    }
  }
}

template <class T>
void expect_refused(Scheme scheme, Norm norm, T bad, std::int64_t at) {
  Codebook cb = codebook(scheme, LevelFamily::Uniform, 7, norm, 16);
  std::vector<T> v = test_vector<T>(cb.n(), 5);
  v[static_cast<std::size_t>(at)] = bad;
  const auto dcb = device_codebook<Exec>(cb);
  const auto dv = to_device(v, "v");
  Kokkos::View<double*, Mem> scales("scales", static_cast<std::size_t>(dcb.scales()));
  Quantized host;
  EXPECT_THROW(quantize(v.data(), cb, CounterRng(1, "q"), 0, 0, host), std::invalid_argument);
  try {
    block_scales<Exec>(dv, dcb, scales);
    ADD_FAILURE() << "non-finite value at " << at << " accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("coordinate " + std::to_string(at)), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(DeviceQuantizer, IndicesDequantisationAndScalesMatchTheHostDouble) {
  Counts counts;
  check_all<double>("double", counts);
  EXPECT_EQ(counts.cases, 280);  // layer-wise and global 2 x 3 x 5 x 4, bucket 5 x 2 x 4
  // The L2 scales are sums in another order, rounded up to float32: nearly always the host's.
  EXPECT_GE(counts.scales_exact, counts.cases - 2) << counts.scales_exact << " of " << counts.cases;
}

TEST(DeviceQuantizer, IndicesDequantisationAndScalesMatchTheHostFloat) {
  Counts counts;
  check_all<float>("float", counts);
  EXPECT_EQ(counts.cases, 280);  // layer-wise and global 2 x 3 x 5 x 4, bucket 5 x 2 x 4
  EXPECT_GE(counts.scales_exact, counts.cases - 2) << counts.scales_exact << " of " << counts.cases;
}

// Huge and tiny entries take block_norm's scaled path (and norms outside float32's range are sent
// as doubles): indices and dequantisation still match given the host's scales.
TEST(DeviceQuantizer, HugeAndTinyBlocksMatchTheHost) {
  Codebook cb = codebook(Scheme::Layerwise, LevelFamily::Exponential, 7, Norm::L2, 16);
  std::vector<double> v = test_vector<double>(cb.n(), 3);
  const std::int64_t lo = cb.layout.offsets[3], mid = cb.layout.offsets[4], lo2 = cb.layout.offsets[6];
  for (std::int64_t i = lo; i < mid; ++i) v[static_cast<std::size_t>(i)] *= 1e-200;
  for (std::int64_t i = lo2; i < lo2 + 2000; ++i) v[static_cast<std::size_t>(i)] *= 1e200;
  v[static_cast<std::size_t>(lo + 1)] = 4.9406564584124654e-324;  // a subnormal
  Counts counts;
  check_case(cb, v, 9, "huge and tiny", counts);
  Codebook linf = codebook(Scheme::Layerwise, LevelFamily::Uniform, 15, Norm::Linf, 16);
  check_case(linf, v, 9, "huge and tiny linf", counts);
}

TEST(DeviceQuantizer, NonFiniteInputIsRefused) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (Scheme scheme : {Scheme::Layerwise, Scheme::Global, Scheme::Bucket})
    for (Norm norm : {Norm::L2, Norm::Linf}) {
      expect_refused<double>(scheme, norm, nan, 0);
      expect_refused<double>(scheme, norm, -inf, 1500);
      expect_refused<float>(scheme, norm, std::numeric_limits<float>::quiet_NaN(), 3529);
      expect_refused<float>(scheme, norm, std::numeric_limits<float>::infinity(), 4);
    }
}

TEST(DeviceQuantizer, NormOverflowIsRefused) {
  Codebook cb = codebook(Scheme::Layerwise, LevelFamily::Uniform, 7, Norm::L2, 16);
  std::vector<double> v = test_vector<double>(cb.n(), 5);
  for (std::int64_t i = cb.layout.offsets[3]; i < cb.layout.offsets[4]; ++i) v[static_cast<std::size_t>(i)] = 1.7e308;
  const auto dcb = device_codebook<Exec>(cb);
  Kokkos::View<double*, Mem> scales("scales", static_cast<std::size_t>(dcb.scales()));
  Quantized host;
  EXPECT_THROW(quantize(v.data(), cb, CounterRng(1, "q"), 0, 0, host), std::invalid_argument);
  EXPECT_THROW(block_scales<Exec>(to_device(v, "v"), dcb, scales), std::invalid_argument);
}
