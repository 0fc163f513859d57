#include "engine/memory_check.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

namespace saddle::engine {
namespace {

// A cgroup limit file: a byte count, or "max" (v2) / a huge number (v1) for none.
std::uint64_t read_limit(const char* path) {
  std::ifstream in(path);
  unsigned long long v = 0;
  if (!(in >> v)) return 0;
  return static_cast<std::uint64_t>(v);
}

std::string human(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) {
    bytes /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : bytes < 1e4 ? "%.1f %s" : "%.3g %s", bytes, units[u]);
  return buf;
}

}  // namespace

std::uint64_t memory_limit() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  std::uint64_t limit = pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0;
  for (const char* cgroup : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    const std::uint64_t c = read_limit(cgroup);
    if (c > 0 && (limit == 0 || c < limit)) limit = c;
  }
  return limit;
}

void require_memory(double bytes, const std::string& key, const Config& config, Share share) {
  const std::uint64_t limit = memory_limit();
  if (limit == 0 || bytes <= static_cast<double>(limit)) return;
  throw config.error(key, "needs about " + human(bytes) + " of memory on one rank, more than the " +
                              human(static_cast<double>(limit)) + " this machine has (" +
                              (share == Share::Split ? "use more ranks or a smaller size" : "every rank holds all of it: use a smaller size") + ")");
}

}  // namespace saddle::engine
