#include "engine/pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "engine/error.hpp"
#include "engine/fault_injection.hpp"
#include "engine/runtime.hpp"

namespace saddle::engine {

PipelineSchedule parse_pipeline_schedule(const std::string& name) {
  if (name == "gpipe") return PipelineSchedule::GPipe;
  if (name == "1f1b") return PipelineSchedule::OneFOneB;
  throw std::invalid_argument("unknown pipeline schedule '" + name + "' (gpipe or 1f1b)");
}

PipelinePlan::PipelinePlan(PipelineSchedule schedule, int stages, int micro_batches, std::vector<PipelinePass> passes, int window)
    : schedule_(schedule), stages_(stages), micro_(micro_batches), passes_(std::move(passes)) {
  if (stages < 1) throw std::invalid_argument("PipelinePlan: stages must be >= 1");
  if (micro_batches < 1 || micro_batches > kMaxMicroBatches)
    throw std::invalid_argument("PipelinePlan: micro-batches must be in [1, " + std::to_string(kMaxMicroBatches) + "]");
  if (passes_.empty() || passes_.size() > static_cast<std::size_t>(kMaxPasses))
    throw std::invalid_argument("PipelinePlan: 1 to " + std::to_string(kMaxPasses) + " passes");
  for (const auto& p : passes_)
    if ((p.direction != 1 && p.direction != -1) || !(p.cost > 0)) throw std::invalid_argument("PipelinePlan: pass '" + p.name + "' needs direction +-1 and a cost > 0");
  if (schedule == PipelineSchedule::GPipe || window > 0) {
    simulate(schedule == PipelineSchedule::GPipe ? 0 : window);
    return;
  }
  // 1f1b: the smallest window (>= L) whose efficiency is within 1 % of fill-drain's. With two
  // passes that is L (the classic 1F1B); passes that alternate direction more often keep a
  // micro-batch on a stage for several round trips and need a wider one.
  simulate(0);
  const double target = efficiency_ - 0.01;
  for (int w = std::min(stages, micro_batches); w <= micro_batches; ++w) {
    simulate(w);
    if (efficiency_ >= target) break;
  }
}

void PipelinePlan::simulate(int window) {
  const int L = stages_, m = micro_, K = static_cast<int>(passes_.size());
  const bool limited = window > 0;  // 1f1b: latest pass first, at most `window` in flight
  // Finish time of op (k, j) on stage s once scheduled (< 0: not yet).
  std::vector<double> done(static_cast<std::size_t>(K) * static_cast<std::size_t>(m) * static_cast<std::size_t>(L), -1.0);
  const auto at = [&](int k, int j, int s) -> double& {
    return done[(static_cast<std::size_t>(k) * static_cast<std::size_t>(m) + static_cast<std::size_t>(j)) * static_cast<std::size_t>(L) + static_cast<std::size_t>(s)];
  };
  std::vector<std::vector<int>> next(static_cast<std::size_t>(L), std::vector<int>(static_cast<std::size_t>(m), 0));
  std::vector<std::vector<int>> slot_of(static_cast<std::size_t>(L), std::vector<int>(static_cast<std::size_t>(m), -1));
  std::vector<std::vector<char>> used(static_cast<std::size_t>(L));
  std::vector<int> in_flight(static_cast<std::size_t>(L), 0), lowest(static_cast<std::size_t>(L), 0);
  std::vector<double> free_at(static_cast<std::size_t>(L), 0.0), busy(static_cast<std::size_t>(L), 0.0);
  programs_.assign(static_cast<std::size_t>(L), {});
  slots_.assign(static_cast<std::size_t>(L), 0);

  std::size_t remaining = done.size();
  double t = 0;
  bool relax = false;  // admit past the window when nothing else can run (a safety net)
  while (remaining > 0) {
    bool started = false;
    for (int s = 0; s < L; ++s) {
      const auto su = static_cast<std::size_t>(s);
      if (free_at[su] > t) continue;
      auto& nx = next[su];
      while (lowest[su] < m && nx[static_cast<std::size_t>(lowest[su])] >= K) ++lowest[su];
      int bk = -1, bj = -1;
      // Micro-batches below `lowest` are done here; pass 0 runs in micro-batch order on every
      // stage, so the scan stops after the first one not yet started.
      for (int j = lowest[su]; j < m; ++j) {
        const int k = nx[static_cast<std::size_t>(j)];
        if (k >= K) continue;
        const bool fresh = k == 0;
        const int p = s - passes_[static_cast<std::size_t>(k)].direction;
        const bool ready = (k == 0 || (at(k - 1, j, s) >= 0 && at(k - 1, j, s) <= t)) && (p < 0 || p >= L || (at(k, j, p) >= 0 && at(k, j, p) <= t)) &&
                           !(fresh && limited && !relax && in_flight[su] >= window);
        if (ready) {
          const bool better = bk < 0 || (limited ? (k > bk || (k == bk && j < bj)) : (k < bk || (k == bk && j < bj)));
          if (better) bk = k, bj = j;
        }
        if (fresh) break;
      }
      if (bk < 0) continue;
      const auto ju = static_cast<std::size_t>(bj);
      if (bk == 0) {
        auto& u = used[su];
        const auto free_slot = std::find(u.begin(), u.end(), char{0});
        const auto slot = static_cast<int>(free_slot - u.begin());
        if (free_slot == u.end()) u.push_back(1);
        else *free_slot = 1;
        slot_of[su][ju] = slot;
        slots_[su] = std::max(slots_[su], slot + 1);
        ++in_flight[su];
      }
      const double cost = passes_[static_cast<std::size_t>(bk)].cost;
      at(bk, bj, s) = t + cost;
      programs_[su].push_back({bk, bj, slot_of[su][ju]});
      if (bk == K - 1) {
        used[su][static_cast<std::size_t>(slot_of[su][ju])] = 0;
        --in_flight[su];
      }
      ++nx[ju];
      free_at[su] = t + cost;
      busy[su] += cost;
      --remaining;
      started = true;
    }
    double nt = std::numeric_limits<double>::infinity();
    for (double f : free_at)
      if (f > t) nt = std::min(nt, f);
    if (nt == std::numeric_limits<double>::infinity()) {
      if (started || remaining == 0) continue;
      if (limited && !relax) {
        relax = true;
        continue;
      }
      throw std::logic_error("PipelinePlan: the schedule cannot proceed");
    }
    t = nt;
    relax = false;
  }
  makespan_ = *std::max_element(free_at.begin(), free_at.end());
  efficiency_ = *std::max_element(busy.begin(), busy.end()) / makespan_;
  window_ = window;
}

int PipelinePlan::max_slots() const { return *std::max_element(slots_.begin(), slots_.end()); }

Pipeline::Pipeline(const Comm& stages) : comm_(stages) {
  epoch_ = comm_.bcast_value(MPI_Wtime(), 0);
}

int Pipeline::neighbour(const PipelineOp& op, bool next) const {
  if (!plan_) throw std::logic_error("Pipeline: send and recv belong inside run()");
  const int dir = plan_->passes().at(static_cast<std::size_t>(op.pass)).direction;
  const int s = stage() + (next ? dir : -dir);
  if (s < 0 || s >= stages())
    throw std::logic_error("Pipeline: stage " + std::to_string(stage()) + " has no " + (next ? "next" : "previous") + " stage in pass '" +
                           plan_->passes()[static_cast<std::size_t>(op.pass)].name + "'");
  return s;
}

void Pipeline::reap(bool all) {
  while (!pending_.empty()) {
    Pending& p = pending_.front();
    if (all) {
      MPI_Wait(&p.request, MPI_STATUS_IGNORE);
    } else {
      int flag = 0;
      MPI_Test(&p.request, &flag, MPI_STATUS_IGNORE);
      if (!flag) return;
    }
    if (spare_.size() < 64) spare_.push_back(std::move(p.buffer));
    pending_.pop_front();
  }
}

void Pipeline::send_bytes(const PipelineOp& op, const void* data, std::size_t bytes) {
  const int dest = neighbour(op, true);
  if (bytes > static_cast<std::size_t>(std::numeric_limits<int>::max())) throw std::length_error("Pipeline::send: message over 2 GiB");
  reap(false);
  Pending p;
  if (!spare_.empty()) {
    p.buffer = std::move(spare_.back());
    spare_.pop_back();
  }
  p.buffer.resize(bytes);
  if (bytes) std::memcpy(p.buffer.data(), data, bytes);
  MPI_Isend(p.buffer.data(), static_cast<int>(bytes), MPI_BYTE, dest, tag(op), comm_.raw(), &p.request);
  pending_.push_back(std::move(p));
  bytes_ += bytes;
}

void Pipeline::recv_bytes(const PipelineOp& op, void* data, std::size_t bytes) {
  const int source = neighbour(op, false);
  if (bytes > static_cast<std::size_t>(std::numeric_limits<int>::max())) throw std::length_error("Pipeline::recv: message over 2 GiB");
  MPI_Status status;
  MPI_Recv(data, static_cast<int>(bytes), MPI_BYTE, source, tag(op), comm_.raw(), &status);
  int got = 0;
  MPI_Get_count(&status, MPI_BYTE, &got);
  if (static_cast<std::size_t>(got) != bytes)
    throw std::logic_error("Pipeline: received " + std::to_string(got) + " bytes from stage " + std::to_string(source) + ", expected " +
                           std::to_string(bytes));
  received_at_ = MPI_Wtime();
}

void Pipeline::run(const PipelinePlan& plan, const std::function<void(const PipelineOp&)>& fn, bool timed) {
  if (plan.stages() != stages()) throw std::logic_error("Pipeline::run: the plan has another stage count");
  plan_ = &plan;
  const double w0 = MPI_Wtime();
  for (const PipelineOp& op : plan.program(stage())) {
    const double t0 = MPI_Wtime();
    received_at_ = t0;
    try {
      fault_point("stage");
      fn(op);
    } catch (const std::exception& e) {
      abort_all("pipeline stage " + std::to_string(stage()) + " of " + std::to_string(stages()) + " (pass '" +
                    plan.passes()[static_cast<std::size_t>(op.pass)].name + "', micro-batch " + std::to_string(op.micro) + "): " + e.what(),
                exit_code_of(e));
    }
    // The op is busy from its last receive on (the wait before it is idle time).
    if (!timed) continue;
    const double t1 = MPI_Wtime();
    busy_ += t1 - received_at_;
    if (recording_) timeline_.push_back({runs_, op.pass, op.micro, received_at_ - epoch_, t1 - epoch_});
  }
  reap(true);
  plan_ = nullptr;
  if (timed) {
    wall_ += MPI_Wtime() - w0;
    ++runs_;
  }
}

std::vector<std::int64_t> balance_layers(const std::vector<double>& cost, int parts) {
  const auto n = static_cast<int>(cost.size());
  if (parts < 1 || parts > n) throw std::invalid_argument("balance_layers: " + std::to_string(parts) + " groups of " + std::to_string(n) + " layers");
  std::vector<double> prefix(static_cast<std::size_t>(n) + 1, 0.0);
  for (int i = 0; i < n; ++i) prefix[static_cast<std::size_t>(i) + 1] = prefix[static_cast<std::size_t>(i)] + cost[static_cast<std::size_t>(i)];
  const double inf = std::numeric_limits<double>::infinity();
  // best[q][i]: the smallest largest group cost of the first i layers in q groups; cut[q][i] the
  // start of the last group.
  std::vector<std::vector<double>> best(static_cast<std::size_t>(parts) + 1, std::vector<double>(static_cast<std::size_t>(n) + 1, inf));
  std::vector<std::vector<int>> cut(static_cast<std::size_t>(parts) + 1, std::vector<int>(static_cast<std::size_t>(n) + 1, 0));
  best[0][0] = 0;
  for (int q = 1; q <= parts; ++q)
    for (int i = q; i <= n; ++i)
      for (int c = q - 1; c < i; ++c) {
        const double v = std::max(best[static_cast<std::size_t>(q) - 1][static_cast<std::size_t>(c)],
                                  prefix[static_cast<std::size_t>(i)] - prefix[static_cast<std::size_t>(c)]);
        if (v < best[static_cast<std::size_t>(q)][static_cast<std::size_t>(i)]) {
          best[static_cast<std::size_t>(q)][static_cast<std::size_t>(i)] = v;
          cut[static_cast<std::size_t>(q)][static_cast<std::size_t>(i)] = c;
        }
      }
  std::vector<std::int64_t> counts(static_cast<std::size_t>(parts));
  for (int q = parts, i = n; q > 0; --q) {
    const int c = cut[static_cast<std::size_t>(q)][static_cast<std::size_t>(i)];
    counts[static_cast<std::size_t>(q) - 1] = i - c;
    i = c;
  }
  return counts;
}

}  // namespace saddle::engine
