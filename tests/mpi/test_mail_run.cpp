// The mail workload end to end at 1, 2 and 3 ranks: every seed's curve equals a serial run of
// the same learner (so results do not depend on the rank count), a game split over ranks solves
// to the serial solution bit for bit, a restart from a checkpoint ends bit-for-bit equal, and bad
// game files exit 2.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "apps/mail/games.hpp"
#include "apps/mail/learners.hpp"
#include "apps/mail/solvers.hpp"
#include "engine/driver.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
using namespace saddle::apps::mail;
using namespace saddle::testing;

namespace {

const Scratch scratch("mail");

std::string deck(const std::string& name, const std::string& body) {
  return run_deck(name, "mail", "name = \"" + name + "\"\nseed = 5\nlog_every = 1\n" + body);
}

const char* kSmall = R"([mail]
algorithms = ["bc", "mail_bro", "murmail", "murmail_exact_planning"]
seeds = 7
seed_chunk = 3
budgets = [40, 300, 1200]
[mail.murmail]
inner_episodes = 2
[mail.game]
states = 6
max_actions = 3
min_actions = 2
)";

}  // namespace

TEST(MailRun, EverySeedEqualsASerialRun) {
  ASSERT_EQ(run({"run", deck("small", kSmall), "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  h5::File f = h5::File::open(dir() + "/out/small.h5", h5::File::Mode::ReadOnly);
  const h5::Group r = f.root().open_group("result");
  RandomGameSpec spec;
  spec.S = 6;
  spec.A = 3;
  spec.B = 2;
  const auto g = random_game(spec, 5, 0, 6);
  const auto sol = solve_expert(g, Exchange::serial(), 1e-12);
  EXPECT_EQ(r.read<double>("expert/value"), sol.value);
  EXPECT_EQ(r.read<double>("expert/mu"), sol.mu);
  EXPECT_LT(r.read_scalar<double>("expert/nash_gap"), 1e-8);
  LearnerOptions opt;
  opt.budgets = {40, 300, 1200};
  opt.inner_episodes = 2;
  for (const char* name : {"bc", "mail_bro", "murmail", "murmail_exact_planning"}) {
    const auto all = r.read<double>(std::string(name) + "/nash_gap");
    const auto mean = r.read<double>(std::string(name) + "/nash_gap_mean");
    ASSERT_EQ(all.size(), 21u) << name;
    EXPECT_EQ(r.read<std::int64_t>(std::string(name) + "/queries"), opt.budgets);
    for (std::uint64_t seed = 0; seed < 7; ++seed) {
      const auto gaps = run_learner(algorithm_from_name(name), g, sol.mu, sol.nu, opt, 5, seed);
      for (std::size_t j = 0; j < 3; ++j) EXPECT_EQ(all[seed * 3 + j], gaps[j]) << name << " seed " << seed;
    }
    for (std::size_t j = 0; j < 3; ++j) {
      double m = 0;
      for (std::size_t s = 0; s < 7; ++s) m += all[s * 3 + j] / 7;
      EXPECT_NEAR(mean[j], m, 1e-14);
    }
  }
}

TEST(MailRun, SplitGameSolvesLikeTheSerialOne) {
  const char* body = R"([mail]
algorithms = []
seeds = 0
concentrability_max_states = 0
[mail.game]
states = 300
max_actions = 4
min_actions = 3
successors = 3
)";
  ASSERT_EQ(run({"run", deck("split", body), "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  h5::File f = h5::File::open(dir() + "/out/split.h5", h5::File::Mode::ReadOnly);
  RandomGameSpec spec;
  spec.S = 300;
  spec.A = 4;
  spec.B = 3;
  spec.successors = 3;
  const auto g = random_game(spec, 5, 0, 300);
  const auto sol = solve_expert(g, Exchange::serial(), 1e-12);
  EXPECT_EQ(f.root().read<double>("result/expert/value"), sol.value);
  EXPECT_EQ(f.root().read<double>("result/expert/mu"), sol.mu);
  EXPECT_EQ(f.root().read<double>("result/expert/nu"), sol.nu);
  EXPECT_LT(f.root().read_scalar<double>("result/expert/nash_gap"), 1e-8);
  EXPECT_TRUE(std::isnan(f.root().read<double>("result/concentrability")[0]));  // skipped above the limit
}

TEST(MailRun, SplitConcentrabilityEqualsTheSerialOne) {
  const char* body = "[mail]\nalgorithms = []\nseeds = 0\n[mail.game]\nstates = 7\nsuccessors = 2\n";
  ASSERT_EQ(run({"run", deck("split_c", body), "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  h5::File f = h5::File::open(out("split_c"), h5::File::Mode::ReadOnly);
  RandomGameSpec spec;
  spec.S = 7;
  spec.successors = 2;
  const auto g = random_game(spec, 5, 0, 7);
  const auto sol = solve_expert(g, Exchange::serial(), 1e-12);
  const auto want = concentrability(g, Exchange::serial(), sol.mu.data(), sol.nu.data(), 1e-12, 1e-9);
  const auto c = f.root().read<double>("result/concentrability");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0], want.C, 1e-9 * want.C);
  EXPECT_NEAR(c[1], want.C_max, 1e-9 * want.C_max);
  EXPECT_GE(c[0], 1.0 - 1e-9);
  EXPECT_LE(c[0], c[1] * (1 + 1e-12));
}

TEST(MailRun, RestartFromACheckpointEndsBitForBitEqual) {
  const std::string extra = "checkpoint_every = 1\ncheckpoint_keep = 10\n";
  const std::string body = std::string(kSmall);
  ASSERT_EQ(run({"run", deck("straight", extra + body), "--quiet"}), kExitDone);
  ASSERT_EQ(run({"run", deck("resumed", extra + body), "--quiet"}), kExitDone);
  // Keep only the checkpoint of step 1 and rerun: steps 2 and 3 are recomputed after a load.
  if (world().is_root())
    for (const auto& e : fs::directory_iterator(dir() + "/out/resumed.ckpt"))
      if (e.path().filename() != "step_1.h5") fs::remove(e.path());
  world().barrier();
  ASSERT_EQ(run({"run", dir() + "/resumed.toml", "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  h5::File a = h5::File::open(dir() + "/out/straight.h5", h5::File::Mode::ReadOnly);
  h5::File b = h5::File::open(dir() + "/out/resumed.h5", h5::File::Mode::ReadOnly);
  EXPECT_EQ(b.root().read_attr<std::int64_t>("restarted_from_step"), 1);
  for (const char* name : {"bc", "mail_bro", "murmail", "murmail_exact_planning"})
    for (const char* v : {"nash_gap", "nash_gap_mean", "nash_gap_std"}) {
      const std::string path = std::string("result/") + name + "/" + v;
      EXPECT_EQ(a.root().read<double>(path), b.root().read<double>(path)) << path;
    }
}

TEST(MailRun, ConcentrabilityDeckHasAGameAxis) {
  const char* body = R"([mail]
algorithms = ["bc"]
seeds = 3
budgets = [10, 100]
[mail.game]
source = "concentrability"
p = [0.5, 0.0]
)";
  ASSERT_EQ(run({"run", deck("conc", body), "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  h5::File f = h5::File::open(dir() + "/out/conc.h5", h5::File::Mode::ReadOnly);
  std::vector<hsize_t> dims;
  const auto c = f.root().read<double>("result/concentrability", &dims);
  EXPECT_EQ(dims, (std::vector<hsize_t>{2, 2}));
  EXPECT_NEAR(c[0], 2.0, 1e-9);
  EXPECT_TRUE(std::isinf(c[2]) && std::isinf(c[3]));
  f.root().read<double>("result/bc/nash_gap_mean", &dims);
  EXPECT_EQ(dims, (std::vector<hsize_t>{2, 2}));
  EXPECT_EQ(f.root().read<double>("result/p"), (std::vector<double>{0.5, 0.0}));
}

TEST(MailRun, BadGameFilesExitTwo) {
  const std::string good = dir() + "/game.h5", bad_sum = dir() + "/sum.h5", no_gamma = dir() + "/nogamma.h5";
  if (world().is_root()) {
    auto write = [](const std::string& path, double p00, bool gamma) {
      h5::File f = h5::File::create(path);
      // S = 2, A = B = 1.
      f.root().write("P", std::vector<double>{p00, 0.5, 0.0, 1.0}, {2, 1, 1, 2});
      f.root().write("R", std::vector<double>{1.0, -1.0}, {2, 1, 1});
      f.root().write("rho", std::vector<double>{1.0, 0.0});
      if (gamma) f.root().write_attr("gamma", 0.5);
      f.close();
    };
    write(good, 0.5, true);
    write(bad_sum, 0.7, true);
    write(no_gamma, 0.5, false);
  }
  world().barrier();
  auto body = [](const std::string& path) {
    return "[mail]\nseeds = 1\nalgorithms = [\"bc\"]\nbudgets = [10]\n[mail.game]\nsource = \"hdf5\"\npath = \"" + path + "\"\n";
  };
  EXPECT_EQ(run({"run", deck("file_ok", body(good)), "--quiet"}), kExitDone);
  EXPECT_EQ(run({"run", deck("file_missing", body(dir() + "/none.h5")), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", deck("file_sum", body(bad_sum)), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", deck("file_gamma", body(no_gamma)), "--quiet"}), kExitBadInput);
  if (!world().is_root()) return;
  // V(1) = -1 / (1 - 0.5) = -2; V(0) = 1 + 0.5 (0.5 V(0) + 0.5 V(1)) -> V(0) = 2/3.
  h5::File f = h5::File::open(dir() + "/out/file_ok.h5", h5::File::Mode::ReadOnly);
  const auto v = f.root().read<double>("result/expert/value");
  EXPECT_NEAR(v[0], 2.0 / 3.0, 1e-11);
  EXPECT_NEAR(v[1], -2.0, 1e-11);
}
