#pragma once
// The contract between the driver and a workload (apps/<name>). The driver owns the loop, the
// logging cadence, checkpoints, signals, progress and the run file; a workload owns its deck
// table, its state and its results. All methods except declare/validate are collective over
// ctx.grid.world: every rank calls them in the same order.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/comm.hpp"
#include "engine/deck.hpp"
#include "engine/h5.hpp"
#include "engine/timers.hpp"

namespace saddle::engine {

struct RunContext {
  const Config& config;
  const ProcessGrid& grid;
  Timers& timers;
  std::uint64_t seed;      // run.seed
  std::string output_dir;  // run.output
  bool quiet;
  // Prints `message` on rank 0 unless --quiet.
  void log(const std::string& message) const;
};

using MetricValues = std::vector<std::pair<std::string, double>>;

// Driver steps for `items` done `chunk` at a time (the last chunk may be short); no overflow for any
// deck values (items >= 0, chunk >= 1).
inline std::int64_t chunk_count(std::int64_t items, std::int64_t chunk) { return items / chunk + (items % chunk != 0); }

class Workload {
 public:
  virtual ~Workload() = default;
  // Declares the workload's keys (its own [<name>] table); may change engine defaults such as
  // run.steps through schema.find("run.steps")->def(...).
  virtual void declare(Schema& schema) const = 0;
  // Cross-key checks that need no data (e.g. rank <= min(n, m) for generated data); throws
  // config.error(key, ...). Called by `saddle check` and `saddle run`.
  virtual void validate(const Config&) const {}
  // True for a workload that runs layer-parallel (parallel.layer > 1, parallel.micro_batches,
  // parallel.schedule, parallel.stage_layers; engine/pipeline.hpp); the driver refuses those keys
  // for the others.
  virtual bool pipelined() const { return false; }
  // The number of driver steps: run.steps by default; a workload whose steps are chunks of a
  // sweep derives it from its own keys (and may reject an explicit run.steps in validate).
  virtual std::int64_t steps(const Config& config) const { return config.integer("run.steps"); }
  // Reads the deck and input data and builds the state of step 0. Validate input data inside
  // ctx.grid.world.agree(...) so that an error one rank finds is reported once, on every rank.
  virtual void setup(const RunContext& ctx) = 0;
  // Advances the state from step - 1 to step (1-based).
  virtual void step(std::int64_t step) = 0;
  // True once the workload has its answer before steps() is reached (an iterative solver that met
  // its tolerance): the driver logs the metrics of this step and goes on to finish(). Every rank
  // returns the same value; also asked right after load(), so a finished checkpoint just finishes.
  virtual bool finished() const { return false; }
  // The values logged at this step, the same names in the same order at every call; the first is
  // the headline shown in the progress line. Every rank returns the same values.
  virtual MetricValues metrics(std::int64_t step) = 0;
  // Everything needed to continue bit-for-bit (collective file; distributed arrays with
  // write_rows/read_rows so a restart may even use another rank count if the workload allows).
  virtual void save(const h5::Group& state) const = 0;
  virtual void load(const h5::Group& state) = 0;
  // Final results under /result (collective file).
  virtual void finish(const h5::Group& result) = 0;
};

class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Workload>()>;
  struct Entry {
    std::string summary;
    Factory make;
  };
  static Registry& instance();
  void add(const std::string& name, std::string summary, Factory make);
  const std::map<std::string, Entry>& entries() const { return entries_; }
  std::vector<std::string> names() const;
  // Throws InputError naming the known workloads (with a "did you mean") for an unknown name.
  std::unique_ptr<Workload> create(const std::string& name) const;

 private:
  std::map<std::string, Entry> entries_;
};

struct Registrar {
  Registrar(const std::string& name, std::string summary, Registry::Factory make) {
    Registry::instance().add(name, std::move(summary), std::move(make));
  }
};

}  // namespace saddle::engine

// In one .cpp of apps/<name>: SADDLE_REGISTER_WORKLOAD(ksvd, "one-line summary", KsvdWorkload)
#define SADDLE_REGISTER_WORKLOAD(NAME, SUMMARY, TYPE)                                 \
  static const ::saddle::engine::Registrar saddle_registrar_##NAME(#NAME, SUMMARY, [] { \
    return std::unique_ptr<::saddle::engine::Workload>(new TYPE());                     \
  })
