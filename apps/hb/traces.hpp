#pragma once
// Recorded trajectories of an hb run: for every scheme and traced (h, beta), the first start's
// orbit every `every` steps and the modified equation (docs/algorithms.md section 4) integrated
// by RK4 from the same start and sampled at the same steps, written to result/trajectories.
#include <cstdint>
#include <vector>

#include "apps/hb/game.hpp"
#include "apps/hb/sweep.hpp"
#include "engine/h5.hpp"

namespace saddle::apps::hb {

struct TraceSpec {
  std::vector<double> h, beta;  // the traced pairs (empty: no traces)
  std::int64_t steps = 0, every = 10, ode_substeps = 4;
};

void write_traces(const engine::h5::Group& result, const Game& game, const Sweep& sweep, const TraceSpec& spec);

}  // namespace saddle::apps::hb
