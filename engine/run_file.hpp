#pragma once
// The run file <output>/<name>.h5 (docs/design.md: HDF5 layout). Provenance, /config, /metrics and
// /timers are written by rank 0 alone (serial opens between steps, so the file is complete and
// readable whenever the run is between flushes); /result is written collectively by all ranks.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/comm.hpp"
#include "engine/deck.hpp"
#include "engine/h5.hpp"
#include "engine/metric_history.hpp"
#include "engine/timers.hpp"

namespace saddle::engine {

class RunFile {
 public:
  RunFile(std::string path, const Comm& comm) : path_(std::move(path)), comm_(comm) {}
  const std::string& path() const { return path_; }

  // Collective. Creates the file with provenance and /config (truncating an old one).
  // `device_collectives`: the resolved parallel.device_collectives ("none (host build)" without CUDA).
  void create(const Config& config, const std::string& workload, std::int64_t restarted_from_step,
              const std::string& device_collectives = "none (host build)") const;
  // Collective. Appends unflushed metric rows (rank 0 writes).
  void flush_metrics(MetricHistory& history) const;
  // Collective. Opens the file on every rank and hands /result to `write`. A failed write (a full
  // disk) throws a CollectiveError on every rank naming the file and the cause.
  void write_results(const std::function<void(const h5::Group&)>& write) const;
  // Collective. /timers/<region> (per-rank seconds, attributes min/mean/max), completion marks.
  void finish(const std::vector<Timers::Summary>& timers, std::int64_t steps_done) const;

 private:
  std::string path_;
  Comm comm_;
};

std::string utc_now();

}  // namespace saddle::engine
