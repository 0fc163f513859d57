// The qoda workload at 1, 2 and 3 ranks: QODA, OptDA and Q-GenX converge to the LAPACK solution of
// a bilinear game,
// unquantised runs without noise equal a serial reference loop whatever the rank count, a
// restarted run ends bit for bit equal, and bad problem files exit 2.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/driver.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "kernels/counter_rng.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
using saddle::kernels::CounterRng;
using namespace saddle::testing;

namespace {

const Scratch scratch("qoda");

std::string deck(const std::string& name, const std::string& body) { return run_deck(name, "qoda", body); }

std::vector<double> read(const std::string& file, const std::string& name) {
  h5::File f = h5::File::open(file, h5::File::Mode::ReadOnly);
  return f.root().read<double>(name);
}

}  // namespace

namespace {
std::string bilinear(const std::string& algorithm) {
  return "steps = 1500\nlog_every = 100\n[qoda]\nalgorithm = \"" + algorithm + "\"\n" + R"([qoda.problem]
type = "bilinear"
dim_x = 12
dim_y = 12
condition = 2.0
blocks = [6, 6, 6, 6]
block_scales = [0.5, 1.0]
noise = "relative"
sigma = 0.2
[qoda.exchange]
levels = "adaptive"
coder = "huffman"
adapt_every = 25
[qoda.rates]
gamma = 0.4
eta = 0.4
)";
}
}  // namespace

TEST(QodaRun, QuantisedAndUnquantisedMethodsConvergeToTheLapackSolution) {
  for (const std::string alg : {"qoda", "optda", "qgenx"}) {
    ASSERT_EQ(run({"run", deck("conv", bilinear(alg)), "run.name=conv_" + alg, "--quiet"}), kExitDone);
    if (!world().is_root()) continue;
    const std::string file = dir() + "/out/conv_" + alg + ".h5";
    const auto dist = read(file, "metrics/distance"), bits = read(file, "metrics/bits_per_coord");
    EXPECT_LT(dist.back(), 1e-5 * dist.front()) << alg;
    // The solution LAPACK found is the one the generator planted (z* ~ N(0, I)).
    const auto x_star = read(file, "result/x_star");
    const CounterRng rng(1, "qoda_solution");
    for (std::size_t i = 0; i < x_star.size(); ++i) EXPECT_NEAR(x_star[i], rng.normal(i, 0), 1e-10) << i;
    if (alg == "optda") {
      EXPECT_EQ(bits.back(), 64.0);
    } else if (alg == "qoda") {
      EXPECT_LT(bits.back(), 32.0);
    }
  }
}

TEST(QodaRun, UnquantisedRunsWithoutNoiseEqualASerialLoopAtAnyRankCount) {
  // A monotone quadratic problem from HDF5 (skew part plus a small symmetric part).
  const int n = 10;
  std::vector<double> M(n * n), qv(n);
  std::mt19937_64 g(4);
  std::normal_distribution<double> nd;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j) {
      const double a = 0.3 * nd(g);
      M[i * n + j] = a;
      M[j * n + i] = -a;
    }
  for (int i = 0; i < n; ++i) M[i * n + i] = 0.2 + 0.05 * i;
  for (double& x : qv) x = nd(g);
  const std::string file = dir() + "/quad.h5";
  if (world().is_root()) {
    fs::create_directories(dir());
    h5::File f = h5::File::create(file);
    f.root().write("M", M, {static_cast<hsize_t>(n), static_cast<hsize_t>(n)});
    f.root().write("q", qv);
    f.close();
  }
  world().barrier();
  const double gamma = 0.4, eta = 0.3;
  const int T = 200;
  for (const std::string alg : {"optda", "eg", "gda"}) {
    ASSERT_EQ(run({"run", deck("serial", "steps = 200\n[qoda]\nalgorithm = \"" + alg + "\"\n[qoda.problem]\ntype = \"quadratic\"\npath = \"" + file +
                                             "\"\nblocks = [4, 6]\n[qoda.rates]\ngamma = 0.4\neta = 0.3\n"),
                   "run.name=serial_" + alg, "--quiet"}),
              kExitDone);
    if (!world().is_root()) continue;
    auto F = [&](const std::vector<double>& z) {
      std::vector<double> out(qv);
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) out[i] += M[i * n + j] * z[j];
      return out;
    };
    std::vector<double> x(n, 0.0), y(n, 0.0), last(n, 0.0), half(n), sum(n, 0.0);
    for (int t = 0; t < T; ++t) {
      if (alg == "optda") {
        for (int i = 0; i < n; ++i) half[i] = x[i] - gamma * last[i];
      } else if (alg == "eg") {
        const auto lead = F(x);
        for (int i = 0; i < n; ++i) half[i] = x[i] - gamma * lead[i];
      } else {
        half = x;
      }
      last = F(half);
      for (int i = 0; i < n; ++i) {
        y[i] -= last[i];
        x[i] = eta * y[i];
        sum[i] += half[i];
      }
    }
    const auto x_last = read(dir() + "/out/serial_" + alg + ".h5", "result/x_last");
    const auto x_avg = read(dir() + "/out/serial_" + alg + ".h5", "result/x_avg");
    for (int i = 0; i < n; ++i) {
      EXPECT_NEAR(x_last[i], x[i], 1e-12 * (1 + std::fabs(x[i]))) << alg << " " << i;
      EXPECT_NEAR(x_avg[i], sum[i] / T, 1e-12 * (1 + std::fabs(x[i]))) << alg << " " << i;
    }
  }
}

