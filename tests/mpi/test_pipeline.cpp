// engine/pipeline: the plans (every op once, dependencies respected in simulated order, GPipe's
// m slots and 1F1B's <= L, the ideal efficiency m / (m + L - 1) of two equal passes), and at 1, 2
// and 3 ranks (all stages of one replica) the runtime: values carried through every pass of
// every micro-batch arrive intact and in order for m = 1, m < L, m = L, m > L, both schedules,
// passes in both directions (no deadlock), plus balance_layers and gather_parts.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <numeric>
#include <set>
#include <tuple>
#include <vector>

#include "engine/comm.hpp"
#include "engine/pipeline.hpp"

using namespace saddle::engine;

namespace {

std::vector<PipelinePass> snake(int passes) {
  std::vector<PipelinePass> p;
  for (int k = 0; k < passes; ++k) p.push_back({"pass" + std::to_string(k), k % 2 == 0 ? +1 : -1, 1.0 + 0.5 * (k % 3)});
  return p;
}

// The value op (k, j) holds on stage s: the chain over the snake of passes.
std::uint64_t expected(const std::vector<PipelinePass>& passes, int L, int k, int j, int s) {
  std::uint64_t h = static_cast<std::uint64_t>(j) + 1;
  for (int q = 0; q <= k; ++q) {
    const int dir = passes[static_cast<std::size_t>(q)].direction;
    for (int step = 0; step < L; ++step) {
      const int stage = dir > 0 ? step : L - 1 - step;
      h = h * 1000003u + static_cast<std::uint64_t>(q * 31 + stage);
      if (q == k && stage == s) return h;
    }
  }
  return 0;
}

}  // namespace

TEST(PipelinePlan, ProgramsCoverEveryOpInADependencyOrder) {
  for (auto sched : {PipelineSchedule::GPipe, PipelineSchedule::OneFOneB})
    for (int L : {1, 2, 3, 4, 6})
      for (int m : {1, 2, 3, 4, 5, 8, 16})
        for (int K : {1, 2, 4, 5}) {
          const auto passes = snake(K);
          const PipelinePlan plan(sched, L, m, passes);
          // Replay the programs with the dependency rule: an op may run once its inputs ran; the
          // programs must never all be blocked (no deadlock) and must hold each op once.
          std::vector<std::size_t> pc(static_cast<std::size_t>(L), 0);
          std::set<std::tuple<int, int, int>> ran;
          std::size_t total = 0;
          for (int s = 0; s < L; ++s) total += plan.program(s).size();
          ASSERT_EQ(total, static_cast<std::size_t>(L * m * K));
          while (ran.size() < total) {
            bool progress = false;
            for (int s = 0; s < L; ++s) {
              const auto& prog = plan.program(s);
              auto& i = pc[static_cast<std::size_t>(s)];
              while (i < prog.size()) {
                const auto& op = prog[i];
                const int prev = s - passes[static_cast<std::size_t>(op.pass)].direction;
                const bool ready = (op.pass == 0 || ran.count({op.pass - 1, op.micro, s})) &&
                                   (prev < 0 || prev >= L || ran.count({op.pass, op.micro, prev}));
                if (!ready) break;
                ASSERT_TRUE(ran.insert({op.pass, op.micro, s}).second) << "op twice";
                ASSERT_LT(op.slot, plan.slots(s));
                ++i;
                progress = true;
              }
            }
            ASSERT_TRUE(progress) << "deadlock: L=" << L << " m=" << m << " K=" << K;
          }
          if (K == 1) EXPECT_EQ(plan.max_slots(), 1);  // a one-pass micro-batch leaves nothing behind
          else if (sched == PipelineSchedule::GPipe) EXPECT_EQ(plan.max_slots(), m);
          else EXPECT_LE(plan.max_slots(), plan.window());
          if (sched == PipelineSchedule::OneFOneB) {
            EXPECT_GE(plan.window(), std::min(m, L));
            EXPECT_LE(plan.window(), m);
            // Within 1 % of fill-drain's efficiency, unless the window is already every micro-batch.
            if (plan.window() < m) {
              EXPECT_GE(plan.ideal_efficiency(), PipelinePlan(PipelineSchedule::GPipe, L, m, passes).ideal_efficiency() - 0.01);
            }
          }
        }
}

TEST(PipelinePlan, IdealEfficiencyOfTwoEqualPasses) {
  for (auto sched : {PipelineSchedule::GPipe, PipelineSchedule::OneFOneB})
    for (int L : {1, 2, 3, 4})
      for (int m : {1, 2, 4, 8, 16}) {
        const PipelinePlan plan(sched, L, m, {{"forward", +1, 1.0}, {"backward", -1, 1.0}});
        EXPECT_NEAR(plan.ideal_efficiency(), static_cast<double>(m) / (m + L - 1), 1e-12) << "L=" << L << " m=" << m;
      }
}

