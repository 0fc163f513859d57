#include "engine/runtime.hpp"

#include <hdf5.h>
#include <mpi.h>

#include <sched.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/h5.hpp"
#if defined(KOKKOS_ENABLE_OPENMP)
#include <omp.h>
#endif
#include "kernels/linalg/host_backend.hpp"
#include "kernels/spaces.hpp"

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

ThreadLayout g_layout;
int g_node_rank = 0, g_any_rank_over = 0;

// Before Kokkos starts: the ranks on this node and the cores this rank and the node's ranks
// together may run on (sched_getaffinity; the union of the node's masks).
void find_cores() {
  ThreadLayout& t = g_layout;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) {
    CPU_ZERO(&mask);
    CPU_SET(0, &mask);
  }
#if defined(KOKKOS_ENABLE_OPENMP)
  // With OMP_PROC_BIND, libgomp has already bound this thread to its first place; the rank's cores
  // are all the places' (built from the mask the process started with).
  if (const int places = omp_get_num_places(); places > 0) {
    CPU_ZERO(&mask);
    for (int p = 0; p < places; ++p) {
      std::vector<int> ids(static_cast<std::size_t>(omp_get_place_num_procs(p)));
      omp_get_place_proc_ids(p, ids.data());
      for (const int id : ids)
        if (id >= 0 && id < CPU_SETSIZE) CPU_SET(id, &mask);
    }
  }
#endif
  kernels::linalg::set_rank_cpus(mask);
  t.rank_cores = CPU_COUNT(&mask);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &t.node_ranks);
  MPI_Comm_rank(node, &g_node_rank);
  cpu_set_t all;
  static_assert(sizeof(cpu_set_t) % sizeof(unsigned long) == 0);
  MPI_Allreduce(&mask, &all, static_cast<int>(sizeof(cpu_set_t) / sizeof(unsigned long)), MPI_UNSIGNED_LONG, MPI_BOR, node);
  t.node_cores = CPU_COUNT(&all);
  MPI_Comm_free(&node);
}

// The default thread count of an OpenMP build, when neither OMP_NUM_THREADS, KOKKOS_NUM_THREADS
// nor a --kokkos-num-threads / --kokkos-threads flag sets one: the node's cores shared among its
// ranks (at least 1, at most the rank's own cores), rather than OpenMP's default of every core in
// the rank's mask, which with unbound ranks puts ranks x cores threads on the cores.
void default_threads(int argc, char** argv) {
#if defined(KOKKOS_ENABLE_OPENMP)
  if (std::getenv("OMP_NUM_THREADS") || std::getenv("KOKKOS_NUM_THREADS")) return;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--kokkos-num-threads", 20) == 0 || std::strncmp(argv[i], "--kokkos-threads", 16) == 0) return;
  const ThreadLayout& t = g_layout;
  const int n = std::max(1, std::min(t.rank_cores, t.node_cores / std::max(t.node_ranks, 1)));
  setenv("KOKKOS_NUM_THREADS", std::to_string(n).c_str(), 1);
#else
  (void)argc;
  (void)argv;
#endif
}

// After Kokkos starts: in an OpenMP build OpenBLAS runs on one thread (Kokkos's threads split the
// GEMMs, kernels/linalg/host_backend.hpp: one thread pool, not two; LAPACK calls get Kokkos's
// threads for their duration); a Serial build leaves OpenBLAS as it was. Then whether any node's
// ranks' threads exceed the cores they may use (the driver logs a warning): OpenMP threads that
// spin while waiting for each other on shared cores run many times slower than one thread.
void settle_threads() {
  ThreadLayout& t = g_layout;
  t.threads = kernels::HostExec().concurrency();
#if defined(KOKKOS_ENABLE_OPENMP)
  kernels::linalg::set_blas_threads(1);
#else
  if (t.threads > 1) kernels::linalg::set_blas_threads(1);
#endif
  t.blas_threads = kernels::linalg::blas_threads();
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int rank_over = t.threads > t.rank_cores ? 1 : 0;
  MPI_Allreduce(&rank_over, &g_any_rank_over, 1, MPI_INT, MPI_MAX, node);
  MPI_Comm_free(&node);
  int over = t.threads > 1 && (t.node_ranks * t.threads > t.node_cores || g_any_rank_over) ? 1 : 0, any = 0;
  MPI_Allreduce(&over, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  t.oversubscribed = any != 0;
}

}  // namespace

const ThreadLayout& thread_layout() { return g_layout; }

std::string ThreadLayout::warning() const {
  if (!oversubscribed) return "";
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  const bool passive = wait && (wait[0] == 'p' || wait[0] == 'P');
  return "warning: threads oversubscribed (" + std::to_string(node_ranks) + " rank(s) x " + std::to_string(threads) +
         " threads on " + std::to_string(node_cores) + " core(s) on this node" +
         (g_any_rank_over ? ", a rank bound to fewer cores than threads" : "") + "): " +
         (passive ? "" : "waiting OpenMP threads spin, set OMP_WAIT_POLICY=passive or ") +
         "set OMP_NUM_THREADS so that ranks x threads <= cores and bind each rank to its threads' cores (mpirun "
         "--map-by slot:PE=N --bind-to core; srun --cpus-per-task=N --cpu-bind=cores); docs/usage.md, \"Threads and "
         "ranks\"";
}

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
  find_cores();
  default_threads(argc, argv);
  Kokkos::initialize(argc, argv);
  settle_threads();
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
