// The wgan workload at 1, 2 and 3 ranks: replicas hold bit-identical parameters with every
// optimiser (float64 allreduce and quantised exchange) and with float32 networks, a restarted run
// (float64 and float32 networks) ends bit for bit equal,
// bad data files exit 2, and (1 rank) the ring deck learns the 8 modes.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>

#include "engine/driver.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/nn/mlp.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
using saddle::testing::run;
using saddle::testing::world;
namespace fs = std::filesystem;

namespace {

std::string dir() { return "wgan_np" + std::to_string(world().size()); }

// A small ring problem: nets 2-16-16-2 / 2-16-16-1, batch 16 per rank.
std::string deck(const std::string& name, const std::string& extra = "") {
  return saddle::testing::write_deck(dir(), name,
                                     "[run]\nworkload = \"wgan\"\noutput = \"" + dir() + "/out\"\nsteps = 40\nlog_every = 10\n"
                                     "[wgan]\nbatch = 16\nlr = 1e-3\nn_critic = 3\neval_samples = 200\nswd_projections = 8\n" + extra +
                                         "\n[wgan.generator]\nwidths = [16, 16]\n[wgan.critic]\nwidths = [16, 16]\n");
}

std::vector<double> read(const std::string& file, const std::string& name) {
  h5::File f = h5::File::open(file, h5::File::Mode::ReadOnly);
  return f.root().read<double>(name);
}

const auto* const fresh_directory = ::testing::AddGlobalTestEnvironment(new saddle::testing::FreshDirectory(dir));

}  // namespace

TEST(WganRun, ReplicasStayIdenticalWithEveryOptimiser) {
  const std::vector<std::vector<std::string>> cases = {
      {"wgan.optimizer=\"gda\""},
      {"wgan.optimizer=\"gda\"", "wgan.schedule=\"simultaneous\"", "wgan.n_critic=1"},
      {"wgan.optimizer=\"adam\""},
      {"wgan.optimizer=\"adam\"", "wgan.precision=\"float32\""},
      {"wgan.optimizer=\"optimistic_adam\""},
      {"wgan.optimizer=\"extragradient\"", "wgan.schedule=\"simultaneous\"", "wgan.n_critic=1"},
      {"wgan.optimizer=\"qoda\"", "wgan.quantizer.levels=\"adaptive\"", "wgan.quantizer.coder=\"huffman\"", "wgan.quantizer.adapt_every=7"}};
  int n = 0;
  for (const auto& over : cases) {
    const std::string name = "replicas" + std::to_string(n++);
    std::vector<std::string> args = {"run", deck(name), "--quiet"};
    args.insert(args.end(), over.begin(), over.end());
    ASSERT_EQ(run(args), kExitDone) << over[0];
    if (world().is_root()) {
      const std::string out = dir() + "/out/" + name + ".h5";
      for (double s : read(out, "metrics/replica_spread")) EXPECT_EQ(s, 0.0) << over[0];
      for (double s : read(out, "metrics/swd")) EXPECT_TRUE(std::isfinite(s)) << over[0];
      const auto bits = read(out, "metrics/bits_per_param");
      if (over[0].find("qoda") != std::string::npos) {
        EXPECT_LT(bits.back(), 16.0) << "quantised exchange sends fewer bits than float64";
      } else {
        EXPECT_EQ(bits.back(), 64.0) << over[0];
      }
    }
    world().barrier();
  }
}

