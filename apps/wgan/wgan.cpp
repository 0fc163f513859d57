// wgan: Wasserstein-GAN training with gradient penalty as a min-max VI (docs/algorithms.md
// section 3), data-parallel: every data replica draws its own minibatch (global batch = replicas
// x wgan.batch) from counter-based streams (sampling.hpp) and the players' gradients are averaged
// through engine::CompressedExchange, whatever the optimiser ([wgan.exchange]: an allreduce in
// float32, float16 or float64, or quantised with each weight and bias tensor one layer), so every
// replica holds identical parameters.
// Layer-parallel (parallel.layer = L > 1, or parallel.micro_batches = m > 1): G and D are each cut
// into L contiguous groups of layers and run as an engine::Pipeline of m micro-batches. Layer
// rank s holds G's stage s and D's stage L-1-s (a V: G's output and D's input share the last
// rank, so every transfer is between neighbours). A critic evaluation is five passes: G forward
// (+), D forward (-), D's input gradient on the penalty rows (+), D's double backward (-), D's
// parameter backward (+); a generator evaluation four: G forward (+), D forward (-), D's input
// adjoint (+), G's parameter backward (-) (docs/algorithms.md section 3, "Through a pipeline").
// Each stage's players own its layers' parameters, optimiser state and exchange.
//
// Losses (critic D_theta, generator G_phi, z ~ N(0, I), eps ~ U[0, 1]):
//   l_D = mean D(G(z)) - mean D(x) + lambda mean (|grad D(xhat)| - 1)^2, xhat = eps x + (1 - eps) G(z)
//   l_G = -mean D(G(z))
// One driver step is one generator iteration: n_critic critic updates then one generator update
// (alternating), or one joint update of both at the same point (simultaneous, n_critic = 1).
// The optimisers are player.hpp's, each player's own, the other player's parameters fixed during
// its evaluations.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <map>
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
#include "engine/pipeline.hpp"
#include "engine/workload.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/optda_rates.hpp"

namespace saddle::apps::wgan {

using engine::Config;

namespace {

// n values of a network's rows in the default execution space's memory.
template <class T>
using MemRows = Kokkos::View<T*, kernels::Mem, Kokkos::MemoryUnmanaged>;

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
  template <class F>
  auto with_nets_const(F&& f) const {
    return n32_ ? f(static_cast<const Networks<float>&>(*n32_)) : f(static_cast<const Networks<double>&>(*n64_));
  }

 public:
  void declare(engine::Schema& s) const override { declare_keys(s); }
  void validate(const Config& c) const override { validate_keys(c); }
  bool pipelined() const override { return true; }

  void setup(const engine::RunContext& ctx) override {
    const Config& c = ctx.config;
    comm_ = ctx.grid.world;
    data_comm_ = ctx.grid.data;
    layer_comm_ = ctx.grid.layer;
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
    sampler_ = Sampler(seed_, data_comm_.rank(), batch_, latent_, type_, ring_, data_);

    const double slope = c.real("wgan.leaky_slope");
    gw_ = {latent_};
    for (auto w : c.int_list("wgan.generator.widths")) gw_.push_back(w);
    gw_.push_back(dim_);
    dw_ = {dim_};
    for (auto w : c.int_list("wgan.critic.widths")) dw_.push_back(w);
    dw_.push_back(1);
    const auto ga = activations(gw_.size() - 2, c.string("wgan.generator.activation"), c.string("wgan.generator.output"), slope);
    const auto da = activations(dw_.size() - 2, c.string("wgan.critic.activation"), "identity", slope);
    setup_pipeline(c);
    const int slots = piped_ ? std::max(critic_plan_.slots(pipe_.stage()), gen_plan_.slots(pipe_.stage())) : 1;
    const std::int64_t rows = piped_ ? micro_rows_ : batch_;
    if (c.string("wgan.precision") == "float32") n32_ = std::make_unique<Networks<float>>(gw_, ga, dw_, da, batch_, rows, g_range_, d_range_, slots);
    else n64_ = std::make_unique<Networks<double>>(gw_, ga, dw_, da, batch_, rows, g_range_, d_range_, slots);
    setup_players(c);
    if (const std::string unused = engine::unused_exchange_keys(c, "wgan.exchange", true); !unused.empty())
      ctx.log("wgan: not used with wgan.exchange.quantizer = \"" + c.string("wgan.exchange.quantizer") + "\": " + unused);
    const std::int64_t params = layer_comm_.allreduce(gen_.size() + crit_.size(), engine::Op::Sum);
    ctx.log("wgan: G " + widths_text(gw_) + ", D " + widths_text(dw_) + ", " + std::to_string(params) + " parameters (" +
            c.string("wgan.precision") + "), global batch " + std::to_string(batch_ * data_comm_.size()) + ", " + optimizer_);
    if (piped_) {
      std::string stages;
      for (std::size_t s = 0; s < g_layers_.size(); ++s)
        stages += (s ? ", " : "") + std::to_string(g_layers_[s]) + "+" + std::to_string(d_layers_[d_layers_.size() - 1 - s]);
      ctx.log("wgan: pipeline of " + std::to_string(pipe_.stages()) + " stage(s) x " + std::to_string(micro_) + " micro-batch(es) of " +
              std::to_string(micro_rows_) + " rows, " + c.string("parallel.schedule") + "; layers (G+D) per rank: " + stages +
              "; ideal efficiency " + std::to_string(critic_plan_.ideal_efficiency()).substr(0, 5) + " (critic), " +
              std::to_string(gen_plan_.ideal_efficiency()).substr(0, 5) + " (generator)");
    }
  }

