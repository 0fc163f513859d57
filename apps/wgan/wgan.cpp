// wgan: Wasserstein-GAN training with gradient penalty as a min-max VI (ALGORITHMS.md section 3),
// data-parallel: every rank draws its own minibatch (global batch = ranks x wgan.batch) from
// counter-based streams and the players' gradients are averaged through
// engine::CompressedExchange (float64 allreduce, or layer-wise quantised for qoda, each weight
// and bias tensor one layer), so every rank holds identical parameters.
//
// Losses (critic D_theta, generator G_phi, z ~ N(0, I), eps ~ U[0, 1]):
//   l_D = mean D(G(z)) - mean D(x) + lambda mean (|grad D(xhat)| - 1)^2, xhat = eps x + (1 - eps) G(z)
//   l_G = -mean D(G(z))
// One driver step is one generator iteration: n_critic critic updates then one generator update
// (alternating), or one joint update of both at the same point (simultaneous, n_critic = 1).
// Optimisers (per player, the other player's parameters fixed during its evaluations):
//   gda            x -= lr g(x)
//   adam           Adam(lr, beta1, beta2, eps)
//   optimistic_adam x -= 2 u_t - u_{t-1}, u_t the Adam step (Daskalakis et al. 2018)
//   extragradient  xh = x - lr g(x); x -= lr g(xh)               (two evaluations)
//   qoda           X_{t+1/2} = X_t - gamma_t avgQ_{t-1/2}; Y -= avgQ(V(X_{t+1/2})); X = X_1 + eta_{t+1} Y
//                  (one quantised exchange per evaluation; rates constant, eta = lr and gamma =
//                  wgan.rates.gamma or lr, or adaptive OptDA+ from kernels/optda_rates.hpp with
//                  each player's own sums over the workers)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <Kokkos_Core.hpp>

#include "apps/wgan/data.hpp"
#include "engine/checkpoint.hpp"
#include "engine/compressed_exchange.hpp"
#include "engine/error.hpp"
#include "engine/workload.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/nn/mlp.hpp"
#include "kernels/optda_rates.hpp"

namespace saddle::apps::wgan {

using engine::Config;
using engine::InputError;
namespace nn = kernels::nn;

namespace {

const char* const kDigitsDefault = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

// Sliced 2-Wasserstein distance between two equal-size samples (n x dim), over `projections`
// directions drawn from the stream (seed, "swd").
double sliced_wasserstein(const std::vector<double>& a, const std::vector<double>& b, std::int64_t n, std::int64_t dim,
                          std::int64_t projections, std::uint64_t seed) {
  const kernels::CounterRng rng(seed, "swd");
  std::vector<double> dir(static_cast<std::size_t>(dim)), pa(static_cast<std::size_t>(n)), pb(static_cast<std::size_t>(n));
  double total = 0;
  for (std::int64_t p = 0; p < projections; ++p) {
    double nn2 = 0;
    for (std::int64_t j = 0; j < dim; ++j) {
      dir[static_cast<std::size_t>(j)] = rng.normal(static_cast<std::uint64_t>(j), static_cast<std::uint32_t>(p));
      nn2 += dir[static_cast<std::size_t>(j)] * dir[static_cast<std::size_t>(j)];
    }
    for (double& d : dir) d /= std::sqrt(nn2);
    for (std::int64_t i = 0; i < n; ++i) {
      double sa = 0, sb = 0;
      for (std::int64_t j = 0; j < dim; ++j) {
        sa += a[static_cast<std::size_t>(i * dim + j)] * dir[static_cast<std::size_t>(j)];
        sb += b[static_cast<std::size_t>(i * dim + j)] * dir[static_cast<std::size_t>(j)];
      }
      pa[static_cast<std::size_t>(i)] = sa;
      pb[static_cast<std::size_t>(i)] = sb;
    }
    std::sort(pa.begin(), pa.end());
    std::sort(pb.begin(), pb.end());
    double s = 0;
    for (std::int64_t i = 0; i < n; ++i) s += (pa[static_cast<std::size_t>(i)] - pb[static_cast<std::size_t>(i)]) * (pa[static_cast<std::size_t>(i)] - pb[static_cast<std::size_t>(i)]);
    total += s / static_cast<double>(n);
  }
  return std::sqrt(total / static_cast<double>(projections));
}

std::vector<nn::ActivationFn> activations(std::size_t hidden, const std::string& act, const std::string& out, double slope) {
  std::vector<nn::ActivationFn> a(hidden, nn::ActivationFn{nn::parse_activation(act), slope});
  a.push_back(nn::ActivationFn{nn::parse_activation(out), slope});
  return a;
}

const std::vector<std::string> kActivations = {"identity", "leaky_relu", "relu", "tanh", "sigmoid"};

}  // namespace

// One player's optimiser state over its flat parameter vector in float64 (the iterate x; the
// network, in the deck's precision, holds the point where the gradient is evaluated: load_params
// and store_grad convert at the boundary, an O(parameters) copy).
struct Player {
  nn::ParameterAccess* net = nullptr;
  std::string method;
  double lr = 0, beta1 = 0.5, beta2 = 0.9, eps = 1e-8;
  std::vector<double> x, m, v, u_prev, x_half, x1, y, last_avg, local, avg, own;
  std::int64_t t = 0;
  std::uint32_t round = 0;
  bool net_at_x = false;  // the network holds x (prepare need not convert it again)
  std::unique_ptr<engine::CompressedExchange> exchange;
  // qoda: the rate schedule, this rank's last quantised gradient and the sum of the evaluation
  // points X_{t+1/2} over the t iterations so far (their mean is the ergodic average).
  kernels::OptdaRates rates;
  std::vector<double> last_own, x_sum;
  engine::Comm comm;

