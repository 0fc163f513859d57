#include "apps/wgan/player.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/error.hpp"
#include "kernels/host_loops.hpp"

namespace saddle::apps::wgan {

namespace kernel {  // the optimisers' element-wise updates over [lo, hi) (kernels::space_chunks)

// to = from - rate g.
struct Sgd {
  const double *from, *g;
  double* to;
  double rate;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t lo, const std::int64_t hi) const {
    for (std::int64_t i = lo; i < hi; ++i) to[i] = from[i] - rate * g[i];
  }
};

// Adam's moments and step; optimistic: x -= 2 u - u_prev, u_prev = u (else x -= u).
// Constants and arrays are copied to restrict locals, so the host loop vectorises (the members
// would be reloaded after every store).
struct Adam {
  double *m, *v, *x, *u;
  const double* g;
  double b1, b2, c1, c2, rate, e;
  bool optimistic;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t lo, const std::int64_t hi) const {
    double *KOKKOS_RESTRICT mp = m, *KOKKOS_RESTRICT vp = v, *KOKKOS_RESTRICT xp = x, *KOKKOS_RESTRICT up = u;
    const double* KOKKOS_RESTRICT gp = g;
    const double beta1 = b1, beta2 = b2, k1 = c1, k2 = c2, lr = rate, eps = e;
    if (optimistic) {
      for (std::int64_t i = lo; i < hi; ++i) {
        mp[i] = beta1 * mp[i] + (1 - beta1) * gp[i];
        vp[i] = beta2 * vp[i] + (1 - beta2) * gp[i] * gp[i];
        const double step = lr * (mp[i] / k1) / (kernels::kc::sqrt(vp[i] / k2) + eps);
        xp[i] -= 2 * step - up[i];
        up[i] = step;
      }
    } else {  // plain Adam has no u_prev: one array less to stream
      for (std::int64_t i = lo; i < hi; ++i) {
        mp[i] = beta1 * mp[i] + (1 - beta1) * gp[i];
        vp[i] = beta2 * vp[i] + (1 - beta2) * gp[i] * gp[i];
        xp[i] -= lr * (mp[i] / k1) / (kernels::kc::sqrt(vp[i] / k2) + eps);
      }
    }
  }
};

// The smallest complement of the exponent bits over [lo, hi) of a: 0 when a value is inf or nan
// (all ones). An unsigned min, which vectorises on the host, unlike a floating-point sum or an
// isfinite loop.
struct LowestExponentComplement {
  const double* a;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t i, std::uint64_t& low) const {
    const auto bits = kernels::kc::bit_cast<std::uint64_t>(a[i]);
    const std::uint64_t c = ~bits & 0x7ff0000000000000ull;
    if (c < low) low = c;
  }
};

}  // namespace kernel

namespace {

// Whether every value of a[0, n) (in Space's memory) is finite. On the host threads each
// chunk's min, then the min of those (exact in any order); on a device one reduction.
template <class Space>
bool all_finite(const double* a, std::int64_t n) {
  std::uint64_t lowest = ~std::uint64_t{0};
  if constexpr (kernels::kHostSpace<Space>) {
    std::atomic<std::uint64_t> shared{lowest};
    kernels::host_chunks(n, [&](std::int64_t lo, std::int64_t hi) {
      std::uint64_t low = ~std::uint64_t{0};
      for (std::int64_t i = lo; i < hi; ++i) {
        std::uint64_t bits;
        std::memcpy(&bits, &a[i], sizeof bits);
        low = std::min<std::uint64_t>(low, ~bits & 0x7ff0000000000000ull);
      }
      std::uint64_t seen = shared.load();
      while (low < seen && !shared.compare_exchange_weak(seen, low)) {
      }
    });
    lowest = shared.load();
  } else {
    Kokkos::parallel_reduce("wgan::all_finite", Kokkos::RangePolicy<Space>(0, n), kernel::LowestExponentComplement{a},
                            Kokkos::Min<std::uint64_t>(lowest));
  }
  return lowest != 0;
}

Kokkos::View<double*, kernels::Mem> zeros(const char* label, std::size_t n) { return Kokkos::View<double*, kernels::Mem>(std::string(label), n); }
using HostValues = Kokkos::View<double*, kernels::HostMem, Kokkos::MemoryUnmanaged>;
}  // namespace