  void step(std::int64_t s) override {
    const auto t0 = clock::now();
    const double exposed0 = exposed_seconds();
    step_bytes_ = 0;
    step_coords_ = 0;
    if (piped_) pipe_.clear_timeline();
    if (simultaneous_) {
      for (int phase = 0; phase < crit_.evaluations(); ++phase) {
        crit_.prepare(phase);
        gen_.prepare(phase);
        with_nets([&](auto& n) { piped_ ? critic_pipelined(n) : critic_grad(n); });
        with_nets([&](auto& n) { piped_ ? generator_pipelined(n) : generator_grad(n); });
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
          with_nets([&](auto& n) { piped_ ? critic_pipelined(n) : critic_grad(n); });
          exchange(crit_);
          crit_.absorb(phase);
          ++eval_;
        }
      for (int phase = 0; phase < gen_.evaluations(); ++phase) {
        gen_.prepare(phase);
        with_nets([&](auto& n) { piped_ ? generator_pipelined(n) : generator_grad(n); });
        exchange(gen_);
        gen_.absorb(phase);
        ++eval_;
      }
    }
    steps_done_ = s;
    compute_ += seconds(t0);
    exchange_s_ += exposed_seconds() - exposed0;
  }

  engine::MetricValues metrics(std::int64_t) override {
    // The losses live on the stages that own D's output (w) and input (penalty); others hold 0.
    double vals[2] = {last_w_, last_gp_};
    comm_.allreduce(vals, 2, engine::Op::Sum);
    const double k = static_cast<double>(data_comm_.size());
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
    // Bytes and coordinates of every stage's exchanges.
    double sums[3] = {static_cast<double>(step_bytes_), static_cast<double>(step_coords_),
                      static_cast<double>(crit_.exchange().stats().bytes_total + gen_.exchange().stats().bytes_total)};
    layer_comm_.allreduce(sums, 3, engine::Op::Sum);
    m.push_back({"bits_per_param", sums[1] > 0 ? 8.0 * sums[0] / sums[1] : 0.0});
    m.push_back({"bytes_total", sums[2]});
    m.push_back({"time_step", comm_.allreduce(compute_, engine::Op::Max)});
    // Seconds the exchanges held this rank up (quantise, encode, collective, decode, waiting for
    // the slowest rank; with overlap only what the backward pass did not hide), all steps so far.
    m.push_back({"time_exchange", comm_.allreduce(exchange_s_, engine::Op::Max)});
    // The least busy stage's share of the time inside the pipeline's training runs (1 - its
    // bubble and waits; 1 without a pipeline, so restarts across layouts keep one series).
    const double busy = piped_ && pipe_.run_seconds() > 0 ? pipe_.busy_seconds() / pipe_.run_seconds() : 1.0;
    m.push_back({"stage_busy", comm_.allreduce(busy, engine::Op::Min)});
    // Replicas must hold identical parameters: max - min over replicas of a position-weighted
    // sum (positions in the whole vectors, summed over the stages).
    double sum = 0;
    for (const auto* p : {&crit_, &gen_}) {
      const auto& v = p->x();
      const std::int64_t o = (p == &crit_ ? crit_part_ : gen_part_).offset;
      for (std::size_t i = 0; i < v.size(); ++i) sum += v[i] * static_cast<double>((static_cast<std::int64_t>(i) + o) % 97 + 1);
    }
    sum = layer_comm_.allreduce(sum, engine::Op::Sum);
    m.push_back({"replica_spread", comm_.allreduce(sum, engine::Op::Max) - comm_.allreduce(sum, engine::Op::Min)});
    return m;
  }

