#pragma once
#include <stdexcept>
#include <string>

namespace saddle::engine {

// Exit codes of `saddle` (docs/design.md, "Errors and exit codes"): SLURM scripts requeue on kStopped.
enum ExitCode : int { kExitDone = 0, kExitFailure = 1, kExitBadInput = 2, kExitStopped = 3 };

// A bad deck, command line or input data file. The message names what is wrong and what was
// expected; the CLI prints it once and exits with kExitBadInput.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An error every rank has agreed on (see Comm::agree): already reported to all ranks, so the
// caller can exit cleanly instead of aborting the job.
class CollectiveError : public std::runtime_error {
 public:
  CollectiveError(const std::string& what, int exit_code, int origin_rank)
      : std::runtime_error(what), exit_code_(exit_code), origin_rank_(origin_rank) {}
  int exit_code() const { return exit_code_; }
  int origin_rank() const { return origin_rank_; }

 private:
  int exit_code_;
  int origin_rank_;
};

inline int exit_code_of(const std::exception& e) {
  if (auto* c = dynamic_cast<const CollectiveError*>(&e)) return c->exit_code();
  if (dynamic_cast<const InputError*>(&e)) return kExitBadInput;
  return kExitFailure;
}

}  // namespace saddle::engine
