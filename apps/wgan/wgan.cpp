// wgan: Wasserstein-GAN training with gradient penalty as a min-max VI (docs/algorithms.md
// section 3), data-parallel: every rank draws its own minibatch (global batch = ranks x
// wgan.batch) from counter-based streams (sampling.hpp) and the players' gradients are averaged
// through engine::CompressedExchange (float64 allreduce, or layer-wise quantised for qoda, each
// weight and bias tensor one layer), so every rank holds identical parameters.
//
// Losses (critic D_theta, generator G_phi, z ~ N(0, I), eps ~ U[0, 1]):
//   l_D = mean D(G(z)) - mean D(x) + lambda mean (|grad D(xhat)| - 1)^2, xhat = eps x + (1 - eps) G(z)
//   l_G = -mean D(G(z))
// One driver step is one generator iteration: n_critic critic updates then one generator update
// (alternating), or one joint update of both at the same point (simultaneous, n_critic = 1).
// The optimisers are player.hpp's, each player's own, the other player's parameters fixed during
// its evaluations.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <Kokkos_Core.hpp>

#include "apps/wgan/data.hpp"
#include "apps/wgan/networks.hpp"
#include "apps/wgan/player.hpp"
#include "apps/wgan/ring.hpp"
#include "apps/wgan/sampling.hpp"
#include "apps/wgan/schema.hpp"
#include "apps/wgan/sliced_wasserstein.hpp"
#include "engine/checkpoint.hpp"
#include "engine/compressed_exchange.hpp"
#include "engine/deck_choice.hpp"
#include "engine/workload.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/optda_rates.hpp"

namespace saddle::apps::wgan {

using engine::Config;

namespace {
const char* const kDigitsDefault = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

std::string widths_text(const std::vector<std::int64_t>& w) {
  std::string s;
  for (auto x : w) s += (s.empty() ? "" : "-") + std::to_string(x);
  return s;
}
}  // namespace

class Wgan : public engine::Workload {
  // Calls f with the networks of the deck's precision (defined first: its return type is deduced).
  template <class F>
  auto with_nets(F&& f) {
    return n32_ ? f(*n32_) : f(*n64_);
  }

 public:
  void declare(engine::Schema& s) const override { declare_keys(s); }
  void validate(const Config& c) const override { validate_keys(c); }

