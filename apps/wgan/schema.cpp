#include "apps/wgan/schema.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/quantizer_options.hpp"

namespace saddle::apps::wgan {

namespace {
const std::vector<std::string> kActivations = {"identity", "leaky_relu", "relu", "tanh", "sigmoid"};
}  // namespace

void declare_keys(engine::Schema& s) {
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
      .help("arithmetic of the networks; iterates and optimiser moments stay float64 (the exchange's wire format: [wgan.exchange])");
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
  engine::declare_exchange_keys(s, "wgan.exchange", {"float32", "none", 16, 100, ""});
  s.boolean("wgan.exchange.overlap").def(true)
      .help("send each layer's gradient as soon as the backward pass completes it, overlapping the exchange with the layers below (not in pipeline mode)");
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

void validate_keys(const engine::Config& c) {
  const std::string type = c.string("wgan.data.type");
  // The pipeline: L stages of each network, m micro-batches of each rank's batch.
  const std::int64_t L = c.integer("parallel.layer"), m = c.integer("parallel.micro_batches");
  const auto g_layers = static_cast<std::int64_t>(c.int_list("wgan.generator.widths").size()) + 1;
  const auto d_layers = static_cast<std::int64_t>(c.int_list("wgan.critic.widths").size()) + 1;
  if (c.integer("wgan.batch") % m != 0)
    throw c.error("parallel.micro_batches", std::to_string(m) + " does not divide wgan.batch = " + std::to_string(c.integer("wgan.batch")) +
                                                " (each micro-batch takes batch / micro_batches rows)");
  for (const auto& [name, layers] : {std::pair<const char*, std::int64_t>{"generator", g_layers}, {"critic", d_layers}}) {
    if (L > layers)
      throw c.error("parallel.layer", std::to_string(L) + " pipeline stages, but the " + name + " has " + std::to_string(layers) +
                                          " layers (wgan." + name + ".widths and the output layer); each stage needs one");
    if (c.has("parallel.stage_layers")) {
      std::int64_t sum = 0;
      for (auto n : c.int_list("parallel.stage_layers")) sum += n;
      if (sum != layers)
        throw c.error("parallel.stage_layers", "sums to " + std::to_string(sum) + ", but the " + name + " has " + std::to_string(layers) +
                                                   " layers (wgan." + name + ".widths and the output layer); the list cuts both networks");
    }
  }
  if (type == "hdf5" && !c.has("wgan.data.path")) throw c.error("wgan.data.path", "is required with wgan.data.type = \"hdf5\"");
  if (type == "ring" && c.has("wgan.data.path")) throw c.error("wgan.data.path", "the ring is generated; remove the path or set wgan.data.type");
  if (c.string("wgan.schedule") == "simultaneous" && c.integer("wgan.n_critic") != 1)
    throw c.error("wgan.n_critic", "must be 1 with wgan.schedule = \"simultaneous\" (both players update at the same point)");
  if (!(c.real("wgan.lr") > 0)) throw c.error("wgan.lr", "must be > 0");
  if (c.has("wgan.lr_generator") && !(c.real("wgan.lr_generator") > 0)) throw c.error("wgan.lr_generator", "must be > 0");
  engine::validate_exchange_keys(c, "wgan.exchange", true);
  if (c.string("wgan.optimizer") != "qoda") {
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

}  // namespace saddle::apps::wgan
