#pragma once
// The logged metric series of a run: kept in memory, saved in every checkpoint (so a restarted
// run file holds the whole history) and appended to /metrics/<name> when the run file is flushed.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/h5.hpp"
#include "engine/workload.hpp"

namespace saddle::engine {

class MetricHistory {
 public:
  // Throws std::logic_error if the names differ from the first row's.
  void add(std::int64_t step, const MetricValues& values);
  std::size_t rows() const { return steps_.size(); }
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<std::int64_t>& steps() const { return steps_; }
  // The latest value of the first (headline) metric, if any.
  bool headline(std::string& name, double& value) const;

  // Appends rows [flushed, rows()) to /metrics of a serial file and marks them flushed.
  void flush_to(const h5::Group& metrics_group);
  void mark_unflushed() { flushed_ = 0; }

  void save(const h5::Group& g) const;  // collective file; all ranks hold the same history
  void load(const h5::Group& g);

 private:
  std::vector<std::string> names_;
  std::vector<std::int64_t> steps_;
  std::vector<std::vector<double>> columns_;  // one per name
  std::size_t flushed_ = 0;
};

}  // namespace saddle::engine
