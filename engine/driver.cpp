#include "engine/driver.hpp"

#include <hdf5.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/build_info.hpp"
#include "engine/checkpoint.hpp"
#include "engine/device_collectives.hpp"
#include "engine/error.hpp"
#include "engine/fault_injection.hpp"
#include "engine/key_table.hpp"
#include "engine/metric_history.hpp"
#include "engine/progress.hpp"
#include "engine/run_file.hpp"
#include "engine/run_output.hpp"
#include "engine/runtime.hpp"
#include "engine/signals.hpp"
#include "engine/timers.hpp"
#include "engine/workload.hpp"
#if SADDLE_HAVE_CUDA
#include "engine/device_comm.hpp"
#endif
#include "kernels/linalg/host_backend.hpp"

namespace fs = std::filesystem;

namespace saddle::engine {
namespace {

struct Cli {
  std::string command;
  std::string deck;
  std::vector<std::string> overrides;
  bool quiet = false;
};

Cli parse_cli(const std::vector<std::string>& args) {
  Cli cli;
  if (args.empty()) throw InputError("no command given\n" + usage());
  cli.command = args[0];
  if (cli.command != "run" && cli.command != "check" && cli.command != "info")
    throw InputError("unknown command '" + cli.command + "' (expected run, check or info)\n" + usage());
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--quiet" || a == "-q") {
      cli.quiet = true;
    } else if (a.rfind("-", 0) == 0) {
      throw InputError("unknown option '" + a + "'\n" + usage());
    } else if (cli.deck.empty() && a.find('=') == std::string::npos) {
      cli.deck = a;
    } else if (a.find('=') != std::string::npos) {
      cli.overrides.push_back(a);
    } else {
      throw InputError("unexpected argument '" + a + "': overrides are key.path=value\n" + usage());
    }
  }
  if (cli.command != "info" && cli.deck.empty()) throw InputError("'saddle " + cli.command + "' needs a deck file\n" + usage());
  if (cli.command == "info" && (!cli.deck.empty() || !cli.overrides.empty()))
    throw InputError("'saddle info' takes no deck or overrides");
  return cli;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read deck '" + path + "': " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string info_text(const Comm& world) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(mpi, &len);
  std::string mpi_line(mpi, static_cast<std::size_t>(len));
  mpi_line = mpi_line.substr(0, mpi_line.find_first_of("\n,"));
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  std::ostringstream o;
  o << "saddle " << build::version << " (git " << build::git_revision << ", " << build::build_type << ", "
    << build::compiler << ")\n";
  o << "Kokkos " << KOKKOS_VERSION / 10000 << "." << KOKKOS_VERSION / 100 % 100 << "." << KOKKOS_VERSION % 100
    << ", default execution space " << Kokkos::DefaultExecutionSpace::name() << ", concurrency "
    << Kokkos::DefaultExecutionSpace().concurrency() << "\n";
  o << "MPI: " << mpi_line << ", " << world.size() << " rank(s)\n";
  o << "HDF5 " << maj << "." << min << "." << rel << " (parallel)\n";
  o << "CUDA Toolkit at configure time: " << build::cuda_toolkit << "\n";
  o << "workloads:";
  for (const auto& [name, e] : Registry::instance().entries()) o << "\n  " << name << ": " << e.summary;
  o << "\n";
  return o.str();
}

// Rank 0 claims the run's output before any computation (run_output.hpp); every rank learns of
// a refusal. The lock is held until the returned object is destroyed (rank 0).
RunOutput claim_output(const Comm& world, const Config& cfg) {
  RunOutput output;
  world.agree([&] {
    if (world.is_root()) output = RunOutput::claim(cfg.string("run.output"), cfg.string("run.name"));
  });
  return output;
}

class Session {
 public:
  Session(const Comm& world, Cli cli) : world_(world), cli_(std::move(cli)) {}

  int check() {
    load();
    if (world_.is_root()) {
      std::printf("# deck %s: OK (workload %s, %d rank(s))\n%s", cli_.deck.c_str(), workload_name_.c_str(), world_.size(),
                  config_->to_toml().c_str());
      std::fflush(stdout);
    }
    return kExitDone;
  }

  int run();

