#pragma once
// Shared by the MPI suites that run `saddle` in process: the world communicator, an empty
// scratch directory per suite and rank count, and runs interrupted by a signal.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "engine/comm.hpp"
#include "engine/driver.hpp"
#include "engine/signals.hpp"

namespace saddle::testing {

// Constructed on first use: MPI is initialised by main, after static initialisation.
inline const engine::Comm& world() {
  static const engine::Comm c;
  return c;
}

inline int run(std::vector<std::string> args) { return engine::execute(world(), std::move(args)); }

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
// otherwise be (correctly) picked up by restarts.
// `dir` is called in SetUp, once MPI is up (it usually names the rank count).
class FreshDirectory : public ::testing::Environment {
 public:
  explicit FreshDirectory(std::function<std::string()> dir) : dir_(std::move(dir)) {}
  void SetUp() override {
    if (world().is_root()) std::filesystem::remove_all(dir_());
    world().barrier();
  }

 private:
  std::function<std::string()> dir_;
};

}  // namespace saddle::testing
