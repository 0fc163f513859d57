#include "engine/runtime.hpp"

#include <hdf5.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "engine/h5.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define SADDLE_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SADDLE_HAVE_LSAN 1
#endif
#endif
#if SADDLE_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace saddle::engine {
namespace {

// Sanitizer builds (docs/development.md): Open MPI drops much of what it allocates while it
// starts, partly in components it unloads again, whose frames LeakSanitizer cannot name; so its
// start is not leak-checked, and the leak check runs before MPI_Finalize unloads the rest (what
// remains of Open MPI's is suppressed by tests/sanitizers/lsan.supp). No-ops otherwise.
#if SADDLE_HAVE_LSAN
void pause_leak_tracking() { __lsan_disable(); }
void resume_leak_tracking() { __lsan_enable(); }
void check_leaks_now() { __lsan_do_leak_check(); }
#else
void pause_leak_tracking() {}
void resume_leak_tracking() {}
void check_leaks_now() {}
#endif

// MPI errors on any rank abort the whole job with a readable message instead of a hang.
void mpi_error_handler(MPI_Comm*, int* code, ...) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(*code, text, &len);
  abort_all(std::string("MPI error: ") + std::string(text, static_cast<std::size_t>(len)), 1);
}

}  // namespace

Runtime::Runtime(int& argc, char**& argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) throw std::logic_error("saddle::engine::Runtime: MPI is already initialised");
  // Open MPI 4's OMPIO has known data-corruption and hang issues with parallel HDF5; ROMIO is the
  // safe MPI-IO component. A user's explicit OMPI_MCA_io still wins.
  setenv("OMPI_MCA_io", "^ompio", 0);
  // HDF5's file locks fail on many parallel file systems, and a user reading the run file with
  // h5py (which locks it) must not make the run's next metrics refresh fail. A user's explicit
  // HDF5_USE_FILE_LOCKING still wins.
  setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
  // HDF5 starts before MPI and is stopped by the destructor, before MPI_Finalize. Started after
  // MPI, it would close the files still open (a collective file left by a failed write) from
  // inside MPI_Finalize, after MPI-IO has shut down, and crash; or at exit. HDF5 1.10 also keeps
  // the ID of a file whose close failed, pointing to freed memory: then it is not stopped at all.
  H5dont_atexit();
  H5open();
  pause_leak_tracking();
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &thread_level_);
  resume_leak_tracking();
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Errhandler handler;
  MPI_Comm_create_errhandler(&mpi_error_handler, &handler);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, handler);
  MPI_Errhandler_free(&handler);
  Kokkos::initialize(argc, argv);
}

Runtime::~Runtime() {
  check_leaks_now();
  Kokkos::finalize();
  if (!h5::close_failed()) H5close();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void abort_all(const std::string& message, int exit_code) {
  int rank = 0, size = 1, initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  const bool mpi = initialized && !finalized;
  if (mpi) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  if (size > 1)
    std::fprintf(stderr, "saddle: error (rank %d of %d): %s\n", rank, size, message.c_str());
  else
    std::fprintf(stderr, "saddle: error: %s\n", message.c_str());
  std::fflush(stderr);
  if (mpi) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

}  // namespace saddle::engine