  void save(const engine::h5::Group& g) const override {
    // Layout-free: the data replica count, and the players' whole vectors (any parallel.layer).
    g.write_attr("ranks", static_cast<std::int64_t>(data_comm_.size()));
    g.write_attr("steps_done", steps_done_);
    g.write_attr("eval", static_cast<std::int64_t>(eval_));
    g.write_attr("step_bytes", static_cast<std::int64_t>(step_bytes_));
    g.write_attr("step_coords", static_cast<std::int64_t>(step_coords_));
    g.write("scalars", std::vector<double>{compute_, exchange_s_});
    // Each replica's last loss values (their mean is the logged metric), written by its stage 0.
    double mine[2] = {last_w_, last_gp_};
    layer_comm_.allreduce(mine, 2, engine::Op::Sum);
    g.write_rows("last_losses", mine, layer_comm_.rank() == 0 ? 1 : 0, 2);
    crit_.save(g.create_group("critic"));
    gen_.save(g.create_group("generator"));
  }

  void load(const engine::h5::Group& g) override {
    const auto replicas = g.read_attr<std::int64_t>("ranks");
    if (replicas != data_comm_.size())
      throw engine::CollectiveError("checkpoint was written by " + std::to_string(replicas) + " data replicas and this run has " +
                                        std::to_string(data_comm_.size()) + " (ranks / parallel.layer); each replica draws its own minibatch, so restart with " +
                                        std::to_string(replicas) + " replicas (any parallel.layer) or set run.restart = \"no\"",
                                    engine::kExitBadInput, 0);
    steps_done_ = g.read_attr<std::int64_t>("steps_done");
    eval_ = static_cast<std::uint32_t>(g.read_attr<std::int64_t>("eval"));
    step_bytes_ = static_cast<std::uint64_t>(g.read_attr<std::int64_t>("step_bytes"));
    step_coords_ = static_cast<std::uint64_t>(g.read_attr<std::int64_t>("step_coords"));
    const auto scalars = g.read<double>("scalars");
    if (scalars.size() != 2) throw engine::InputError("checkpoint: " + g.path() + "/scalars must hold 2 values (training and exchange seconds)");
    compute_ = scalars[0];
    exchange_s_ = scalars[1];
    const auto mine = g.read_rows<double>("last_losses", data_comm_.rank(), 1);
    last_w_ = layer_comm_.rank() == 0 ? mine.at(0) : 0.0;
    last_gp_ = layer_comm_.rank() == 0 ? mine.at(1) : 0.0;
    crit_.load(g.open_group("critic"));
    gen_.load(g.open_group("generator"));
  }

