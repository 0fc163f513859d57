// Heavy-ball sweep throughput (trajectory steps per second on one core), the figure the hb issue
// compares with numpy (bench/hb_vs_numpy.sh runs both side by side):
//   2-D:   Sim-HB and Alt-HB on f = x y over an nh x nb grid of (h, beta), as
//          bench/peers/hb_numpy.py does;
//   d-dim: a quadratic game with dim_x = dim_y = d/2, T trajectories advanced together (GEMM).
//   bench_hb [grid=256] [steps=2000] [d=1000] [T=256] [dsteps=100]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "apps/hb/dynamics.hpp"
#include "apps/hb/games.hpp"
#include "apps/hb/matrix_game.hpp"
#include "engine/runtime.hpp"
#include "kernels/spaces.hpp"

using namespace saddle::apps::hb;

int main(int argc, char** argv) {
  saddle::engine::Runtime runtime(argc, argv);
  const long grid = argc > 1 ? std::atol(argv[1]) : 256, steps = argc > 2 ? std::atol(argv[2]) : 2000;
  const long d = argc > 3 ? std::atol(argv[3]) : 1000, T = argc > 4 ? std::atol(argv[4]) : 256;
  const long dsteps = argc > 5 ? std::atol(argv[5]) : 100;
  using clock = std::chrono::steady_clock;

  // 2-D: the same grid and start as the numpy peer.
  const long n = grid * grid;
  using saddle::kernels::exec_range;
  Kokkos::View<double*, saddle::kernels::Mem> h("h", n), b("b", n);
  Kokkos::parallel_for("grid", exec_range(n), KOKKOS_LAMBDA(const std::int64_t i) {
    h(i) = 0.01 + (1.0 - 0.01) * static_cast<double>(i / grid) / static_cast<double>(grid - 1);
    b(i) = -0.9 + 1.8 * static_cast<double>(i % grid) / static_cast<double>(grid - 1);
  });
  Kokkos::View<double*, saddle::kernels::Mem> out("out", n);
  double best = 1e30;
  long alt_conv = 0, sim_conv = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = clock::now();
    for (bool alt : {true, false}) {
      const ScalarQuadratic xy{0, 1, 0, 0, 0};
      // As the sweep runs them on a CPU (apps/hb/hb.cpp): blocks of 32 trajectories per thread.
      Kokkos::parallel_for("hb2d", exec_range(n / 32), KOKKOS_LAMBDA(const std::int64_t blk) {
        double ones[32];
        for (int l = 0; l < 32; ++l) ones[l] = 1.0;
        Outcome o[32];
        integrate_lanes<32>(xy, alt, &h(32 * blk), &b(32 * blk), ones, ones, steps, o);
        for (int l = 0; l < 32; ++l) out(32 * blk + l) = o[l].g_end;
      });
      Kokkos::fence();
      long conv = 0;
      Kokkos::parallel_reduce("count", exec_range(n), KOKKOS_LAMBDA(const std::int64_t i, long& c) { c += out(i) < 1.0; }, conv);
      (alt ? alt_conv : sim_conv) = conv;
    }
    best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::printf("hb_2d grid=%ldx%ld steps=%ld traj_steps_per_s %.4g  alt_conv %.3f sim_conv %.3f\n", grid, grid, steps,
              2.0 * static_cast<double>(n) * static_cast<double>(steps) / best, static_cast<double>(alt_conv) / n,
              static_cast<double>(sim_conv) / n);

  // d-dimensional quadratic game, T trajectories per batch.
  MatrixGame g;
  g.dx = d / 2;
  g.dy = d - g.dx;
  std::mt19937_64 gen(1);
  std::normal_distribution<double> n01;
  auto fill = [&](std::vector<double>& v, std::size_t size, double scale) {
    v.resize(size);
    for (auto& x : v) x = scale * n01(gen);
  };
  fill(g.A, static_cast<std::size_t>(g.dx * g.dy), 1.0 / std::sqrt(static_cast<double>(d)));
  std::vector<double> B;
  fill(B, static_cast<std::size_t>(g.dx * g.dx), 1.0 / static_cast<double>(d));
  g.P.assign(B.size(), 0.0);
  for (long i = 0; i < g.dx; ++i) g.P[static_cast<std::size_t>(i * g.dx + i)] = 0.1;
  g.Q = std::vector<double>(static_cast<std::size_t>(g.dy * g.dy), 0.0);
  for (long i = 0; i < g.dy; ++i) g.Q[static_cast<std::size_t>(i * g.dy + i)] = 0.1;
  g.bx.assign(static_cast<std::size_t>(g.dx), 0.0);
  g.by.assign(static_cast<std::size_t>(g.dy), 0.0);
  std::vector<double> hs(static_cast<std::size_t>(T), 0.05), bs(static_cast<std::size_t>(T), -0.2), X, Y;
  fill(X, static_cast<std::size_t>(T * g.dx), 1.0);
  fill(Y, static_cast<std::size_t>(T * g.dy), 1.0);
  std::vector<Outcome> res(static_cast<std::size_t>(T));
  best = 1e30;
  for (int rep = 0; rep < 2; ++rep) {
    const auto t0 = clock::now();
    integrate_batch(g, true, T, hs.data(), bs.data(), X.data(), Y.data(), dsteps, res.data());
    integrate_batch(g, false, T, hs.data(), bs.data(), X.data(), Y.data(), dsteps, res.data());
    best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::printf("hb_quadratic d=%ld T=%ld steps=%ld traj_steps_per_s %.4g\n", d, T, dsteps,
              2.0 * static_cast<double>(T) * static_cast<double>(dsteps) / best);
  return 0;
}
