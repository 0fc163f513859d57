// The matrix-free kernel-tile + GEMM loop of ksvd against the machine's OpenBLAS dgemm rate,
// measured in the same run on one thread (the goal: the loop at >= 60 % of dgemm).
//   bench_ksvd [n=m=8000] [d=16] [k=20] [tile_rows=256] [tile_cols=512]
// Loop flops count the two GEMMs per tile (2d for the inner products, 2k per product) and 3 per
// entry for the distance; the exponential is not counted, so the ratio is of useful work.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "apps/ksvd/data.hpp"
#include "apps/ksvd/kernel_operator.hpp"
#include "engine/runtime.hpp"
#include "kernels/linalg/host_backend.hpp"

using namespace saddle;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

std::vector<double> gaussian(std::size_t n, unsigned seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d;
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  engine::Runtime runtime(argc, argv);
  const long n = argc > 1 ? std::atol(argv[1]) : 8000, d = argc > 2 ? std::atol(argv[2]) : 16;
  const long k = argc > 3 ? std::atol(argv[3]) : 20;
  kernels::linalg::set_blas_threads(1);
  const auto& la = kernels::linalg::host_backend();

  apps::ksvd::Data data;
  data.kind = apps::ksvd::Data::Kind::Points;
  data.n = data.m = n;
  data.d = d;
  data.rows = engine::RowRange{0, n};
  data.X = gaussian(n * d, 3);
  data.Z = gaussian(n * d, 4);
  apps::ksvd::KernelConfig kc;
  kc.type = "rbf";
  kc.sigma = 4.0;
  if (argc > 4) kc.tile_rows = std::atol(argv[4]);
  if (argc > 5) kc.tile_cols = std::atol(argv[5]);
  const engine::Comm self(MPI_COMM_SELF);
  apps::ksvd::KernelOperator op(data, kc, la, self);
  const auto omega = gaussian(n * k, 5);
  std::vector<double> y(n * k), w(n * k);

  // The roofline, a 2048^3 dgemm, and the three loop variants, measured in turns (best of 7
  // each), so that load from other processes hits both sides alike.
  const long s = 2048;
  auto A = gaussian(s * s, 1), B = gaussian(s * s, 2);
  std::vector<double> C(s * s);
  struct Case {
    const char* name;
    bool row, col;
    double seconds = 1e30, flops = 0;
  };
  Case cases[] = {{"row_side_GA", true, false}, {"col_side_GtB", false, true}, {"both", true, true}};
  double best = 1e30;
  for (int rep = 0; rep < 7; ++rep) {
    const auto t0 = clock_type::now();
    la.gemm(false, false, s, s, s, 1.0, A.data(), s, B.data(), s, 0.0, C.data(), s);
    best = std::min(best, seconds_since(t0));
    for (Case& c : cases) {
      const double f0 = op.flops();
      const auto t1 = clock_type::now();
      op.apply(c.row ? omega.data() : nullptr, k, y.data(), c.col ? omega.data() : nullptr, k, w.data());
      c.seconds = std::min(c.seconds, seconds_since(t1));
      c.flops = op.flops() - f0;
    }
  }
  const double dgemm = 2.0 * s * s * s / best * 1e-9;
  std::printf("dgemm_%ldx%ldx%ld_1thread_gflops %.2f\n", s, s, s, dgemm);
  for (const Case& c : cases) {
    const double rate = c.flops / c.seconds * 1e-9;
    std::printf("ksvd_tile_loop %s n=m=%ld d=%ld k=%ld tile=%ldx%ld seconds %.3f evals_per_s %.3g gflops %.2f fraction_of_dgemm %.2f\n",
                c.name, n, d, k, static_cast<long>(kc.tile_rows), static_cast<long>(kc.tile_cols), c.seconds,
                static_cast<double>(n) * n / c.seconds, rate, rate / dgemm);
  }
  return 0;
}