  void finish(const engine::h5::Group& result) override {
    result.write("samples", with_nets([&](auto& n) { return generate(n, n_samples_, "sample_latent"); }), {static_cast<hsize_t>(n_samples_), static_cast<hsize_t>(dim_)});
    result.write("generator_params", gen_part_.whole(gen_.x()));
    result.write("critic_params", crit_part_.whole(crit_.x()));
    result.write("generator_widths", gw_);
    result.write("critic_widths", dw_);
    result.write_attr("data", type_name_);
    result.write_attr("optimizer", optimizer_);
    result.write_attr("ranks", static_cast<std::int64_t>(comm_.size()));
    result.write_attr("data_replicas", static_cast<std::int64_t>(data_comm_.size()));
    if (piped_) write_pipeline(result.create_group("pipeline"));
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
    o.overlap = c.boolean("wgan.exchange.overlap") && !piped_;
    const bool adaptive = c.string("wgan.rates.schedule") == "adaptive";
    engine::QuantizerOptions quantizer = engine::read_quantizer_options(c, "wgan.exchange", true);
    quantizer.error_statistics = false;  // wgan does not report them: two passes over the gradient saved per exchange
    const auto init = nn::parse_init(c.string("wgan.init"));
    const auto start = [&](Player& p, nn::ParameterAccess& net, std::vector<double> x0, double lr, const char* gamma_key, std::uint64_t salt,
                           const engine::StagePart& part) {
      o.lr = lr;
      o.rates = kernels::OptdaRates(adaptive, c.has(gamma_key) ? c.real(gamma_key) : lr, lr, c.real("wgan.rates.q"));
      auto exchange =
          std::make_unique<engine::CompressedExchange>(data_comm_, quantizer, kernels::quant::block_layout(net.tensor_offsets()), seed_ ^ salt, part);
      exchange->set_device_collectives(c.string("parallel.device_collectives"));
      p.init(net, std::move(x0), o, std::move(exchange), data_comm_, part);
    };
    const double lr = c.real("wgan.lr"), lr_generator = c.has("wgan.lr_generator") ? c.real("wgan.lr_generator") : lr;
    with_nets([&](auto& n) {
      // Each stage's part of the whole vectors.
      const auto part = [&](const auto& net) {
        engine::StagePart sp{layer_comm_, net.param_offset(), -1};
        if (piped_) sp.total = layer_comm_.allreduce(net.size(), engine::Op::Sum);
        return sp;
      };
      crit_part_ = part(n.crit);
      gen_part_ = part(n.gen);
      start(crit_, n.crit, n.crit.draw(init, seed_, kernels::purpose_id("init_critic")), lr, "wgan.rates.gamma", 0x1234u, crit_part_);
      start(gen_, n.gen, n.gen.draw(init, seed_, kernels::purpose_id("init_generator")), lr_generator, "wgan.rates.gamma_generator", 0x5678u,
            gen_part_);
    });
  }

  // Pipeline mode: the stages' layers (parallel.stage_layers, or balanced by FLOPs per sample),
  // the plans of a critic and a generator evaluation and of sampling.
  void setup_pipeline(const Config& c) {
    const int L = layer_comm_.size();
    micro_ = static_cast<int>(c.integer("parallel.micro_batches"));
    piped_ = L > 1 || micro_ > 1;
    if (!piped_) return;
    micro_rows_ = batch_ / micro_;
    const auto cut = [&](const std::vector<std::int64_t>& w) {
      if (c.has("parallel.stage_layers")) return c.int_list("parallel.stage_layers");
      std::vector<double> cost;
      for (std::size_t l = 0; l + 1 < w.size(); ++l) cost.push_back(static_cast<double>(w[l] * w[l + 1] + w[l + 1]));
      return engine::balance_layers(cost, L);
    };
    g_layers_ = cut(gw_);
    d_layers_ = cut(dw_);
    const int s = layer_comm_.rank();
    const auto range = [](const std::vector<std::int64_t>& counts, int stage) {
      nn::LayerRange r{0, 0};
      for (int q = 0; q < stage; ++q) r.first += counts[static_cast<std::size_t>(q)];
      r.last = r.first + counts[static_cast<std::size_t>(stage)];
      return r;
    };
    g_range_ = range(g_layers_, s);
    d_range_ = range(d_layers_, L - 1 - s);
    // Relative op costs: rows x multiply-adds per row of the whole network (the stages are balanced).
    const auto flops = [](const std::vector<std::int64_t>& w) {
      double f = 0;
      for (std::size_t l = 0; l + 1 < w.size(); ++l) f += static_cast<double>(w[l] * w[l + 1]);
      return f;
    };
    const double cg = flops(gw_), cd = flops(dw_), rows = lambda_ > 0 ? 3.0 : 2.0;
    const auto schedule = engine::parse_pipeline_schedule(c.string("parallel.schedule"));
    std::vector<engine::PipelinePass> critic = {{"G forward", +1, cg}, {"D forward", -1, rows * cd}};
    if (lambda_ > 0) {
      critic.push_back({"D penalty input gradient", +1, cd});
      critic.push_back({"D penalty double backward", -1, cd});
    }
    critic.push_back({"D backward", +1, 2 * rows * cd});
    critic_plan_ = engine::PipelinePlan(schedule, L, micro_, critic);
    gen_plan_ = engine::PipelinePlan(schedule, L, micro_, {{"G forward", +1, cg}, {"D forward", -1, cd}, {"D input adjoint", +1, cd}, {"G backward", -1, 2 * cg}});
    pipe_ = engine::Pipeline(layer_comm_);
    pipe_.record(true);
  }

