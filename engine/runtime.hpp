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

// Print `message` once, from this rank, and abort every rank with `exit_code` (never returns).
// For errors that other ranks cannot know about: they may be waiting in a collective.
[[noreturn]] void abort_all(const std::string& message, int exit_code);

}  // namespace saddle::engine
