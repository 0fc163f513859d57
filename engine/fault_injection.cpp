#include "engine/fault_injection.hpp"

#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace saddle::engine {
namespace {

struct Plan {
  std::string site;
  long count = 0;
  int rank = -1;  // any
};

// The parsed variable; site empty when unset or malformed (a malformed value is reported once).
const Plan& plan() {
  static const Plan p = [] {
    Plan out;
    const char* v = std::getenv("SADDLE_FAULT_KILL");
    if (!v || !*v) return out;
    const std::string s(v);
    const auto a = s.find(':'), b = s.find(':', a == std::string::npos ? a : a + 1);
    char* end = nullptr;
    if (a != std::string::npos) out.count = std::strtol(s.c_str() + a + 1, &end, 10);
    if (a == std::string::npos || out.count < 1 || (b != std::string::npos && (out.rank = std::atoi(s.c_str() + b + 1)) < 0)) {
      std::fprintf(stderr, "saddle: warning: SADDLE_FAULT_KILL='%s' is not <site>:<n>[:<rank>]; ignored\n", v);
      return Plan{};
    }
    out.site = s.substr(0, a);
    return out;
  }();
  return p;
}

}  // namespace

void fault_point(const char* site) {
  const Plan& p = plan();
  if (p.site.empty() || p.site != site) return;
  static std::map<std::string, long> reached;
  if (++reached[p.site] != p.count) return;
  int rank = 0, initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (p.rank >= 0 && rank != p.rank) return;
  std::fprintf(stderr, "saddle: fault injection: SIGKILL at %s #%ld on rank %d\n", site, p.count, rank);
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
}

}  // namespace saddle::engine
