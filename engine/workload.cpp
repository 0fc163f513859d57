#include "engine/workload.hpp"

#include <cstdio>
#include <stdexcept>

namespace saddle::engine {

void RunContext::log(const std::string& message) const {
  if (!quiet && grid.world.is_root()) {
    std::printf("[saddle] %s\n", message.c_str());
    std::fflush(stdout);
  }
}

Registry& Registry::instance() {
  static Registry r;
  return r;
}

void Registry::add(const std::string& name, std::string summary, Factory make) {
  if (!entries_.emplace(name, Entry{std::move(summary), std::move(make)}).second)
    throw std::logic_error("workload '" + name + "' registered twice");
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

std::unique_ptr<Workload> Registry::create(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it != entries_.end()) return it->second.make();
  std::string known;
  for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
  std::string msg = "unknown workload \"" + name + "\"";
  const auto near = did_you_mean(name, names());
  if (!near.empty()) msg += " (did you mean \"" + near + "\"?)";
  throw InputError(msg + "; this build has: " + known);
}

}  // namespace saddle::engine
