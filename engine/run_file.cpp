#include "engine/run_file.hpp"
#include "engine/runtime.hpp"
#include "kernels/linalg/host_backend.hpp"

#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <cstdio>
#include <ctime>

#include "engine/build_info.hpp"
#include "engine/error.hpp"
#include "engine/fault_injection.hpp"

namespace saddle::engine {

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void RunFile::create(const Config& config, const std::string& workload, std::int64_t restarted_from_step,
                     const std::string& device_collectives) const {
  comm_.agree([&] {
    if (!comm_.is_root()) return;
    h5::File f = h5::File::create(path_);
    const h5::Group& root = f.root();
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    root.write_attr("saddle_version", build::version);
    root.write_attr("git_revision", build::git_revision);
    root.write_attr("workload", workload);
    root.write_attr("created_utc", utc_now());
    root.write_attr("ranks", std::int64_t{comm_.size()});
    root.write_attr("kokkos_backend", Kokkos::DefaultExecutionSpace::name());
    root.write_attr("device_collectives", device_collectives);
    root.write_attr("threads", std::int64_t{thread_layout().threads});
    root.write_attr("blas_threads", std::int64_t{kernels::linalg::blas_threads()});
    root.write_attr("schema_version", std::int64_t{build::schema_version});
    root.write_attr("hostname", std::string(host));
    root.write_attr("deck_path", config.deck_path());
    root.write_attr("restarted_from_step", restarted_from_step);
    root.write_attr("completed", std::int64_t{0});
    root.create_group("config").write_attr("toml", config.to_toml());
    root.create_group("metrics");
    f.close();
  });
}

void RunFile::flush_metrics(MetricHistory& history) const {
  if (comm_.is_root()) {
    // A refresh for users watching the run: if the file cannot be opened now, the rows stay
    // pending and are written at the next flush; the run goes on.
    try {
      h5::File f = h5::File::open(path_, h5::File::Mode::ReadWrite);
      {
        h5::Group metrics = f.root().require_group("metrics");
        history.flush_to(metrics);
        fault_point("flush");
      }
      f.close();
    } catch (const h5::Error& e) {
      std::fprintf(stderr, "saddle: warning: metrics not refreshed in %s (%s); retrying at the next flush\n", path_.c_str(),
                   e.what());
    }
  }
  comm_.barrier();
}

void RunFile::write_results(const std::function<void(const h5::Group&)>& write) const {
  h5::File f;
  try {
    f = h5::File::open(path_, h5::File::Mode::ReadWrite, &comm_);
    {
      h5::Group result = f.root().require_group("result");
      write(result);
      fault_point("result");
    }
    f.close();
  } catch (const h5::Error& e) {
    // Agreed by every rank, as in CheckpointStore::write.
    h5::close_after_failure(f);
    throw CollectiveError("results not written to " + path_ + ": " + e.what(), kExitFailure, 0);
  }
}

void RunFile::finish(const std::vector<Timers::Summary>& timers, std::int64_t steps_done) const {
  comm_.agree([&] {
    if (!comm_.is_root()) return;
    h5::File f = h5::File::open(path_, h5::File::Mode::ReadWrite);
    {
      h5::Group g = f.root().require_group("timers");
      for (const auto& t : timers) {
        g.write(t.name, t.per_rank);
        g.write_attr_on(t.name, "min", t.min);
        g.write_attr_on(t.name, "mean", t.mean);
        g.write_attr_on(t.name, "max", t.max);
      }
    }
    f.root().write_attr("completed", std::int64_t{1});
    f.root().write_attr("finished_utc", utc_now());
    f.root().write_attr("steps", steps_done);
    f.close();
  });
}

}  // namespace saddle::engine