  // Samples of the generator at `params` (default: its iterate x); the network's point is
  // restored afterwards.
  template <class T>
  std::vector<double> generate(Networks<T>& n, std::int64_t rows, const char* purpose, const double* params = nullptr) {
    Kokkos::deep_copy(n.saved, n.gen.params());
    n.gen.load_params(params ? params : gen_.x().data());
    std::vector<double> out(static_cast<std::size_t>(rows * dim_));
    if (!piped_) {
      T* in = n.gen.input(rows);
      T* z = n.host(in, rows * n.gen.in_dim(), 0, false);
      sampler_.latent(z, rows, purpose, 0, false);
      n.put(in, z, rows * n.gen.in_dim());
      const auto y = n.gen.forward(rows);
      const T* h = n.host(y.data(), static_cast<std::int64_t>(y.size()));
      std::copy(h, h + y.size(), out.begin());
    } else {
      // The rows in chunks of a micro-batch's rows through G's stages (the training workspaces
      // suffice); the last stage shares the samples.
      const std::int64_t M = micro_rows_;
      const int chunks = static_cast<int>((rows + M - 1) / M);
      auto plan = sample_plans_.find(chunks);
      if (plan == sample_plans_.end())
        plan = sample_plans_.emplace(chunks, engine::PipelinePlan(critic_plan_.schedule(), pipe_.stages(), chunks, {{"G forward", +1, 1.0}})).first;
      pipe_.run(plan->second, [&](const engine::PipelineOp& op) {
        const std::int64_t first = op.micro * M, count = std::min(M, rows - first);
        T* in = n.gen.input(count, op.slot);
        const std::int64_t values = count * n.gen.in_dim();
        if (pipe_.first(+1)) {
          T* z = n.host(in, values, 0, false);
          sampler_.latent(z, count, purpose, 0, false, first);
          n.put(in, z, values);
        } else {
          pipe_.recv_in<kernels::Exec>(op, in, static_cast<std::size_t>(values));
        }
        const auto y = n.gen.forward(count, op.slot);
        if (!pipe_.last(+1)) {
          pipe_.send_in<kernels::Exec>(op, y.data(), y.size());
        } else {
          const T* h = n.host(y.data(), static_cast<std::int64_t>(y.size()));
          std::copy(h, h + y.size(), out.begin() + first * dim_);
        }
      }, false);
      layer_comm_.bcast(out.data(), out.size(), layer_comm_.size() - 1);
    }
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
      T* in = n.gen.input(B);
      T* z = n.host(in, B * latent_, 0, false);
      sampler_.latent(z, B, "latent", eval_, true);
      n.put(in, z, B * latent_);
      fake = n.gen.forward(B).data();
    } else {
      // The generator is fixed during the critic updates of an alternating step: the samples of
      // all its critic evaluations come from one forward (n_critic x evaluations x B rows).
      if (fakes_ == 0) {
        fakes_ = n_critic_ * crit_.evaluations();
        fake_first_ = eval_;
        T* in = n.gen.input(fakes_ * B);
        T* z = n.host(in, fakes_ * B * latent_, 0, false);
        for (std::int64_t k = 0; k < fakes_; ++k) sampler_.latent(z + k * B * latent_, B, "latent", eval_ + static_cast<std::uint32_t>(k), true);
        n.put(in, z, fakes_ * B * latent_);
        n.gen.forward(fakes_ * B);
      }
      fake = n.gen.output().data() + (eval_ - fake_first_) * B * dim;
    }
    const bool penalty = lambda_ > 0;
    const std::int64_t R = penalty ? 3 * B : 2 * B;
    T* in_mem = n.crit.input(3 * B);
    T* in = n.host(in_mem, R * dim, 0, false);
    const T* fake_host = n.host(fake, B * dim, 1);
    std::copy_n(fake_host, B * dim, in);
    T* real = in + B * dim;
    sampler_.real_batch(real, eval_);
    if (penalty) sampler_.interpolate(in + 2 * B * dim, real, fake_host, dim, eval_);
    n.put(in_mem, in, R * dim);
    auto& d = n.crit;
    const T* out = n.host(d.forward(R).data(), 2 * B);
    double w = 0;
    for (std::int64_t r = 0; r < 2 * B; ++r) w -= static_cast<double>(out[r]) * static_cast<double>(n.critic_seed[r]);
    d.zero_grad();
    if (penalty) {
      last_gp_ = d.penalty_backward(n.critic_seed_mem.data(), B, lambda_);
    } else {
      d.backward(n.critic_seed_mem.data(), true, false);
      last_gp_ = 0;
    }
    last_w_ = w;
  }

