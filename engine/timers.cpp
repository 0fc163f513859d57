#include "engine/timers.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

namespace saddle::engine {

double Timers::seconds(const std::string& name) const {
  const auto it = seconds_.find(name);
  return it == seconds_.end() ? 0.0 : it->second;
}

std::vector<Timers::Summary> Timers::reduce(const Comm& comm) const {
  std::string names;
  for (const auto& [name, s] : seconds_) names += name + '\n';
  const std::vector<char> all = comm.allgatherv(names.data(), names.size());
  std::set<std::string> union_names;
  std::string cur;
  for (const char c : all) {
    if (c == '\n') {
      union_names.insert(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  std::vector<Summary> out;
  for (const auto& name : union_names) {
    Summary s;
    s.name = name;
    s.per_rank = comm.allgather(seconds(name));
    s.min = *std::min_element(s.per_rank.begin(), s.per_rank.end());
    s.max = *std::max_element(s.per_rank.begin(), s.per_rank.end());
    double sum = 0;
    for (double x : s.per_rank) sum += x;
    s.mean = sum / static_cast<double>(s.per_rank.size());
    out.push_back(std::move(s));
  }
  return out;
}

std::string Timers::table(const std::vector<Summary>& summaries) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-24s %12s %12s %12s\n", "timer [s]", "min", "mean", "max");
  out += line;
  for (const auto& s : summaries) {
    std::snprintf(line, sizeof line, "%-24s %12.4f %12.4f %12.4f\n", s.name.c_str(), s.min, s.mean, s.max);
    out += line;
  }
  return out;
}

}  // namespace saddle::engine
