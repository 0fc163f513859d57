#include "engine/metric_history.hpp"

#include <stdexcept>

namespace saddle::engine {

void MetricHistory::add(std::int64_t step, const MetricValues& values) {
  if (names_.empty() && steps_.empty()) {
    for (const auto& [name, v] : values) names_.push_back(name);
    columns_.assign(names_.size(), {});
  }
  if (values.size() != names_.size()) throw std::logic_error("workload metrics changed their number of series");
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].first != names_[i]) throw std::logic_error("workload metric '" + values[i].first + "' changed order or name");
    columns_[i].push_back(values[i].second);
  }
  steps_.push_back(step);
}

bool MetricHistory::headline(std::string& name, double& value) const {
  if (names_.empty() || steps_.empty()) return false;
  name = names_.front();
  value = columns_.front().back();
  return true;
}

void MetricHistory::flush_to(const h5::Group& metrics_group) {
  if (flushed_ >= steps_.size()) return;
  // The series are appended together; a failure part-way would leave them of unequal length, so
  // the step series goes last and decides what counts as flushed.
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const auto have = metrics_group.exists(names_[i]) ? metrics_group.shape(names_[i])[0] : 0;
    if (have > flushed_) throw std::logic_error("metric series " + names_[i] + " is ahead of /metrics/step");
  }
  for (std::size_t i = 0; i < names_.size(); ++i)
    metrics_group.append(names_[i], std::vector<double>(columns_[i].begin() + static_cast<std::ptrdiff_t>(flushed_), columns_[i].end()));
  metrics_group.append("step", std::vector<std::int64_t>(steps_.begin() + static_cast<std::ptrdiff_t>(flushed_), steps_.end()));
  flushed_ = steps_.size();
}

void MetricHistory::save(const h5::Group& g) const {
  std::string joined;
  for (const auto& n : names_) joined += n + '\n';
  g.write_attr("names", joined);
  g.write("step", steps_);
  std::vector<double> flat;
  for (const auto& c : columns_) flat.insert(flat.end(), c.begin(), c.end());
  g.write("values", flat, {names_.size(), steps_.size()});
}

void MetricHistory::load(const h5::Group& g) {
  names_.clear();
  std::string cur;
  for (char c : g.read_attr_string("names")) {
    if (c == '\n') {
      names_.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  steps_ = g.read<std::int64_t>("step");
  const auto flat = g.read<double>("values");
  columns_.assign(names_.size(), {});
  for (std::size_t i = 0; i < names_.size(); ++i)
    columns_[i].assign(flat.begin() + static_cast<std::ptrdiff_t>(i * steps_.size()),
                       flat.begin() + static_cast<std::ptrdiff_t>((i + 1) * steps_.size()));
  flushed_ = 0;
}

}  // namespace saddle::engine