// Two passes: 1F1B keeps at most L micro-batches in flight per stage (the first stage exactly L,
// the last one), against GPipe's m, at GPipe's efficiency m / (m + L - 1).
TEST(PipelinePlan, OneFOneBOfTwoPassesKeepsAtMostLInFlight) {
  for (int L : {2, 3, 4})
    for (int m : {L, 2 * L, 4 * L}) {
      const PipelinePlan plan(PipelineSchedule::OneFOneB, L, m, {{"forward", +1, 1.0}, {"backward", -1, 2.0}});
      EXPECT_EQ(plan.window(), L);
      EXPECT_EQ(plan.slots(0), L);
      EXPECT_EQ(plan.slots(L - 1), 1);
      for (int s = 0; s < L; ++s) EXPECT_LE(plan.slots(s), L) << "L=" << L << " m=" << m << " stage " << s;
      EXPECT_NEAR(plan.ideal_efficiency(), static_cast<double>(m) / (m + L - 1), 1e-12);
    }
}

TEST(PipelinePlan, RefusesBadShapes) {
  EXPECT_THROW(PipelinePlan(PipelineSchedule::GPipe, 0, 1, snake(2)), std::invalid_argument);
  EXPECT_THROW(PipelinePlan(PipelineSchedule::GPipe, 2, 0, snake(2)), std::invalid_argument);
  EXPECT_THROW(PipelinePlan(PipelineSchedule::GPipe, 2, 2, {}), std::invalid_argument);
  EXPECT_THROW(PipelinePlan(PipelineSchedule::GPipe, 2, 2, {{"x", 0, 1.0}}), std::invalid_argument);
  EXPECT_THROW(parse_pipeline_schedule("zigzag"), std::invalid_argument);
}

TEST(Pipeline, CarriesEveryMicroBatchThroughEveryPass) {
  const Comm world;
  const int L = world.size();
  Pipeline pipe(world);
  for (auto sched : {PipelineSchedule::GPipe, PipelineSchedule::OneFOneB})
    for (int m : {1, 2, L, L + 1, 2 * L + 1, 8})
      for (int K : {2, 4, 5}) {
        const auto passes = snake(K);
        const PipelinePlan plan(sched, L, m, passes);
        std::map<std::pair<int, int>, std::uint64_t> held;  // (pass, micro) -> value on this stage
        std::vector<std::uint64_t> message(3);
        pipe.run(plan, [&](const PipelineOp& op) {
          const int dir = passes[static_cast<std::size_t>(op.pass)].direction;
          std::uint64_t h;
          if (!pipe.first(dir)) {
            pipe.recv(op, message.data(), message.size());
            EXPECT_EQ(message[0], static_cast<std::uint64_t>(op.pass));
            EXPECT_EQ(message[1], static_cast<std::uint64_t>(op.micro));
            h = message[2];
          } else {
            h = op.pass == 0 ? static_cast<std::uint64_t>(op.micro) + 1 : held.at({op.pass - 1, op.micro});
          }
          h = h * 1000003u + static_cast<std::uint64_t>(op.pass * 31 + pipe.stage());
          held[{op.pass, op.micro}] = h;
          if (!pipe.last(dir)) {
            message = {static_cast<std::uint64_t>(op.pass), static_cast<std::uint64_t>(op.micro), h};
            pipe.send(op, message.data(), message.size());
          }
        });
        for (int k = 0; k < K; ++k)
          for (int j = 0; j < m; ++j) EXPECT_EQ(held.at({k, j}), expected(passes, L, k, j, pipe.stage())) << "k=" << k << " j=" << j;
      }
  EXPECT_GT(pipe.run_seconds(), 0.0);
}

TEST(Pipeline, BalanceLayersMinimisesTheLargestGroup) {
  EXPECT_EQ(balance_layers({1, 1, 1, 1}, 2), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(balance_layers({0.06, 1, 1, 1, 1, 0.06}, 2), (std::vector<std::int64_t>{3, 3}));
  EXPECT_EQ(balance_layers({5, 1, 1, 1, 1, 1}, 2), (std::vector<std::int64_t>{1, 5}));
  EXPECT_EQ(balance_layers({1, 2, 3}, 3), (std::vector<std::int64_t>{1, 1, 1}));
  EXPECT_THROW(balance_layers({1, 2}, 3), std::invalid_argument);
  EXPECT_THROW(balance_layers({1, 2}, 0), std::invalid_argument);
}

TEST(Pipeline, GatherPartsPlacesEachStagesPart) {
  const Comm world;
  const int r = world.rank(), P = world.size();
  // Stage r holds elements [3 (P - 1 - r), 3 (P - r)) (reversed placement, as wgan's critic).
  const std::int64_t offset = 3 * (P - 1 - r);
  std::vector<double> part = {offset + 0.0, offset + 1.0, offset + 2.0};
  const auto whole = gather_parts(world, part, offset, 3 * P);
  std::vector<double> want(static_cast<std::size_t>(3 * P));
  std::iota(want.begin(), want.end(), 0.0);
  EXPECT_EQ(whole, want);
}
