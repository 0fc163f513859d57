#include <gtest/gtest.h>

#include <cmath>

#include "kernels/counter_rng.hpp"
#include "kernels/spaces.hpp"

using saddle::kernels::CounterRng;
using saddle::kernels::Philox4x32;
using saddle::kernels::philox4x32_10;

// Random123's kat_vectors for philox4x32 with 10 rounds: counter, key -> output.
TEST(CounterRng, Philox4x32_10MatchesRandom123KnownAnswers) {
  struct Kat {
    Philox4x32 ctr;
    std::uint32_t k0, k1;
    Philox4x32 out;
  } kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const auto& k : kats) {
    const Philox4x32 r = philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.out.v[i]) << "word " << i;
  }
}

TEST(CounterRng, UniformAndNormalMomentsWithinFourStandardErrors) {
  const CounterRng rng(42, "moments");
  const int n = 1 << 20;
  double su = 0, su2 = 0, sz = 0, sz2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform(static_cast<std::uint64_t>(i), 7);
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    su += u;
    su2 += u * u;
    const double z = rng.normal(static_cast<std::uint64_t>(i), 7);
    sz += z;
    sz2 += z * z;
  }
  const double mu = su / n, vu = su2 / n - mu * mu, mz = sz / n, vz = sz2 / n - mz * mz;
  EXPECT_NEAR(mu, 0.5, 4 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(vu, 1.0 / 12, 4 * std::sqrt(1.0 / 180 / n));  // Var((U - 1/2)^2) = 1/180
  EXPECT_NEAR(mz, 0.0, 4 / std::sqrt(double(n)));
  EXPECT_NEAR(vz, 1.0, 4 * std::sqrt(2.0 / n));
}

TEST(CounterRng, StreamsDifferBySeedPurposeIndexStepAndBlock) {
  const CounterRng a(1, "noise"), b(2, "noise"), c(1, "init");
  const double base = a.uniform(5, 3, 0);
  EXPECT_NE(base, b.uniform(5, 3, 0));
  EXPECT_NE(base, c.uniform(5, 3, 0));
  EXPECT_NE(base, a.uniform(6, 3, 0));
  EXPECT_NE(base, a.uniform(5, 4, 0));
  EXPECT_NE(base, a.uniform(5, 3, 1));
  EXPECT_NE(a.uniform(1ull << 32, 0), a.uniform(0, 0));  // the index's high word counts
  EXPECT_EQ(base, CounterRng(1, "noise").uniform(5, 3, 0));  // a pure function: no state
}

// Draws in a kernel on the default execution space, copied to the host (a free function: nvcc
// rejects KOKKOS_LAMBDA inside a gtest body).
Kokkos::View<double*, saddle::kernels::HostMem> kernel_draws(const CounterRng& rng, int n) {
  Kokkos::View<double*, saddle::kernels::Mem> d("d", n);
  Kokkos::parallel_for("draw", saddle::kernels::exec_range(n), KOKKOS_LAMBDA(const std::int64_t i) {
    d(i) = rng.normal(static_cast<std::uint64_t>(i), 11, 2);
  });
  return Kokkos::create_mirror_view_and_copy(saddle::kernels::HostMem(), d);
}

TEST(CounterRng, KokkosKernelDrawsEqualHostDraws) {
  const CounterRng rng(9, "kernel");
  const int n = 1000;
  const auto h = kernel_draws(rng, n);
  for (int i = 0; i < n; ++i) EXPECT_EQ(h(i), rng.normal(static_cast<std::uint64_t>(i), 11, 2));
}
