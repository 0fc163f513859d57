#pragma once
// Checkpoints <output>/<name>.ckpt/step_<N>.h5 (docs/design.md). Written collectively to
// step_<N>.h5.tmp, synced, sealed with an end signature, closed, then renamed by rank 0, so the
// newest complete checkpoint is never a broken file. Its datasets carry Fletcher32 checksums. A
// checkpoint holds the deck identity and is refused for a different deck, when either signature
// is missing, or when its data fails the checksums.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/comm.hpp"
#include "engine/h5.hpp"

namespace saddle::engine {

class CheckpointStore {
 public:
  CheckpointStore(std::string dir, std::string identity, std::string workload, const Comm& comm);

  const std::string& dir() const { return dir_; }
  std::string path_of(std::int64_t step) const;

  // Collective. Writes a checkpoint of `step`: `fill` writes the state into the root group of the
  // open collective file. Keeps the newest `keep` checkpoints and removes the rest. A failed
  // write (a full disk) throws a CollectiveError (exit 1) on every rank, naming the file and the
  // cause; the partial file is removed and the earlier checkpoints are left as they are.
  void write(std::int64_t step, int keep, const std::function<void(const h5::Group&)>& fill) const;

  struct Found {
    std::int64_t step = -1;                 // -1: none usable
    std::vector<std::string> refusals;      // one line per refused file, newest first
    bool refused_other_deck = false;        // some file was written by a different deck
  };
  // Collective (rank 0 inspects the files serially, the verdict is broadcast).
  Found newest_valid() const;
  // Collective: opens checkpoint `step` on every rank and hands its root group to `read`.
  void read(std::int64_t step, const std::function<void(const h5::Group&)>& read) const;
  // Collective: removes every step_*.h5, temporary and refused file (a fresh start of this run name).
  void clear() const;

  // Why `path` cannot be restarted from, or "" if it can (serial; used on rank 0).
  std::string inspect(const std::string& path, std::int64_t expected_step, bool* other_deck = nullptr) const;

 private:
  std::vector<std::int64_t> steps_on_disk() const;  // rank 0 only, descending
  void fill_file(h5::File& f, std::int64_t step, const std::function<void(const h5::Group&)>& fill) const;

  std::string dir_, identity_, workload_;
  Comm comm_;
};

// First differing line of two deck identities, for "written by a different deck" messages.
std::string first_difference(const std::string& a, const std::string& b);

// For a workload whose ranks are its workers (each with its own random stream and state): its
// save() calls write_rank_count and its load() require_rank_count, which refuses a checkpoint of
// another rank count on every rank alike (exit 2, one message naming both counts and `why`).
void write_rank_count(const h5::Group& state, const Comm& comm);
void require_rank_count(const h5::Group& state, const Comm& comm, const std::string& why);

}  // namespace saddle::engine
