#pragma once
// Rank 0's progress line, printed at a steady rate: step/total, steps/s, ETA, headline metric.
#include <chrono>
#include <cstdint>
#include <string>

namespace saddle::engine {

class Progress {
 public:
  Progress(std::int64_t first_step, std::int64_t total, double interval_seconds, bool enabled);
  // Prints when `interval` has passed since the last line, and always at the last step.
  void update(std::int64_t step, const std::string& metric_name, double metric_value, bool have_metric);
  static std::string format_duration(double seconds);

 private:
  using clock = std::chrono::steady_clock;
  std::int64_t first_, total_;
  double interval_;
  bool enabled_;
  clock::time_point start_, last_;
};

}  // namespace saddle::engine