  int evaluations() const { return method == "extragradient" ? 2 : 1; }

  // x holds the initial parameters.
  void init(const std::string& meth, double rate) {
    method = meth;
    lr = rate;
    const std::size_t n = x.size();
    m.assign(n, 0.0);
    v.assign(n, 0.0);
    u_prev.assign(n, 0.0);
    x_half.assign(n, 0.0);
    x1 = x;
    y.assign(n, 0.0);
    last_avg.assign(n, 0.0);
    local.assign(n, 0.0);
    avg.assign(n, 0.0);
    own.assign(n, 0.0);
    last_own.assign(n, 0.0);
    x_sum.assign(n, 0.0);
    net->load_params(x.data());
    net_at_x = true;
  }

  // The ergodic average of X_{t+1/2} (qoda), or x before the first iteration.
  std::vector<double> average() const {
    if (t == 0) return x;
    std::vector<double> a(x_sum);
    for (double& e : a) e /= static_cast<double>(t);
    return a;
  }

  // Loads the evaluation point of `phase` into the network.
  void prepare(int phase) {
    if (method == "qoda") {
      const double gamma = rates.gamma();
      for (std::size_t i = 0; i < x.size(); ++i) x_half[i] = x[i] - gamma * last_avg[i];
      net->load_params(x_half.data());
    } else if (method == "extragradient" && phase == 1) {
      net->load_params(x_half.data());
    } else if (!net_at_x) {
      net->load_params(x.data());
    }
    net_at_x = method != "qoda" && !(method == "extragradient" && phase == 1);
  }

  // Averages the local gradient (the network's, in float64) over ranks; returns the bytes sent
  // this round.
  std::uint64_t exchange_grad() {
    net->store_grad(local.data());
    try {
      exchange->exchange(local.data(), avg.data(), own.data(), round++);
    } catch (const engine::CollectiveError& e) {  // the quantiser refused a non-finite gradient
      throw engine::CollectiveError("training diverged: " + std::string(e.what()) + "; lower wgan.lr (and wgan.lr_generator)",
                                    e.exit_code(), e.origin_rank());
    }
    // Any inf or nan (exponent bits all ones)? An unsigned min over the complemented exponents,
    // which vectorises, unlike a floating-point sum or an isfinite loop.
    std::uint64_t low = ~std::uint64_t{0};
    for (double g : avg) {
      std::uint64_t bits;
      std::memcpy(&bits, &g, sizeof bits);
      low = std::min<std::uint64_t>(low, ~bits & 0x7ff0000000000000ull);
    }
    if (low == 0)
      throw engine::CollectiveError("training diverged (non-finite gradients at exchange " + std::to_string(round) + "); lower wgan.lr",
                                    engine::kExitFailure, 0);
    return exchange->stats().round_bytes;
  }

  // Applies the averaged gradient `avg` of `phase`, then loads x into the network.
  void absorb(int phase) {
    const std::size_t n = x.size();
    if (method == "gda") {
      for (std::size_t i = 0; i < n; ++i) x[i] -= lr * avg[i];
    } else if (method == "adam" || method == "optimistic_adam") {
      ++t;
      const double c1 = 1.0 - std::pow(beta1, static_cast<double>(t)), c2 = 1.0 - std::pow(beta2, static_cast<double>(t));
      const bool opt = method == "optimistic_adam";
      // Constants and arrays as locals with no aliasing, so the loop vectorises (the members
      // would be reloaded after every store).
      const double b1 = beta1, b2 = beta2, rate = lr, e = eps;
      double *__restrict mp = m.data(), *__restrict vp = v.data(), *__restrict xp = x.data(), *__restrict up = u_prev.data();
      const double* __restrict g = avg.data();
      const auto step = [&](std::size_t i) {
        mp[i] = b1 * mp[i] + (1 - b1) * g[i];
        vp[i] = b2 * vp[i] + (1 - b2) * g[i] * g[i];
        return rate * (mp[i] / c1) / (std::sqrt(vp[i] / c2) + e);
      };
      if (opt) {
        for (std::size_t i = 0; i < n; ++i) {
          const double u = step(i);
          xp[i] -= 2 * u - up[i];
          up[i] = u;
        }
      } else {  // plain Adam never reads u_prev: one array less to stream
        for (std::size_t i = 0; i < n; ++i) xp[i] -= step(i);
      }
    } else if (method == "extragradient") {
      if (phase == 0) {
        for (std::size_t i = 0; i < n; ++i) x_half[i] = x[i] - lr * avg[i];
      } else {
        for (std::size_t i = 0; i < n; ++i) x[i] -= lr * avg[i];
      }
    } else {  // qoda
      auto terms = rates.terms(own.data(), last_own.data(), n);
      if (rates.adaptive) comm.allreduce(terms.data(), 2, engine::Op::Sum);
      rates.absorb(terms);
      const double eta = rates.eta();
      for (std::size_t i = 0; i < n; ++i) {
        y[i] -= avg[i];
        x[i] = x1[i] + eta * y[i];
        x_sum[i] += x_half[i];
      }
      ++t;
      last_avg.swap(avg);  // avg is rewritten by the next exchange
      last_own.swap(own);
    }
    net->load_params(x.data());
    net_at_x = true;
  }

