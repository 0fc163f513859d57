#include "engine/progress.hpp"

#include <cmath>
#include <cstdio>

namespace saddle::engine {

Progress::Progress(std::int64_t first_step, std::int64_t total, double interval_seconds, bool enabled)
    : first_(first_step), total_(total), interval_(interval_seconds), enabled_(enabled), start_(clock::now()), last_(start_) {}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--:--";
  const long long t = std::llround(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

void Progress::update(std::int64_t step, const std::string& metric_name, double metric_value, bool have_metric) {
  if (!enabled_) return;
  const auto now = clock::now();
  if (step != total_ && std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(step - first_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - step) / rate : NAN;
  char line[256];
  const int n = std::snprintf(line, sizeof line, "[saddle] step %lld/%lld (%5.1f%%)  %.3g steps/s  ETA %s",
                              static_cast<long long>(step), static_cast<long long>(total_),
                              total_ > 0 ? 100.0 * static_cast<double>(step) / static_cast<double>(total_) : 100.0, rate,
                              format_duration(eta).c_str());
  std::string out(line, static_cast<std::size_t>(std::max(n, 0)));
  if (have_metric) {
    std::snprintf(line, sizeof line, "  %s=%.6g", metric_name.c_str(), metric_value);
    out += line;
  }
  std::printf("%s\n", out.c_str());
  std::fflush(stdout);
}

}  // namespace saddle::engine
