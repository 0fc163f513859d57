#pragma once
// The timed phases of a ksvd run (kernel_setup, sketch, power, project, exact, nystrom, scores):
// each adds to the engine timer "ksvd.<name>" and to the run's seconds and floating-point
// operations per phase, written at the end as result/performance.
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "engine/comm.hpp"
#include "engine/h5.hpp"
#include "engine/timers.hpp"

namespace saddle::apps::ksvd {

// A number for the log: three significant digits ("%.3g").
std::string fmt(double v);

class PhaseLog {
  struct Perf {
    double seconds = 0, flops = 0;
  };

 public:
  class Scope {
   public:
    Scope(PhaseLog& log, const std::string& name)
        : log_(log), name_(name), timer_(*log.timers_, "ksvd." + name), start_(std::chrono::steady_clock::now()),
          flops0_(log.flops_()) {}
    ~Scope() {
      Perf& p = log_.perf_[name_];
      p.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      p.flops += log_.flops_() - flops0_;
    }

   private:
    PhaseLog& log_;
    std::string name_;
    engine::Timers::Scope timer_;
    std::chrono::steady_clock::time_point start_;
    double flops0_;
  };

  PhaseLog() = default;
  // `flops` reads the operations done so far (the kernel operator's count, 0 before it exists).
  PhaseLog(engine::Timers& timers, std::function<double()> flops) : timers_(&timers), flops_(std::move(flops)) {}

  Scope phase(const std::string& name) { return Scope(*this, name); }

  // Collective: result/performance holds per phase the slowest rank's seconds and the GFLOP/s of
  // all ranks' operations, the totals, the kernel evaluations and the peak RSS; returns the line
  // for the log.
  std::string write(const engine::h5::Group& result, const engine::Comm& comm, double kernel_evaluations) const;

 private:
  engine::Timers* timers_ = nullptr;
  std::function<double()> flops_;
  std::map<std::string, Perf> perf_;
};

}  // namespace saddle::apps::ksvd
