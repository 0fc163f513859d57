#pragma once
// Optimistic dual averaging, quantised or not (QODA and OptDA, docs/algorithms.md section 2): the
// state of one worker and its checkpoint, shared by apps/qoda (and its Q-GenX, EG and GDA
// baselines, which differ only in the point X_{t+1/2}) and wgan's qoda optimiser. One iteration:
//   X_{t+1/2} = X_t - gamma_t avg_k Vhat_{k,t-1/2}          extrapolate()   (or another direction)
//   the caller exchanges V_k(X_{t+1/2}) into average_out() and own_out()
//   Y_{t+1} = Y_t - avg_k Vhat_{k,t+1/2};  X_{t+1} = X_1 + eta_{t+1} Y_{t+1}   update()
// with the rates of kernels/optda_rates.hpp (adaptive: their terms summed over the workers, a
// 2-number allreduce) and the ergodic average of the points X_{t+1/2}.
#include <cstdint>
#include <vector>

#include "engine/comm.hpp"
#include "engine/h5.hpp"
#include "engine/pipeline.hpp"
#include "kernels/optda_rates.hpp"

namespace saddle::engine {

class OptimisticDualAveraging {
 public:
  OptimisticDualAveraging() = default;
  // Starts at X_1 = x1 with Y = 0 and a zero previous round. `comm` connects the workers; `part`
  // says which part of the whole vector x1 is when the vector is split over pipeline stages (the
  // adaptive rates' terms are then summed over the stages too, and checkpoints hold the whole).
  OptimisticDualAveraging(const Comm& comm, std::vector<double> x1, const kernels::OptdaRates& rates, StagePart part = {});

  const std::vector<double>& x() const { return x_; }        // X_t
  const std::vector<double>& half() const { return half_; }  // X_{t+1/2} of the iteration under way
  const kernels::OptdaRates& rates() const { return rates_; }
  std::int64_t iterations() const { return t_; }
  // The mean of the points X_{s+1/2} so far, X_t before the first iteration.
  std::vector<double> average() const;

  // X_{t+1/2} = X_t - gamma_t d, d the last round's average (optimistic) or `direction` (an
  // extragradient's fresh average).
  const std::vector<double>& extrapolate() { return extrapolate(last_avg_.data()); }
  const std::vector<double>& extrapolate(const double* direction);
  // X_{t+1/2} = X_t (gradient descent-ascent).
  const std::vector<double>& stay();

  // Where the exchange of this iteration writes avg_k Vhat_k and this worker's Vhat.
  double* average_out() { return avg_.data(); }
  double* own_out() { return own_.data(); }
  // Ends the iteration: the rates absorb this round's terms (collective when adaptive), then Y,
  // X and the ergodic sum move.
  void update();

  // X, X_1, Y, the last round's average and the ergodic sum, the rates' sums, the iteration count,
  // and each rank's last own vector (one row per rank). load() throws InputError on other lengths.
  void save(const h5::Group& g) const;
  void load(const h5::Group& g);
  // load() of the group `oda` below a workload's checkpoint state, where qoda and wgan keep it; a
  // checkpoint written before that layout (no `oda`) is refused as such (InputError), not as an
  // HDF5 failure.
  void load_below(const h5::Group& state);

 private:
  Comm comm_;
  StagePart part_;
  kernels::OptdaRates rates_;
  std::vector<double> x1_, x_, y_, half_, last_avg_, last_own_, x_sum_, avg_, own_;
  std::int64_t t_ = 0;
};

}  // namespace saddle::engine
