#include "engine/fault_injection.hpp"

#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>

namespace saddle::engine {
namespace {

struct Plan {
  std::string site;
  long count = 0;
  int rank = -1;  // any
};

// The parsed variable `name`; site empty when unset or malformed (a malformed value is reported once).
Plan parse(const char* name) {
  Plan out;
  const char* v = std::getenv(name);
  if (!v || !*v) return out;
  const std::string s(v);
  const auto a = s.find(':'), b = s.find(':', a == std::string::npos ? a : a + 1);
  char* end = nullptr;
  if (a != std::string::npos) out.count = std::strtol(s.c_str() + a + 1, &end, 10);
  if (a == std::string::npos || out.count < 1 || (b != std::string::npos && (out.rank = std::atoi(s.c_str() + b + 1)) < 0)) {
    std::fprintf(stderr, "saddle: warning: %s='%s' is not <site>:<n>[:<rank>]; ignored\n", name, v);
    return Plan{};
  }
  out.site = s.substr(0, a);
  return out;
}

// Whether `p` fires now at `site` (its n-th arrival there, on its rank); counts the arrivals.
bool fires(const Plan& p, const char* site, std::map<std::string, long>& reached, int& rank) {
  if (p.site.empty() || p.site != site) return false;
  if (++reached[p.site] != p.count) return false;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return p.rank < 0 || rank == p.rank;
}

}  // namespace

void fault_point(const char* site) {
  static const Plan kill_plan = parse("SADDLE_FAULT_KILL"), throw_plan = parse("SADDLE_FAULT_THROW");
  static std::map<std::string, long> killed, thrown;
  int rank = 0;
  if (fires(kill_plan, site, killed, rank)) {
    std::fprintf(stderr, "saddle: fault injection: SIGKILL at %s #%ld on rank %d\n", site, kill_plan.count, rank);
    std::fflush(stderr);
    ::kill(::getpid(), SIGKILL);
  }
  if (fires(throw_plan, site, thrown, rank))
    throw std::runtime_error("fault injection: exception at " + std::string(site) + " #" + std::to_string(throw_plan.count) + " on rank " +
                             std::to_string(rank));
}

}  // namespace saddle::engine