  // Local generator gradient of l_G (into the generator's grad): the critic's input gradient
  // (no parameter products) seeds the generator's parameter backward (no input product).
  template <class T>
  void generator_grad(Networks<T>& n) {
    const std::int64_t B = batch_;
    T* in = n.gen.input(B);
    T* z = n.host(in, B * latent_, 0, false);
    sampler_.latent(z, B, "latent_g", eval_, true);
    n.put(in, z, B * latent_);
    const auto x = n.gen.forward(B);
    n.crit.forward(x.data(), B);
    const auto gx = n.crit.backward(n.generator_seed_mem.data(), false, true);
    n.gen.zero_grad();
    n.gen.backward(gx.data(), true, false);
  }

  // The critic's gradient (as critic_grad) through the pipeline: per micro-batch of M rows, the
  // rows [fake; real; xhat] (R = 3M) go forward through D's stages, the penalty's input-gradient
  // pass comes back over the M penalty rows, its double backward goes forward again, and the
  // parameter backward over all R rows comes back, each stage accumulating its layers' gradient.
  template <class T>
  void critic_pipelined(Networks<T>& n) {
    const std::int64_t M = micro_rows_, dim = dim_;
    const bool penalty = lambda_ > 0;
    const std::int64_t R = penalty ? 3 * M : 2 * M, P = penalty ? M : 0;
    auto &g = n.gen, &d = n.crit;
    d.zero_grad();
    double w = 0, gp = 0;
    const double coef = 2 * lambda_ / static_cast<double>(batch_);
    const auto& passes = critic_plan_.passes();
    pipe_.run(critic_plan_, [&](const engine::PipelineOp& op) {
      const int slot = op.slot;
      const std::int64_t row0 = op.micro * M;
      const std::string& pass = passes[static_cast<std::size_t>(op.pass)].name;
      if (op.pass == 0) {  // G forward (+)
        T* in = g.input(M, slot);
        if (pipe_.first(+1)) {
          T* z = n.host(in, M * g.in_dim(), 0, false);
          sampler_.latent(z, M, "latent", eval_, true, row0);
          n.put(in, z, M * g.in_dim());
        } else {
          pipe_.recv_in<kernels::Exec>(op, in, static_cast<std::size_t>(M * g.in_dim()));
        }
        const auto out = g.forward(M, slot);
        if (!pipe_.last(+1)) pipe_.send_in<kernels::Exec>(op, out.data(), out.size());
      } else if (op.pass == 1) {  // D forward (-): D's input stage holds G's output
        T* in = d.input(R, slot);
        if (pipe_.first(-1)) {
          T* h = n.host(in, R * dim, 0, false);
          const T* fake = n.host(g.output(slot).data(), M * dim, 1);
          std::copy_n(fake, M * dim, h);
          T* real = h + M * dim;
          sampler_.real_batch(real, eval_, row0, M);
          if (penalty) sampler_.interpolate(h + 2 * M * dim, real, fake, dim, eval_, row0, M);
          n.put(in, h, R * dim);
        } else {
          pipe_.recv_in<kernels::Exec>(op, in, static_cast<std::size_t>(R * d.in_dim()));
        }
        const auto out = d.forward(R, slot);
        if (!pipe_.last(-1)) {
          pipe_.send_in<kernels::Exec>(op, out.data(), out.size());
        } else {
          const T* h = n.host(out.data(), 2 * M);
          for (std::int64_t r = 0; r < 2 * M; ++r) w -= static_cast<double>(h[r]) * static_cast<double>(n.critic_seed[static_cast<std::size_t>(r)]);
        }
      } else if (pass == "D penalty input gradient") {  // (+) from D's output stage
        if (!pipe_.first(+1)) pipe_.recv_in<kernels::Exec>(op, d.top_g(slot), static_cast<std::size_t>(M * d.out_dim()));
        const auto gx = d.penalty_input_grad(M, slot);
        if (!pipe_.last(+1)) pipe_.send_in<kernels::Exec>(op, gx.data(), gx.size());
        else gp += d.penalty_norms(M, coef, nullptr, slot);
      } else if (pass == "D penalty double backward") {  // (-) from D's input stage
        if (!pipe_.first(-1)) pipe_.recv_in<kernels::Exec>(op, d.input_gbar(slot), static_cast<std::size_t>(M * d.in_dim()));
        const auto gbar = d.penalty_double_backward(M, slot);
        if (!pipe_.last(-1)) pipe_.send_in<kernels::Exec>(op, gbar.data(), gbar.size());
      } else {  // D backward (+)
        if (!pipe_.first(+1)) pipe_.recv_in<kernels::Exec>(op, d.top_adjoint(slot), static_cast<std::size_t>(R * d.out_dim()));
        const auto gx = d.backward_from(n.critic_seed_mem.data(), P, true, !pipe_.last(+1), slot);
        if (!pipe_.last(+1)) pipe_.send_in<kernels::Exec>(op, gx.data(), gx.size());
      }
    });
    last_w_ = w;
    last_gp_ = lambda_ / static_cast<double>(batch_) * gp;
  }

