#include "engine/run_output.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <utility>

#include "engine/error.hpp"
#include "engine/run_file.hpp"

namespace fs = std::filesystem;

namespace saddle::engine {
namespace {

// The longest suffix a run name is given: <name>.h5, .ckpt and .lock, and .h5.tmp reserved for a
// run file written aside and renamed.
constexpr std::size_t kLongestSuffix = sizeof(".h5.tmp") - 1;

InputError cannot(const std::string& what, const std::string& path, int err) {
  return InputError("cannot " + what + " '" + path + "': " + std::strerror(err));
}

// A directory the run writes in: `role` is "output" or "checkpoint".
void require_writable_directory(const std::string& path, const std::string& role) {
  std::error_code ec;
  if (!fs::is_directory(path, ec))
    throw InputError("'" + path + "' is not a directory, and it must be the run's " + role +
                     " directory; remove it or choose another run.name or run.output");
  if (::access(path.c_str(), W_OK | X_OK) != 0) throw cannot("write in the " + role + " directory", path, errno);
}

// "host vm1, PID 4242, started 2024-05-01T10:00:00Z" from the lock file's "host=vm1 pid=4242 ...".
std::string holder(int fd) {
  char buf[512] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::istringstream fields(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0));
  std::string host = "?", pid = "?", started = "?";
  for (std::string field; fields >> field;) {
    const auto eq = field.find('=');
    const std::string key = field.substr(0, eq), value = eq == std::string::npos ? "" : field.substr(eq + 1);
    if (key == "host") host = value;
    if (key == "pid") pid = value;
    if (key == "started") started = value;
  }
  return "host " + host + ", PID " + pid + ", started " + started;
}

}  // namespace

std::string run_name_problem(const std::string& name) {
  bool plain = !name.empty() && name != "." && name != "..";
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) plain = false;
  if (!plain) return "\"" + name + "\" is not a file name (letters, digits, '_', '-', '.')";
  const std::size_t limit = NAME_MAX - kLongestSuffix;
  if (name.size() > limit)
    return "\"" + name.substr(0, 16) + "...\" has " + std::to_string(name.size()) + " characters; at most " +
           std::to_string(limit) + " leave room for the suffixes of the run's files (file names have at most " +
           std::to_string(NAME_MAX) + " bytes)";
  return "";
}

RunOutput RunOutput::claim(const std::string& dir, const std::string& name) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError("cannot create the output directory '" + dir + "': " + ec.message());
  require_writable_directory(dir, "output");
  const std::string base = dir + "/" + name;
  if (fs::exists(base + ".ckpt", ec)) require_writable_directory(base + ".ckpt", "checkpoint");
  if (fs::is_directory(base + ".h5", ec)) throw InputError("'" + base + ".h5' is a directory, and it must be the run file; remove it or choose another run.name");
  if (fs::exists(base + ".h5", ec) && ::access((base + ".h5").c_str(), W_OK) != 0) throw cannot("write the run file", base + ".h5", errno);

  const std::string lock_path = base + ".lock";
  RunOutput out;
  out.fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (out.fd_ < 0) throw cannot("create the lock file", lock_path, errno);
  if (::flock(out.fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      throw InputError("run '" + name + "' in '" + dir + "' is in use by another run (" + holder(out.fd_) +
                       "; lock file " + lock_path + "): wait for it to end, or choose another run.name or run.output");
    // File systems without locks (some NFS or Lustre mounts): run unprotected rather than not at all.
    std::fprintf(stderr, "saddle: warning: cannot lock %s (%s); a second run of this deck into %s would not be refused\n",
                 lock_path.c_str(), std::strerror(errno), dir.c_str());
  }
  char host[256] = "unknown";
  ::gethostname(host, sizeof host - 1);
  const std::string text = "host=" + std::string(host) + " pid=" + std::to_string(::getpid()) + " started=" + utc_now() + "\n";
  if (::ftruncate(out.fd_, 0) != 0 || ::pwrite(out.fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    throw cannot("write the lock file", lock_path, errno);
  return out;
}

RunOutput::RunOutput(RunOutput&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

RunOutput& RunOutput::operator=(RunOutput&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

// Closing the descriptor releases the lock; the file stays (removing it would let a run that
// opened it just before lock a file no longer in the directory).
RunOutput::~RunOutput() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace saddle::engine