const std::pair<const char*, Player::Vec Player::*> Player::kState[4] = {
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
  // The exchange's vectors: in Mem for the view exchange; on the host for the overlapped exchange
  // (begin/post/finish take host pointers). qoda's average and own vector are the dual
  // averaging's (in Mem): on a device the overlapped exchange stages them through avg_host_, own_.
  const bool qoda = method_ == Method::Qoda;
  if (overlap_) {
    local_.assign(n, 0.0);
    if (!qoda || !kernels::kHostSpace<kernels::Exec>) own_.assign(n, 0.0);
  } else {
    local_mem_ = zeros("wgan::local", n);
    if (!qoda) own_mem_ = zeros("wgan::own", n);
  }
  if (qoda) {
    oda_ = engine::OptimisticDualAveraging<kernels::Exec>(comm, x0, o.rates, std::move(part));
    if (overlap_ && !kernels::kHostSpace<kernels::Exec>) avg_host_ = Vec::HostMirror("wgan::avg_host", n);
  } else {
    avg_ = zeros("wgan::avg", n);
    if (overlap_) avg_host_ = Kokkos::create_mirror_view(avg_);
    x_ = zeros("wgan::x", n);
    Kokkos::deep_copy(x_, HostValues(x0.data(), n));
    if (method_ == Method::Adam || method_ == Method::OptimisticAdam) {
      m_ = zeros("wgan::m", n);
      v_ = zeros("wgan::v", n);
    }
    if (method_ == Method::OptimisticAdam) u_prev_ = zeros("wgan::u_prev", n);
    if (method_ == Method::Extragradient) x_half_ = zeros("wgan::x_half", n);
  }
  load_x();
  if (overlap_)
    net_->on_grad_ready([this](std::int64_t lo, std::int64_t hi) {
      net_->store_grad(local_.data(), lo, hi);
      exchange_->post(local_.data(), lo, hi);
    });
}

void Player::load_x() {
  net_->load_params_mem(method_ == Method::Qoda ? oda_.x() : x_);
  net_at_x_ = true;
}

void Player::prepare(int phase) {
  if (overlap_) exchange_->begin(round_);
  const bool at_half = method_ == Method::Qoda || (method_ == Method::Extragradient && phase == 1);
  if (method_ == Method::Qoda) {
    net_->load_params_mem(oda_.extrapolate());
  } else if (at_half) {
    net_->load_params_mem(x_half_);
  } else if (!net_at_x_) {
    net_->load_params_mem(x_);
  }
  net_at_x_ = !at_half;
}

std::uint64_t Player::exchange_grad() {
  const bool qoda = method_ == Method::Qoda;
  std::string failure;
  try {
    if (overlap_) {  // host vectors
      const bool direct = qoda && kernels::kHostSpace<kernels::Exec>;  // Mem is host memory: the dual averaging's own arrays
      double* avg = direct ? oda_.average_buffer().data() : avg_host_.data();
      double* own = direct ? oda_.own_buffer().data() : own_.data();
      exchange_->finish(local_.data(), avg, own);
      ++round_;
      if (qoda && !direct) {
        Kokkos::deep_copy(oda_.average_buffer(), avg_host_);
        Kokkos::deep_copy(oda_.own_buffer(), HostValues(own_.data(), own_.size()));
      } else if (!qoda && avg_.data() != avg_host_.data()) {
        Kokkos::deep_copy(avg_, avg_host_);
      }
    } else {
      net_->store_grad_mem(local_mem_, 0, net_->size());
      if (qoda) exchange_->exchange(local_mem_, oda_.average_buffer(), oda_.own_buffer(), round_++);
      else exchange_->exchange(local_mem_, avg_, own_mem_, round_++);
    }
  } catch (const engine::CollectiveError& e) {  // the quantiser refused a non-finite gradient
    failure = "training diverged: " + std::string(e.what()) + "; lower wgan.lr (and wgan.lr_generator)";
  }
  if (failure.empty()) {
    const auto n = static_cast<std::int64_t>(net_->size());
    const bool finite = all_finite<kernels::Exec>(qoda ? oda_.average_buffer().data() : avg_.data(), n);
    if (!finite) failure = "training diverged (non-finite gradients at exchange " + std::to_string(round_) + "); lower wgan.lr";
  }
  // Every stage of a split network learns of a divergence another stage saw.
  if (part_.split() && part_.stages.allreduce(static_cast<int>(!failure.empty()), engine::Op::Max) && failure.empty())
    failure = "training diverged on another pipeline stage (non-finite gradients at exchange " + std::to_string(round_) + "); lower wgan.lr";
  if (!failure.empty()) throw engine::CollectiveError(failure, engine::kExitFailure, 0);
  return exchange_->stats().round_bytes;
}