  // The generator's gradient (as generator_grad) through the pipeline: G forward, D forward, D's
  // input adjoint back to D's input stage (no parameter products), where it seeds G's backward.
  template <class T>
  void generator_pipelined(Networks<T>& n) {
    const std::int64_t M = micro_rows_;
    auto &g = n.gen, &d = n.crit;
    g.zero_grad();
    pipe_.run(gen_plan_, [&](const engine::PipelineOp& op) {
      const int slot = op.slot;
      if (op.pass == 0) {  // G forward (+)
        T* in = g.input(M, slot);
        if (pipe_.first(+1)) {
          T* z = n.host(in, M * g.in_dim(), 0, false);
          sampler_.latent(z, M, "latent_g", eval_, true, op.micro * M);
          n.put(in, z, M * g.in_dim());
        } else {
          pipe_.recv_in<kernels::Exec>(op, in, static_cast<std::size_t>(M * g.in_dim()));
        }
        const auto out = g.forward(M, slot);
        if (!pipe_.last(+1)) pipe_.send_in<kernels::Exec>(op, out.data(), out.size());
      } else if (op.pass == 1) {  // D forward (-)
        T* in = d.input(M, slot);
        if (pipe_.first(-1)) Kokkos::deep_copy(MemRows<T>(in, static_cast<std::size_t>(M * dim_)), MemRows<T>(const_cast<T*>(g.output(slot).data()), static_cast<std::size_t>(M * dim_)));
        else pipe_.recv_in<kernels::Exec>(op, in, static_cast<std::size_t>(M * d.in_dim()));
        const auto out = d.forward(M, slot);
        if (!pipe_.last(-1)) pipe_.send_in<kernels::Exec>(op, out.data(), out.size());
      } else if (op.pass == 2) {  // D input adjoint (+)
        if (!pipe_.first(+1)) pipe_.recv_in<kernels::Exec>(op, d.top_adjoint(slot), static_cast<std::size_t>(M * d.out_dim()));
        const auto gx = d.backward_from(n.generator_seed_mem.data(), 0, false, true, slot);
        if (!pipe_.last(+1)) pipe_.send_in<kernels::Exec>(op, gx.data(), gx.size());
      } else {  // G backward (-), seeded on G's output stage by D's input adjoint
        if (!pipe_.first(-1)) pipe_.recv_in<kernels::Exec>(op, g.top_adjoint(slot), static_cast<std::size_t>(M * g.out_dim()));
        const auto gx = g.backward_from(pipe_.first(-1) ? d.input_adjoint(slot) : nullptr, 0, true, !pipe_.last(-1), slot);
        if (!pipe_.last(-1)) pipe_.send_in<kernels::Exec>(op, gx.data(), gx.size());
      }
    });
  }

