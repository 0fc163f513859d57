#include "apps/ksvd/phases.hpp"

#include <sys/resource.h>

#include <cstdio>

namespace saddle::apps::ksvd {
std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

std::string PhaseLog::write(const engine::h5::Group& result, const engine::Comm& comm, double kernel_evaluations) const {
  // Per phase: seconds (slowest rank), floating-point operations (all ranks), GFLOP/s.
  const engine::h5::Group perf = result.create_group("performance");
  double total_s = 0, total_f = 0;
  std::string line;
  for (auto& [name, p] : perf_) {
    const double sec = comm.allreduce(p.seconds, engine::Op::Max), fl = comm.allreduce(p.flops, engine::Op::Sum);
    total_s += sec;
    total_f += fl;
    perf.write_attr(name + "_seconds", sec);
    perf.write_attr(name + "_gflops", sec > 0 ? fl / sec * 1e-9 : 0.0);
    line += " " + name + " " + fmt(sec) + " s" + (fl > 0 ? " (" + fmt(sec > 0 ? fl / sec * 1e-9 : 0.0) + " GFLOP/s)" : "");
  }
  perf.write_attr("total_seconds", total_s);
  perf.write_attr("gflops", total_s > 0 ? total_f / total_s * 1e-9 : 0.0);
  perf.write_attr("kernel_evaluations", kernel_evaluations);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double rss = comm.allreduce(static_cast<double>(ru.ru_maxrss) / 1024.0, engine::Op::Max);
  perf.write_attr("peak_rss_mib_max_rank", rss);
  return "ksvd phases:" + line + "; peak RSS " + fmt(rss) + " MiB per rank";
}

}  // namespace saddle::apps::ksvd
