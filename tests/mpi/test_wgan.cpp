// The wgan workload at 1, 2 and 3 ranks: replicas hold bit-identical parameters with every
// optimiser (float64 allreduce and quantised exchange), a restarted run ends bit for bit equal,
// bad data files exit 2, and (1 rank) the ring deck learns the 8 modes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/driver.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
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
  for (const std::string opt : {"adam", "qoda"}) {
    const std::string name = "restart_" + opt;
    const std::string d = deck(name, "optimizer = \"" + opt + "\"\n");
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