  void setup(const engine::RunContext& ctx) override {
    const Config& c = ctx.config;
    comm_ = ctx.grid.world;
    seed_ = ctx.seed;
    type_name_ = c.string("wgan.data.type");
    type_ = engine::choice<DataType>(c, "wgan.data.type", {{"ring", DataType::Ring}, {"digits", DataType::Digits}, {"hdf5", DataType::Hdf5}});
    batch_ = c.integer("wgan.batch");
    lambda_ = c.real("wgan.lambda");
    n_critic_ = c.integer("wgan.n_critic");
    latent_ = c.integer("wgan.latent");
    simultaneous_ = c.string("wgan.schedule") == "simultaneous";
    ring_.modes = c.integer("wgan.data.ring_modes");
    ring_.radius = c.real("wgan.data.ring_radius");
    ring_.stddev = c.real("wgan.data.ring_std");
    n_eval_ = c.integer("wgan.eval_samples");
    projections_ = c.integer("wgan.swd_projections");
    n_samples_ = c.integer("wgan.samples");

    comm_.agree([&] {
      if (type_ == DataType::Ring) {
        data_ = ring_.heldout(seed_, n_eval_);
      } else {
        std::int64_t rows = 0, cols = 64;
        std::vector<double> all;
        std::string path = c.has("wgan.data.path") ? c.string("wgan.data.path") : kDigitsDefault;
        if (type_ == DataType::Digits) all = read_digits_csv(path, rows);
        else all = read_hdf5_x(path, rows, cols);
        data_ = split(std::move(all), cols, c.real("wgan.data.holdout"), seed_, "'" + path + "'");
      }
    });
    dim_ = data_.dim;
    n_eval_ = std::min(n_eval_, data_.heldout_rows());
    sampler_ = Sampler(seed_, comm_.rank(), batch_, latent_, type_, ring_, data_);

    const double slope = c.real("wgan.leaky_slope");
    gw_ = {latent_};
    for (auto w : c.int_list("wgan.generator.widths")) gw_.push_back(w);
    gw_.push_back(dim_);
    dw_ = {dim_};
    for (auto w : c.int_list("wgan.critic.widths")) dw_.push_back(w);
    dw_.push_back(1);
    const auto ga = activations(gw_.size() - 2, c.string("wgan.generator.activation"), c.string("wgan.generator.output"), slope);
    const auto da = activations(dw_.size() - 2, c.string("wgan.critic.activation"), "identity", slope);
    if (c.string("wgan.precision") == "float32") n32_ = std::make_unique<Networks<float>>(gw_, ga, dw_, da, batch_);
    else n64_ = std::make_unique<Networks<double>>(gw_, ga, dw_, da, batch_);
    setup_players(c);
    if (qoda_ && c.string("wgan.quantizer.type") == "none")
      ctx.log("wgan: qoda with wgan.quantizer.type = \"none\" is unquantised OptDA (float64 allreduce); the other [wgan.quantizer] keys are not used");
    ctx.log("wgan: G " + widths_text(gw_) + ", D " + widths_text(dw_) + ", " + std::to_string(gen_.size() + crit_.size()) + " parameters (" +
            c.string("wgan.precision") + "), global batch " + std::to_string(batch_ * comm_.size()) + ", " + optimizer_);
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
    if (type_ == DataType::Ring) {
      const auto [modes, hq] = ring_.quality(gen, n_eval_);
      m.push_back({"modes", static_cast<double>(modes)});
      m.push_back({"high_quality", hq});
    }
    if (qoda_) {
      // The generator's ergodic average of X_{t+1/2} (docs/algorithms.md section 2), generated
      // from the same latent rows.
      const std::vector<double> avg = gen_.average();
      const auto gen_avg = with_nets([&](auto& n) { return generate(n, n_eval_, "eval_latent", avg.data()); });
      m.push_back({"swd_average", sliced_wasserstein(gen_avg, data_.heldout, n_eval_, dim_, projections_, seed_)});
      m.push_back({"eta_critic", crit_.rates().eta()});
      m.push_back({"gamma_critic", crit_.rates().gamma()});
      m.push_back({"eta_generator", gen_.rates().eta()});
      m.push_back({"gamma_generator", gen_.rates().gamma()});
    }
    m.push_back({"bits_per_param", step_coords_ ? 8.0 * static_cast<double>(step_bytes_) / static_cast<double>(step_coords_) : 0.0});
    m.push_back({"bytes_total", static_cast<double>(crit_.exchange().stats().bytes_total + gen_.exchange().stats().bytes_total)});
    m.push_back({"time_step", comm_.allreduce(compute_, engine::Op::Max)});
    // Replicas must hold identical parameters: max - min over ranks of a position-weighted sum.
    double sum = 0;
    for (const auto* v : {&crit_.x(), &gen_.x()})
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
    result.write("generator_params", gen_.x());
    result.write("critic_params", crit_.x());
    result.write("generator_widths", gw_);
    result.write("critic_widths", dw_);
    result.write_attr("data", type_name_);
    result.write_attr("optimizer", optimizer_);
    result.write_attr("ranks", static_cast<std::int64_t>(comm_.size()));
    if (type_ == DataType::Ring) {
      result.write_attr("ring_radius", ring_.radius);
      result.write_attr("ring_std", ring_.stddev);
      result.write_attr("ring_modes", ring_.modes);
    }
  }

 private:
  using clock = std::chrono::steady_clock;
  static double seconds(clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); }