  void save(const engine::h5::Group& g) const {
    g.write_attr("t", t);
    g.write_attr("round", static_cast<std::int64_t>(round));
    for (const auto& [name, vec] : named()) g.write(name, *vec);
    rates.save(g);
    // This rank's own last quantised gradient: one row per rank.
    g.write_rows("last_own", last_own.data(), 1, static_cast<std::int64_t>(last_own.size()));
    exchange->save(g.create_group("exchange"));
  }
  void load(const engine::h5::Group& g) {
    t = g.read_attr<std::int64_t>("t");
    round = static_cast<std::uint32_t>(g.read_attr<std::int64_t>("round"));
    for (const auto& [name, vec] : named()) {
      auto r = g.read<double>(name);
      if (r.size() != x.size()) throw InputError("checkpoint: " + name + " has another length (another network?)");
      *const_cast<std::vector<double>*>(vec) = std::move(r);
    }
    if (!rates.load(g)) throw InputError("checkpoint: optda_rates must hold 2 finite non-negative sums");
    last_own = g.read_rows<double>("last_own", comm.rank(), 1);
    if (last_own.size() != x.size()) throw InputError("checkpoint: last_own has another length (another network?)");
    exchange->load(g.open_group("exchange"));
    net->load_params(x.data());
    net_at_x = true;
  }

 private:
  std::vector<std::pair<std::string, const std::vector<double>*>> named() const {
    return {{"x", &x}, {"m", &m}, {"v", &v}, {"u_prev", &u_prev}, {"x_half", &x_half}, {"x1", &x1}, {"y", &y}, {"last_avg", &last_avg}, {"x_sum", &x_sum}};
  }
};

// The two networks in the deck's precision (wgan.precision), the seeds of the critic's and the
// generator's losses, and room to set the generator's parameters aside while sampling.
template <class T>
struct Networks {
  nn::Mlp<T> gen, crit;
  std::vector<T> critic_seed, generator_seed;
  nn::Vector<T> saved;
  Networks(const std::vector<std::int64_t>& gw, const std::vector<nn::ActivationFn>& ga, const std::vector<std::int64_t>& dw,
           const std::vector<nn::ActivationFn>& da, std::int64_t batch)
      : gen(gw, ga), crit(dw, da), critic_seed(static_cast<std::size_t>(2 * batch), static_cast<T>(1.0 / static_cast<double>(batch))),
        generator_seed(static_cast<std::size_t>(batch), static_cast<T>(-1.0 / static_cast<double>(batch))),
        saved("wgan::saved_generator", static_cast<std::size_t>(gen.size())) {
    // Fake rows then real rows (+1/B and -1/B); the workspaces are allocated here, once.
    for (std::size_t r = static_cast<std::size_t>(batch); r < critic_seed.size(); ++r) critic_seed[r] = -critic_seed[r];
    gen.input(batch);
    crit.input(3 * batch);
  }
};

class Wgan : public engine::Workload {
  // Calls f with the networks of the deck's precision (defined first: its return type is deduced).
  template <class F>
  auto with_nets(F&& f) {
    return n32_ ? f(*n32_) : f(*n64_);
  }

