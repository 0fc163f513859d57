#include "engine/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>

#include "engine/build_info.hpp"
#include "engine/error.hpp"
#include "engine/fault_injection.hpp"

namespace fs = std::filesystem;

namespace saddle::engine {
namespace {

constexpr const char* kBegin = "saddle_checkpoint_begin";
constexpr const char* kEnd = "saddle_checkpoint_end";

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb, ta, tb;  // lines and the [table] each belongs to
  while (true) {
    const bool ga = static_cast<bool>(std::getline(sa, la)), gb = static_cast<bool>(std::getline(sb, lb));
    if (!ga && !gb) return "";
    if (!ga) la = "(nothing)";
    if (!gb) lb = "(nothing)";
    if (!la.empty() && la[0] == '[') ta = la.substr(1, la.find(']') - 1);
    if (!lb.empty() && lb[0] == '[') tb = lb.substr(1, lb.find(']') - 1);
    if (la != lb) {
      auto qualified = [](const std::string& table, const std::string& line) {
        return table.empty() || line.empty() || line[0] == '[' ? line : table + "." + line;
      };
      return "checkpoint has '" + qualified(ta, la) + "', deck has '" + qualified(tb, lb) + "'";
    }
  }
}

CheckpointStore::CheckpointStore(std::string dir, std::string identity, std::string workload, const Comm& comm)
    : dir_(std::move(dir)), identity_(std::move(identity)), workload_(std::move(workload)), comm_(comm) {}

std::string CheckpointStore::path_of(std::int64_t step) const { return dir_ + "/step_" + std::to_string(step) + ".h5"; }

std::vector<std::int64_t> CheckpointStore::steps_on_disk() const {
  std::vector<std::int64_t> steps;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return steps;
  static const std::regex name("step_([0-9]+)\\.h5");
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::smatch m;
    const std::string f = e.path().filename().string();
    if (std::regex_match(f, m, name)) steps.push_back(std::stoll(m[1].str()));
  }
  std::sort(steps.rbegin(), steps.rend());
  return steps;
}

void CheckpointStore::fill_file(h5::File& f, std::int64_t step, const std::function<void(const h5::Group&)>& fill) const {
  const h5::Group& root = f.root();
  root.write_attr(kBegin, std::int64_t{step});
  root.write_attr("step", std::int64_t{step});
  root.write_attr("deck_identity", identity_);
  root.write_attr("workload", workload_);
  root.write_attr("saddle_version", build::version);
  root.write_attr("git_revision", build::git_revision);
  root.write_attr("ranks", std::int64_t{comm_.size()});
  fill(root);
  f.flush();  // MPI_File_sync on every rank before the file is sealed
  fault_point("checkpoint");
  root.write_attr(kEnd, std::int64_t{step});
}

void CheckpointStore::write(std::int64_t step, int keep, const std::function<void(const h5::Group&)>& fill) const {
  const std::string final_path = path_of(step), tmp = final_path + ".tmp";
  comm_.agree([&] {
    if (comm_.is_root()) fs::create_directories(dir_);
  });
  h5::File f;
  try {
    f = h5::File::create(tmp, &comm_, h5::Checksums::On);
    fill_file(f, step, fill);
    f.close();
  } catch (const h5::Error& e) {
    // The h5 layer agrees on every collective write (and io_agreement on the MPI-IO calls inside
    // HDF5), so a failure such as a full disk brings every rank here with the same message.
    h5::close_after_failure(f);
    std::string previous;
    if (comm_.is_root()) {
      std::error_code ec;
      fs::remove(tmp, ec);
      const auto steps = steps_on_disk();
      previous = steps.empty() ? "there is no earlier checkpoint" : "the previous checkpoint " + path_of(steps.front()) + " is intact";
    }
    comm_.bcast(previous);
    throw CollectiveError("checkpoint of step " + std::to_string(step) + " not written: " + e.what() + "; " + previous,
                          kExitFailure, 0);
  }
  comm_.agree([&] {
    if (!comm_.is_root()) return;
    fsync_path(tmp);
    fs::rename(tmp, final_path);
    fsync_path(dir_);
    const auto steps = steps_on_disk();
    for (std::size_t i = static_cast<std::size_t>(std::max(keep, 1)); i < steps.size(); ++i) fs::remove(path_of(steps[i]));
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec))
      if (e.path().extension() == ".tmp") fs::remove(e.path(), ec);
  });
}