TEST(WganRun, RestartEndsBitForBitEqual) {
  for (const std::string opt : {"adam", "qoda", "adam_float32"}) {
    const std::string name = "restart_" + opt;
    const std::string d = deck(name, opt == "adam_float32" ? "optimizer = \"adam\"\nprecision = \"float32\"\n" : "optimizer = \"" + opt + "\"\n");
    std::vector<std::string> args = {"run", d, "--quiet", "run.steps=50", "run.checkpoint_every=20"};
    if (opt == "qoda") {
      for (const char* o : {"wgan.quantizer.levels=\"adaptive\"", "wgan.quantizer.coder=\"huffman\"", "wgan.quantizer.adapt_every=7"}) args.push_back(o);
    }
    ASSERT_EQ(run(args), kExitDone);
    const std::string out = dir() + "/out/" + name + ".h5", straight = dir() + "/out/" + name + "_straight.h5";
    if (world().is_root()) {
      fs::copy_file(out, straight, fs::copy_options::overwrite_existing);
      fs::remove(dir() + "/out/" + name + ".ckpt/step_40.h5");
    }
    world().barrier();
    ASSERT_EQ(run(args), kExitDone);
    if (!world().is_root()) continue;
    h5::File r = h5::File::open(out, h5::File::Mode::ReadOnly);
    EXPECT_EQ(r.root().read_attr<std::int64_t>("restarted_from_step"), 20) << opt;
    for (const char* n : {"result/generator_params", "result/critic_params", "result/samples", "metrics/swd", "metrics/wasserstein",
                          "metrics/gradient_penalty", "metrics/bytes_total"})
      EXPECT_EQ(read(out, n), read(straight, n)) << opt << " " << n;
  }
  world().barrier();
}

TEST(WganRun, BadDataFilesExitTwo) {
  const std::string nan_x = dir() + "/nan_x.h5", one_d = dir() + "/one_d.h5", csv = dir() + "/bad.csv.gz";
  if (world().is_root()) {
    fs::create_directories(dir());
    {
      h5::File f = h5::File::create(nan_x);
      f.root().write("X", std::vector<double>{1, NAN, 0, 1}, {2, 2});
      f.close();
    }
    {
      h5::File f = h5::File::create(one_d);
      f.root().write("X", std::vector<double>{1, 2, 3});
      f.close();
    }
    std::ofstream(csv) << "not gzip, not csv";
  }
  world().barrier();
  EXPECT_EQ(run({"run", deck("bad1", "[wgan.data]\ntype = \"hdf5\"\npath = \"" + nan_x + "\"\n"), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", deck("bad2", "[wgan.data]\ntype = \"hdf5\"\npath = \"" + one_d + "\"\n"), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", deck("bad3", "[wgan.data]\ntype = \"digits\"\npath = \"" + csv + "\"\n"), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", deck("bad4", "[wgan.data]\ntype = \"digits\"\npath = \"" + dir() + "/missing.csv.gz\"\n"), "--quiet"}), kExitBadInput);
}