 public:
  void declare(engine::Schema& s) const override {
    s.find("run.steps")->def(std::int64_t{2000});
    s.string("wgan.data.type").def(std::string("ring")).one_of({"ring", "digits", "hdf5"})
        .help("ring of Gaussians, the sklearn digits (gzip CSV) or an HDF5 file's /X");
    s.string("wgan.data.path").optional().help("digits: digits.csv.gz (default: Debian's python3-sklearn copy); hdf5: file with /X");
    s.real("wgan.data.holdout").def(0.2).range(1e-6, 0.999).help("fraction of rows held out for the metrics (digits, hdf5)");
    s.integer("wgan.data.ring_modes").def(std::int64_t{8}).range(2, 1000).help("Gaussians on the ring");
    s.real("wgan.data.ring_radius").def(2.0).range(1e-6, 1e6).help("radius of the ring");
    s.real("wgan.data.ring_std").def(0.02).range(1e-9, 1e6).help("standard deviation of each Gaussian");
    s.integer("wgan.latent").def(std::int64_t{2}).range(1, 100000).help("latent dimension of z ~ N(0, I)");
    s.int_list("wgan.generator.widths").def(std::vector<std::int64_t>{64, 64}).range(1, 1 << 20).help("hidden widths of G");
    s.string("wgan.generator.activation").def(std::string("leaky_relu")).one_of(kActivations).help("hidden activation of G");
    s.string("wgan.generator.output").def(std::string("identity")).one_of(kActivations).help("output activation of G (tanh for data in [-1, 1])");
    s.int_list("wgan.critic.widths").def(std::vector<std::int64_t>{64, 64}).range(1, 1 << 20).help("hidden widths of D");
    s.string("wgan.critic.activation").def(std::string("leaky_relu")).one_of(kActivations).help("hidden activation of D (output: identity)");
    s.real("wgan.leaky_slope").def(0.2).range(0, 1).help("LeakyReLU slope for negative inputs");
    s.string("wgan.precision").def(std::string("float64")).one_of({"float64", "float32"})
        .help("arithmetic of the networks; iterates, optimiser moments and exchanged gradients stay float64");
    s.string("wgan.init").def(std::string("uniform_fan_in")).one_of({"uniform_fan_in", "he_normal", "xavier_uniform"}).help("weight initialisation");
    s.integer("wgan.batch").def(std::int64_t{64}).range(1, 1 << 20).help("minibatch per rank (global batch = ranks x batch)");
    s.real("wgan.lambda").def(10.0).range(0, 1e6).help("gradient-penalty weight");
    s.integer("wgan.n_critic").def(std::int64_t{5}).range(1, 1000).help("critic updates per generator update (alternating)");
    s.string("wgan.optimizer").def(std::string("adam")).one_of({"gda", "adam", "optimistic_adam", "extragradient", "qoda"}).help("update rule of both players");
    s.string("wgan.schedule").def(std::string("alternating")).one_of({"alternating", "simultaneous"})
        .help("alternating: n_critic critic updates then a generator update; simultaneous: both at the same point (n_critic = 1)");
    s.real("wgan.lr").def(1e-4).range(0, 10).help("critic step size");
    s.real("wgan.lr_generator").optional().range(0, 10).help("generator step size (default wgan.lr)");
    s.real("wgan.beta1").def(0.5).range(0, 0.999999).help("Adam first-moment decay");
    s.real("wgan.beta2").def(0.9).range(0, 0.999999).help("Adam second-moment decay");
    s.real("wgan.eps").def(1e-8).range(1e-300, 1).help("Adam epsilon");
    s.string("wgan.quantizer.type").def(std::string("layerwise")).one_of({"none", "layerwise", "global", "bucket"})
        .help("qoda: quantisation scheme; none = unquantised OptDA (float64 allreduce, the uncompressed baseline)");
    s.string("wgan.quantizer.levels").def(std::string("uniform")).one_of({"uniform", "exponential", "adaptive"}).help("qoda: level family");
    s.integer("wgan.quantizer.num_levels").def(std::int64_t{16}).range(2, 256).help("qoda: levels including 0 and 1");
    s.string("wgan.quantizer.norm").def(std::string("l2")).one_of({"l2", "linf"}).help("qoda: block norm");
    s.string("wgan.quantizer.coder").def(std::string("elias")).one_of({"elias", "huffman"}).help("qoda: index code");
    s.integer("wgan.quantizer.adapt_every").def(std::int64_t{100}).range(0, 1000000000).help("qoda: exchanges between refits (0 = never)");
    s.string("wgan.rates.schedule").def(std::string("constant")).one_of({"constant", "adaptive"})
        .help("qoda: constant gamma and eta, or adaptive OptDA+ rates (eta_0 = each player's lr)");
    s.real("wgan.rates.gamma").optional().range(0, 10).help("qoda: the critic's extrapolation step gamma (adaptive: gamma_0); default wgan.lr");
    s.real("wgan.rates.gamma_generator").optional().range(0, 10)
        .help("qoda: the generator's gamma (adaptive: gamma_0); default the generator's step (wgan.lr_generator, else wgan.lr)");
    s.real("wgan.rates.q").def(0.25).range(0, 0.25).help("qoda, adaptive rates: exponent q in (0, 1/4] of gamma_t");
    s.integer("wgan.eval_samples").def(std::int64_t{1000}).range(2, 1 << 24).help("generated samples for swd/modes (and held-out rows used)");
    s.integer("wgan.swd_projections").def(std::int64_t{64}).range(1, 1 << 16).help("random directions of the sliced Wasserstein distance");
    s.integer("wgan.samples").def(std::int64_t{256}).range(1, 1 << 24).help("fixed-seed generated samples written to /result/samples");
  }

  void validate(const Config& c) const override {
    const std::string type = c.string("wgan.data.type");
    if (c.integer("parallel.layer") != 1) throw c.error("parallel.layer", "wgan is data-parallel only (a layer-parallel mode is planned); use 1");
    if (type == "hdf5" && !c.has("wgan.data.path")) throw c.error("wgan.data.path", "is required with wgan.data.type = \"hdf5\"");
    if (type == "ring" && c.has("wgan.data.path")) throw c.error("wgan.data.path", "the ring is generated; remove the path or set wgan.data.type");
    if (c.string("wgan.schedule") == "simultaneous" && c.integer("wgan.n_critic") != 1)
      throw c.error("wgan.n_critic", "must be 1 with wgan.schedule = \"simultaneous\" (both players update at the same point)");
    if (!(c.real("wgan.lr") > 0)) throw c.error("wgan.lr", "must be > 0");
    if (c.has("wgan.lr_generator") && !(c.real("wgan.lr_generator") > 0)) throw c.error("wgan.lr_generator", "must be > 0");
    if (c.string("wgan.optimizer") == "qoda" && c.integer("wgan.quantizer.adapt_every") == 0 &&
        (c.string("wgan.quantizer.levels") == "adaptive" || c.string("wgan.quantizer.coder") == "huffman"))
      throw c.error("wgan.quantizer.adapt_every", "adaptive levels and Huffman tables need adapt_every >= 1");
    if (c.string("wgan.quantizer.type") == "bucket" && c.string("wgan.quantizer.coder") == "huffman")
      throw c.error("wgan.quantizer.coder", "the bucket scheme sends fixed-width steps");
    if (c.string("wgan.optimizer") != "qoda") {
      for (const std::string k : {"wgan.quantizer.type", "wgan.quantizer.levels", "wgan.quantizer.num_levels", "wgan.quantizer.coder"})
        if (c.is_set(k)) throw c.error(k, "applies to wgan.optimizer = \"qoda\" only (the others exchange float64 gradients)");
      for (const std::string k : {"wgan.rates.schedule", "wgan.rates.gamma", "wgan.rates.gamma_generator", "wgan.rates.q"})
        if (c.is_set(k))
          throw c.error(k, "applies to wgan.optimizer = \"qoda\" only (the other optimisers take their steps from wgan.lr and wgan.lr_generator)");
    }
    for (const std::string k : {"wgan.rates.gamma", "wgan.rates.gamma_generator"})
      if (c.has(k) && !(c.real(k) > 0)) throw c.error(k, "must be > 0");
    if (c.string("wgan.rates.schedule") == "adaptive" && !(c.real("wgan.rates.q") > 0))
      throw c.error("wgan.rates.q", "must be in (0, 0.25] for adaptive rates");
    if (c.string("wgan.rates.schedule") == "constant" && c.is_set("wgan.rates.q"))
      throw c.error("wgan.rates.q", "applies to wgan.rates.schedule = \"adaptive\" only");
  }

