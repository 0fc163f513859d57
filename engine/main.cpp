#include <exception>
#include <string>
#include <vector>

#include "engine/comm.hpp"
#include "engine/driver.hpp"
#include "engine/error.hpp"
#include "engine/runtime.hpp"

int main(int argc, char** argv) {
  using namespace saddle::engine;
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
