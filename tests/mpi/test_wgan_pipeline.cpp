// wgan's layer-parallel mode (docs/workloads/wgan.md, "Pipeline"): at P = 1, 2, 3 (and 4) ranks,
// one training step with parallel.layer = P (P = 1: micro-batching alone) and m = 1, 2, 4
// micro-batches under both schedules gives the parameters of the unpipelined step on one rank
// within 1e-12 (relative, float64) for every optimiser; 2-stage pipelines in P/2 replicas equal
// P/2 unpipelined replicas after 20 steps; a checkpoint written at one layout continues at another
// as the uninterrupted run; bad layouts exit 2 naming the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/driver.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "mpi/driver_test_support.hpp"

using namespace saddle::engine;
using namespace saddle::testing;

namespace {

const Scratch scratch("wgan_pipeline");

// Ring nets of 4 layers each (2-16-16-16-2 / 2-16-16-16-1), batch 8 per replica, 2 critic steps.
std::string deck(const std::string& name) {
  return run_deck(name, "wgan",
                  "steps = 1\nlog_every = 1\n[wgan]\nbatch = 8\nlr = 1e-3\nn_critic = 2\neval_samples = 64\nswd_projections = 4\n"
                  "[wgan.generator]\nwidths = [16, 16, 16]\n[wgan.critic]\nwidths = [16, 16, 16]\n");
}

std::vector<double> read(const std::string& file, const std::string& name) {
  h5::File f = h5::File::open(file, h5::File::Mode::ReadOnly);
  return f.root().read<double>(name);
}

// |a - b| / |b| (2-norms).
double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0, n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    n += b[i] * b[i];
  }
  return std::sqrt(d / n);
}

// Every rank runs `args` on `comm` when `member`, then all wait.
void run_on(const Comm& comm, bool member, const std::vector<std::string>& args) {
  if (member) {
    EXPECT_EQ(execute(comm, args), kExitDone) << args[3];
  }
  world().barrier();
}

struct Optimiser {
  std::string name;
  std::vector<std::string> overrides;
};
// The unquantised ones allreduce in float64: the float32 wire format would round gradients that
// agree to 1e-15 to floats that may differ in their last bit (compared across layouts below).
const std::vector<Optimiser> kOptimisers = {
    {"gda", {"wgan.optimizer=\"gda\"", "wgan.exchange.precision=\"float64\""}},
    // Adam divides by sqrt(v) + eps: on a coordinate whose gradient is about eps, the rounding of
    // the gradient (micro-batches change the summation order) is amplified by lr / eps (1e5 at
    // the default 1e-8); eps = 1e-6 keeps that inside the tolerance. gda, eg and qoda show that
    // the gradients themselves agree to the last bits.
    {"adam", {"wgan.optimizer=\"adam\"", "wgan.eps=1e-6", "wgan.exchange.precision=\"float64\""}},
    {"oadam", {"wgan.optimizer=\"optimistic_adam\"", "wgan.eps=1e-6", "wgan.exchange.precision=\"float64\""}},
    {"eg", {"wgan.optimizer=\"extragradient\"", "wgan.schedule=\"simultaneous\"", "wgan.n_critic=1", "wgan.exchange.precision=\"float64\""}},
    {"qoda", {"wgan.optimizer=\"qoda\"", "wgan.exchange.quantizer=\"layerwise\""}},
    {"qoda_adaptive", {"wgan.optimizer=\"qoda\"", "wgan.exchange.quantizer=\"layerwise\"", "wgan.exchange.levels=\"adaptive\"", "wgan.exchange.coder=\"huffman\"", "wgan.exchange.adapt_every=1",
                       "wgan.rates.schedule=\"adaptive\"", "wgan.lr=0.05"}},
};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

}  // namespace

TEST(WganPipeline, OneStepEqualsTheUnpipelinedStep) {
  const int P = world().size();
  const Comm solo = world().split(world().rank() == 0 ? 0 : 1, world().rank());
  const std::string d = deck("onestep");
  for (const auto& opt : kOptimisers) {
    run_on(solo, world().rank() == 0, with({"run", d, "--quiet", "run.name=\"ref_" + opt.name + "\""}, opt.overrides));
    for (const auto& [m, sched] : std::vector<std::pair<int, std::string>>{{1, "1f1b"}, {1, "gpipe"}, {2, "1f1b"}, {2, "gpipe"}, {4, "1f1b"}, {4, "gpipe"}}) {
      if (P == 1 && m == 1) continue;  // that is the reference
      const std::string name = "pipe_" + opt.name + "_" + std::to_string(m) + sched;
      run_on(world(), true,
             with({"run", d, "--quiet", "run.name=\"" + name + "\"", "parallel.layer=" + std::to_string(P), "parallel.micro_batches=" + std::to_string(m),
                   "parallel.schedule=\"" + sched + "\""},
                  opt.overrides));
      if (!world().is_root()) continue;
      const std::string ref = out("ref_" + opt.name), got = out(name);
      for (const char* k : {"result/generator_params", "result/critic_params"})
        EXPECT_LT(rel_diff(read(got, k), read(ref, k)), 1e-12) << name << " " << k;
      for (const char* k : {"metrics/wasserstein", "metrics/gradient_penalty"})
        EXPECT_LT(rel_diff(read(got, k), read(ref, k)), 1e-12) << name << " " << k;
      EXPECT_EQ(read(got, "metrics/replica_spread").back(), 0.0) << name;
    }
  }
}