  void setup(const engine::RunContext& ctx) override {
    const Config& c = ctx.config;
    comm_ = ctx.grid.world;
    seed_ = ctx.seed;
    type_ = c.string("wgan.data.type");
    batch_ = c.integer("wgan.batch");
    lambda_ = c.real("wgan.lambda");
    n_critic_ = c.integer("wgan.n_critic");
    simultaneous_ = c.string("wgan.schedule") == "simultaneous";
    latent_ = c.integer("wgan.latent");
    modes_ = c.integer("wgan.data.ring_modes");
    radius_ = c.real("wgan.data.ring_radius");
    std_ = c.real("wgan.data.ring_std");
    n_eval_ = c.integer("wgan.eval_samples");
    projections_ = c.integer("wgan.swd_projections");
    n_samples_ = c.integer("wgan.samples");

    comm_.agree([&] {
      if (type_ == "ring") {
        data_.dim = 2;
        data_.heldout.resize(static_cast<std::size_t>(2 * n_eval_));
        for (std::int64_t i = 0; i < n_eval_; ++i) ring_sample(kernels::CounterRng(seed_, "heldout"), static_cast<std::uint64_t>(i), 0, &data_.heldout[static_cast<std::size_t>(2 * i)]);
      } else {
        std::int64_t rows = 0, cols = 64;
        std::vector<double> all;
        std::string path = c.has("wgan.data.path") ? c.string("wgan.data.path") : kDigitsDefault;
        if (type_ == "digits") all = read_digits_csv(path, rows);
        else all = read_hdf5_x(path, rows, cols);
        data_ = split(std::move(all), cols, c.real("wgan.data.holdout"), seed_, "'" + path + "'");
      }
    });
    dim_ = data_.dim;
    n_eval_ = std::min(n_eval_, data_.heldout_rows());

    const double slope = c.real("wgan.leaky_slope");
    std::vector<std::int64_t> gw{latent_};
    for (auto w : c.int_list("wgan.generator.widths")) gw.push_back(w);
    gw.push_back(dim_);
    std::vector<std::int64_t> dw{dim_};
    for (auto w : c.int_list("wgan.critic.widths")) dw.push_back(w);
    dw.push_back(1);
    const auto init = nn::parse_init(c.string("wgan.init"));
    const auto ga = activations(gw.size() - 2, c.string("wgan.generator.activation"), c.string("wgan.generator.output"), slope);
    const auto da = activations(dw.size() - 2, c.string("wgan.critic.activation"), "identity", slope);
    if (c.string("wgan.precision") == "float32") n32_ = std::make_unique<Networks<float>>(gw, ga, dw, da, batch_);
    else n64_ = std::make_unique<Networks<double>>(gw, ga, dw, da, batch_);
    with_nets([&](auto& n) {
      gen_.net = &n.gen;
      crit_.net = &n.crit;
      gen_.x = n.gen.draw(init, seed_, kernels::purpose_id("init_generator"));
      crit_.x = n.crit.draw(init, seed_, kernels::purpose_id("init_critic"));
    });
    gw_ = gw;
    dw_ = dw;
    const std::string method = c.string("wgan.optimizer");
    crit_.init(method, c.real("wgan.lr"));
    gen_.init(method, c.has("wgan.lr_generator") ? c.real("wgan.lr_generator") : c.real("wgan.lr"));
    const bool adaptive = c.string("wgan.rates.schedule") == "adaptive";
    crit_.rates = kernels::OptdaRates(adaptive, c.has("wgan.rates.gamma") ? c.real("wgan.rates.gamma") : crit_.lr, crit_.lr, c.real("wgan.rates.q"));
    gen_.rates = kernels::OptdaRates(adaptive, c.has("wgan.rates.gamma_generator") ? c.real("wgan.rates.gamma_generator") : gen_.lr, gen_.lr,
                                     c.real("wgan.rates.q"));
    for (Player* p : {&crit_, &gen_}) {
      p->comm = comm_;
      p->beta1 = c.real("wgan.beta1");
      p->beta2 = c.real("wgan.beta2");
      p->eps = c.real("wgan.eps");
      p->exchange = std::make_unique<engine::CompressedExchange>(comm_, engine::read_quantizer_options(c, "wgan.quantizer", method == "qoda"),
                                                                 kernels::quant::block_layout(p->net->tensor_offsets()), seed_ ^ (p == &crit_ ? 0x1234u : 0x5678u));
    }
    if (method == "qoda" && c.string("wgan.quantizer.type") == "none")
      ctx.log("wgan: qoda with wgan.quantizer.type = \"none\" is unquantised OptDA (float64 allreduce); the other [wgan.quantizer] keys are not used");
    ctx.log("wgan: G " + widths_text(gw) + ", D " + widths_text(dw) + ", " + std::to_string(gen_.net->size() + crit_.net->size()) +
            " parameters (" + c.string("wgan.precision") + "), global batch " + std::to_string(batch_ * comm_.size()) + ", " + method);
  }