  // /result/pipeline: the layout, the plans' ideal efficiencies, per rank its busy and wall time,
  // memory (parameters + gradient, optimiser state, workspaces, peak RSS) and the last step's
  // timeline (one row per op: world rank, stage, data replica, run, pass, micro-batch, begin, end).
  void write_pipeline(const engine::h5::Group& g) const {
    g.write_attr("stages", static_cast<std::int64_t>(pipe_.stages()));
    g.write_attr("micro_batches", static_cast<std::int64_t>(micro_));
    g.write_attr("schedule", std::string(critic_plan_.schedule() == engine::PipelineSchedule::GPipe ? "gpipe" : "1f1b"));
    g.write_attr("ideal_efficiency_critic", critic_plan_.ideal_efficiency());
    g.write_attr("ideal_efficiency_generator", gen_plan_.ideal_efficiency());
    g.write_attr("window_critic", static_cast<std::int64_t>(critic_plan_.window()));
    g.write_attr("window_generator", static_cast<std::int64_t>(gen_plan_.window()));
    g.write("generator_stage_layers", g_layers_);
    g.write("critic_stage_layers", d_layers_);
    const auto pass_names = [](const engine::PipelinePlan& plan) {
      std::string joined;
      for (const auto& p : plan.passes()) joined += (joined.empty() ? "" : ";") + p.name;
      return joined;
    };
    g.write_attr("critic_passes", pass_names(critic_plan_));
    g.write_attr("generator_passes", pass_names(gen_plan_));
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const auto [param_bytes, workspace_bytes] = with_nets_const([](const auto& n) {
      using T = typename std::decay_t<decltype(n.gen)>::value_type;
      return std::pair<double, double>{2.0 * static_cast<double>((n.gen.size() + n.crit.size()) * static_cast<std::int64_t>(sizeof(T))),
                                       static_cast<double>(n.gen.workspace_bytes() + n.crit.workspace_bytes())};
    });
    const double row[9] = {static_cast<double>(comm_.rank()), static_cast<double>(pipe_.stage()), static_cast<double>(data_comm_.rank()),
                           pipe_.busy_seconds(), pipe_.run_seconds(), param_bytes,
                           static_cast<double>(crit_.state_bytes() + gen_.state_bytes()), workspace_bytes, static_cast<double>(ru.ru_maxrss) * 1024.0};
    g.write_rows("ranks", row, 1, 9);
    g.write_attr("ranks_columns", std::string("world_rank;stage;data;busy_s;wall_s;param_grad_bytes;optimizer_bytes;workspace_bytes;peak_rss_bytes"));
    std::vector<double> spans;
    for (const auto& sp : pipe_.timeline())
      for (double v : {static_cast<double>(comm_.rank()), static_cast<double>(pipe_.stage()), static_cast<double>(data_comm_.rank()),
                       static_cast<double>(sp.run), static_cast<double>(sp.pass), static_cast<double>(sp.micro), sp.begin, sp.end})
        spans.push_back(v);
    g.write_rows("timeline", spans.data(), static_cast<std::int64_t>(spans.size() / 8), 8);
    g.write_attr("timeline_columns", std::string("world_rank;stage;data;run;pass;micro;begin_s;end_s"));
  }

  void exchange(Player& p) {
    step_bytes_ += p.exchange_grad();
    step_coords_ += static_cast<std::uint64_t>(p.size() * data_comm_.size());
  }

  // Seconds both players' exchanges held this rank up so far (with overlap, the transfers that the
  // backward pass did not hide).
  double exposed_seconds() const { return crit_.exchange().stats().exposed + gen_.exchange().stats().exposed; }

  engine::Comm comm_, data_comm_, layer_comm_;
  std::uint64_t seed_ = 0;
  // Pipeline mode (setup_pipeline): this rank's stages of G and D, the plans and the runtime.
  bool piped_ = false;
  int micro_ = 1;
  std::int64_t micro_rows_ = 0;
  std::vector<std::int64_t> g_layers_, d_layers_;
  nn::LayerRange g_range_, d_range_;
  engine::PipelinePlan critic_plan_, gen_plan_;
  std::map<int, engine::PipelinePlan> sample_plans_;  // sampling in this many micro-batches
  engine::Pipeline pipe_;
  engine::StagePart crit_part_, gen_part_;
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
  double last_w_ = 0, last_gp_ = 0, compute_ = 0, exchange_s_ = 0;
  std::int64_t steps_done_ = 0;
  std::uint64_t step_bytes_ = 0, step_coords_ = 0;
};

}  // namespace saddle::apps::wgan

SADDLE_REGISTER_WORKLOAD(wgan, "Wasserstein GAN with gradient penalty as a min-max VI, data-parallel (gda, adam, optimistic adam, extragradient, qoda)",
                         saddle::apps::wgan::Wgan);