TEST(WganPipeline, DataTimesLayerEqualsDataTimesOne) {
  const int P = world().size();
  if (P % 2 != 0) GTEST_SKIP() << "needs an even rank count (2 data x 2 layer at 4 ranks)";
  const Comm half = world().split(world().rank() < P / 2 ? 0 : 1, world().rank());
  const std::string d = deck("dxl");
  for (const auto& opt : kOptimisers) {
    if (opt.name != "adam" && opt.name != "gda" && opt.name != "qoda_adaptive") continue;
    const std::vector<std::string> base = with({"run", d, "--quiet", "run.steps=20", "run.log_every=10"}, opt.overrides);
    run_on(half, world().rank() < P / 2, with(base, {"run.name=\"dx1_" + opt.name + "\""}));
    run_on(world(), true, with(base, {"run.name=\"dx2_" + opt.name + "\"", "parallel.layer=2"}));
    if (!world().is_root()) continue;
    for (const char* k : {"result/generator_params", "result/critic_params", "metrics/swd"})
      EXPECT_LT(rel_diff(read(out("dx2_" + opt.name), k), read(out("dx1_" + opt.name), k)), 1e-12) << opt.name << " " << k;
  }
}

// A checkpoint of step 20 at one layout, continued to step 40 at another, ends where the
// uninterrupted run at the second layout ends (both directions between P stages and 1).
TEST(WganPipeline, RestartAcrossLayoutsContinuesTheRun) {
  const int P = world().size();
  if (P == 1) GTEST_SKIP() << "needs 2 or more ranks";
  const Comm solo = world().split(world().rank() == 0 ? 0 : 1, world().rank());
  const std::string d = deck("relayout");
  struct Layout {
    const Comm* comm;
    bool member;
    std::vector<std::string> args;
    std::string tag;
  };
  const Layout piped{&world(), true, {"parallel.layer=" + std::to_string(P), "parallel.micro_batches=2"}, "L" + std::to_string(P)};
  const Layout flat{&solo, world().rank() == 0, {}, "L1"};
  for (const auto& opt : kOptimisers) {
    if (opt.name != "adam" && opt.name != "qoda_adaptive") continue;
    const std::vector<std::string> base = with({"run", d, "--quiet", "run.steps=40", "run.log_every=10", "run.checkpoint_every=20"}, opt.overrides);
    for (const auto& [from, to] : {std::pair<const Layout*, const Layout*>{&piped, &flat}, {&flat, &piped}}) {
      const std::string straight = "straight_" + opt.name + "_" + to->tag, moved = "moved_" + opt.name + "_" + from->tag + "_" + to->tag;
      run_on(*to->comm, to->member, with(with(base, to->args), {"run.name=\"" + straight + "\""}));
      run_on(*from->comm, from->member, with(with(base, from->args), {"run.name=\"" + moved + "\""}));
      if (world().is_root()) std::filesystem::remove(dir() + "/out/" + moved + ".ckpt/step_40.h5");
      world().barrier();
      run_on(*to->comm, to->member, with(with(base, to->args), {"run.name=\"" + moved + "\""}));
      if (!world().is_root()) continue;
      h5::File f = h5::File::open(out(moved), h5::File::Mode::ReadOnly);
      EXPECT_EQ(f.root().read_attr<std::int64_t>("restarted_from_step"), 20) << moved;
      // (Not bytes_total: each stage's payload has its own header, so bytes depend on the layout.)
      for (const char* k : {"result/generator_params", "result/critic_params", "metrics/swd", "metrics/wasserstein"})
        EXPECT_LT(rel_diff(read(out(moved), k), read(out(straight), k)), 1e-10) << moved << " " << k;
    }
  }
}

TEST(WganPipeline, BadLayoutsExitTwo) {
  const int P = world().size();
  const std::string d = deck("bad"), L = "parallel.layer=" + std::to_string(P);
  EXPECT_EQ(run({"run", d, "--quiet", L, "parallel.micro_batches=3"}), kExitBadInput);  // 3 does not divide the batch of 8
  std::string five = "[5";
  for (int s = 1; s < P; ++s) five += ", 5";
  EXPECT_EQ(run({"run", d, "--quiet", L, "parallel.stage_layers=" + five + "]"}), kExitBadInput);  // sums to 5 P, not 4
  if (P > 2) {  // more stages than the 2 layers of each network
    EXPECT_EQ(run({"run", d, "--quiet", L, "wgan.critic.widths=[16]", "wgan.generator.widths=[16]"}), kExitBadInput);
  }
}