std::string CheckpointStore::inspect(const std::string& path, std::int64_t expected_step, bool* other_deck) const {
  try {
    h5::File f = h5::File::open(path, h5::File::Mode::ReadOnly);
    const h5::Group& root = f.root();
    if (!root.has_attr(kBegin)) return "not a Saddle checkpoint (no begin signature)";
    if (!root.has_attr(kEnd)) return "incomplete: no end signature (the write was interrupted)";
    const auto begin = root.read_attr<std::int64_t>(kBegin), end = root.read_attr<std::int64_t>(kEnd);
    if (begin != end || begin != expected_step)
      return "signatures disagree (begin " + std::to_string(begin) + ", end " + std::to_string(end) + ", file name step " +
             std::to_string(expected_step) + ")";
    const std::string workload = root.read_attr_string("workload");
    if (workload != workload_) {
      if (other_deck) *other_deck = true;
      return "written by workload '" + workload + "', this deck runs '" + workload_ + "'";
    }
    const std::string identity = root.read_attr_string("deck_identity");
    if (identity != identity_) {
      if (other_deck) *other_deck = true;
      return "written by a different deck (" + first_difference(identity, identity_) + ")";
    }
    // Reads all the data once, so that a checksum mismatch (silent corruption) refuses the file
    // here, serially, and not in the middle of the collective read.
    try {
      h5::verify_checksums(root);
    } catch (const h5::Error& e) {
      return std::string("corrupt (") + e.what() + ")";
    }
    return "";
  } catch (const std::exception& e) {
    return std::string("unreadable (") + e.what() + ")";
  }
}

CheckpointStore::Found CheckpointStore::newest_valid() const {
  Found found;
  std::string refusals;
  std::int64_t other = 0;
  if (comm_.is_root()) {
    for (const auto step : steps_on_disk()) {
      bool other_deck = false;
      const std::string why = inspect(path_of(step), step, &other_deck);
      if (why.empty()) {
        found.step = step;
        break;
      }
      other |= other_deck;
      refusals += "refusing checkpoint " + path_of(step) + ": " + why;
      // A damaged file is moved aside (kept for inspection until the run starts over) so that it
      // never shadows the checkpoints written after this restart; another deck's are left as is.
      if (!other_deck) {
        std::error_code ec;
        fs::rename(path_of(step), path_of(step) + ".refused", ec);
        if (!ec) refusals += " (moved to " + path_of(step) + ".refused)";
      }
      refusals += "\n";
    }
  }
  found.step = comm_.bcast_value(found.step);
  found.refused_other_deck = comm_.bcast_value(other) != 0;
  comm_.bcast(refusals);
  std::istringstream lines(refusals);
  for (std::string line; std::getline(lines, line);) found.refusals.push_back(line);
  return found;
}

void CheckpointStore::read(std::int64_t step, const std::function<void(const h5::Group&)>& read) const {
  h5::File f = h5::File::open(path_of(step), h5::File::Mode::ReadOnly, &comm_);
  read(f.root());
  f.close();
}

void CheckpointStore::clear() const {
  if (comm_.is_root()) {
    std::error_code ec;
    if (fs::is_directory(dir_, ec)) {
      static const std::regex name("step_[0-9]+\\.h5(\\.tmp|\\.refused)?");
      for (const auto& e : fs::directory_iterator(dir_, ec))
        if (std::regex_match(e.path().filename().string(), name)) fs::remove(e.path(), ec);
    }
  }
  comm_.barrier();
}

void write_rank_count(const h5::Group& state, const Comm& comm) {
  state.write_attr("ranks", static_cast<std::int64_t>(comm.size()));
}

void require_rank_count(const h5::Group& state, const Comm& comm, const std::string& why) {
  const auto ranks = state.read_attr<std::int64_t>("ranks");
  if (ranks == comm.size()) return;
  throw CollectiveError("checkpoint was written by " + std::to_string(ranks) + " ranks and this run has " +
                            std::to_string(comm.size()) + "; " + why + ", so restart on " + std::to_string(ranks) +
                            " ranks or set run.restart = \"no\"",
                        kExitBadInput, 0);
}

}  // namespace saddle::engine