  void step(std::int64_t s) override {
    const auto t0 = clock::now();
    step_bytes_ = 0;
    step_coords_ = 0;
    if (simultaneous_) {
      for (int phase = 0; phase < crit_.evaluations(); ++phase) {
        crit_.prepare(phase);
        gen_.prepare(phase);
        with_nets([&](auto& n) { critic_grad(n); });
        with_nets([&](auto& n) { generator_grad(n); });
        exchange(crit_);
        exchange(gen_);
        crit_.absorb(phase);
        gen_.absorb(phase);
        ++eval_;
      }
    } else {
      fakes_ = 0;
      for (std::int64_t k = 0; k < n_critic_; ++k)
        for (int phase = 0; phase < crit_.evaluations(); ++phase) {
          crit_.prepare(phase);
          with_nets([&](auto& n) { critic_grad(n); });
          exchange(crit_);
          crit_.absorb(phase);
          ++eval_;
        }
      for (int phase = 0; phase < gen_.evaluations(); ++phase) {
        gen_.prepare(phase);
        with_nets([&](auto& n) { generator_grad(n); });
        exchange(gen_);
        gen_.absorb(phase);
        ++eval_;
      }
    }
    steps_done_ = s;
    compute_ += seconds(t0);
  }

  engine::MetricValues metrics(std::int64_t) override {
    double vals[2] = {last_w_, last_gp_};
    comm_.allreduce(vals, 2, engine::Op::Sum);
    const double k = static_cast<double>(comm_.size());
    const auto gen = with_nets([&](auto& n) { return generate(n, n_eval_, "eval_latent"); });
    engine::MetricValues m;
    m.push_back({"swd", sliced_wasserstein(gen, data_.heldout, n_eval_, dim_, projections_, seed_)});
    m.push_back({"wasserstein", vals[0] / k});
    m.push_back({"gradient_penalty", vals[1] / k});
    if (type_ == "ring") {
      const auto [modes, hq] = ring_quality(gen, n_eval_);
      m.push_back({"modes", static_cast<double>(modes)});
      m.push_back({"high_quality", hq});
    }
    if (gen_.method == "qoda") {
      // The generator's ergodic average of X_{t+1/2} (ALGORITHMS.md section 2), generated from the
      // same latent rows.
      const std::vector<double> avg = gen_.average();
      const auto gen_avg = with_nets([&](auto& n) { return generate(n, n_eval_, "eval_latent", avg.data()); });
      m.push_back({"swd_average", sliced_wasserstein(gen_avg, data_.heldout, n_eval_, dim_, projections_, seed_)});
      m.push_back({"eta_critic", crit_.rates.eta()});
      m.push_back({"gamma_critic", crit_.rates.gamma()});
      m.push_back({"eta_generator", gen_.rates.eta()});
      m.push_back({"gamma_generator", gen_.rates.gamma()});
    }
    m.push_back({"bits_per_param", step_coords_ ? 8.0 * static_cast<double>(step_bytes_) / static_cast<double>(step_coords_) : 0.0});
    m.push_back({"bytes_total", static_cast<double>(crit_.exchange->stats().bytes_total + gen_.exchange->stats().bytes_total)});
    m.push_back({"time_step", comm_.allreduce(compute_, engine::Op::Max)});
    // Replicas must hold identical parameters: max - min over ranks of a position-weighted sum.
    double sum = 0;
    for (const auto* v : {&crit_.x, &gen_.x})
      for (std::size_t i = 0; i < v->size(); ++i) sum += (*v)[i] * static_cast<double>(i % 97 + 1);
    m.push_back({"replica_spread", comm_.allreduce(sum, engine::Op::Max) - comm_.allreduce(sum, engine::Op::Min)});
    return m;
  }

  void save(const engine::h5::Group& g) const override {
    engine::write_rank_count(g, comm_);
    g.write_attr("steps_done", steps_done_);
    g.write_attr("eval", static_cast<std::int64_t>(eval_));
    g.write_attr("step_bytes", static_cast<std::int64_t>(step_bytes_));
    g.write_attr("step_coords", static_cast<std::int64_t>(step_coords_));
    g.write("scalars", std::vector<double>{compute_});
    // Each rank's own last loss values (their rank mean is the logged metric).
    const double mine[2] = {last_w_, last_gp_};
    g.write_rows("last_losses", mine, 1, 2);
    crit_.save(g.create_group("critic"));
    gen_.save(g.create_group("generator"));
  }

