#include "apps/wgan/player.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/error.hpp"
#include "kernels/host_loops.hpp"

namespace saddle::apps::wgan {

const std::pair<const char*, std::vector<double> Player::*> Player::kState[4] = {
    {"x", &Player::x_}, {"m", &Player::m_}, {"v", &Player::v_}, {"u_prev", &Player::u_prev_}};

void Player::init(kernels::nn::ParameterAccess& net, std::vector<double> x0, const PlayerOptions& o,
                  std::unique_ptr<engine::CompressedExchange> exchange, const engine::Comm& comm, engine::StagePart part) {
  net_ = &net;
  part_ = part;
  method_ = o.method;
  lr_ = o.lr;
  beta1_ = o.beta1;
  beta2_ = o.beta2;
  eps_ = o.eps;
  exchange_ = std::move(exchange);
  overlap_ = o.overlap && exchange_->overlaps();
  const std::size_t n = x0.size();
  for (auto* v : {&local_, &avg_, &own_}) v->assign(n, 0.0);
  if (method_ == Method::Qoda) {
    oda_ = engine::OptimisticDualAveraging(comm, std::move(x0), o.rates, std::move(part));
  } else {
    x_ = std::move(x0);
    if (method_ == Method::Adam || method_ == Method::OptimisticAdam) {
      m_.assign(n, 0.0);
      v_.assign(n, 0.0);
    }
    if (method_ == Method::OptimisticAdam) u_prev_.assign(n, 0.0);
    if (method_ == Method::Extragradient) x_half_.assign(n, 0.0);
  }
  net_->load_params(x().data());
  net_at_x_ = true;
  if (overlap_)
    net_->on_grad_ready([this](std::int64_t lo, std::int64_t hi) {
      net_->store_grad(local_.data(), lo, hi);
      exchange_->post(local_.data(), lo, hi);
    });
}

void Player::prepare(int phase) {
  if (overlap_) exchange_->begin(round_);
  const bool at_half = method_ == Method::Qoda || (method_ == Method::Extragradient && phase == 1);
  if (method_ == Method::Qoda) {
    net_->load_params(oda_.extrapolate().data());
  } else if (at_half) {
    net_->load_params(x_half_.data());
  } else if (!net_at_x_) {
    net_->load_params(x_.data());
  }
  net_at_x_ = !at_half;
}

std::uint64_t Player::exchange_grad() {
  const bool qoda = method_ == Method::Qoda;
  double* avg = qoda ? oda_.average_out() : avg_.data();
  double* own = qoda ? oda_.own_out() : own_.data();
  std::string failure;
  try {
    if (overlap_) {
      exchange_->finish(local_.data(), avg, own);
      ++round_;
    } else {
      net_->store_grad(local_.data());
      exchange_->exchange(local_.data(), avg, own, round_++);
    }
  } catch (const engine::CollectiveError& e) {  // the quantiser refused a non-finite gradient
    failure = "training diverged: " + std::string(e.what()) + "; lower wgan.lr (and wgan.lr_generator)";
  }
  if (failure.empty()) {
    // Any inf or nan (exponent bits all ones)? An unsigned min over the complemented exponents,
    // which vectorises, unlike a floating-point sum or an isfinite loop.
    // On several host threads: each chunk's min, then the min of those (exact, in any order).
    std::atomic<std::uint64_t> lowest{~std::uint64_t{0}};
    kernels::host_chunks(static_cast<std::int64_t>(local_.size()), [&](std::int64_t lo, std::int64_t hi) {
      std::uint64_t low = ~std::uint64_t{0};
      for (std::int64_t i = lo; i < hi; ++i) {
        std::uint64_t bits;
        std::memcpy(&bits, &avg[i], sizeof bits);
        low = std::min<std::uint64_t>(low, ~bits & 0x7ff0000000000000ull);
      }
      std::uint64_t seen = lowest.load();
      while (low < seen && !lowest.compare_exchange_weak(seen, low)) {
      }
    });
    const std::uint64_t low = lowest.load();
    if (low == 0) failure = "training diverged (non-finite gradients at exchange " + std::to_string(round_) + "); lower wgan.lr";
  }
  // Every stage of a split network learns of a divergence another stage saw.
  if (part_.split() && part_.stages.allreduce(static_cast<int>(!failure.empty()), engine::Op::Max) && failure.empty())
    failure = "training diverged on another pipeline stage (non-finite gradients at exchange " + std::to_string(round_) + "); lower wgan.lr";
  if (!failure.empty()) throw engine::CollectiveError(failure, engine::kExitFailure, 0);
  return exchange_->stats().round_bytes;
}

// to = from - lr avg, element-wise over the host threads.
void Player::sgd(const double* from, double* to) const {
  const double rate = lr_;
  const double* g = avg_.data();
  kernels::host_chunks(static_cast<std::int64_t>(x_.size()), [=](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t i = lo; i < hi; ++i) to[i] = from[i] - rate * g[i];
  });
}

