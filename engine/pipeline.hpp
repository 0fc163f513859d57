#pragma once
// Layer (pipeline) parallelism on the `layer` communicator of the ProcessGrid (docs/design.md,
// "Pipeline"), not tied to any workload:
// - PipelinePlan: the schedule. One pipelined evaluation is a sequence of passes, each a sweep
//   over the L stages in a direction (+1: stage 0 first, -1: stage L-1 first), run for m
//   micro-batches. Op (k, j) on a stage needs op (k - 1, j) on the same stage and op (k, j) on
//   the stage before it in pass k's direction. The plan simulates the schedule with the passes'
//   relative costs and fixes each stage's program (its ops in order) and the workspace slot of
//   every micro-batch on every stage:
//     gpipe  fill-drain: every micro-batch's pass k before any pass k + 1 (m slots per stage);
//     1f1b   a stage prefers the ready op of the latest pass (finishes micro-batches first) and
//            admits a new micro-batch only while fewer than W are in flight on it (W slots): W
//            is given, or the smallest W >= L whose simulated efficiency is within 1 % of
//            gpipe's (L for two passes, the classic 1F1B; about 2L for wgan's five passes).
//   Each program is the simulated order of its stage, so all programs follow one topological
//   order of the ops: whatever the real durations, the earliest unfinished op can always run,
//   and with non-blocking sends no stage waits on a neighbour that waits on it (any m, any L).
// - Pipeline: runs a stage's program. send() copies the payload into a buffer of its own and
//   posts MPI_Isend to the next stage of the op's pass; recv() receives from the previous one.
//   Messages are tagged by (pass, micro-batch), so none can match another op's receive. An
//   exception inside an op aborts every rank with its message (the neighbours would wait for the
//   stage's messages forever). The op spans are timed (busy time, and a timeline when recording).
// - balance_layers: contiguous groups of layers with the smallest largest cost.
// - gather_parts: a vector's whole from the stages' parts (checkpoints in the global layout).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include <Kokkos_Core.hpp>

#include "engine/comm.hpp"
#include "kernels/host_loops.hpp"

namespace saddle::engine {

enum class PipelineSchedule { GPipe, OneFOneB };

// "gpipe" or "1f1b" (std::invalid_argument otherwise).
PipelineSchedule parse_pipeline_schedule(const std::string& name);

struct PipelinePass {
  std::string name;
  int direction = +1;  // +1: stage 0 -> L-1; -1: stage L-1 -> 0
  double cost = 1;     // relative duration of one micro-batch's op on one stage
};

struct PipelineOp {
  int pass = 0, micro = 0, slot = 0;
};

class PipelinePlan {
 public:
  PipelinePlan() = default;
  // Throws std::invalid_argument for stages < 1, micro_batches < 1 or > kMaxMicroBatches, no
  // passes, or more than kMaxPasses. `window`: 1f1b's micro-batches in flight per stage (0: the
  // smallest as good as gpipe within 1 %).
  PipelinePlan(PipelineSchedule schedule, int stages, int micro_batches, std::vector<PipelinePass> passes, int window = 0);

  static constexpr int kMaxMicroBatches = 4096, kMaxPasses = 7;

  PipelineSchedule schedule() const { return schedule_; }
  int stages() const { return stages_; }
  int micro_batches() const { return micro_; }
  const std::vector<PipelinePass>& passes() const { return passes_; }
  // The ops of `stage` in the order it runs them (passes x micro-batches of them).
  const std::vector<PipelineOp>& program(int stage) const { return programs_.at(static_cast<std::size_t>(stage)); }
  // Workspace sets `stage` needs (the most micro-batches in flight on it), and the most over stages.
  int slots(int stage) const { return slots_.at(static_cast<std::size_t>(stage)); }
  int max_slots() const;
  // The simulated length in cost units, and the busiest stage's share of it busy: the schedule's
  // ideal efficiency (m / (m + L - 1) for two passes of equal cost).
  double makespan() const { return makespan_; }
  double ideal_efficiency() const { return efficiency_; }
  // 1f1b's window (0 for gpipe).
  int window() const { return window_; }

