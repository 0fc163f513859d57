// selftest: a small workload with a closed-form answer that exercises everything the engine
// offers a workload: a row-distributed state, counter-based noise inside a Kokkos kernel,
// collective metrics, checkpoints and distributed results. Users run it to check an install or
// a SLURM setup (inputs/selftest.toml); the engine's tests run it at 1, 2 and 3 ranks.
//
// Noisy gradient descent on f(x) = sum_i a_i/2 (x_i - b_i)^2 with x(0) = 0:
//   x_i <- x_i - lr * (a_i (x_i - b_i) + sigma * xi(i, step)),   xi ~ N(0, 1) from (seed, "noise", i, step)
// With sigma = 0, x_i(t) = b_i (1 - (1 - lr a_i)^t), which the tests compare against.
#include <chrono>
#include <cmath>
#include <thread>

#include "engine/memory_check.hpp"
#include "engine/workload.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/spaces.hpp"

namespace saddle::apps::selftest {

using engine::Config;
using engine::RunContext;
using kernels::CounterRng;

// a_i in [1, 2], b_i in [-1, 1], drawn from the "problem" stream by global index.
KOKKOS_INLINE_FUNCTION void coefficients(const CounterRng& rng, std::uint64_t i, double& a, double& b) {
  double u0, u1;
  rng.uniform2(i, 0, 0, u0, u1);
  a = 1.0 + u0;
  b = 2.0 * u1 - 1.0;
}

class SelfTest : public engine::Workload {
 public:
  void declare(engine::Schema& s) const override {
    s.integer("selftest.n").def(std::int64_t{1000}).range(1).help("global vector length (rows split over ranks)");
    s.real("selftest.lr").def(0.1).range(0, 1).help("step size (stable for lr < 1)");
    s.real("selftest.sigma").def(0.01).range(0).help("noise standard deviation");
    s.real("selftest.step_delay").def(0.0).range(0, 10).restart_neutral().help("seconds to sleep per step (signal tests)");
  }

  void setup(const RunContext& ctx) override {
    const Config& c = ctx.config;
    comm_ = ctx.grid.world;
    n_ = c.integer("selftest.n");
    lr_ = c.real("selftest.lr");
    sigma_ = c.real("selftest.sigma");
    delay_ = c.real("selftest.step_delay");
    rows_ = engine::block_rows(n_, comm_.rank(), comm_.size());
    // Before allocating: a size beyond memory would crash (2^61 rows overflow the byte count).
    comm_.agree([&] { engine::require_memory(static_cast<double>(rows_.count()) * sizeof(double), "selftest.n", c); });
    problem_ = CounterRng(ctx.seed, "problem");
    noise_ = CounterRng(ctx.seed, "noise");
    x_ = Kokkos::View<double*, kernels::Mem>("x", static_cast<std::size_t>(rows_.count()));
  }

  void step(std::int64_t step) override {
    if (delay_ > 0) std::this_thread::sleep_for(std::chrono::duration<double>(delay_));
    auto x = x_;
    const auto problem = problem_, noise = noise_;
    const double lr = lr_, sigma = sigma_;
    const auto offset = static_cast<std::uint64_t>(rows_.begin);
    const auto s = static_cast<std::uint32_t>(step);
    Kokkos::parallel_for("selftest::step", kernels::exec_range(rows_.count()), KOKKOS_LAMBDA(const std::int64_t k) {
      double a, b;
      coefficients(problem, offset + static_cast<std::uint64_t>(k), a, b);
      const double g = a * (x(k) - b) + sigma * noise.normal(offset + static_cast<std::uint64_t>(k), s);
      x(k) -= lr * g;
    });
    Kokkos::fence();
  }

  engine::MetricValues metrics(std::int64_t) override {
    auto x = x_;
    const auto problem = problem_;
    const auto offset = static_cast<std::uint64_t>(rows_.begin);
    double sums[2] = {0, 0};
    Kokkos::parallel_reduce("selftest::distance", kernels::exec_range(rows_.count()), KOKKOS_LAMBDA(const std::int64_t k, double& d2) {
      double a, b;
      coefficients(problem, offset + static_cast<std::uint64_t>(k), a, b);
      d2 += (x(k) - b) * (x(k) - b);
    }, sums[0]);
    Kokkos::parallel_reduce("selftest::sum", kernels::exec_range(rows_.count()), KOKKOS_LAMBDA(const std::int64_t k, double& s) { s += x(k); },
                            sums[1]);
    comm_.allreduce(sums, 2, engine::Op::Sum);
    return {{"distance", std::sqrt(sums[0])}, {"mean_x", sums[1] / static_cast<double>(n_)}};
  }

  void save(const engine::h5::Group& g) const override {
    const auto h = Kokkos::create_mirror_view_and_copy(kernels::HostMem(), x_);
    g.write_distributed("x", h.data(), rows_.count());
    g.write_attr("n", n_);
  }

  void load(const engine::h5::Group& g) override {
    if (g.read_attr<std::int64_t>("n") != n_) throw engine::InputError("checkpoint holds a different selftest.n");
    const auto x = g.read_rows<double>("x", rows_.begin, rows_.count());
    auto h = Kokkos::create_mirror_view(x_);
    for (std::size_t k = 0; k < x.size(); ++k) h(k) = x[k];
    Kokkos::deep_copy(x_, h);
  }

  void finish(const engine::h5::Group& result) override {
    const auto h = Kokkos::create_mirror_view_and_copy(kernels::HostMem(), x_);
    result.write_distributed("x", h.data(), rows_.count());
    const auto m = metrics(0);
    result.write_scalar("distance", m[0].second);
  }

 private:
  engine::Comm comm_;
  std::int64_t n_ = 0;
  double lr_ = 0, sigma_ = 0, delay_ = 0;
  engine::RowRange rows_;
  CounterRng problem_, noise_;
  Kokkos::View<double*, kernels::Mem> x_;
};

}  // namespace saddle::apps::selftest

SADDLE_REGISTER_WORKLOAD(selftest, "noisy gradient descent with a closed-form answer; checks an install, checkpoints and restarts",
                         saddle::apps::selftest::SelfTest);