  // Both players with their initial parameters, optimisers and exchanges.
  void setup_players(const Config& c) {
    optimizer_ = c.string("wgan.optimizer");
    PlayerOptions o;
    o.method = engine::choice<Method>(c, "wgan.optimizer", {{"gda", Method::Gda}, {"adam", Method::Adam}, {"optimistic_adam", Method::OptimisticAdam},
                                                            {"extragradient", Method::Extragradient}, {"qoda", Method::Qoda}});
    qoda_ = o.method == Method::Qoda;
    o.beta1 = c.real("wgan.beta1");
    o.beta2 = c.real("wgan.beta2");
    o.eps = c.real("wgan.eps");
    const bool adaptive = c.string("wgan.rates.schedule") == "adaptive";
    const engine::QuantizerOptions quantizer = engine::read_quantizer_options(c, "wgan.quantizer", qoda_);
    const auto init = nn::parse_init(c.string("wgan.init"));
    const auto start = [&](Player& p, nn::ParameterAccess& net, std::vector<double> x0, double lr, const char* gamma_key, std::uint64_t salt) {
      o.lr = lr;
      o.rates = kernels::OptdaRates(adaptive, c.has(gamma_key) ? c.real(gamma_key) : lr, lr, c.real("wgan.rates.q"));
      p.init(net, std::move(x0), o,
             std::make_unique<engine::CompressedExchange>(comm_, quantizer, kernels::quant::block_layout(net.tensor_offsets()), seed_ ^ salt), comm_);
    };
    const double lr = c.real("wgan.lr"), lr_generator = c.has("wgan.lr_generator") ? c.real("wgan.lr_generator") : lr;
    with_nets([&](auto& n) {
      start(crit_, n.crit, n.crit.draw(init, seed_, kernels::purpose_id("init_critic")), lr, "wgan.rates.gamma", 0x1234u);
      start(gen_, n.gen, n.gen.draw(init, seed_, kernels::purpose_id("init_generator")), lr_generator, "wgan.rates.gamma_generator", 0x5678u);
    });
  }

  // Samples of the generator at `params` (default: its iterate x); the network's point is
  // restored afterwards.
  template <class T>
  std::vector<double> generate(Networks<T>& n, std::int64_t rows, const char* purpose, const double* params = nullptr) {
    Kokkos::deep_copy(n.saved, n.gen.params());
    n.gen.load_params(params ? params : gen_.x().data());
    sampler_.latent(n.gen.input(rows), rows, purpose, 0, false);
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
      sampler_.latent(n.gen.input(B), B, "latent", eval_, true);
      fake = n.gen.forward(B).data();
    } else {
      // The generator is fixed during the critic updates of an alternating step: the samples of
      // all its critic evaluations come from one forward (n_critic x evaluations x B rows).
      if (fakes_ == 0) {
        fakes_ = n_critic_ * crit_.evaluations();
        fake_first_ = eval_;
        T* z = n.gen.input(fakes_ * B);
        for (std::int64_t k = 0; k < fakes_; ++k) sampler_.latent(z + k * B * latent_, B, "latent", eval_ + static_cast<std::uint32_t>(k), true);
        n.gen.forward(fakes_ * B);
      }
      fake = n.gen.output().data() + (eval_ - fake_first_) * B * dim;
    }
    const bool penalty = lambda_ > 0;
    T* in = n.crit.input(3 * B);
    std::copy_n(fake, B * dim, in);
    T* real = in + B * dim;
    sampler_.real_batch(real, eval_);
    if (penalty) sampler_.interpolate(in + 2 * B * dim, real, fake, dim, eval_);
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
    sampler_.latent(n.gen.input(B), B, "latent_g", eval_, true);
    const auto x = n.gen.forward(B);
    n.crit.forward(x.data(), B);
    const auto gx = n.crit.backward(n.generator_seed.data(), false, true);
    n.gen.zero_grad();
    n.gen.backward(gx.data(), true, false);
  }

  void exchange(Player& p) {
    step_bytes_ += p.exchange_grad();
    step_coords_ += static_cast<std::uint64_t>(p.size() * comm_.size());
  }

  engine::Comm comm_;
  std::uint64_t seed_ = 0;
  std::string type_name_, optimizer_;
  DataType type_ = DataType::Ring;
  Ring ring_;
  Dataset data_;
  Sampler sampler_;
  std::int64_t dim_ = 0, batch_ = 0, n_critic_ = 1, latent_ = 1, n_eval_ = 0, projections_ = 1, n_samples_ = 1;
  double lambda_ = 10;
  bool simultaneous_ = false, qoda_ = false;
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
