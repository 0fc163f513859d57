#pragma once
// Named timer regions (compute, quantize, comm, io, ...). Per-rank seconds are reduced across
// ranks at the end into /timers and a short table.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "engine/comm.hpp"

namespace saddle::engine {

class Timers {
 public:
  class Scope {
   public:
    Scope(Timers& t, std::string name) : t_(t), name_(std::move(name)), start_(clock::now()) {}
    ~Scope() { t_.add(name_, std::chrono::duration<double>(clock::now() - start_).count()); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Timers& t_;
    std::string name_;
    std::chrono::steady_clock::time_point start_;
  };
  using clock = std::chrono::steady_clock;

  Scope scope(std::string name) { return Scope(*this, std::move(name)); }
  void add(const std::string& name, double seconds) { seconds_[name] += seconds; }
  double seconds(const std::string& name) const;
  const std::map<std::string, double>& all() const { return seconds_; }
  void set(std::map<std::string, double> s) { seconds_ = std::move(s); }

  struct Summary {
    std::string name;
    std::vector<double> per_rank;
    double min = 0, mean = 0, max = 0;
  };
  // Collective: the union of region names over ranks (a rank without a region counts 0 s).
  std::vector<Summary> reduce(const Comm& comm) const;
  static std::string table(const std::vector<Summary>& summaries);

 private:
  std::map<std::string, double> seconds_;
};

}  // namespace saddle::engine
