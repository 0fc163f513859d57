// Test helper for cli/abort_one_rank.sh: rank 1 fails alone while the others wait in a barrier,
// exactly as `saddle` handles an exception no collective agreed on (engine/main.cpp).
#include <mpi.h>

#include "engine/error.hpp"
#include "engine/runtime.hpp"

int main(int argc, char** argv) {
  using namespace saddle::engine;
  Runtime runtime(argc, argv);
  try {
    if (runtime.world_rank() == 1) throw InputError("row 7 of /X is NaN");
    MPI_Barrier(MPI_COMM_WORLD);
  } catch (const std::exception& e) {
    abort_all(e.what(), exit_code_of(e));
  }
  return 0;
}