void Player::absorb(int phase) {
  switch (method_) {
    case Method::Gda:
      sgd(x_.data(), x_.data());
      break;
    case Method::Adam:
    case Method::OptimisticAdam:
      adam_step();
      break;
    case Method::Extragradient:
      sgd(x_.data(), phase == 0 ? x_half_.data() : x_.data());
      break;
    case Method::Qoda:
      oda_.update();
      break;
  }
  net_->load_params(x().data());
  net_at_x_ = true;
}

void Player::adam_step() {
  const std::size_t n = x_.size();
  ++t_;
  const double c1 = 1.0 - std::pow(beta1_, static_cast<double>(t_)), c2 = 1.0 - std::pow(beta2_, static_cast<double>(t_));
  // Constants and arrays as locals with no aliasing, so the loop vectorises (the members would be
  // reloaded after every store); chunks of it on the host threads.
  const double b1 = beta1_, b2 = beta2_, rate = lr_, e = eps_;
  double *m_data = m_.data(), *v_data = v_.data(), *x_data = x_.data(), *u_data = u_prev_.data();
  const double* g_data = avg_.data();
  const bool optimistic = method_ == Method::OptimisticAdam;
  kernels::host_chunks(static_cast<std::int64_t>(n), [=](std::int64_t lo, std::int64_t hi) {
    double *__restrict mp = m_data, *__restrict vp = v_data, *__restrict xp = x_data, *__restrict up = u_data;
    const double* __restrict g = g_data;
    const auto step = [&](std::int64_t i) {
      mp[i] = b1 * mp[i] + (1 - b1) * g[i];
      vp[i] = b2 * vp[i] + (1 - b2) * g[i] * g[i];
      return rate * (mp[i] / c1) / (std::sqrt(vp[i] / c2) + e);
    };
    if (optimistic) {
      for (std::int64_t i = lo; i < hi; ++i) {
        const double u = step(i);
        xp[i] -= 2 * u - up[i];
        up[i] = u;
      }
    } else {  // plain Adam has no u_prev: one array less to stream
      for (std::int64_t i = lo; i < hi; ++i) xp[i] -= step(i);
    }
  });
}

std::size_t Player::state_bytes() const {
  std::size_t n = 0;
  for (const auto* v : {&x_, &m_, &v_, &u_prev_, &x_half_, &local_, &avg_, &own_}) n += v->size();
  if (method_ == Method::Qoda) n += 9 * local_.size();  // X_1, X, Y, X_{t+1/2}, last average/own, ergodic sum, average/own
  return n * sizeof(double);
}

void Player::save(const engine::h5::Group& g) const {
  g.write_attr("round", static_cast<std::int64_t>(round_));
  exchange_->save(g.create_group("exchange"));
  if (method_ == Method::Qoda) {
    oda_.save(g.create_group("oda"));
    return;
  }
  g.write_attr("t", t_);
  for (const auto& [name, member] : kState)
    if (!(this->*member).empty()) g.write(name, part_.whole(this->*member));
}

void Player::load(const engine::h5::Group& g) {
  round_ = static_cast<std::uint32_t>(g.read_attr<std::int64_t>("round"));
  exchange_->load(g.open_group("exchange"));
  if (method_ == Method::Qoda) {
    oda_.load_below(g);
  } else {
    t_ = g.read_attr<std::int64_t>("t");
    for (const auto& [name, member] : kState) {
      std::vector<double>& v = this->*member;
      if (v.empty()) continue;
      try {
        v = part_.part(g.read<double>(name), v.size(), "checkpoint: " + g.path() + "/" + name);
      } catch (const std::length_error& e) {
        throw engine::InputError(e.what());
      }
    }
  }
  net_->load_params(x().data());
  net_at_x_ = true;
}

}  // namespace saddle::apps::wgan