 private:
  PipelineSchedule schedule_ = PipelineSchedule::GPipe;
  int stages_ = 1, micro_ = 1;
  std::vector<PipelinePass> passes_;
  std::vector<std::vector<PipelineOp>> programs_;
  std::vector<int> slots_;
  double makespan_ = 0, efficiency_ = 1;
  int window_ = 0;
  void simulate(int window);
};

class Pipeline {
 public:
  Pipeline() = default;
  // `stages`: the communicator of one data replica's stages (ProcessGrid::layer); stage = rank.
  explicit Pipeline(const Comm& stages);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  Pipeline(Pipeline&&) = default;
  Pipeline& operator=(Pipeline&&) = default;

  int stage() const { return comm_.rank(); }
  int stages() const { return comm_.size(); }
  const Comm& comm() const { return comm_; }
  // Whether this stage starts (receives nothing in) or ends (sends nothing in) a pass of `direction`.
  bool first(int direction) const { return direction > 0 ? stage() == 0 : stage() == stages() - 1; }
  bool last(int direction) const { return direction > 0 ? stage() == stages() - 1 : stage() == 0; }

  // Runs this stage's program of `plan` (collective over the stages, each its own program):
  // fn(op) for each op; returns when the ops are done and every send has completed. `timed`
  // runs count in busy_seconds()/run_seconds() and the timeline (not, e.g., sampling for metrics).
  void run(const PipelinePlan& plan, const std::function<void(const PipelineOp&)>& fn, bool timed = true);

  // Inside run(): n elements to the next stage of op's pass (non-blocking; the data is copied),
  // or from the previous one into data (blocking; the count must match the sender's).
  template <class T>
  void send(const PipelineOp& op, const T* data, std::size_t n) {
    send_bytes(op, data, n * sizeof(T));
  }
  template <class T>
  void recv(const PipelineOp& op, T* data, std::size_t n) {
    recv_bytes(op, data, n * sizeof(T));
  }
  // The same for data in the memory of execution space Space (a network on the device): staged
  // through a host buffer there (deep_copy), direct on a host space.
  template <class Space, class T>
  void send_in(const PipelineOp& op, const T* data, std::size_t n) {
    if constexpr (kernels::kHostSpace<Space>) {
      send(op, data, n);
    } else {
      T* host = host_stage<T>(n);
      Kokkos::deep_copy(Kokkos::View<T*, kernels::HostMem, Kokkos::MemoryUnmanaged>(host, n),
                        Kokkos::View<const T*, typename Space::memory_space, Kokkos::MemoryUnmanaged>(data, n));
      send(op, host, n);
    }
  }
  template <class Space, class T>
  void recv_in(const PipelineOp& op, T* data, std::size_t n) {
    if constexpr (kernels::kHostSpace<Space>) {
      recv(op, data, n);
    } else {
      T* host = host_stage<T>(n);
      recv(op, host, n);
      Kokkos::deep_copy(Kokkos::View<T*, typename Space::memory_space, Kokkos::MemoryUnmanaged>(data, n),
                        Kokkos::View<const T*, kernels::HostMem, Kokkos::MemoryUnmanaged>(host, n));
    }
  }

  // Timing of the ops: seconds inside ops and inside run() (all runs so far), bytes sent.
  double busy_seconds() const { return busy_; }
  double run_seconds() const { return wall_; }
  std::uint64_t bytes_sent() const { return bytes_; }
  void reset_counters() { busy_ = wall_ = 0, bytes_ = 0; }
  // With recording on, every timed op's span, in seconds since one epoch that stage 0 broadcasts at
  // construction (MPI_Wtime: the stages of one node read the same clock).
  struct Span {
    int run = 0, pass = 0, micro = 0;
    double begin = 0, end = 0;
  };
  void record(bool on) { recording_ = on; }
  const std::vector<Span>& timeline() const { return timeline_; }
  void clear_timeline() { timeline_.clear(); }

