#pragma once
// Optimistic dual averaging, quantised or not (QODA and OptDA, docs/algorithms.md section 2): the
// state of one worker and its checkpoint, shared by apps/qoda (and its Q-GenX, EG and GDA
// baselines, which differ only in the point X_{t+1/2}) and wgan's qoda optimiser. One iteration:
//   X_{t+1/2} = X_t - gamma_t avg_k Vhat_{k,t-1/2}          extrapolate()   (or another direction)
//   the caller exchanges V_k(X_{t+1/2}) into average_buffer() and own_buffer()
//   Y_{t+1} = Y_t - avg_k Vhat_{k,t+1/2};  X_{t+1} = X_1 + eta_{t+1} Y_{t+1}   update()
// with the rates of kernels/optda_rates.hpp (adaptive: their terms summed over the workers, a
// 2-number allreduce) and the ergodic average of the points X_{t+1/2}.
//
// The vectors live in the memory of the Kokkos execution space Space and the element-wise steps
// run there (kernels::space_chunks): apps/qoda uses the host (kernels::HostExec), wgan's qoda
// optimiser the networks' space (kernels::Exec, a GPU in a CUDA build), so that its iterate, its
// dual vector and the exchanged averages never leave the device. Every step is element-wise, so
// the bits do not depend on the space's threads; the adaptive rates' two norms are a plain loop on
// a host space (the order they always had) and a Kokkos reduction on a device.
#include <Kokkos_Core.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/comm.hpp"
#include "engine/error.hpp"
#include "engine/h5.hpp"
#include "engine/pipeline.hpp"
#include "kernels/host_loops.hpp"
#include "kernels/optda_rates.hpp"
#include "kernels/spaces.hpp"

namespace saddle::engine {

namespace oda_kernel {
// half = x - gamma d.
struct Extrapolate {
  double* half;
  const double *x, *d;
  double gamma;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t lo, std::int64_t hi) const {
    for (std::int64_t i = lo; i < hi; ++i) half[i] = x[i] - gamma * d[i];
  }
};
// y -= avg; x = x1 + eta y; x_sum += half.
struct Update {
  double *y, *x, *x_sum;
  const double *avg, *x1, *half;
  double eta;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t lo, std::int64_t hi) const {
    for (std::int64_t i = lo; i < hi; ++i) {
      y[i] -= avg[i];
      x[i] = x1[i] + eta * y[i];
      x_sum[i] += half[i];
    }
  }
};
// The adaptive rates' terms |own - last_own|^2 and |own|^2 as reductions on a device.
struct SquaredDifference {
  const double *own, *last;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, double& sum) const {
    const double d = own[i] - last[i];
    sum += d * d;
  }
};
struct Squared {
  const double* own;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, double& sum) const { sum += own[i] * own[i]; }
};
}  // namespace oda_kernel

template <class Space = kernels::HostExec>
class OptimisticDualAveraging {
 public:
  using Mem = typename Space::memory_space;
  using Vec = Kokkos::View<double*, Mem>;

  OptimisticDualAveraging() = default;
  // Starts at X_1 = x1 with Y = 0 and a zero previous round. `comm` connects the workers; `part`
  // says which part of the whole vector x1 is when the vector is split over pipeline stages (the
  // adaptive rates' terms are then summed over the stages too, and checkpoints hold the whole).
  OptimisticDualAveraging(const Comm& comm, const std::vector<double>& x1, const kernels::OptdaRates& rates, StagePart part = {})
      : comm_(comm), part_(std::move(part)), rates_(rates) {
    const std::size_t n = x1.size();
    for (auto* v : {&x1_, &x_, &y_, &half_, &last_avg_, &last_own_, &x_sum_, &avg_, &own_}) *v = Vec("oda", n);
    from_host(x1, x1_);
    Kokkos::deep_copy(x_, x1_);
  }

  std::int64_t size() const { return static_cast<std::int64_t>(x_.extent(0)); }
  const Vec& x() const { return x_; }        // X_t
  const Vec& half() const { return half_; }  // X_{t+1/2} of the iteration under way
  std::vector<double> x_host() const { return to_host(x_); }
  const kernels::OptdaRates& rates() const { return rates_; }
  std::int64_t iterations() const { return t_; }
  // The mean of the points X_{s+1/2} so far, X_t before the first iteration, on the host.
  std::vector<double> average() const {
    if (t_ == 0) return to_host(x_);
    std::vector<double> a = to_host(x_sum_);
    for (double& e : a) e /= static_cast<double>(t_);
    return a;
  }

  // X_{t+1/2} = X_t - gamma_t d, d the last round's average (optimistic) or `direction` (an
  // extragradient's fresh average, in Mem).
  const Vec& extrapolate() { return extrapolate(last_avg_.data()); }
  const Vec& extrapolate(const double* direction) {
    kernels::space_chunks<Space>("oda::extrapolate", size(), oda_kernel::Extrapolate{half_.data(), x_.data(), direction, rates_.gamma()});
    return half_;
  }
  // X_{t+1/2} = X_t (gradient descent-ascent).
  const Vec& stay() {
    Kokkos::deep_copy(half_, x_);
    return half_;
  }