  void load(const engine::h5::Group& g) override {
    engine::require_rank_count(g, comm_, "each rank draws its own minibatch");
    steps_done_ = g.read_attr<std::int64_t>("steps_done");
    eval_ = static_cast<std::uint32_t>(g.read_attr<std::int64_t>("eval"));
    step_bytes_ = static_cast<std::uint64_t>(g.read_attr<std::int64_t>("step_bytes"));
    step_coords_ = static_cast<std::uint64_t>(g.read_attr<std::int64_t>("step_coords"));
    compute_ = g.read<double>("scalars").at(0);
    const auto mine = g.read_rows<double>("last_losses", comm_.rank(), 1);
    last_w_ = mine.at(0);
    last_gp_ = mine.at(1);
    crit_.load(g.open_group("critic"));
    gen_.load(g.open_group("generator"));
  }

  void finish(const engine::h5::Group& result) override {
    result.write("samples", with_nets([&](auto& n) { return generate(n, n_samples_, "sample_latent"); }), {static_cast<hsize_t>(n_samples_), static_cast<hsize_t>(dim_)});
    result.write("generator_params", gen_.x);
    result.write("critic_params", crit_.x);
    result.write("generator_widths", gw_);
    result.write("critic_widths", dw_);
    result.write_attr("data", type_);
    result.write_attr("optimizer", crit_.method);
    result.write_attr("ranks", static_cast<std::int64_t>(comm_.size()));
    if (type_ == "ring") {
      result.write_attr("ring_radius", radius_);
      result.write_attr("ring_std", std_);
      result.write_attr("ring_modes", modes_);
    }
  }

 private:
  using clock = std::chrono::steady_clock;
  static double seconds(clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); }
  static std::string widths_text(const std::vector<std::int64_t>& w) {
    std::string s;
    for (auto x : w) s += (s.empty() ? "" : "-") + std::to_string(x);
    return s;
  }

  void ring_sample(const kernels::CounterRng& rng, std::uint64_t index, std::uint32_t step, double* out) const {
    const auto b = rng.bits(index, step, 0);
    const double u = kernels::CounterRng::to_unit(b.v[0], b.v[1]);
    const auto mode = std::min<std::int64_t>(static_cast<std::int64_t>(u * static_cast<double>(modes_)), modes_ - 1);
    double z0, z1;
    rng.normal2(index, step, 1, z0, z1);
    const double angle = 6.283185307179586 * static_cast<double>(mode) / static_cast<double>(modes_);
    out[0] = radius_ * std::cos(angle) + std_ * z0;
    out[1] = radius_ * std::sin(angle) + std_ * z1;
  }

  // This rank's rows of the global minibatch of evaluation `eval_` (global row index = rank x
  // batch + row, so ranks draw disjoint counters).
  std::uint64_t row_index(std::int64_t r) const { return static_cast<std::uint64_t>(comm_.rank() * batch_ + r); }

  // This rank's rows of the real minibatch of evaluation `eval_` into x (batch x dim).
  template <class T>
  void real_batch(T* x) const {
    if (type_ == "ring") {
      const kernels::CounterRng rng(seed_, "ring");
      double p[2];
      for (std::int64_t r = 0; r < batch_; ++r) {
        ring_sample(rng, row_index(r), eval_, p);
        x[2 * r] = static_cast<T>(p[0]);
        x[2 * r + 1] = static_cast<T>(p[1]);
      }
    } else {
      const kernels::CounterRng rng(seed_, "batch");
      const std::int64_t n = data_.train_rows();
      for (std::int64_t r = 0; r < batch_; ++r) {
        const auto i = std::min<std::int64_t>(static_cast<std::int64_t>(rng.uniform(row_index(r), eval_) * static_cast<double>(n)), n - 1);
        for (std::int64_t j = 0; j < dim_; ++j) x[r * dim_ + j] = static_cast<T>(data_.train[static_cast<std::size_t>(i * dim_ + j)]);
      }
    }
  }