 private:
  int neighbour(const PipelineOp& op, bool next) const;
  static int tag(const PipelineOp& op) { return op.pass * PipelinePlan::kMaxMicroBatches + op.micro; }
  void send_bytes(const PipelineOp& op, const void* data, std::size_t bytes);
  void recv_bytes(const PipelineOp& op, void* data, std::size_t bytes);
  void reap(bool all);
  // n values of host scratch for send_in/recv_in (send copies out of it at once).
  template <class T>
  T* host_stage(std::size_t n) {
    stage_.resize((n * sizeof(T) + sizeof(double) - 1) / sizeof(double));
    return reinterpret_cast<T*>(stage_.data());
  }

  struct Pending {
    MPI_Request request = MPI_REQUEST_NULL;
    std::vector<unsigned char> buffer;
  };
  Comm comm_;
  const PipelinePlan* plan_ = nullptr;
  std::deque<Pending> pending_;
  std::vector<std::vector<unsigned char>> spare_;
  double epoch_ = 0, busy_ = 0, wall_ = 0, received_at_ = 0;
  std::uint64_t bytes_ = 0;
  int runs_ = 0;
  bool recording_ = false;
  std::vector<Span> timeline_;
  std::vector<double> stage_;
};

// Layers per group for `parts` contiguous groups of layers of costs `cost` (in order) minimising
// the largest group's cost (ties: the earliest split). Throws std::invalid_argument when
// parts < 1 or parts > cost.size().
std::vector<std::int64_t> balance_layers(const std::vector<double>& cost, int parts);

// The whole vector (`total` elements) from every stage's part, each at its `offset` (collective
// over `stages`; one stage: the part itself). Throws std::logic_error when the parts do not tile it.
template <class T>
std::vector<T> gather_parts(const Comm& stages, const std::vector<T>& part, std::int64_t offset, std::int64_t total) {
  if (stages.size() == 1) return part;
  std::vector<std::size_t> counts;
  const std::vector<T> all = stages.allgatherv(part, &counts);
  const std::vector<std::int64_t> offsets = stages.allgather(offset);
  std::vector<T> whole(static_cast<std::size_t>(total));
  std::size_t from = 0, covered = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    if (offsets[r] < 0 || offsets[r] + static_cast<std::int64_t>(counts[r]) > total) throw std::logic_error("gather_parts: a part lies outside the vector");
    std::copy(all.begin() + static_cast<std::ptrdiff_t>(from), all.begin() + static_cast<std::ptrdiff_t>(from + counts[r]),
              whole.begin() + offsets[r]);
    from += counts[r];
    covered += counts[r];
  }
  if (covered != whole.size()) throw std::logic_error("gather_parts: the parts do not tile the vector");
  return whole;
}

// A stage's part [offset, offset + n) of a vector of `total` elements (total < 0: the part is the
// whole vector) whose other parts live on the ranks of `stages`: checkpoints write and read the
// whole vector, so a run restarts with another stage count.
struct StagePart {
  Comm stages{MPI_COMM_SELF};
  std::int64_t offset = 0, total = -1;
  bool split() const { return total >= 0; }
  // The whole vector (collective over the stages).
  template <class T>
  std::vector<T> whole(const std::vector<T>& part) const {
    return split() ? gather_parts(stages, part, offset, total) : part;
  }
  // This stage's n elements of a whole vector read from a checkpoint (`what` names it in the
  // InputError a wrong length raises).
  template <class T>
  std::vector<T> part(std::vector<T> whole, std::size_t n, const std::string& what) const {
    const std::size_t want = split() ? static_cast<std::size_t>(total) : n;
    if (whole.size() != want)
      throw std::length_error(what + " holds " + std::to_string(whole.size()) + " values, expected " + std::to_string(want) + " (another network?)");
    if (!split()) return whole;
    return std::vector<T>(whole.begin() + offset, whole.begin() + offset + static_cast<std::ptrdiff_t>(n));
  }
};

}  // namespace saddle::engine
