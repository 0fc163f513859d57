// The driver end to end, in process, at 1, 2 and 3 ranks, on the selftest workload: its closed-form
// answer, the run file layout, restarts after a signal and from a damaged checkpoint directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/checkpoint.hpp"
#include "engine/driver.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "engine/runtime.hpp"
#include "engine/signals.hpp"
#include "kernels/counter_rng.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
using namespace saddle::testing;

namespace {

const Scratch scratch("driver");

// A selftest deck; `extra` adds [run] keys.
std::string deck(const std::string& name, const std::string& extra = "") {
  return run_deck(name, "selftest", "steps = 40\nlog_every = 10\nprogress_interval = 0.0\n" + extra +
                                        "\n[selftest]\nn = 23\nlr = 0.3\nsigma = 0.05\n");
}

std::vector<double> read_vec(const std::string& path, const std::string& name) {
  h5::File f = h5::File::open(path, h5::File::Mode::ReadOnly);
  return f.root().read<double>(name);
}

}  // namespace

TEST(Driver, SelftestMatchesItsClosedForm) {
  const std::string d = deck("closed");
  ASSERT_EQ(run({"run", d, "selftest.sigma=0", "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  const auto x = read_vec(out("closed"), "result/x");
  ASSERT_EQ(x.size(), 23u);
  const saddle::kernels::CounterRng problem(1, "problem");
  double d2 = 0;
  for (std::uint64_t i = 0; i < 23; ++i) {
    double u0, u1;
    problem.uniform2(i, 0, 0, u0, u1);
    const double a = 1 + u0, b = 2 * u1 - 1;
    const double expect = b * (1 - std::pow(1 - 0.3 * a, 40));
    EXPECT_NEAR(x[i], expect, 1e-14) << "row " << i;
    d2 += (x[i] - b) * (x[i] - b);
  }
  const auto dist = read_vec(out("closed"), "metrics/distance");
  ASSERT_EQ(dist.size(), 5u);  // steps 0, 10, 20, 30, 40
  EXPECT_NEAR(dist.back(), std::sqrt(d2), 1e-14);
  EXPECT_GT(dist.front(), dist.back());
}

TEST(Driver, RunFileHasTheDocumentedLayout) {
  const std::string d = deck("layout");
  ASSERT_EQ(run({"run", d, "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  h5::File f = h5::File::open(out("layout"), h5::File::Mode::ReadOnly);
  const h5::Group& root = f.root();
  for (const char* a : {"saddle_version", "git_revision", "workload", "created_utc", "kokkos_backend", "device_collectives",
                        "hostname", "deck_path"})
    EXPECT_FALSE(root.read_attr_string(a).empty()) << a;
  EXPECT_EQ(root.read_attr_string("workload"), "selftest");
#if !SADDLE_HAVE_CUDA
  EXPECT_EQ(root.read_attr_string("device_collectives"), "none (host build)");
#endif
  EXPECT_EQ(root.read_attr<std::int64_t>("ranks"), world().size());
  EXPECT_EQ(root.read_attr<std::int64_t>("schema_version"), 1);
  EXPECT_EQ(root.read_attr<std::int64_t>("completed"), 1);
  // Threads per rank (the host execution space's) and OpenBLAS's, as the runtime set them.
  EXPECT_EQ(root.read_attr<std::int64_t>("threads"), Kokkos::DefaultHostExecutionSpace().concurrency());
  EXPECT_EQ(root.read_attr<std::int64_t>("threads"), thread_layout().threads);
  EXPECT_GE(root.read_attr<std::int64_t>("blas_threads"), 1);
  if (thread_layout().threads > 1) {
    EXPECT_EQ(root.read_attr<std::int64_t>("blas_threads"), 1);
  }
  // /config holds the resolved deck, which parses back to the same identity.
  const std::string toml = root.open_group("config").read_attr_string("toml");
  Schema schema = engine_schema(d);
  schema.integer("selftest.n");
  schema.real("selftest.lr");
  schema.real("selftest.sigma");
  schema.real("selftest.step_delay").restart_neutral();
  const Config back = resolve(Deck::parse(toml, d, {}), schema);
  EXPECT_EQ(back.integer("selftest.n"), 23);
  EXPECT_EQ(back.integer("run.steps"), 40);
  // Metric series share /metrics/step.
  EXPECT_EQ(root.read<std::int64_t>("metrics/step"), (std::vector<std::int64_t>{0, 10, 20, 30, 40}));
  EXPECT_EQ(root.read<double>("metrics/mean_x").size(), 5u);
  // Timers: per-rank seconds with min/mean/max.
  for (const char* t : {"setup", "steps", "metrics", "results"}) {
    const auto per_rank = root.read<double>(std::string("timers/") + t);
    EXPECT_EQ(per_rank.size(), static_cast<std::size_t>(world().size())) << t;
  }
  EXPECT_EQ(root.read<double>("result/x").size(), 23u);
}

TEST(Driver, RestartAfterASignalOnOneRankIsBitForBit) {
  const std::string d = deck("sig", "checkpoint_every = 0");
  ASSERT_EQ(run({"run", d, "run.name=sig_straight", "--quiet"}), kExitDone);
  ASSERT_EQ(run_interrupted({"run", d, "run.name=sig_split", "selftest.step_delay=0.03", "--quiet"}, 300), kExitStopped);
  int found_step = -1;
  if (world().is_root())
    for (int s = 1; s < 40; ++s)
      if (fs::exists(dir() + "/out/sig_split.ckpt/step_" + std::to_string(s) + ".h5")) found_step = s;
  EXPECT_GT(world().bcast_value(found_step), 0);
  ASSERT_EQ(run({"run", d, "run.name=sig_split", "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  const auto a = read_vec(out("sig_straight"), "result/x"), b = read_vec(out("sig_split"), "result/x");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "row " << i;  // bit-for-bit
  EXPECT_EQ(read_vec(out("sig_straight"), "metrics/distance"), read_vec(out("sig_split"), "metrics/distance"));
}

TEST(Driver, DamagedCheckpointsAreRefusedAndThePreviousOneUsed) {
  const std::string d = deck("damaged", "checkpoint_every = 10\ncheckpoint_keep = 3");
  ASSERT_EQ(run({"run", d, "run.name=damaged_straight", "--quiet"}), kExitDone);
  ASSERT_EQ(run({"run", d, "run.name=damaged", "--quiet"}), kExitDone);
  const std::string ck = dir() + "/out/damaged.ckpt";
  if (world().is_root()) {
    ASSERT_TRUE(fs::exists(ck + "/step_20.h5"));
    ASSERT_TRUE(fs::exists(ck + "/step_30.h5"));
    ASSERT_TRUE(fs::exists(ck + "/step_40.h5"));
    EXPECT_FALSE(fs::exists(ck + "/step_10.h5"));  // keep = 3
    fs::resize_file(ck + "/step_40.h5", fs::file_size(ck + "/step_40.h5") / 2);  // a truncated newest file
    fs::copy_file(ck + "/step_20.h5", ck + "/step_35.h5");  // a file whose signatures name another step
    std::ofstream(ck + "/step_38.h5") << "not hdf5";
    fs::remove(out("damaged"));
  }
  world().barrier();
  CheckpointStore store(ck, "", "selftest", world());
  if (world().is_root()) {
    EXPECT_NE(store.inspect(ck + "/step_40.h5", 40).find("unreadable"), std::string::npos);
    EXPECT_NE(store.inspect(ck + "/step_35.h5", 35).find("signatures disagree"), std::string::npos);
    EXPECT_NE(store.inspect(ck + "/step_38.h5", 38).find("unreadable"), std::string::npos);
    EXPECT_NE(store.inspect(ck + "/step_30.h5", 30).find("different deck"), std::string::npos);  // identity "" here
  }
  ASSERT_EQ(run({"run", d, "run.name=damaged", "--quiet"}), kExitDone);  // restarts from step 30
  if (!world().is_root()) return;
  h5::File f = h5::File::open(out("damaged"), h5::File::Mode::ReadOnly);
  EXPECT_EQ(f.root().read_attr<std::int64_t>("restarted_from_step"), 30);
  EXPECT_EQ(f.root().read<double>("result/x"), read_vec(out("damaged_straight"), "result/x"));
  EXPECT_EQ(f.root().read<std::int64_t>("metrics/step"), (std::vector<std::int64_t>{0, 10, 20, 30, 40}));
  // The damaged files were moved aside, not deleted, and no longer shadow the new checkpoints.
  EXPECT_TRUE(fs::exists(ck + "/step_35.h5.refused"));
  EXPECT_TRUE(fs::exists(ck + "/step_38.h5.refused"));
  EXPECT_TRUE(fs::exists(ck + "/step_30.h5"));
  EXPECT_EQ(store.inspect(ck + "/step_40.h5", 40).find("unreadable"), std::string::npos);
}

// With flush_interval = 0 the run file's /metrics are refreshed every step, so a run stopped by a
// signal (and no checkpoint cadence) already shows every logged row to a user reading the file.
TEST(Driver, MetricsReachTheRunFileBeforeTheEnd) {
  const std::string d = deck("flush", "flush_interval = 0.0");
  ASSERT_EQ(run_interrupted({"run", d, "selftest.step_delay=0.02", "run.log_every=1", "--quiet"}, 400), kExitStopped);
  if (!world().is_root()) return;
  h5::File f = h5::File::open(out("flush"), h5::File::Mode::ReadOnly);
  const auto steps = f.root().read<std::int64_t>("metrics/step");
  ASSERT_GE(steps.size(), 3u);
  for (std::size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], static_cast<std::int64_t>(i));
  EXPECT_EQ(f.root().read<double>("metrics/distance").size(), steps.size());
  EXPECT_EQ(f.root().read_attr<std::int64_t>("completed"), 0);
}

TEST(Driver, CheckpointsOfAnotherDeckAreRefusedUnlessRestartIsNo) {
  const std::string d = deck("other", "checkpoint_every = 20");
  ASSERT_EQ(run({"run", d, "--quiet"}), kExitDone);
  EXPECT_EQ(run({"run", d, "selftest.lr=0.2", "--quiet"}), kExitBadInput);
  EXPECT_EQ(run({"run", d, "run.checkpoint_every=5", "run.log_every=20", "--quiet"}), kExitDone);  // restart-neutral keys
  EXPECT_EQ(run({"run", d, "selftest.lr=0.2", "run.restart=no", "--quiet"}), kExitDone);
}

TEST(Driver, DeckDifferencesNameTheirTable) {
  EXPECT_EQ(first_difference("[run]\nsteps = 3\n[selftest]\nlr = 0.2\n", "[run]\nsteps = 3\n[selftest]\nlr = 0.3\n"),
            "checkpoint has 'selftest.lr = 0.2', deck has 'selftest.lr = 0.3'");
  EXPECT_EQ(first_difference("[run]\nsteps = 3\n", "[run]\nsteps = 3\n"), "");
}

TEST(Driver, CommandLineErrorsAreBadInput) {
  EXPECT_EQ(run({}), kExitBadInput);
  EXPECT_EQ(run({"fly"}), kExitBadInput);
  EXPECT_EQ(run({"run"}), kExitBadInput);
  EXPECT_EQ(run({"run", "missing.toml"}), kExitBadInput);
  EXPECT_EQ(run({"check", deck("cli"), "--frobnicate"}), kExitBadInput);
  EXPECT_EQ(run({"check", deck("cli"), "run.steps=-3"}), kExitBadInput);
  EXPECT_EQ(run({"check", deck("cli"), "parallel.layer=" + std::to_string(world().size() + 1)}), kExitBadInput);
  EXPECT_EQ(run({"check", deck("cli")}), kExitDone);
}

namespace {

// Flips bytes in the middle of the first chunk of `dataset` in the HDF5 file `path` (serial).
void corrupt_first_chunk(const std::string& path, const std::string& dataset) {
  haddr_t address = 0;
  hsize_t size = 0;
  {
    h5::File f = h5::File::open(path, h5::File::Mode::ReadOnly);
    const hid_t d = H5Dopen2(f.root().id(), dataset.c_str(), H5P_DEFAULT);
    ASSERT_GE(d, 0);
    const hid_t space = H5Dget_space(d);
    hsize_t offset[1] = {0};
    unsigned mask = 0;
    ASSERT_GE(H5Dget_chunk_info(d, space, 0, offset, &mask, &address, &size), 0) << "not chunked: " << dataset;
    H5Sclose(space);
    H5Dclose(d);
    f.close();
  }
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  for (hsize_t i = size / 2; i < size / 2 + 4; ++i) {
    file.seekg(static_cast<std::streamoff>(address + i));
    const char c = static_cast<char>(file.get() ^ 0x5a);
    file.seekp(static_cast<std::streamoff>(address + i));
    file.put(c);
  }
}

}  // namespace

// Checkpoint datasets carry Fletcher32 checksums: data changed on disk (signatures intact) is found
// before the restart reads it, the file is moved aside and the previous checkpoint used.
TEST(Driver, CorruptCheckpointDataFallsBackToThePreviousCheckpoint) {
  const std::string d = deck("corrupt", "checkpoint_every = 10\ncheckpoint_keep = 3");
  ASSERT_EQ(run({"run", d, "run.name=corrupt_straight", "--quiet"}), kExitDone);
  ASSERT_EQ(run({"run", d, "run.name=corrupt", "--quiet"}), kExitDone);
  const std::string ck = dir() + "/out/corrupt.ckpt";
  if (world().is_root()) {
    corrupt_first_chunk(ck + "/step_40.h5", "state/x");
    fs::remove(out("corrupt"));
  }
  world().barrier();
  ASSERT_EQ(run({"run", d, "run.name=corrupt", "--quiet"}), kExitDone);
  if (!world().is_root()) return;
  EXPECT_TRUE(fs::exists(ck + "/step_40.h5.refused"));
  h5::File f = h5::File::open(out("corrupt"), h5::File::Mode::ReadOnly);
  EXPECT_EQ(f.root().read_attr<std::int64_t>("restarted_from_step"), 30);
  EXPECT_EQ(f.root().read<double>("result/x"), read_vec(out("corrupt_straight"), "result/x"));
}
