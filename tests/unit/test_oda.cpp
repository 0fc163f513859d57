// engine::OptimisticDualAveraging on the default execution space (kernels::Exec: a GPU in a CUDA
// build, where wgan's qoda optimiser keeps it) and on the host (apps/qoda) against the recursion
// written out as plain loops (docs/algorithms.md section 2), with constant and adaptive rates, on
// a monotone affine operator V(x) = A x + b (A = D + K, D positive diagonal, K skew): X_t, X_{t+1/2}
// and the ergodic average the same bits on a host space, to 1e-13 on a device (whose reduction of
// the adaptive rates' norms sums in another order). Then a checkpoint of the Exec instance, loaded
// into a fresh one, continues as the original does.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine/comm.hpp"
#include "engine/h5.hpp"
#include "engine/optimistic_dual_averaging.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/spaces.hpp"

namespace se = saddle::engine;
namespace sk = saddle::kernels;

namespace {

using HostValues = Kokkos::View<double*, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;

struct Operator {
  std::int64_t n;
  std::vector<double> a, b;  // n x n, n
  explicit Operator(std::int64_t dim) : n(dim), a(static_cast<std::size_t>(dim * dim), 0.0), b(static_cast<std::size_t>(dim)) {
    const sk::CounterRng rng(3, "oda_test");
    for (std::int64_t i = 0; i < n; ++i) {
      a[i * n + i] = 0.5 + rng.uniform(i, 0);
      b[i] = rng.normal(i, 1);
      for (std::int64_t j = i + 1; j < n; ++j) {
        const double k = 0.3 * rng.normal(i * n + j, 2);
        a[i * n + j] = k;
        a[j * n + i] = -k;
      }
    }
  }
  std::vector<double> operator()(const std::vector<double>& x) const {
    std::vector<double> v(b);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) v[i] += a[i * n + j] * x[j];
    return v;
  }
};

template <class View>
std::vector<double> host(const View& v) {
  std::vector<double> h(v.extent(0));
  Kokkos::deep_copy(HostValues(h.data(), h.size()), v);
  return h;
}

// One iteration of an instance on any space: extrapolate, V at the point (a single worker's
// average and own vector are both V), update. Returns X_{t+1/2}.
template <class Oda>
std::vector<double> iterate(Oda& oda, const Operator& op) {
  const std::vector<double> half = host(oda.extrapolate());
  const std::vector<double> v = op(half);
  Kokkos::deep_copy(oda.average_buffer(), HostValues(const_cast<double*>(v.data()), v.size()));
  Kokkos::deep_copy(oda.own_buffer(), HostValues(const_cast<double*>(v.data()), v.size()));
  oda.update();
  return half;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) e = std::max(e, std::fabs(a[i] - b[i]));
  return e;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  if constexpr (sk::kExecIsHost) EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(double)), 0) << what;
  else EXPECT_LT(max_diff(got, want), 1e-13) << what;
}

}  // namespace

TEST(OptimisticDualAveraging, OnExecAndHostEqualTheRecursion) {
  const std::int64_t n = 37;
  const Operator op(n);
  const se::Comm comm;
  std::vector<double> x1(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) x1[i] = 0.1 * static_cast<double>(i % 5) - 0.2;
  for (const bool adaptive : {false, true}) {
    SCOPED_TRACE(adaptive ? "adaptive rates" : "constant rates");
    const sk::OptdaRates rates(adaptive, 0.3, 0.2, 0.25);
    se::OptimisticDualAveraging<sk::HostExec> on_host(comm, x1, rates);
    se::OptimisticDualAveraging<sk::Exec> on_exec(comm, x1, rates);
    // The recursion: X_{t+1/2} = X_t - gamma_t avg_{t-1/2}; Y -= avg_{t+1/2}; X = X_1 + eta Y.
    sk::OptdaRates r = rates;
    std::vector<double> x = x1, y(x1.size(), 0.0), last(x1.size(), 0.0), sum(x1.size(), 0.0), half(x1.size());
    for (int t = 0; t < 30; ++t) {
      const double gamma = r.gamma();
      for (std::size_t i = 0; i < x.size(); ++i) half[i] = x[i] - gamma * last[i];
      const std::vector<double> v = op(half);
      r.absorb(r.terms(v.data(), last.data(), v.size()));
      const double eta = r.eta();
      for (std::size_t i = 0; i < x.size(); ++i) {
        y[i] -= v[i];
        x[i] = x1[i] + eta * y[i];
        sum[i] += half[i];
      }
      last = v;
      const std::vector<double> h_half = iterate(on_host, op), e_half = iterate(on_exec, op);
      EXPECT_EQ(std::memcmp(h_half.data(), half.data(), half.size() * sizeof(double)), 0) << "host X_{t+1/2}, t = " << t;
      expect_close(e_half, half, "Exec X_{t+1/2}");
    }
    EXPECT_EQ(std::memcmp(on_host.x_host().data(), x.data(), x.size() * sizeof(double)), 0);
    expect_close(on_exec.x_host(), x, "Exec X_t");
    std::vector<double> avg = sum;
    for (double& e : avg) e /= 30.0;
    EXPECT_EQ(std::memcmp(on_host.average().data(), avg.data(), avg.size() * sizeof(double)), 0);
    expect_close(on_exec.average(), avg, "Exec average");
    EXPECT_EQ(on_exec.iterations(), 30);
    if (adaptive) {
      EXPECT_GT(r.sum_sq, 0.0);
      EXPECT_NEAR(on_exec.rates().sum_sq, r.sum_sq, 1e-12 * r.sum_sq);
    }
    // The iterates moved: the test would not pass with a state that never changes.
    EXPECT_GT(max_diff(x, x1), 0.1);
  }
}

TEST(OptimisticDualAveraging, CheckpointOnExecContinuesAsTheOriginal) {
  const std::int64_t n = 23;
  const Operator op(n);
  const se::Comm comm;
  const std::vector<double> x1(static_cast<std::size_t>(n), 0.5);
  const sk::OptdaRates rates(true, 0.3, 0.2, 0.25);
  se::OptimisticDualAveraging<sk::Exec> a(comm, x1, rates);
  for (int t = 0; t < 7; ++t) iterate(a, op);
  const std::string path = "test_oda_" + std::to_string(comm.rank()) + ".h5";
  {
    se::h5::File f = se::h5::File::create(path, &comm);
    a.save(f.root().create_group("state/oda"));
    f.close();
  }
  se::OptimisticDualAveraging<sk::Exec> b(comm, std::vector<double>(static_cast<std::size_t>(n), 0.0), sk::OptdaRates(true, 0.3, 0.2, 0.25));
  {
    se::h5::File f = se::h5::File::open(path, se::h5::File::Mode::ReadOnly, &comm);
    b.load_below(f.root().open_group("state"));
    f.close();
  }
  std::remove(path.c_str());
  EXPECT_EQ(b.iterations(), 7);
  for (int t = 0; t < 5; ++t) {
    const std::vector<double> ha = iterate(a, op), hb = iterate(b, op);
    EXPECT_EQ(std::memcmp(ha.data(), hb.data(), ha.size() * sizeof(double)), 0) << "t = " << t;
  }
  EXPECT_EQ(std::memcmp(a.x_host().data(), b.x_host().data(), static_cast<std::size_t>(n) * sizeof(double)), 0);
  EXPECT_EQ(std::memcmp(a.average().data(), b.average().data(), static_cast<std::size_t>(n) * sizeof(double)), 0);
}
