#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "engine/comm.hpp"
#include "engine/driver.hpp"
#include "engine/error.hpp"
#include "engine/runtime.hpp"
#include "engine/signals.hpp"

int main(int argc, char** argv) {
  using namespace saddle::engine;
  // Help needs no MPI, and Kokkos would answer --help with its own text first.
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::printf("%s\n", usage().c_str());
    return kExitDone;
  }
  install_stop_handlers();
  int code = kExitFailure;
  Runtime runtime(argc, argv);
  try {
    code = execute(Comm(), std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    // Only this rank knows: the others may be inside a collective, so abort them all.
    abort_all(e.what(), exit_code_of(e));
  }
  return code;
}
