// The hb workload end to end at 1, 2 and 3 ranks: every trajectory of the sweep equals a direct
// serial integration (so results do not depend on the rank count), an interrupted sweep resumes
// without redoing finished chunks, and bad game files exit 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "apps/hb/dynamics.hpp"
#include "apps/hb/games.hpp"
#include "engine/driver.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "engine/signals.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
using namespace saddle::apps::hb;
using namespace saddle::testing;

namespace {

const Scratch scratch("hb");

const char* kLimitCycle = R"(game = "limit_cycle"
steps = 400
starts = 3
h = {min = 0.01, max = 0.05, count = 4}
beta = {min = -0.5, max = 0.5, count = 5}
chunk = 7
trace_h = [0.02]
trace_beta = [-0.3]
trace_every = 50
)";

std::string deck(const std::string& name, const std::string& hb) { return run_deck(name, "hb", "log_every = 1\n[hb]\n" + hb); }

}  // namespace

TEST(HbSweep, EveryTrajectoryEqualsADirectIntegration) {
  ASSERT_EQ(run({"run", deck("lc", kLimitCycle), "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  h5::File f = h5::File::open(out("lc"), h5::File::Mode::ReadOnly);
  const h5::Group s = f.root().open_group("result/sweep");
  const auto h = s.read<double>("h"), b = s.read<double>("beta"), starts = s.read<double>("starts");
  ASSERT_EQ(h.size(), 4u);
  ASSERT_EQ(b.size(), 5u);
  ASSERT_EQ(starts.size(), 6u);
  for (const char* scheme : {"sim", "alt"}) {
    const auto g_end = s.read<double>(std::string(scheme) + "/final_grad_norm");
    const auto avg = s.read<double>(std::string(scheme) + "/avg_grad_sq");
    const auto conv = s.read<std::int64_t>(std::string(scheme) + "/converged");
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t j = 0; j < 5; ++j) {
        double sum = 0;
        std::int64_t n_conv = 0;
        for (std::size_t k = 0; k < 3; ++k) {
          const Outcome o = integrate(LimitCycle{}, scheme[0] == 'a', h[i], b[j], starts[2 * k], starts[2 * k + 1], 400, 0, NoRecord{});
          EXPECT_EQ(g_end[(i * 5 + j) * 3 + k], o.g_end);  // bit for bit, whatever the rank count
          sum += o.avg_sq;
          n_conv += o.g_end <= 1e-6 * o.g0;
        }
        EXPECT_DOUBLE_EQ(avg[i * 5 + j], sum / 3);
        EXPECT_EQ(conv[i * 5 + j], n_conv);
      }
  }
  // The traced trajectory and its modified equation start at the first start point.
  const auto z = f.root().read<double>("result/trajectories/alt/0/z");
  const auto ode = f.root().read<double>("result/trajectories/alt/0/ode_z");
  ASSERT_EQ(z.size(), 18u);  // steps 0, 50, ..., 400
  EXPECT_EQ(z[0], starts[0]);
  EXPECT_EQ(ode[1], starts[1]);
  EXPECT_LT(std::hypot(z[16] - ode[16], z[17] - ode[17]), 0.05);  // the modified flow tracks the iterates
}

TEST(HbSweep, InterruptedSweepResumesWithoutRedoingChunks) {
  // Long enough trajectories that the signal lands mid-sweep (about 20 ms per chunk).
  const std::string d = deck("resume", kLimitCycle);
  const std::string steps = "hb.steps=300000";
  ASSERT_EQ(run({"run", d, steps, "run.name=resume_straight", "--quiet"}), kExitDone);
  const int code = run_interrupted({"run", d, steps, "--quiet"}, 50);
  if (code == kExitDone) GTEST_SKIP() << "the sweep finished before the signal arrived";
  ASSERT_EQ(code, kExitStopped);
  ASSERT_EQ(run({"run", d, steps, "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  h5::File a = h5::File::open(dir() + "/out/resume_straight.h5", h5::File::Mode::ReadOnly);
  h5::File r = h5::File::open(dir() + "/out/resume.h5", h5::File::Mode::ReadOnly);
  const auto from = r.root().read_attr<std::int64_t>("restarted_from_step");
  EXPECT_GT(from, 0);
  // Driver steps after the restart: only the chunks not done before it.
  const auto logged = r.root().read<std::int64_t>("metrics/step");
  EXPECT_EQ(logged.back(), 18);  // ceil(60 / 7) chunks per scheme, two schemes
  for (const char* v : {"sim/final_grad_norm", "alt/final_grad_norm", "sim/avg_grad_sq", "alt/rate"})
    EXPECT_EQ(a.root().read<double>(std::string("result/sweep/") + v), r.root().read<double>(std::string("result/sweep/") + v)) << v;
}

TEST(HbSweep, BadGameFilesExitTwo) {
  const std::string good = dir() + "/game.h5", nan = dir() + "/nan.h5", asym = dir() + "/asym.h5";
  if (world().is_root()) {
    {
      h5::File f = h5::File::create(good);
      f.root().write("A", std::vector<double>{1, 0, 0, 2, 1, 1}, {2, 3});
      f.root().write("P", std::vector<double>{1, 0, 0, 1}, {2, 2});
      f.close();
    }
    {
      h5::File f = h5::File::create(nan);
      f.root().write("A", std::vector<double>{1, NAN}, {1, 2});
      f.close();
    }
    {
      h5::File f = h5::File::create(asym);
      f.root().write("A", std::vector<double>{1, 0, 0, 1}, {2, 2});
      f.root().write("P", std::vector<double>{1, 0.5, 0, 1}, {2, 2});
      f.close();
    }
  }
  world().barrier();
  const std::string base = "steps = 100\nh = {min = 0.1, max = 0.1, count = 1}\nbeta = {min = 0.0, max = 0.0, count = 1}\n";
  EXPECT_EQ(run({"run", deck("file_ok", "game = \"quadratic\"\npath = \"" + good + "\"\n" + base), "--quiet"}), kExitDone);
  EXPECT_EQ(run({"run", deck("file_missing", "game = \"quadratic\"\npath = \"" + dir() + "/none.h5\"\n" + base), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", deck("file_nan", "game = \"bilinear\"\npath = \"" + nan + "\"\n" + base), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", deck("file_asym", "game = \"quadratic\"\npath = \"" + asym + "\"\n" + base), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", deck("file_dims", "game = \"quadratic\"\npath = \"" + good + "\"\n" + base +
                                              "start_points = [1.0, 2.0, 3.0, 4.0]\n"), "--quiet"}), kExitBadInput);
  // Two starts of the 5-dimensional game: the steps are planned from dim_x + dim_y, which must
  // then be the file's (once a crash: 5 starts planned, 2 found).
  const std::string starts = "chunk = 1\nstart_points = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]\n";
  EXPECT_EQ(run({"run", deck("file_starts", "game = \"quadratic\"\npath = \"" + good + "\"\n" + base + starts), "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", deck("file_starts_dims", "game = \"quadratic\"\npath = \"" + good + "\"\ndim_x = 2\ndim_y = 3\n" + base + starts),
                 "--quiet"}),
            kExitDone);
}