// to = from - lr avg.
void Player::sgd(const Vec& from, const Vec& to) const {
  kernels::space_chunks<kernels::Exec>("wgan::sgd", static_cast<std::int64_t>(x_.extent(0)), kernel::Sgd{from.data(), avg_.data(), to.data(), lr_});
}

std::vector<double> Player::x() const {
  if (method_ == Method::Qoda) return oda_.x_host();
  std::vector<double> h(x_.extent(0));
  Kokkos::deep_copy(HostValues(h.data(), h.size()), x_);
  return h;
}

void Player::absorb(int phase) {
  switch (method_) {
    case Method::Gda:
      sgd(x_, x_);
      break;
    case Method::Adam:
    case Method::OptimisticAdam:
      adam_step();
      break;
    case Method::Extragradient:
      sgd(x_, phase == 0 ? x_half_ : x_);
      break;
    case Method::Qoda:
      oda_.update();
      break;
  }
  load_x();
}

void Player::adam_step() {
  ++t_;
  const double c1 = 1.0 - std::pow(beta1_, static_cast<double>(t_)), c2 = 1.0 - std::pow(beta2_, static_cast<double>(t_));
  kernels::space_chunks<kernels::Exec>("wgan::adam", static_cast<std::int64_t>(x_.extent(0)),
                                       kernel::Adam{m_.data(), v_.data(), x_.data(), u_prev_.data(), avg_.data(), beta1_, beta2_, c1, c2, lr_, eps_,
                                                    method_ == Method::OptimisticAdam});
}

std::size_t Player::state_bytes() const {
  std::size_t n = 0;
  for (const auto* v : {&x_, &m_, &v_, &u_prev_, &x_half_, &avg_, &local_mem_, &own_mem_}) n += v->extent(0);
  if (avg_host_.data() != avg_.data()) n += avg_host_.extent(0);  // the overlapped exchange's host copy on a device
  n += local_.size() + own_.size();
  if (method_ == Method::Qoda) n += 9 * static_cast<std::size_t>(oda_.size());  // X_1, X, Y, X_{t+1/2}, last average/own, ergodic sum, average/own
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
  for (const auto& [name, member] : kState) {
    const Vec& v = this->*member;
    if (v.extent(0) == 0) continue;
    std::vector<double> h(v.extent(0));
    Kokkos::deep_copy(HostValues(h.data(), h.size()), v);
    g.write(name, part_.whole(h));
  }
}

void Player::load(const engine::h5::Group& g) {
  round_ = static_cast<std::uint32_t>(g.read_attr<std::int64_t>("round"));
  exchange_->load(g.open_group("exchange"));
  if (method_ == Method::Qoda) {
    oda_.load_below(g);
  } else {
    t_ = g.read_attr<std::int64_t>("t");
    for (const auto& [name, member] : kState) {
      const Vec& v = this->*member;
      if (v.extent(0) == 0) continue;
      try {
        std::vector<double> h = part_.part(g.read<double>(name), v.extent(0), "checkpoint: " + g.path() + "/" + name);
        Kokkos::deep_copy(v, HostValues(h.data(), h.size()));
      } catch (const std::length_error& e) {
        throw engine::InputError(e.what());
      }
    }
  }
  load_x();
}

}  // namespace saddle::apps::wgan