TEST(QodaRun, RestartEndsBitForBitEqual) {
  const std::string d = deck("restart", bilinear("qoda"));
  const std::vector<std::string> over = {"run.steps=120", "run.checkpoint_every=50", "run.log_every=10", "qoda.exchange.adapt_every=7",
                                         "qoda.rates.schedule=adaptive", "qoda.rates.gamma=0.5", "qoda.rates.eta=0.5"};
  std::vector<std::string> args = {"run", d, "--quiet"};
  args.insert(args.end(), over.begin(), over.end());
  ASSERT_EQ(run(args), kExitDone);
  const std::string out = dir() + "/out/restart.h5", straight = dir() + "/out/restart_straight.h5";
  if (world().is_root()) {
    fs::copy_file(out, straight, fs::copy_options::overwrite_existing);
    fs::remove(dir() + "/out/restart.ckpt/step_100.h5");
  }
  world().barrier();
  ASSERT_EQ(run(args), kExitDone);
  if (!world().is_root()) return;
  h5::File r = h5::File::open(out, h5::File::Mode::ReadOnly);
  EXPECT_EQ(r.root().read_attr<std::int64_t>("restarted_from_step"), 50);
  for (const char* name : {"result/x_last", "result/x_avg", "metrics/distance", "metrics/residual_avg", "metrics/bits_per_coord",
                           "metrics/bytes_total", "result/levels/block_2"})
    EXPECT_EQ(read(out, name), read(straight, name)) << name;
}

TEST(QodaRun, BadProblemFilesExitTwo) {
  const std::string bad_m = dir() + "/bad_m.h5", nan_a = dir() + "/nan_a.h5", shape = dir() + "/shape.h5", good = dir() + "/good.h5";
  if (world().is_root()) {
    fs::create_directories(dir());
    {
      h5::File f = h5::File::create(bad_m);  // M + M' has a negative eigenvalue
      f.root().write("M", std::vector<double>{1, 0, 0, -1}, {2, 2});
      f.root().write("q", std::vector<double>{1, 1});
      f.close();
    }
    {
      h5::File f = h5::File::create(nan_a);
      f.root().write("A", std::vector<double>{1, NAN, 0, 1}, {2, 2});
      f.root().write("b", std::vector<double>{1, 1});
      f.root().write("c", std::vector<double>{1, 1});
      f.close();
    }
    {
      h5::File f = h5::File::create(good);
      f.root().write("A", std::vector<double>{1, 0, 0, 1}, {2, 2});
      f.root().write("b", std::vector<double>{1, 1});
      f.root().write("c", std::vector<double>{1, 1});
      f.close();
    }
    {
      h5::File f = h5::File::create(shape);
      f.root().write("A", std::vector<double>{1, 0, 0, 1}, {2, 2});
      f.root().write("b", std::vector<double>{1, 1, 1});
      f.root().write("c", std::vector<double>{1, 1});
      f.close();
    }
  }
  world().barrier();
  auto with = [&](const std::string& name, const std::string& type, const std::string& path, const std::string& extra = "") {
    return run({"run", deck(name, "steps = 5\n[qoda]\nalgorithm = \"optda\"\n[qoda.problem]\ntype = \"" + type + "\"\npath = \"" + path + "\"\n" + extra),
                "--quiet"});
  };
  EXPECT_EQ(with("bad_m", "quadratic", bad_m), kExitBadInput);
  EXPECT_EQ(with("nan_a", "bilinear", nan_a), kExitBadInput);
  EXPECT_EQ(with("shape", "bilinear", shape), kExitBadInput);
  EXPECT_EQ(with("missing", "bilinear", dir() + "/none.h5"), kExitBadInput);
  EXPECT_EQ(with("no_q", "quadratic", nan_a), kExitBadInput);  // a bilinear file has no /M
  EXPECT_EQ(with("good", "bilinear", good), kExitDone);
  EXPECT_EQ(with("blocks", "bilinear", good, "blocks = [1, 1]\n"), kExitBadInput);  // z has 4 coordinates
}
