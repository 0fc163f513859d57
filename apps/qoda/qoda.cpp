// qoda: Quantized Optimistic Dual Averaging on monotone VIs (docs/algorithms.md section 2) and its
// baselines, data-parallel: each rank is one worker that draws its own noisy operator estimate
// V_k(x) = F(x) + U_k, and the workers' vectors are averaged through engine::CompressedExchange
// (quantised and entropy coded, or plain float64 allreduce). Every rank holds the whole iterate.
//
// One driver step is one iteration t (rates gamma_t, eta_t; X_1 the start; Y the dual sum):
//   qoda/optda:  X_{t+1/2} = X_t - gamma_t avg_k Vhat_{k,t-1/2}          (last round's vectors)
//                Vhat_{k,t+1/2} = Q(V_k(X_{t+1/2}))                        (one exchange)
//   qgenx/eg:    X_{t+1/2} = X_t - gamma_t avg_k Q(V_k(X_t))               (first exchange)
//                Vhat_{k,t+1/2} = Q(V_k(X_{t+1/2}))                        (second exchange)
//   gda:         X_{t+1/2} = X_t,  Vhat_{k,t+1/2} = V_k(X_t)
//   all:         Y_{t+1} = Y_t - avg_k Vhat_{k,t+1/2};  X_{t+1} = X_1 + eta_{t+1} Y_{t+1}
// optda, eg and gda exchange unquantised vectors. The iteration is engine::OptimisticDualAveraging
// (shared with apps/wgan); its rates are constant or adaptive (kernels/optda_rates.hpp):
//   eta_t = eta (1 + sum_{s<t} sum_k |Vhat_{k,s+1/2} - Vhat_{k,s-1/2}|^2)^(-1/2),
//   gamma_t = max(eta_t, gamma (1 + sum_{s<t} sum_k |Vhat_{k,s+1/2}|^2)^(q - 1/2)).
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "apps/qoda/problem.hpp"
#include "engine/checkpoint.hpp"
#include "engine/compressed_exchange.hpp"
#include "engine/deck_choice.hpp"
#include "engine/error.hpp"
#include "engine/optimistic_dual_averaging.hpp"
#include "engine/workload.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/optda_rates.hpp"

namespace saddle::apps::qoda {

using engine::Config;
using engine::InputError;

namespace {

double norm2(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return s;
}

bool quantised_algorithm(const std::string& a) { return a == "qoda" || a == "qgenx"; }

enum class Algorithm { Qoda, Optda, Qgenx, Eg, Gda };
enum class Noise { None, Absolute, Relative };

}  // namespace

class Qoda : public engine::Workload {
 public:
  void declare(engine::Schema& s) const override {
    s.string("qoda.algorithm").def(std::string("qoda")).one_of({"qoda", "optda", "qgenx", "eg", "gda"})
        .help("qoda and qgenx exchange quantised vectors; optda, eg and gda allreduce in qoda.exchange.precision");
    s.string("qoda.problem.type").def(std::string("bilinear")).one_of({"bilinear", "quadratic"})
        .help("bilinear f = x'Ay + b'x + c'y, or quadratic F(z) = Mz + q with M + M' >= 0");
    s.string("qoda.problem.path").optional().help("HDF5 file with /A, /b, /c (bilinear) or /M, /q (quadratic); else generated");
    s.integer("qoda.problem.dim_x").def(std::int64_t{32}).range(1, 10000).help("generated bilinear: dimension of x");
    s.integer("qoda.problem.dim_y").def(std::int64_t{32}).range(1, 10000).help("generated bilinear: dimension of y (= dim_x)");
    s.integer("qoda.problem.dim").def(std::int64_t{64}).range(2, 10000).help("generated quadratic: dimension of z");
    s.real("qoda.problem.condition").def(10.0).range(1, 1e8).help("generated: condition number of the unscaled core A0 or sym(M0)");
    s.real("qoda.problem.skew").def(1.0).range(0, 1e6).help("generated quadratic: spectral norm of the skew part of M0");
    s.int_list("qoda.problem.blocks").optional().range(1).help("block (layer) sizes of z, summing to its dimension; default one block");
    s.real_list("qoda.problem.block_scales").def(std::vector<double>{1.0}).range(1e-12, 1e12)
        .help("generated: per-block scales s_m (M = D M0 D, D = sqrt(s_m)): one value, [min, max] log-spaced, or one per block");
    s.string("qoda.problem.noise").def(std::string("none")).one_of({"none", "absolute", "relative"})
        .help("absolute: U ~ sigma N(0, I/n); relative: U_i = sigma |F_i| xi_i; independent per rank and evaluation");
    s.real("qoda.problem.sigma").def(0.0).range(0, 1e6).help("noise level: E|U|^2 = sigma^2 (absolute) or sigma^2 |F|^2 (relative)");
    s.real("qoda.problem.start_scale").def(0.0).range(0, 1e6).help("X_1 ~ start_scale N(0, I); 0 starts at the origin");

    // float64 wire format by default: the VI runs converge below float32's resolution.
    engine::declare_exchange_keys(s, "qoda.exchange", {"float64", "layerwise", 8, 50, "qoda/qgenx: "});

    s.string("qoda.rates.schedule").def(std::string("constant")).one_of({"constant", "adaptive"}).help("step-size schedule");
    s.real("qoda.rates.gamma").def(0.1).range(0, 1e6).help("extrapolation step (adaptive: gamma_0)");
    s.real("qoda.rates.eta").def(0.1).range(0, 1e6).help("dual-averaging step (adaptive: eta_0)");
    s.real("qoda.rates.q").def(0.25).range(0, 0.25).help("adaptive exponent q in (0, 1/4] of gamma_t");
  }

