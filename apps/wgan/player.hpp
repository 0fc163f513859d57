#pragma once
// One player of the WGAN game (critic or generator): its optimiser over its flat parameter vector
// in float64, the exchange that averages its gradients over the ranks, and the network (in the
// deck's precision) that holds the point where the gradient is evaluated; load_params and
// store_grad convert at the boundary, an O(parameters) copy. The iterate, the moments and the
// exchanged gradients of gda, adam, optimistic adam and extragradient live in the default
// execution space's memory (kernels::Mem, with the networks: the GPU's in a CUDA build) and their
// element-wise updates are Kokkos kernels there, and the gradient goes to the exchange's view
// form (CompressedExchange::exchange on views in Mem) without a host copy; the overlapped
// exchange (begin/post/finish, host pointers) stages through a host mirror. qoda's dual averaging
// (engine::OptimisticDualAveraging<Exec>) keeps its vectors in Mem as well, and its exchange
// writes into them. The optimisers (lr the step):
//   gda             x -= lr g(x)
//   adam            Adam(lr, beta1, beta2, eps)
//   optimistic_adam x -= 2 u_t - u_{t-1}, u_t the Adam step (Daskalakis et al. 2018)
//   extragradient   xh = x - lr g(x); x -= lr g(xh)               (two evaluations)
//   qoda            engine::OptimisticDualAveraging: X_{t+1/2} = X_t - gamma_t avgQ_{t-1/2};
//                   Y -= avgQ(V(X_{t+1/2})); X = X_1 + eta_{t+1} Y (one quantised exchange per
//                   evaluation; the player's own rates, adaptive ones summed over the workers)
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <Kokkos_Core.hpp>

#include "engine/comm.hpp"
#include "engine/compressed_exchange.hpp"
#include "engine/h5.hpp"
#include "engine/optimistic_dual_averaging.hpp"
#include "kernels/nn/mlp.hpp"
#include "kernels/optda_rates.hpp"

namespace saddle::apps::wgan {

enum class Method { Gda, Adam, OptimisticAdam, Extragradient, Qoda };

struct PlayerOptions {
  Method method = Method::Adam;
  double lr = 1e-4, beta1 = 0.5, beta2 = 0.9, eps = 1e-8;
  kernels::OptdaRates rates;  // qoda
  // Send each layer's gradient as soon as the backward pass completes it (the network's
  // on_grad_ready), so that the exchange overlaps the backward of the layers below (where the
  // exchange can: CompressedExchange::overlaps()).
  bool overlap = false;
};

class Player {
 public:
  // Starts at x0 and loads it into `net`; net and the exchange's layout have x0.size() parameters.
  // `comm` connects the data replicas; `part` places x0 in the whole parameter vector when the
  // network is split over pipeline stages (checkpoints hold the whole vector, a divergence seen
  // on one stage stops every stage, qoda's adaptive rates take the whole vector's norms).
  void init(kernels::nn::ParameterAccess& net, std::vector<double> x0, const PlayerOptions& o,
            std::unique_ptr<engine::CompressedExchange> exchange, const engine::Comm& comm, engine::StagePart part = {});

  int evaluations() const { return method_ == Method::Extragradient ? 2 : 1; }
  std::int64_t size() const { return net_->size(); }
  // The iterate x (qoda: X_t), on the host.
  std::vector<double> x() const;
  // qoda: the ergodic average of X_{t+1/2}, and the rates.
  std::vector<double> average() const { return oda_.average(); }
  const kernels::OptdaRates& rates() const { return oda_.rates(); }
  const engine::CompressedExchange& exchange() const { return *exchange_; }
  // Bytes of the optimiser's float64 vectors on this rank (iterate, moments, exchange buffers).
  std::size_t state_bytes() const;

  // One evaluation `phase` (< evaluations()) of a step: prepare loads its point into the
  // network (and, overlapping, opens the exchange's round: the parameter backward that follows
  // posts each layer's gradient), exchange_grad averages the network's gradient over the ranks
  // (collective; returns the round's bytes), absorb applies it and loads x.
  void prepare(int phase);
  std::uint64_t exchange_grad();
  void absorb(int phase);

  void save(const engine::h5::Group& g) const;
  void load(const engine::h5::Group& g);

 private:
  using Vec = Kokkos::View<double*, kernels::Mem>;
  void adam_step();
  void sgd(const Vec& from, const Vec& to) const;
  // Loads x (qoda: X_t) into the network.
  void load_x();
  // The optimiser's vectors in the checkpoint: those of them its method uses (not empty).
  static const std::pair<const char*, Vec Player::*> kState[4];

  kernels::nn::ParameterAccess* net_ = nullptr;
  Method method_ = Method::Adam;
  double lr_ = 0, beta1_ = 0.5, beta2_ = 0.9, eps_ = 1e-8;
  // gda, adam, optimistic adam, extragradient: the iterate and the moments each one needs.
  Vec x_, m_, v_, u_prev_, x_half_;
  std::int64_t t_ = 0;  // Adam steps
  engine::OptimisticDualAveraging<kernels::Exec> oda_;
  std::unique_ptr<engine::CompressedExchange> exchange_;
  engine::StagePart part_;
  // This rank's gradient and the exchange's outputs: in Mem for the view exchange (local_mem_,
  // avg_, own_mem_; qoda's average and own vector are the dual averaging's); on the host for the
  // overlapped exchange (local_, own_, and avg_host_, a mirror of avg_: the same array in a CPU
  // build; with qoda, staging for the dual averaging's vectors on a device).
  std::vector<double> local_, own_;
  Vec local_mem_, own_mem_, avg_;
  Vec::HostMirror avg_host_;
  std::uint32_t round_ = 0;
  bool net_at_x_ = false;  // the network holds x (prepare need not convert it again)
  bool overlap_ = false;
};

}  // namespace saddle::apps::wgan
