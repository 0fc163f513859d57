#include "engine/optimistic_dual_averaging.hpp"

#include <string>
#include <utility>

#include "engine/error.hpp"

namespace saddle::engine {

OptimisticDualAveraging::OptimisticDualAveraging(const Comm& comm, std::vector<double> x1, const kernels::OptdaRates& rates, StagePart part)
    : comm_(comm), part_(std::move(part)), rates_(rates), x1_(std::move(x1)) {
  const std::size_t n = x1_.size();
  x_ = x1_;
  for (auto* v : {&y_, &half_, &last_avg_, &last_own_, &x_sum_, &avg_, &own_}) v->assign(n, 0.0);
}

std::vector<double> OptimisticDualAveraging::average() const {
  if (t_ == 0) return x_;
  std::vector<double> a(x_sum_);
  for (double& e : a) e /= static_cast<double>(t_);
  return a;
}

const std::vector<double>& OptimisticDualAveraging::extrapolate(const double* direction) {
  const double gamma = rates_.gamma();
  for (std::size_t i = 0; i < x_.size(); ++i) half_[i] = x_[i] - gamma * direction[i];
  return half_;
}

const std::vector<double>& OptimisticDualAveraging::stay() {
  half_ = x_;
  return half_;
}

void OptimisticDualAveraging::update() {
  const std::size_t n = x_.size();
  auto terms = rates_.terms(own_.data(), last_own_.data(), n);
  if (rates_.adaptive) {
    comm_.allreduce(terms.data(), 2, Op::Sum);
    if (part_.split()) part_.stages.allreduce(terms.data(), 2, Op::Sum);  // norms of the whole vector
  }
  rates_.absorb(terms);
  const double eta = rates_.eta();
  for (std::size_t i = 0; i < n; ++i) {
    y_[i] -= avg_[i];
    x_[i] = x1_[i] + eta * y_[i];
    x_sum_[i] += half_[i];
  }
  ++t_;
  // Swaps, not copies: the next exchange rewrites avg_ and own_ whole.
  last_avg_.swap(avg_);
  last_own_.swap(own_);
}

void OptimisticDualAveraging::save(const h5::Group& g) const {
  g.write_attr("iterations", t_);
  for (const auto& [name, v] : {std::pair<const char*, const std::vector<double>*>{"x", &x_}, {"x1", &x1_}, {"y", &y_}, {"last_avg", &last_avg_}, {"x_sum", &x_sum_}})
    g.write(name, part_.whole(*v));
  rates_.save(g);
  // One row per worker: written by its first stage.
  const std::vector<double> own = part_.whole(last_own_);
  g.write_rows("last_own", own.data(), part_.stages.rank() == 0 ? 1 : 0, static_cast<std::int64_t>(own.size()));
}

void OptimisticDualAveraging::load_below(const h5::Group& state) {
  if (!state.exists("oda"))
    throw InputError("checkpoint group " + state.path() + " has no 'oda' group: it was written by an older Saddle, whose " +
                     "optimistic-dual-averaging state this one cannot continue; set run.restart = \"no\" to start over");
  load(state.open_group("oda"));
}

void OptimisticDualAveraging::load(const h5::Group& g) {
  const auto check = [&](const std::string& name, std::vector<double> v, std::vector<double>& into) {
    try {
      into = part_.part(std::move(v), x_.size(), "checkpoint: " + g.path() + "/" + name);
    } catch (const std::length_error& e) {
      throw InputError(e.what());
    }
  };
  t_ = g.read_attr<std::int64_t>("iterations");
  using Named = std::pair<const char*, std::vector<double>*>;
  for (const auto& [name, v] : {Named{"x", &x_}, Named{"x1", &x1_}, Named{"y", &y_}, Named{"last_avg", &last_avg_}, Named{"x_sum", &x_sum_}})
    check(name, g.read<double>(name), *v);
  if (!rates_.load(g)) throw InputError("checkpoint: " + g.path() + "/optda_rates must hold 2 finite non-negative sums");
  check("last_own", g.read_rows<double>("last_own", comm_.rank(), 1), last_own_);
}

}  // namespace saddle::engine