  void validate(const Config& c) const override {
    const std::string alg = c.string("qoda.algorithm");
    if (quantised_algorithm(alg) && c.string("qoda.exchange.quantizer") == "none")
      throw c.error("qoda.exchange.quantizer", "'none' with algorithm '" + alg + "': use '" + (alg == "qoda" ? "optda" : "eg") + "' for the unquantised method");
    engine::validate_exchange_keys(c, "qoda.exchange", quantised_algorithm(alg));
    if (c.string("qoda.rates.schedule") == "adaptive" && !(c.real("qoda.rates.q") > 0))
      throw c.error("qoda.rates.q", "must be in (0, 0.25] for adaptive rates");
    if (!(c.real("qoda.rates.eta") > 0)) throw c.error("qoda.rates.eta", "must be > 0");
    if (c.string("qoda.problem.noise") != "none" && !(c.real("qoda.problem.sigma") > 0))
      throw c.error("qoda.problem.sigma", "must be > 0 with noise = \"" + c.string("qoda.problem.noise") + "\"");
    if (!c.has("qoda.problem.path")) {
      if (c.string("qoda.problem.type") == "bilinear" && c.integer("qoda.problem.dim_x") != c.integer("qoda.problem.dim_y"))
        throw c.error("qoda.problem.dim_y", "a generated bilinear game is square (dim_y = dim_x) so that its solution is unique");
      const std::int64_t n = c.string("qoda.problem.type") == "bilinear" ? 2 * c.integer("qoda.problem.dim_x") : c.integer("qoda.problem.dim");
      if (c.has("qoda.problem.blocks")) {
        std::int64_t sum = 0;
        for (auto b : c.int_list("qoda.problem.blocks")) sum += b;
        if (sum != n)
          throw c.error("qoda.problem.blocks", "block sizes sum to " + std::to_string(sum) + ", the problem has dimension " + std::to_string(n) +
                                                   (c.string("qoda.problem.type") == "bilinear" ? " (dim_x + dim_y)" : " (dim)"));
      }
      const auto& sc = c.real_list("qoda.problem.block_scales");
      const std::size_t nb = c.has("qoda.problem.blocks") ? c.int_list("qoda.problem.blocks").size() : 1;
      if (sc.empty() || (sc.size() > 2 && sc.size() != nb))
        throw c.error("qoda.problem.block_scales", "expected one value, [min, max] or one value per block (" + std::to_string(nb) + ")");
    } else {
      for (const std::string k : {"qoda.problem.dim_x", "qoda.problem.dim_y", "qoda.problem.dim", "qoda.problem.condition",
                                  "qoda.problem.skew", "qoda.problem.block_scales"})
        if (c.is_set(k)) throw c.error(k, "is a generator key; the problem comes from qoda.problem.path");
    }
  }