// One gda step (one critic update, then one generator update) on tiny networks equals the update
// computed here from the losses of ALGORITHMS.md section 3 over the global batch (every rank's
// rows), with parameter gradients by central finite differences of the losses.
TEST(WganRun, OneGdaStepEqualsAFiniteDifferenceReference) {
  namespace nn = saddle::kernels::nn;
  using saddle::kernels::CounterRng;
  const std::uint64_t seed = 5;
  const std::int64_t B = 2, K = world().size(), N = B * K;
  const double lr = 0.1, lambda = 10;
  const std::string d = saddle::testing::write_deck(
      dir(), "onestep",
      "[run]\nworkload = \"wgan\"\noutput = \"" + dir() + "/out\"\nsteps = 1\nseed = 5\n[wgan]\noptimizer = \"gda\"\nbatch = 2\nlr = 0.1\n"
      "n_critic = 1\nlatent = 2\neval_samples = 10\n[wgan.generator]\nwidths = [3]\n[wgan.critic]\nwidths = [3]\n");
  ASSERT_EQ(run({"run", d, "--quiet"}), kExitDone);
  const nn::ActivationFn leaky{nn::Activation::leaky_relu, 0.2}, id{nn::Activation::identity, 0.2};
  nn::Mlp g({2, 3, 2}, {leaky, id}), c({2, 3, 1}, {leaky, id});
  g.initialise(nn::Init::uniform_fan_in, seed, saddle::kernels::purpose_id("init_generator"));
  c.initialise(nn::Init::uniform_fan_in, seed, saddle::kernels::purpose_id("init_critic"));
  // The draws of evaluation 0 (critic) and 1 (generator), global rows 0 .. N-1.
  std::vector<double> real(2 * N), z(2 * N), zg(2 * N), eps(N);
  const CounterRng ring(seed, "ring"), lat(seed, "latent"), latg(seed, "latent_g"), ueps(seed, "eps");
  for (std::int64_t i = 0; i < N; ++i) {
    const auto b = ring.bits(i, 0, 0);
    const double a = 6.283185307179586 * std::floor(CounterRng::to_unit(b.v[0], b.v[1]) * 8) / 8;
    double n0, n1;
    ring.normal2(i, 0, 1, n0, n1);
    real[2 * i] = 2 * std::cos(a) + 0.02 * n0;
    real[2 * i + 1] = 2 * std::sin(a) + 0.02 * n1;
    lat.normal2(i, 0, 0, z[2 * i], z[2 * i + 1]);
    latg.normal2(i, 1, 0, zg[2 * i], zg[2 * i + 1]);
    eps[i] = ueps.uniform(i, 0);
  }
  const auto fd = [](auto& x, const std::function<double()>& f) {
    std::vector<double> grad(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double x0 = x[i], h = 1e-6;
      x[i] = x0 + h;
      const double fp = f();
      x[i] = x0 - h;
      const double fm = f();
      x[i] = x0;
      grad[i] = (fp - fm) / (2 * h);
    }
    return grad;
  };
  const auto fake = g.forward(z.data(), N);
  std::vector<double> xhat(2 * N);
  for (std::int64_t i = 0; i < 2 * N; ++i) xhat[i] = eps[i / 2] * real[i] + (1 - eps[i / 2]) * fake[i];
  const auto critic_loss = [&] {
    double l = 0;
    for (double y : c.forward(fake.data(), N)) l += y / N;
    for (double y : c.forward(real.data(), N)) l -= y / N;
    c.forward(xhat.data(), N);
    const std::vector<double> ones(N, 1.0);
    const auto u = c.backward(ones.data(), false);
    for (std::int64_t i = 0; i < N; ++i) {
      const double n = std::hypot(u[2 * i], u[2 * i + 1]);
      l += lambda / N * (n - 1) * (n - 1);
    }
    return l;
  };
  const auto gc = fd(c.params(), critic_loss);
  for (std::size_t i = 0; i < gc.size(); ++i) c.params()[i] -= lr * gc[i];
  const auto gen_loss = [&] {
    const auto x = g.forward(zg.data(), N);
    double l = 0;
    for (double y : c.forward(x.data(), N)) l -= y / N;
    return l;
  };
  const auto gg = fd(g.params(), gen_loss);
  for (std::size_t i = 0; i < gg.size(); ++i) g.params()[i] -= lr * gg[i];
  if (!world().is_root()) return;
  const std::string out = dir() + "/out/onestep.h5";
  const auto cp = read(out, "result/critic_params"), gp = read(out, "result/generator_params");
  ASSERT_EQ(cp.size(), c.params().size());
  ASSERT_EQ(gp.size(), g.params().size());
  for (std::size_t i = 0; i < cp.size(); ++i) EXPECT_NEAR(cp[i], c.params()[i], 1e-8) << "critic " << i;
  for (std::size_t i = 0; i < gp.size(); ++i) EXPECT_NEAR(gp[i], g.params()[i], 1e-8) << "generator " << i;
}

// The ring deck as shipped (1 rank; the other rank counts are covered above). Thresholds: with
// 4000 generated against 4000 held-out samples and 64 directions, two exact samples of the ring
// have swd 0.14-0.21 and a ring with one mode's mass moved to its neighbour 0.30-0.37 (numpy, 8
// draws each), so swd < 0.25 rules out a dropped mode; modes counts Gaussians holding at least
// 20 % of their fair share of samples within 3 standard deviations of the centre.
TEST(WganRun, RingDeckCoversTheModes) {
  if (world().size() != 1) GTEST_SKIP() << "run at 1 rank only (about 40 s)";
  ASSERT_EQ(run({"run", std::string(SADDLE_SOURCE_DIR) + "/inputs/wgan_ring.toml", "--quiet", "run.output=\"" + dir() + "/out\""}), kExitDone);
  const std::string out = dir() + "/out/wgan_ring.h5";
  const auto swd = read(out, "metrics/swd"), modes = read(out, "metrics/modes"), hq = read(out, "metrics/high_quality");
  EXPECT_LT(swd.back(), 0.25);
  EXPECT_GE(modes.back(), 7.0);
  EXPECT_GT(hq.back(), 0.3);
  EXPECT_GT(swd.front(), 1.0) << "the untrained generator is far from the ring";
}
