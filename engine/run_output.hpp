#pragma once
// The files of one run, <output>/<name>.h5, <name>.ckpt/ and <name>.lock, and their claim before
// any computation: the directory is created and checked for writing, <name>.ckpt and <name>.h5
// are checked, and <name>.lock is locked so that a second run of the same name into the same
// output is refused instead of mixing its results into the first one's files.
#include <string>

namespace saddle::engine {

// Why `name` cannot be a run name ("" if it can): it must be a plain file name (letters, digits,
// '_', '-', '.') and, with the longest suffix Saddle gives it, fit NAME_MAX.
std::string run_name_problem(const std::string& name);

// An advisory lock (flock) on <dir>/<name>.lock, held until destruction or the end of the
// process: the OS releases it when the process dies, so a killed run never blocks its restart.
// The file holds the host, PID and start time of the holder.
class RunOutput {
 public:
  // Serial (rank 0). Creates `dir`, checks that the run's files can be written there, and takes
  // the lock. Throws InputError (exit 2) naming the path and the cause, or the host and PID of
  // the run that holds the lock.
  static RunOutput claim(const std::string& dir, const std::string& name);

  RunOutput() = default;
  RunOutput(RunOutput&& o) noexcept;
  RunOutput& operator=(RunOutput&& o) noexcept;
  RunOutput(const RunOutput&) = delete;
  RunOutput& operator=(const RunOutput&) = delete;
  ~RunOutput();

 private:
  int fd_ = -1;
};

}  // namespace saddle::engine