  void setup(const engine::RunContext& ctx) override {
    const Config& c = ctx.config;
    comm_ = ctx.grid.world;
    algorithm_name_ = c.string("qoda.algorithm");
    algorithm_ = engine::choice<Algorithm>(c, "qoda.algorithm", {{"qoda", Algorithm::Qoda}, {"optda", Algorithm::Optda},
                                                                 {"qgenx", Algorithm::Qgenx}, {"eg", Algorithm::Eg}, {"gda", Algorithm::Gda}});
    comm_.agree([&] { problem_ = make_problem(c, ctx.seed); });
    n_ = problem_.n;
    const auto un = static_cast<std::size_t>(n_);
    noise_ = engine::choice<Noise>(c, "qoda.problem.noise", {{"none", Noise::None}, {"absolute", Noise::Absolute}, {"relative", Noise::Relative}});
    sigma_ = c.real("qoda.problem.sigma");
    noise_rng_ = kernels::CounterRng(ctx.seed, "noise");

    const bool quantised = quantised_algorithm(algorithm_name_);
    std::vector<std::int64_t> offsets{0};
    for (auto b : problem_.blocks) offsets.push_back(offsets.back() + b);
    exchange_ = std::make_unique<engine::CompressedExchange>(comm_, engine::read_quantizer_options(c, "qoda.exchange", quantised),
                                                             kernels::quant::block_layout(offsets), ctx.seed);
    if (!quantised) ctx.log(algorithm_name_ + " exchanges " + c.string("qoda.exchange.precision") + " vectors; the quantiser keys of [qoda.exchange] are not used");
    else if (const std::string unused = engine::unused_exchange_keys(c, "qoda.exchange", true); !unused.empty())
      ctx.log("qoda: not used: " + unused);

    std::vector<double> x1(un, 0.0);
    const double start = c.real("qoda.problem.start_scale");
    if (start > 0) {
      const kernels::CounterRng rng(ctx.seed, "start");
      for (std::size_t i = 0; i < un; ++i) x1[i] = start * rng.normal(i, 0);
    }
    oda_ = engine::OptimisticDualAveraging<>(comm_, x1,
                                             kernels::OptdaRates(c.string("qoda.rates.schedule") == "adaptive", c.real("qoda.rates.gamma"),
                                                                 c.real("qoda.rates.eta"), c.real("qoda.rates.q")));
    v_.assign(un, 0.0);
    lead_.assign(un, 0.0);
  }

  void step(std::int64_t) override {
    step_bytes_ = 0;
    // X_{t+1/2}
    if (algorithm_ == Algorithm::Qoda || algorithm_ == Algorithm::Optda) {
      oda_.extrapolate();
    } else if (algorithm_ == Algorithm::Gda) {
      oda_.stay();
    } else {
      estimate(oda_.x().data());
      exchange(lead_.data());
      oda_.extrapolate(lead_.data());
    }
    estimate(oda_.half().data());
    exchange(oda_.average_buffer().data());
    const auto t0 = clock::now();
    oda_.update();
    compute_ += seconds(t0);
  }

  engine::MetricValues metrics(std::int64_t) override {
    const auto un = static_cast<std::size_t>(n_);
    std::vector<double> f(un);
    problem_.apply(oda_.x().data(), f.data());
    const double res_last = std::sqrt(norm2(f));
    problem_.apply(oda_.average().data(), f.data());
    const double res_avg = std::sqrt(norm2(f));
    const auto& st = exchange_->stats();
    double times[5] = {compute_, st.quantize, st.encode, st.exchange, st.decode};
    comm_.allreduce(times, 5, engine::Op::Max);
    double var[3] = {st.error_sq, st.expected_sq, st.norm_sq};
    comm_.allreduce(var, 3, engine::Op::Sum);
    std::vector<double> layer = st.layer_error_sq;
    layer.insert(layer.end(), st.layer_norm_sq.begin(), st.layer_norm_sq.end());
    comm_.allreduce(layer, engine::Op::Sum);
    double worst = 0;
    const std::size_t blocks = st.layer_error_sq.size();
    for (std::size_t b = 0; b < blocks; ++b)
      if (layer[blocks + b] > 0) worst = std::max(worst, layer[b] / layer[blocks + b]);
    engine::MetricValues m;
    if (!problem_.x_star.empty()) {
      double d = 0;
      const double* x = oda_.x().data();
      for (std::size_t i = 0; i < un; ++i) d += (x[i] - problem_.x_star[i]) * (x[i] - problem_.x_star[i]);
      m.push_back({"distance", std::sqrt(d)});
    }
    m.push_back({"residual_last", res_last});
    m.push_back({"residual_avg", res_avg});
    m.push_back({"bits_per_coord", 8.0 * static_cast<double>(step_bytes_) / (static_cast<double>(comm_.size()) * static_cast<double>(n_))});
    m.push_back({"bytes_total", static_cast<double>(st.bytes_total)});
    m.push_back({"variance_ratio", var[2] > 0 ? var[0] / var[2] : 0.0});
    m.push_back({"variance_bound_ratio", var[2] > 0 ? var[1] / var[2] : 0.0});
    m.push_back({"variance_ratio_worst_layer", worst});
    m.push_back({"time_compute", times[0]});
    m.push_back({"time_quantize", times[1]});
    m.push_back({"time_encode", times[2]});
    m.push_back({"time_exchange", times[3]});
    m.push_back({"time_decode", times[4]});
    return m;
  }

