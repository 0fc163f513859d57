#pragma once
#include <string>

namespace saddle::engine {

// Owns MPI and Kokkos for the life of the process: MPI_Init_thread, then Kokkos::initialize;
// torn down in reverse. Only one may exist. Kokkos consumes its own flags (--kokkos-threads)
// from argv.
class Runtime {
 public:
  Runtime(int& argc, char**& argv);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  int world_rank() const { return rank_; }
  int world_size() const { return size_; }
  int thread_level() const { return thread_level_; }

 private:
  int rank_ = 0, size_ = 1, thread_level_ = 0;
};

// Threads and cores (docs/usage.md, "Threads and ranks"), as the runtime found them: the host
// execution space's threads, OpenBLAS's threads, the ranks on this node and the cores this rank
// and this node's ranks together may run on (sched_getaffinity).
struct ThreadLayout {
  int threads = 1, blas_threads = 1, node_ranks = 1, rank_cores = 1, node_cores = 1;
  // On some node, more than one thread per rank and more threads than cores: its ranks x threads
  // exceed the cores they may use, or a rank has fewer cores in its mask than threads. The same on
  // every rank.
  bool oversubscribed = false;
  // The driver's log line about it (empty when not oversubscribed).
  std::string warning() const;
};
// Set by Runtime's constructor (collective over the node's ranks). In an OpenMP build without
// OMP_NUM_THREADS (or KOKKOS_NUM_THREADS, --kokkos-num-threads) the runtime picks the threads:
// the node's cores over its ranks, at least 1 and at most the rank's own cores.
const ThreadLayout& thread_layout();

// Print `message` once, from this rank, and abort every rank with `exit_code` (never returns).
// For errors that other ranks cannot know about: they may be waiting in a collective.
[[noreturn]] void abort_all(const std::string& message, int exit_code);

}  // namespace saddle::engine