 private:
  void load() {
    std::string text;
    world_.agree([&] {
      if (world_.is_root()) text = read_text(cli_.deck);
    });
    world_.bcast(text);
    world_.agree([&] {
      Deck deck = Deck::parse(text, cli_.deck, cli_.overrides);
      const auto name = deck.peek_string("run.workload");
      if (!name) throw InputError(cli_.deck + ": missing required key 'run.workload' (a string naming the workload; this build has: " + known() + ")");
      workload_name_ = *name;
      workload_ = Registry::instance().create(workload_name_);
      Schema schema = engine_schema(cli_.deck);
      workload_->declare(schema);
      config_ = std::make_unique<Config>(resolve(deck, schema));
      if (const auto why = run_name_problem(config_->string("run.name")); !why.empty()) throw config_->error("run.name", why);
      const auto layers = config_->integer("parallel.layer");
      if (world_.size() % layers != 0)
        throw config_->error("parallel.layer", std::to_string(layers) + " pipeline stages do not divide " +
                                                   std::to_string(world_.size()) + " ranks");
      if (!workload_->pipelined() && layers != 1)
        throw config_->error("parallel.layer", workload_name_ + " is not layer-parallel (only wgan is); use 1");
      if (!workload_->pipelined())
        for (const std::string k : {"parallel.micro_batches", "parallel.schedule", "parallel.stage_layers"})
          if (config_->is_set(k)) throw config_->error(k, "applies to pipelined workloads only (wgan); " + workload_name_ + " is not one");
      if (config_->has("parallel.stage_layers") && static_cast<std::int64_t>(config_->int_list("parallel.stage_layers").size()) != layers)
        throw config_->error("parallel.stage_layers", "has " + std::to_string(config_->int_list("parallel.stage_layers").size()) +
                                                          " entries; it needs one per pipeline stage (parallel.layer = " + std::to_string(layers) + ")");
#if !SADDLE_HAVE_CUDA
      if (config_->string("parallel.device_collectives") != "auto")
        throw config_->error("parallel.device_collectives",
                             "this build has no CUDA path (Kokkos without the CUDA backend: SADDLE_ENABLE_CUDA level is not "
                             "device); only \"auto\" is accepted");
#endif
      workload_->validate(*config_);
    });
#if SADDLE_HAVE_CUDA
    // Collective (the devices every rank sees), so outside the agree above; every rank resolves
    // alike and fails alike.
    world_.agree([&, env = device_environment(world_)] {
      try {
        device_collectives_ = transport_name(resolve_device_transport(config_->string("parallel.device_collectives"), env));
      } catch (const std::invalid_argument& e) {
        throw config_->error("parallel.device_collectives", e.what());
      }
    });
#else
    device_collectives_ = "none (host build)";
#endif
  }
  static std::string known() {
    std::string s;
    for (const auto& n : Registry::instance().names()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }
  void log(const std::string& msg) const {
    if (!cli_.quiet && world_.is_root()) {
      std::printf("[saddle] %s\n", msg.c_str());
      std::fflush(stdout);
    }
  }

  Comm world_;
  Cli cli_;
  std::string workload_name_;
  std::unique_ptr<Workload> workload_;
  std::unique_ptr<Config> config_;
  std::string device_collectives_;  // the resolved parallel.device_collectives (run file attribute)
};

int Session::run() {
  load();
  const Config& cfg = *config_;
  const ProcessGrid grid = make_process_grid(world_, static_cast<int>(cfg.integer("parallel.layer")));
  const std::string out_dir = cfg.string("run.output"), name = cfg.string("run.name");
  const RunOutput output = claim_output(world_, cfg);
  const std::int64_t total = workload_->steps(cfg);
  const std::int64_t log_every = cfg.integer("run.log_every");
  const std::int64_t ckpt_every = cfg.integer("run.checkpoint_every");
  const int ckpt_keep = static_cast<int>(cfg.integer("run.checkpoint_keep"));

  Timers timers;
  RunContext ctx{cfg, grid, timers, static_cast<std::uint64_t>(cfg.integer("run.seed")), out_dir, cli_.quiet};
  install_stop_handlers();
  log("workload " + workload_name_ + ", deck " + cli_.deck + ", " + std::to_string(world_.size()) + " rank(s) (data " +
      std::to_string(grid.data.size()) + " x layer " + std::to_string(grid.layer.size()) + "), " +
      Kokkos::DefaultExecutionSpace::name() + ", " + std::to_string(thread_layout().threads) + " thread(s) per rank, BLAS " +
      std::to_string(kernels::linalg::blas_threads()));
  if (thread_layout().oversubscribed) log(thread_layout().warning());
  {
    auto t = timers.scope("setup");
    workload_->setup(ctx);
    fault_point("setup");
  }

  CheckpointStore store(out_dir + "/" + name + ".ckpt", cfg.identity(), workload_name_, world_);
  MetricHistory history;
  std::int64_t start = 0;
  if (cfg.string("run.restart") == "auto") {
    const auto found = store.newest_valid();
    for (const auto& r : found.refusals)
      if (world_.is_root()) std::fprintf(stderr, "saddle: warning: %s\n", r.c_str());
    if (found.step < 0 && found.refused_other_deck)
      throw CollectiveError("the checkpoints in " + store.dir() + " belong to a different deck (see above); set run.restart = \"no\" to start over or choose another run.name",
                            kExitBadInput, 0);
    if (found.step >= 0) {
      auto t = timers.scope("checkpoint");
      store.read(found.step, [&](const h5::Group& root) {
        try {
          history.load(root.open_group("driver"));
          workload_->load(root.open_group("state"));
        } catch (const InputError& e) {
          throw InputError("cannot continue from " + store.path_of(found.step) + ": " + e.what());
        }
      });
      start = found.step;
      log("restarted from " + store.path_of(start));
    }
  }
  if (start == 0) store.clear();

  RunFile run_file(out_dir + "/" + name + ".h5", world_);
  run_file.create(cfg, workload_name_, start, device_collectives_);
  if (start == 0 && total > 0) history.add(0, workload_->metrics(0));
  run_file.flush_metrics(history);

  auto checkpoint = [&](std::int64_t step) {
    auto t = timers.scope("checkpoint");
    store.write(step, ckpt_keep, [&](const h5::Group& root) {
      history.save(root.create_group("driver"));
      workload_->save(root.create_group("state"));
    });
    run_file.flush_metrics(history);
  };

  Progress progress(start, total, cfg.real("run.progress_interval"), !cli_.quiet && world_.is_root());
  struct {
    double interval;
    std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
    bool due() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - last).count() >= interval; }
    void reset() { last = std::chrono::steady_clock::now(); }
  } flush_clock{cfg.real("run.flush_interval")};
  std::int64_t last = start;  // the last step taken (below total when the workload finished early)
  for (std::int64_t step = start + 1; step <= total && !workload_->finished(); ++step) {
    {
      auto t = timers.scope("steps");
      workload_->step(step);
      fault_point("step");
    }
    last = step;
    if (step % log_every == 0 || step == total || workload_->finished()) {
      auto t = timers.scope("metrics");
      history.add(step, workload_->metrics(step));
    }
    std::string metric;
    double value = 0;
    const bool have = history.headline(metric, value);
    progress.update(step, metric, value, have);

    // One small allreduce per step: any rank's signal stops every rank, and rank 0's clock
    // decides when the run file's metrics are refreshed for users watching the run.
    int flags[2] = {stop_signal_received(), world_.is_root() && flush_clock.due() ? 1 : 0};
    world_.allreduce(flags, 2, Op::Max);
    const int sig = flags[0];
    if ((ckpt_every > 0 && step % ckpt_every == 0) || sig != 0) {
      checkpoint(step);
      flush_clock.reset();
    } else if (flags[1]) {
      auto t = timers.scope("checkpoint");
      run_file.flush_metrics(history);
      flush_clock.reset();
    }
    if (sig != 0) {
      if (world_.is_root())
        std::fprintf(stderr, "saddle: stopped by %s at step %lld/%lld; checkpoint %s written; exit 3 (rerun with run.restart = \"auto\" to continue)\n",
                     sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : "a signal", static_cast<long long>(step),
                     static_cast<long long>(total), store.path_of(step).c_str());
      return kExitStopped;
    }
  }
  // A signal from here on is ignored: the results are written and the run ends with 0.
  {
    auto t = timers.scope("results");
    run_file.write_results([&](const h5::Group& result) { workload_->finish(result); });
  }
  run_file.flush_metrics(history);
  const auto summaries = timers.reduce(world_);
  run_file.finish(summaries, last);
  if (!cli_.quiet && world_.is_root()) {
    std::printf("[saddle] done: %lld steps%s, results in %s\n%s", static_cast<long long>(last),
                last < total ? (" (finished early; at most " + std::to_string(total) + ")").c_str() : "", run_file.path().c_str(),
                Timers::table(summaries).c_str());
    std::fflush(stdout);
  }
  return kExitDone;
}

