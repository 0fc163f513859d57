#pragma once
// The prelude of the MPI suites that run `saddle` in process: the world communicator, one
// scratch directory per suite and rank count (emptied before the suite's first test), decks
// written there, runs, and runs interrupted by a signal. A suite declares its scratch name once,
//   const saddle::testing::Scratch scratch("hb");   // directory hb_np<ranks>
// and takes the rest with `using namespace saddle::testing;`.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/comm.hpp"
#include "engine/driver.hpp"
#include "engine/signals.hpp"

namespace saddle::testing {

namespace fs = std::filesystem;

// Constructed on first use: MPI is initialised by main, after static initialisation.
inline const engine::Comm& world() {
  static const engine::Comm c;
  return c;
}

inline int run(std::vector<std::string> args) { return engine::execute(world(), std::move(args)); }

// The suite's scratch name, set by its Scratch.
inline std::string& scratch_name() {
  static std::string name;
  return name;
}

// The suite's directory at this rank count: "<scratch name>_np<ranks>".
inline std::string dir() { return scratch_name() + "_np" + std::to_string(world().size()); }

// The run file <dir()>/out/<run>.h5 of a deck written by run_deck.
inline std::string out(const std::string& name) { return dir() + "/out/" + name + ".h5"; }

// Rank 0 writes `text` to <dir>/<name>.toml; every rank returns the path once it exists.
inline std::string write_deck(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name + ".toml";
  if (world().is_root()) {
    std::filesystem::create_directories(dir);
    std::ofstream(path) << text;
  }
  world().barrier();
  return path;
}

// The deck <dir()>/<name>.toml of `workload`, writing its run files to <dir()>/out: a [run] table
// with the workload and the output, continued by `rest` (more [run] keys, then the other tables).
inline std::string run_deck(const std::string& name, const std::string& workload, const std::string& rest) {
  return write_deck(dir(), name, "[run]\nworkload = \"" + workload + "\"\noutput = \"" + dir() + "/out\"\n" + rest);
}

// Runs `args` while rank 0 receives SIGUSR1 after `ms` milliseconds (the other ranks learn of it
// through the driver's per-step agreement); returns the exit code.
inline int run_interrupted(std::vector<std::string> args, int ms) {
  engine::install_stop_handlers();  // a signal racing the driver's own installation must not kill the test
  std::thread sender;
  if (world().is_root())
    sender = std::thread([ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      kill(getpid(), SIGUSR1);
    });
  const int code = run(std::move(args));
  if (sender.joinable()) sender.join();
  engine::clear_stop_signal();
  return code;
}

// Every run of a suite starts from an empty directory: checkpoints left by an earlier run would
// otherwise be (correctly) picked up by restarts. SetUp runs once MPI is up.
class FreshDirectory : public ::testing::Environment {
 public:
  void SetUp() override {
    if (world().is_root()) fs::remove_all(dir());
    world().barrier();
  }
};

// Names the suite's scratch directory and registers its FreshDirectory (a namespace-scope
// constant of the suite, constructed before main).
struct Scratch {
  explicit Scratch(const char* name) {
    scratch_name() = name;
    ::testing::AddGlobalTestEnvironment(new FreshDirectory);
  }
};

}  // namespace saddle::testing