  // Latent rows into z (rows x latent): row `index` of the stream (seed, purpose) at counter
  // step `step`.
  template <class T>
  void latent(T* z, std::int64_t rows, const char* purpose, std::uint32_t step, bool global_rows) const {
    const kernels::CounterRng rng(seed_, purpose);
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::uint64_t idx = global_rows ? row_index(r) : static_cast<std::uint64_t>(r);
      for (std::int64_t j = 0; j < latent_; j += 2) {
        double z0, z1;
        rng.normal2(idx, step, static_cast<std::uint32_t>(j / 2), z0, z1);
        z[r * latent_ + j] = static_cast<T>(z0);
        if (j + 1 < latent_) z[r * latent_ + j + 1] = static_cast<T>(z1);
      }
    }
  }

  // Samples of the generator at `params` (default: its iterate x); the network's point is
  // restored afterwards.
  template <class T>
  std::vector<double> generate(Networks<T>& n, std::int64_t rows, const char* purpose, const double* params = nullptr) {
    Kokkos::deep_copy(n.saved, n.gen.params());
    n.gen.load_params(params ? params : gen_.x.data());
    latent(n.gen.input(rows), rows, purpose, 0, false);
    const auto y = n.gen.forward(rows);
    std::vector<double> out(y.begin(), y.end());
    Kokkos::deep_copy(n.gen.params(), n.saved);
    return out;
  }

  // Local critic gradient of l_D at the networks' current parameters (into the critic's grad):
  // one forward of the rows [fake; real; xhat] (3B), seeds +1/B and -1/B on the first 2B rows,
  // the penalty on the last B, one parameter backward over all of them.
  template <class T>
  void critic_grad(Networks<T>& n) {
    const std::int64_t B = batch_, dim = dim_;
    const T* fake;
    if (simultaneous_) {
      latent(n.gen.input(B), B, "latent", eval_, true);
      fake = n.gen.forward(B).data();
    } else {
      // The generator is fixed during the critic updates of an alternating step: the samples of
      // all its critic evaluations come from one forward (n_critic x evaluations x B rows).
      if (fakes_ == 0) {
        fakes_ = n_critic_ * crit_.evaluations();
        fake_first_ = eval_;
        T* z = n.gen.input(fakes_ * B);
        for (std::int64_t k = 0; k < fakes_; ++k) latent(z + k * B * latent_, B, "latent", eval_ + static_cast<std::uint32_t>(k), true);
        n.gen.forward(fakes_ * B);
      }
      fake = n.gen.output().data() + (eval_ - fake_first_) * B * dim;
    }
    const bool penalty = lambda_ > 0;
    T* in = n.crit.input(3 * B);
    std::copy_n(fake, B * dim, in);
    T* real = in + B * dim;
    real_batch(real);
    if (penalty) {
      const kernels::CounterRng rng(seed_, "eps");
      T* xhat = in + 2 * B * dim;
      for (std::int64_t r = 0; r < B; ++r) {
        const double e = rng.uniform(row_index(r), eval_);
        for (std::int64_t j = 0; j < dim; ++j) {
          const std::int64_t i = r * dim + j;
          xhat[i] = static_cast<T>(e * static_cast<double>(real[i]) + (1 - e) * static_cast<double>(fake[i]));
        }
      }
    }
    auto& d = n.crit;
    const auto out = d.forward(penalty ? 3 * B : 2 * B);
    double w = 0;
    for (std::int64_t r = 0; r < 2 * B; ++r) w -= static_cast<double>(out[r]) * static_cast<double>(n.critic_seed[r]);
    d.zero_grad();
    if (penalty) {
      last_gp_ = d.penalty_backward(n.critic_seed.data(), B, lambda_);
    } else {
      d.backward(n.critic_seed.data(), true, false);
      last_gp_ = 0;
    }
    last_w_ = w;
  }

  // Local generator gradient of l_G (into the generator's grad): the critic's input gradient
  // (no parameter products) seeds the generator's parameter backward (no input product).
  template <class T>
  void generator_grad(Networks<T>& n) {
    const std::int64_t B = batch_;
    latent(n.gen.input(B), B, "latent_g", eval_, true);
    const auto x = n.gen.forward(B);
    n.crit.forward(x.data(), B);
    const auto gx = n.crit.backward(n.generator_seed.data(), false, true);
    n.gen.zero_grad();
    n.gen.backward(gx.data(), true, false);
  }

  void exchange(Player& p) {
    step_bytes_ += p.exchange_grad();
    step_coords_ += static_cast<std::uint64_t>(p.net->size() * comm_.size());
  }

  // Modes with at least 20 % of their fair share (n / modes) of high-quality samples (within
  // 3 std of the centre), and the high-quality fraction.
  std::pair<std::int64_t, double> ring_quality(const std::vector<double>& x, std::int64_t n) const {
    std::vector<std::int64_t> count(static_cast<std::size_t>(modes_), 0);
    std::int64_t hq = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      double best = 1e300;
      std::int64_t arg = 0;
      for (std::int64_t m = 0; m < modes_; ++m) {
        const double a = 6.283185307179586 * static_cast<double>(m) / static_cast<double>(modes_);
        const double dx = x[static_cast<std::size_t>(2 * i)] - radius_ * std::cos(a), dy = x[static_cast<std::size_t>(2 * i + 1)] - radius_ * std::sin(a);
        const double d2 = dx * dx + dy * dy;
        if (d2 < best) {
          best = d2;
          arg = m;
        }
      }
      if (std::sqrt(best) <= 3 * std_) {
        ++hq;
        ++count[static_cast<std::size_t>(arg)];
      }
    }
    std::int64_t covered = 0;
    for (auto cnt : count)
      if (static_cast<double>(cnt) >= 0.2 * static_cast<double>(n) / static_cast<double>(modes_)) ++covered;
    return {covered, static_cast<double>(hq) / static_cast<double>(n)};
  }

  engine::Comm comm_;
  std::uint64_t seed_ = 0;
  std::string type_;
  Dataset data_;
  std::int64_t dim_ = 0, batch_ = 0, n_critic_ = 1, latent_ = 1, modes_ = 8, n_eval_ = 0, projections_ = 1, n_samples_ = 1;
  double lambda_ = 10, radius_ = 2, std_ = 0.02;
  bool simultaneous_ = false;
  std::vector<std::int64_t> gw_, dw_;
  // Exactly one of the two is set (wgan.precision); the players point at its networks.
  std::unique_ptr<Networks<float>> n32_;
  std::unique_ptr<Networks<double>> n64_;
  Player crit_, gen_;
  std::uint32_t eval_ = 0;
  std::int64_t fakes_ = 0;  // critic evaluations of this step whose generator samples are drawn
  std::uint32_t fake_first_ = 0;
  double last_w_ = 0, last_gp_ = 0, compute_ = 0;
  std::int64_t steps_done_ = 0;
  std::uint64_t step_bytes_ = 0, step_coords_ = 0;
};

}  // namespace saddle::apps::wgan

SADDLE_REGISTER_WORKLOAD(wgan, "Wasserstein GAN with gradient penalty as a min-max VI, data-parallel (gda, adam, optimistic adam, extragradient, qoda)",
                         saddle::apps::wgan::Wgan);