// `saddle check --keys [WORKLOAD]`: the deck keys as a Markdown table, no deck needed
// (docs/usage.md). run.name's default, the deck file's stem, shows as "<deck stem>".
int print_key_table(const Comm& world, const std::vector<std::string>& args) {
  std::string text;
  world.agree([&] {
    if (args.size() > 3) throw InputError("'saddle check --keys' takes at most one workload name\n" + usage());
    const std::string deck = "<deck stem>.toml";
    const Schema engine = engine_schema(deck);
    if (args.size() == 2) {
      text = key_table(engine);
      return;
    }
    Schema declared = engine_schema(deck);
    Registry::instance().create(args[2])->declare(declared);
    text = workload_key_table(declared, engine);
  });
  if (world.is_root()) {
    std::printf("%s", text.c_str());
    std::fflush(stdout);
  }
  return kExitDone;
}

}  // namespace

std::string usage() {
  return "usage: saddle run DECK.toml [key.path=value ...] [--quiet]\n"
         "       saddle check DECK.toml [key.path=value ...]\n"
         "       saddle check --keys [WORKLOAD]\n"
         "       saddle info\n"
         "Kokkos options such as --kokkos-threads=N are accepted by every command.";
}

Schema engine_schema(const std::string& deck_path) {
  Schema s;
  s.string("run.workload").help("which workload (apps/) runs this deck");
  s.string("run.name").def(fs::path(deck_path).stem().string()).help("run name: output goes to <output>/<name>.h5");
  s.string("run.output").def(std::string("out")).restart_neutral().help("output directory");
  s.integer("run.seed").def(std::int64_t{1}).range(0).help("seed of every random stream");
  s.integer("run.steps").def(std::int64_t{100}).range(0).help("number of steps");
  s.integer("run.log_every").def(std::int64_t{10}).range(1).restart_neutral().help("steps between logged metrics");
  s.integer("run.checkpoint_every").def(std::int64_t{0}).range(0).restart_neutral().help("steps between checkpoints; 0 = only on a signal");
  s.integer("run.checkpoint_keep").def(std::int64_t{2}).range(1).restart_neutral().help("checkpoints kept on disk");
  s.string("run.restart").def(std::string("auto")).one_of({"auto", "no"}).restart_neutral()
      .help("auto: continue from the newest valid checkpoint; no: start over");
  s.real("run.progress_interval").def(2.0).range(0).restart_neutral().help("seconds between progress lines");
  s.real("run.flush_interval").def(60.0).range(0).restart_neutral()
      .help("seconds between refreshes of /metrics in the run file (also at every checkpoint)");
  // The pipeline keys are restart-neutral: a pipelined workload's checkpoints hold the global
  // layout, so a run may continue with another stage count or schedule.
  s.integer("parallel.layer").def(std::int64_t{1}).range(1).restart_neutral().help("pipeline stages; data replicas = ranks / layer");
  s.integer("parallel.micro_batches").def(std::int64_t{1}).range(1, 4096).restart_neutral()
      .help("micro-batches each rank's batch is split into in a pipelined workload (wgan); > 1 with layer = 1 accumulates gradients");
  s.string("parallel.schedule").def(std::string("1f1b")).one_of({"gpipe", "1f1b"}).restart_neutral()
      .help("pipeline schedule: gpipe (every micro-batch's pass before the next pass) or 1f1b (at most layer micro-batches in flight per stage)");
  s.string("parallel.device_collectives").def(std::string("auto")).one_of({"auto", "nccl", "mpi", "staged"}).restart_neutral()
      .help("collectives on device buffers (CUDA builds): auto (nccl when built with NCCL and a GPU is visible, else staged), "
            "nccl, mpi (CUDA-aware MPI only) or staged (through pinned host memory); builds without CUDA accept auto only");
  s.int_list("parallel.stage_layers").optional().range(1, 1 << 20).restart_neutral()
      .help("layers of each pipeline stage, in order, for every network the workload cuts (default: balanced by FLOPs per sample)");
  return s;
}

int execute(const Comm& world, const std::vector<std::string>& args) {
  try {
    if (!args.empty() && args[0] == "--version") {
      if (world.is_root()) std::printf("saddle %s (git %s)\n", build::version, build::git_revision);
      return kExitDone;
    }
    if (args.size() >= 2 && args[0] == "check" && args[1] == "--keys") return print_key_table(world, args);
    Cli cli;
    world.agree([&] { cli = parse_cli(args); });
    if (cli.command == "info") {
      if (world.is_root()) std::printf("%s", info_text(world).c_str());
      return kExitDone;
    }
    Session session(world, cli);
    return cli.command == "check" ? session.check() : session.run();
  } catch (const CollectiveError& e) {
    if (world.is_root()) {
      std::fprintf(stderr, "saddle: error: %s\n", e.what());
      std::fflush(stderr);
    }
    return e.exit_code();
  }
}

}  // namespace saddle::engine
