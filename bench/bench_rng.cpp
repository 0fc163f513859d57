// Counter-based normal draws inside a Kokkos kernel (kernels/counter_rng.hpp) against the
// standard library's stateful std::mt19937_64 + std::normal_distribution, the usual CPU peer.
//   bench_rng [draws]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "engine/runtime.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/spaces.hpp"

int main(int argc, char** argv) {
  saddle::engine::Runtime runtime(argc, argv);
  const long n = argc > 1 ? std::atol(argv[1]) : 20000000L;
  using clock = std::chrono::steady_clock;
  const saddle::kernels::CounterRng rng(1, "bench");
  Kokkos::View<double*, saddle::kernels::Mem> out("out", static_cast<std::size_t>(n));
  std::vector<double> host(static_cast<std::size_t>(n));
  double best_philox = 1e30, best_mt = 1e30, sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = clock::now();
    Kokkos::parallel_for("philox", saddle::kernels::exec_range(n / 2), KOKKOS_LAMBDA(const std::int64_t i) {
      double z0, z1;
      rng.normal2(static_cast<std::uint64_t>(i), 0, 0, z0, z1);
      out(2 * i) = z0;
      out(2 * i + 1) = z1;
    });
    Kokkos::fence();
    best_philox = std::min(best_philox, std::chrono::duration<double>(clock::now() - t0).count());
    sink += Kokkos::create_mirror_view_and_copy(saddle::kernels::HostMem(), out)(static_cast<std::size_t>(n / 2));

    std::mt19937_64 gen(1);
    std::normal_distribution<double> normal;
    t0 = clock::now();
    for (long i = 0; i < n; ++i) host[static_cast<std::size_t>(i)] = normal(gen);
    best_mt = std::min(best_mt, std::chrono::duration<double>(clock::now() - t0).count());
    sink += host[static_cast<std::size_t>(n / 3)];
  }
  std::printf("draws %ld\n", n);
  std::printf("philox4x32_10_normals_per_s %.4g  (%s, concurrency %d)\n", n / best_philox,
              Kokkos::DefaultExecutionSpace::name(), Kokkos::DefaultExecutionSpace().concurrency());
  std::printf("mt19937_64_normal_distribution_per_s %.4g\n", n / best_mt);
  std::printf("ratio_philox_over_mt19937 %.3f\n", best_mt / best_philox);
  std::printf("checksum %.6g\n", sink);
  return 0;
}