  // Where the exchange of this iteration writes avg_k Vhat_k and this worker's Vhat (in Mem; the
  // views change at every update(), so ask again each iteration).
  const Vec& average_buffer() const { return avg_; }
  const Vec& own_buffer() const { return own_; }
  // Ends the iteration: the rates absorb this round's terms (collective when adaptive), then Y,
  // X and the ergodic sum move.
  void update() {
    std::array<double, 2> terms{0.0, 0.0};
    if constexpr (kernels::kHostSpace<Space>) {
      terms = rates_.terms(own_.data(), last_own_.data(), static_cast<std::size_t>(size()));
    } else if (rates_.adaptive) {
      const Kokkos::RangePolicy<Space> range(0, size());
      Kokkos::parallel_reduce("oda::terms", range, oda_kernel::SquaredDifference{own_.data(), last_own_.data()}, terms[0]);
      Kokkos::parallel_reduce("oda::terms", range, oda_kernel::Squared{own_.data()}, terms[1]);
    }
    if (rates_.adaptive) {
      comm_.allreduce(terms.data(), 2, Op::Sum);
      if (part_.split()) part_.stages.allreduce(terms.data(), 2, Op::Sum);  // norms of the whole vector
    }
    rates_.absorb(terms);
    kernels::space_chunks<Space>("oda::update", size(),
                                 oda_kernel::Update{y_.data(), x_.data(), x_sum_.data(), avg_.data(), x1_.data(), half_.data(), rates_.eta()});
    if constexpr (!kernels::kHostSpace<Space>) Space().fence();
    ++t_;
    // Swaps, not copies: the next exchange rewrites avg_ and own_ whole.
    std::swap(last_avg_, avg_);
    std::swap(last_own_, own_);
  }

  // X, X_1, Y, the last round's average and the ergodic sum, the rates' sums, the iteration count,
  // and each rank's last own vector (one row per rank). load() throws InputError on other lengths.
  void save(const h5::Group& g) const {
    g.write_attr("iterations", t_);
    for (const auto& [name, v] : named()) g.write(name, part_.whole(to_host(*v)));
    rates_.save(g);
    // One row per worker: written by its first stage.
    const std::vector<double> own = part_.whole(to_host(last_own_));
    g.write_rows("last_own", own.data(), part_.stages.rank() == 0 ? 1 : 0, static_cast<std::int64_t>(own.size()));
  }
  void load(const h5::Group& g) {
    const auto check = [&](const std::string& name, std::vector<double> v, const Vec& into) {
      try {
        from_host(part_.part(std::move(v), static_cast<std::size_t>(size()), "checkpoint: " + g.path() + "/" + name), into);
      } catch (const std::length_error& e) {
        throw InputError(e.what());
      }
    };
    t_ = g.read_attr<std::int64_t>("iterations");
    for (const auto& [name, v] : named()) check(name, g.read<double>(name), *v);
    if (!rates_.load(g)) throw InputError("checkpoint: " + g.path() + "/optda_rates must hold 2 finite non-negative sums");
    check("last_own", g.read_rows<double>("last_own", comm_.rank(), 1), last_own_);
  }
  // load() of the group `oda` below a workload's checkpoint state, where qoda and wgan keep it; a
  // checkpoint written before that layout (no `oda`) is refused as such (InputError), not as an
  // HDF5 failure.
  void load_below(const h5::Group& state) {
    if (!state.exists("oda"))
      throw InputError("checkpoint group " + state.path() + " has no 'oda' group: it was written by an older Saddle, whose " +
                       "optimistic-dual-averaging state this one cannot continue; set run.restart = \"no\" to start over");
    load(state.open_group("oda"));
  }

 private:
  using HostValues = Kokkos::View<double*, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;
  // The checkpoint's vectors by name.
  std::array<std::pair<const char*, const Vec*>, 5> named() const {
    return {{{"x", &x_}, {"x1", &x1_}, {"y", &y_}, {"last_avg", &last_avg_}, {"x_sum", &x_sum_}}};
  }
  static std::vector<double> to_host(const Vec& v) {
    std::vector<double> h(v.extent(0));
    Kokkos::deep_copy(HostValues(h.data(), h.size()), v);
    return h;
  }
  static void from_host(const std::vector<double>& h, const Vec& v) {
    Kokkos::deep_copy(v, HostValues(const_cast<double*>(h.data()), h.size()));
  }

  Comm comm_;
  StagePart part_;
  kernels::OptdaRates rates_;
  Vec x1_, x_, y_, half_, last_avg_, last_own_, x_sum_, avg_, own_;
  std::int64_t t_ = 0;
};

}  // namespace saddle::engine