  void save(const engine::h5::Group& g) const override {
    g.write_attr("n", n_);
    engine::write_rank_count(g, comm_);
    g.write_attr("round", static_cast<std::int64_t>(round_));
    g.write_attr("step_bytes", static_cast<std::int64_t>(step_bytes_));
    g.write("time_compute", std::vector<double>{compute_});
    oda_.save(g.create_group("oda"));
    exchange_->save(g.create_group("exchange"));
  }

  void load(const engine::h5::Group& g) override {
    if (g.read_attr<std::int64_t>("n") != n_) throw InputError("checkpoint holds a qoda problem of another dimension");
    engine::require_rank_count(g, comm_, "qoda's workers are its ranks");
    round_ = static_cast<std::uint32_t>(g.read_attr<std::int64_t>("round"));
    step_bytes_ = static_cast<std::uint64_t>(g.read_attr<std::int64_t>("step_bytes"));
    compute_ = g.read<double>("time_compute").at(0);
    oda_.load_below(g);
    exchange_->load(g.open_group("exchange"));
  }

  void finish(const engine::h5::Group& result) override {
    result.write("x_last", oda_.x_host());
    result.write("x_avg", oda_.average());
    if (!problem_.x_star.empty()) result.write("x_star", problem_.x_star);
    result.write("blocks", problem_.blocks);
    result.write_attr("algorithm", algorithm_name_);
    result.write_attr("workers", static_cast<std::int64_t>(comm_.size()));
    if (exchange_->compressed()) {
      const engine::h5::Group lv = result.create_group("levels");
      const auto& levels = exchange_->levels();
      for (std::size_t t = 0; t < levels.size(); ++t)
        lv.write(levels.size() == 1 && problem_.blocks.size() != 1 ? "global" : "block_" + std::to_string(t), levels[t]);
    }
  }

 private:
  using clock = std::chrono::steady_clock;
  static double seconds(clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); }

  // v_ = V_k(z) = F(z) + U_k(z), this worker's estimate at evaluation `round_`.
  void estimate(const double* z) {
    const auto t0 = clock::now();
    problem_.apply(z, v_.data());
    if (noise_ != Noise::None) {
      const auto rank = static_cast<std::uint32_t>(comm_.rank());
      const double abs_scale = sigma_ / std::sqrt(static_cast<double>(n_));
      for (std::size_t i = 0; i < v_.size(); ++i) {
        const double xi = noise_rng_.normal(i, round_, rank);
        v_[i] += noise_ == Noise::Absolute ? abs_scale * xi : sigma_ * std::fabs(v_[i]) * xi;
      }
    }
    compute_ += seconds(t0);
  }

  // out = avg_k Q(v_k), and this worker's Q(v) into the iteration's own vector; one exchange round.
  void exchange(double* out) {
    exchange_->exchange(v_.data(), out, oda_.own_buffer().data(), round_++);
    step_bytes_ += exchange_->stats().round_bytes;
    if (!exchange_->compressed()) {
      double s = 0;
      for (std::int64_t i = 0; i < n_; ++i) s += out[i];
      if (!std::isfinite(s))
        throw engine::CollectiveError("the iteration diverged (non-finite operator values at exchange " + std::to_string(round_) +
                                          "); lower qoda.rates.gamma / eta",
                                      engine::kExitFailure, 0);
    }
  }

  engine::Comm comm_;
  std::string algorithm_name_;
  Algorithm algorithm_ = Algorithm::Qoda;
  Noise noise_ = Noise::None;
  Problem problem_;
  std::int64_t n_ = 0;
  double sigma_ = 0;
  kernels::CounterRng noise_rng_;
  std::unique_ptr<engine::CompressedExchange> exchange_;
  engine::OptimisticDualAveraging<> oda_;  // on the host
  std::vector<double> v_, lead_;  // this worker's estimate V_k; the first average of qgenx and eg
  double compute_ = 0;
  std::uint32_t round_ = 0;
  std::uint64_t step_bytes_ = 0;
};

}  // namespace saddle::apps::qoda

SADDLE_REGISTER_WORKLOAD(qoda, "quantized optimistic dual averaging on monotone VIs, with layer-wise quantised, entropy-coded exchange",
                         saddle::apps::qoda::Qoda);
