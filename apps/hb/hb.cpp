// hb: heavy-ball momentum in min-max games (ALGORITHMS.md section 4). A sweep over step h,
// momentum beta, start points and schemes (Sim-HB, Alt-HB); each driver step integrates one
// chunk of the sweep's trajectories, split over ranks, so a restart never redoes a finished chunk.
#include <cmath>
#include <complex>
#include <string>
#include <type_traits>
#include <vector>

#include "apps/hb/analysis.hpp"
#include "apps/hb/dynamics.hpp"
#include "apps/hb/games.hpp"
#include "apps/hb/matrix_game.hpp"
#include "engine/workload.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/linalg/ops.hpp"
#include "kernels/ode.hpp"
#include "kernels/spaces.hpp"

namespace saddle::apps::hb {

using engine::Config;
using engine::InputError;

namespace {

// The grid {min, max, count, scale} of deck table `key`.
std::vector<double> make_axis(const Config& c, const std::string& key) {
  const double lo = c.real(key + ".min"), hi = c.real(key + ".max");
  const auto count = c.integer(key + ".count");
  const bool log = c.string(key + ".scale") == "log";
  std::vector<double> values;
  for (std::int64_t i = 0; i < count; ++i) {
    const double t = count == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(count - 1);
    values.push_back(log ? std::exp(std::log(lo) + t * (std::log(hi) - std::log(lo))) : lo + t * (hi - lo));
  }
  return values;
}

// A deck list of length `n`, or of length 2 meaning n values evenly spaced in [first, second].
std::vector<double> spectrum(const Config& c, const std::string& key, std::int64_t n) {
  const auto& v = c.real_list(key);
  if (static_cast<std::int64_t>(v.size()) == n) return v;
  if (v.size() == 1 && n == 1) return v;
  if (v.size() != 2) throw c.error(key, "expected " + std::to_string(n) + " values or two values [min, max]");
  std::vector<double> out;
  for (std::int64_t i = 0; i < n; ++i) out.push_back(n == 1 ? v[0] : v[0] + (v[1] - v[0]) * static_cast<double>(i) / static_cast<double>(n - 1));
  return out;
}

bool converged(double g0, double g_end, double tol) { return g_end <= tol * std::max(g0, 1e-300); }

}  // namespace

class HeavyBall : public engine::Workload {
 public:
  void declare(engine::Schema& s) const override {
    s.string("hb.game").one_of({"bilinear", "quadratic", "cubic", "limit_cycle"}).help("the game f(x, y)");
    s.string("hb.path").optional().help("HDF5 file with /A (and /P, /Q, /bx, /by) for bilinear and quadratic games");
    s.integer("hb.dim_x").def(std::int64_t{1}).range(1, 100000).help("dimension of x (generated matrix games)");
    s.integer("hb.dim_y").def(std::int64_t{1}).range(1, 100000).help("dimension of y (generated matrix games)");
    s.real_list("hb.a_singular").def(std::vector<double>{1.0}).range(0).help("singular values of A: one per pair, or [min, max]");
    s.real_list("hb.p_eigenvalues").def(std::vector<double>{0.0}).help("eigenvalues of P (quadratic): dim_x values or [min, max]");
    s.real_list("hb.q_eigenvalues").def(std::vector<double>{0.0}).help("eigenvalues of Q (quadratic): dim_y values or [min, max]");
    s.real_list("hb.bx").optional().help("linear term of x (quadratic), dim_x values");
    s.real_list("hb.by").optional().help("linear term of y (quadratic), dim_y values");
    s.string_list("hb.schemes").def(std::vector<std::string>{"sim", "alt"}).one_of({"sim", "alt"}).help("update schemes");
    s.integer("hb.steps").def(std::int64_t{1000}).range(1).help("iterations of every trajectory");
    s.real("hb.h.min").def(0.01).range(0).help("smallest step h (> 0)");
    s.real("hb.h.max").def(0.5).range(0).help("largest step h");
    s.integer("hb.h.count").def(std::int64_t{16}).range(1).help("steps in the grid");
    s.string("hb.h.scale").def(std::string("linear")).one_of({"linear", "log"});
    s.real("hb.beta.min").def(-0.5).help("smallest momentum, in (-1, 1)");
    s.real("hb.beta.max").def(0.5).help("largest momentum, in (-1, 1)");
    s.integer("hb.beta.count").def(std::int64_t{16}).range(1).help("momenta in the grid");
    s.string("hb.beta.scale").def(std::string("linear")).one_of({"linear", "log"});
    s.integer("hb.starts").def(std::int64_t{1}).range(1).help("random start points, uniform in [-r, r]^(dx+dy)");
    s.real("hb.start_radius").def(1.0).range(0).help("r of the random starts");
    s.real_list("hb.start_points").optional().help("explicit starts, concatenated (x, y) vectors; replaces the random ones");
    s.real("hb.tol").def(1e-6).range(0).help("converged: |grad f| at the end <= tol * |grad f| at the start");
    s.integer("hb.chunk").def(std::int64_t{4096}).range(1).help("trajectories per driver step (the checkpoint granularity)");
    s.real_list("hb.trace_h").optional().help("steps h of the recorded trajectories");
    s.real_list("hb.trace_beta").optional().help("momenta of the recorded trajectories (same length as trace_h)");
    s.integer("hb.trace_every").def(std::int64_t{10}).range(1).help("steps between recorded points");
    s.integer("hb.ode_substeps").def(std::int64_t{4}).range(1).help("RK4 steps per h for the modified equation");
    s.integer("hb.eig_max_dim").def(std::int64_t{256}).range(2).help("largest matrix given to a dense eigensolver per grid point");
  }

  std::int64_t steps(const Config& c) const override {
    std::int64_t total = 0;
    const auto per_scheme = c.integer("hb.h.count") * c.integer("hb.beta.count") * starts_count(c);
    for (std::size_t s = 0; s < c.string_list("hb.schemes").size(); ++s) total += (per_scheme + c.integer("hb.chunk") - 1) / c.integer("hb.chunk");
    return total;
  }

  void validate(const Config& c) const override {
    if (c.is_set("run.steps"))
      throw c.error("run.steps", "hb sets the number of driver steps itself (one per chunk of hb.chunk trajectories); the iterations of each trajectory are hb.steps");
    for (const std::string axis : {"hb.h", "hb.beta"}) {
      if (c.real(axis + ".min") > c.real(axis + ".max")) throw c.error(axis + ".min", "is larger than " + axis + ".max");
      if (c.string(axis + ".scale") == "log" && c.real(axis + ".min") <= 0) throw c.error(axis + ".min", "must be > 0 for a log scale");
    }
    if (c.real("hb.h.min") <= 0) throw c.error("hb.h.min", "must be > 0");
    for (const std::string k : {"hb.beta.min", "hb.beta.max"})
      if (!(std::fabs(c.real(k)) < 1.0)) throw c.error(k, "must be in (-1, 1)");
    const std::string game = c.string("hb.game");
    const bool matrix = game == "bilinear" || game == "quadratic";
    if (!matrix) {
      for (const std::string k : {"hb.dim_x", "hb.dim_y"})
        if (c.integer(k) != 1) throw c.error(k, "the " + game + " game is two-dimensional (dim 1)");
      if (c.has("hb.path")) throw c.error("hb.path", "only bilinear and quadratic games are read from HDF5");
    }
    if (game == "bilinear")
      for (const std::string k : {"hb.p_eigenvalues", "hb.q_eigenvalues", "hb.bx", "hb.by"})
        if (c.is_set(k)) throw c.error(k, "a bilinear game has no P, Q or linear terms (use hb.game = \"quadratic\")");
    if (c.has("hb.start_points") && !c.has("hb.path")) {
      const auto n = c.integer("hb.dim_x") + c.integer("hb.dim_y");
      if (c.real_list("hb.start_points").size() % static_cast<std::size_t>(n) != 0 || c.real_list("hb.start_points").empty())
        throw c.error("hb.start_points", "needs a multiple of dim_x + dim_y = " + std::to_string(n) + " values");
    }
    if (c.has("hb.trace_h") != c.has("hb.trace_beta") ||
        (c.has("hb.trace_h") && c.real_list("hb.trace_h").size() != c.real_list("hb.trace_beta").size()))
      throw c.error("hb.trace_beta", "hb.trace_h and hb.trace_beta must be given together, with equal lengths");
    if (c.has("hb.trace_beta"))
      for (double b : c.real_list("hb.trace_beta"))
        if (!(std::fabs(b) < 1.0)) throw c.error("hb.trace_beta", "momenta must be in (-1, 1)");
  }

  void setup(const engine::RunContext& ctx) override {
    const Config& c = ctx.config;
    comm_ = ctx.grid.world;
    game_name_ = c.string("hb.game");
    matrix_ = game_name_ == "bilinear" || game_name_ == "quadratic";
    steps_ = c.integer("hb.steps");
    tol_ = c.real("hb.tol");
    chunk_ = c.integer("hb.chunk");
    eig_max_dim_ = c.integer("hb.eig_max_dim");
    ode_substeps_ = c.integer("hb.ode_substeps");
    trace_every_ = c.integer("hb.trace_every");
    h_ = make_axis(c, "hb.h");
    beta_ = make_axis(c, "hb.beta");
    for (const auto& s : c.string_list("hb.schemes")) schemes_.push_back(s == "alt");
    if (c.has("hb.trace_h")) {
      trace_h_ = c.real_list("hb.trace_h");
      trace_beta_ = c.real_list("hb.trace_beta");
    }
    comm_.agree([&] {
      if (matrix_) build_matrix_game(c, ctx.seed);
    });
    const std::int64_t n = matrix_ ? game_.n() : 2;
    comm_.agree([&] {
      if (c.has("hb.start_points")) {
        starts_ = c.real_list("hb.start_points");
        if (starts_.size() % static_cast<std::size_t>(n) != 0)
          throw c.error("hb.start_points", "needs a multiple of dim_x + dim_y = " + std::to_string(n) + " values");
      } else {
        const kernels::CounterRng rng(ctx.seed, "start");
        const double r = c.real("hb.start_radius");
        for (std::int64_t k = 0; k < c.integer("hb.starts") * n; ++k)
          starts_.push_back(r * (2.0 * rng.uniform(static_cast<std::uint64_t>(k), 0) - 1.0));
      }
    });
    ns_ = static_cast<std::int64_t>(starts_.size()) / n;
    per_scheme_ = static_cast<std::int64_t>(h_.size() * beta_.size()) * ns_;
    const auto total = static_cast<std::size_t>(per_scheme_) * schemes_.size();
    outcomes_.assign(4 * total, 0.0);
    done_ = 0;
  }

  void step(std::int64_t step) override {
    // Driver step -> (scheme, first trajectory, count) of one chunk.
    const std::int64_t chunks_per_scheme = (per_scheme_ + chunk_ - 1) / chunk_;
    const std::int64_t sch = (step - 1) / chunks_per_scheme, first = ((step - 1) % chunks_per_scheme) * chunk_;
    const std::int64_t count = std::min(chunk_, per_scheme_ - first);
    const engine::RowRange mine = engine::block_rows(count, comm_.rank(), comm_.size());
    std::vector<Outcome> local(static_cast<std::size_t>(mine.count()));
    run_trajectories(schemes_[static_cast<std::size_t>(sch)], first + mine.begin, mine.count(), local.data());
    // Every rank gets the whole chunk: the others' slots are zero, so the sum is exact.
    std::vector<double> slice(static_cast<std::size_t>(4 * count), 0.0);
    for (std::int64_t k = 0; k < mine.count(); ++k) {
      const Outcome& o = local[static_cast<std::size_t>(k)];
      const auto at = static_cast<std::size_t>(4 * (mine.begin + k));
      slice[at] = o.g0;
      slice[at + 1] = o.g_half;
      slice[at + 2] = o.g_end;
      slice[at + 3] = o.avg_sq;
    }
    comm_.allreduce(slice, engine::Op::Sum);
    std::copy(slice.begin(), slice.end(), outcomes_.begin() + 4 * (sch * per_scheme_ + first));
    done_ += count;
  }

  engine::MetricValues metrics(std::int64_t) override {
    std::int64_t conv = 0, finite = 0;
    double avg = 0;
    for (std::int64_t g = 0; g < total(); ++g) {
      if (!is_done(g)) continue;
      const double* o = &outcomes_[static_cast<std::size_t>(4 * g)];
      conv += converged(o[0], o[2], tol_);
      if (std::isfinite(o[3])) {
        ++finite;
        avg += o[3];
      }
    }
    return {{"converged_fraction", done_ ? static_cast<double>(conv) / static_cast<double>(done_) : 0.0},
            {"trajectories_done", static_cast<double>(done_)},
            {"mean_avg_grad_sq", finite ? avg / static_cast<double>(finite) : 0.0}};
  }

  void save(const engine::h5::Group& g) const override {
    g.write("outcomes", outcomes_, {static_cast<hsize_t>(total()), 4});
    g.write_attr("done", done_);
    g.write_attr("per_scheme", per_scheme_);
  }

  void load(const engine::h5::Group& g) override {
    if (g.read_attr<std::int64_t>("per_scheme") != per_scheme_) throw InputError("checkpoint holds another hb grid");
    outcomes_ = g.read<double>("outcomes");
    done_ = g.read_attr<std::int64_t>("done");
  }

  void finish(const engine::h5::Group& result) override {
    const engine::h5::Group sweep = result.create_group("sweep");
    const auto nh = static_cast<hsize_t>(h_.size()), nb = static_cast<hsize_t>(beta_.size());
    sweep.write("h", h_);
    sweep.write("beta", beta_);
    sweep.write("starts", starts_, {static_cast<hsize_t>(ns_), starts_.size() / static_cast<hsize_t>(ns_)});
    sweep.write_attr("game", game_name_);
    sweep.write_attr("steps", steps_);
    sweep.write_attr("tol", tol_);
    for (std::size_t s = 0; s < schemes_.size(); ++s) {
      const bool alt = schemes_[s];
      const engine::h5::Group out = sweep.create_group(alt ? "alt" : "sim");
      std::vector<std::int64_t> conv(nh * nb, 0);
      std::vector<double> rate(nh * nb), avg(nh * nb), g_end(nh * nb * static_cast<hsize_t>(ns_));
      for (std::size_t p = 0; p < nh * nb; ++p) {
        double log_rate = 0, sum_avg = 0;
        for (std::int64_t k = 0; k < ns_; ++k) {
          const auto g = static_cast<std::int64_t>(s) * per_scheme_ + static_cast<std::int64_t>(p) * ns_ + k;
          const double* o = &outcomes_[static_cast<std::size_t>(4 * g)];
          conv[p] += converged(o[0], o[2], tol_);
          g_end[p * static_cast<std::size_t>(ns_) + static_cast<std::size_t>(k)] = o[2];
          // Empirical contraction per step over the second half of the run, or over the first
          // half when the second ends at rounding level (a converged run's floor is no rate).
          const double half = static_cast<double>(steps_ / 2), rest = static_cast<double>(steps_ - steps_ / 2);
          const double r = !std::isfinite(o[2]) ? INFINITY
                           : o[2] > 1e-13 * o[0] && o[1] > 0 ? std::pow(o[2] / o[1], 1.0 / rest)
                           : o[0] > 0 && half > 0 ? std::pow(o[1] / o[0], 1.0 / half)
                                                  : 0.0;
          log_rate += std::log(r);
          sum_avg += o[3];
        }
        rate[p] = std::exp(log_rate / static_cast<double>(ns_));
        avg[p] = sum_avg / static_cast<double>(ns_);
      }
      out.write("converged", conv, {nh, nb});
      out.write("rate", rate, {nh, nb});
      out.write("avg_grad_sq", avg, {nh, nb});
      out.write("final_grad_norm", g_end, {nh, nb, static_cast<hsize_t>(ns_)});
      if (matrix_) {
        std::vector<double> radius, ode;
        predictions(alt, radius, ode);
        out.write("spectral_radius", radius, {nh, nb});
        out.write("ode_rate", ode, {nh, nb});
        if (!alt && !field_eigs_.empty()) {
          std::vector<double> bound, exact;
          for (double b : beta_) {
            bound.push_back(sim_step_bound(field_eigs_, b));
            exact.push_back(sim_exact_step_bound(field_eigs_, b, 1e3));
          }
          out.write("step_bound", bound);
          out.write("exact_step_bound", exact);
        }
      }
    }
    write_traces(result);
  }

 private:
  static std::int64_t starts_count(const Config& c) {
    if (!c.has("hb.start_points")) return c.integer("hb.starts");
    const auto n = c.integer("hb.dim_x") + c.integer("hb.dim_y");
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(c.real_list("hb.start_points").size()) / n);
  }
  std::int64_t total() const { return per_scheme_ * static_cast<std::int64_t>(schemes_.size()); }
  // Chunks run in order, so the done trajectories are the first `done_` of the sweep order.
  bool is_done(std::int64_t g) const { return g < done_; }

  void build_matrix_game(const Config& c, std::uint64_t seed) {
    MatrixGame& g = game_;
    if (c.has("hb.path")) {
      const std::string path = c.string("hb.path");
      engine::h5::File f = [&] {
        try {
          return engine::h5::File::open(path, engine::h5::File::Mode::ReadOnly);
        } catch (const engine::h5::Error& e) {
          throw c.error("hb.path", e.what());
        }
      }();
      auto matrix = [&](const std::string& name, std::vector<hsize_t>& dims, bool required) {
        if (!f.root().exists(name)) {
          if (required) throw c.error("hb.path", "'" + path + "' has no dataset /" + name);
          dims.clear();
          return std::vector<double>{};
        }
        auto v = f.root().read<double>(name, &dims);
        for (double x : v)
          if (!std::isfinite(x)) throw c.error("hb.path", "'" + path + "':/" + name + " holds a non-finite value");
        return v;
      };
      std::vector<hsize_t> da, dp, dq, dbx, dby;
      g.A = matrix("A", da, true);
      if (da.size() != 2) throw c.error("hb.path", "'" + path + "':/A must be a 2-D matrix");
      g.dx = static_cast<std::int64_t>(da[0]);
      g.dy = static_cast<std::int64_t>(da[1]);
      const bool quadratic = game_name_ == "quadratic";
      g.P = quadratic ? matrix("P", dp, false) : std::vector<double>{};
      g.Q = quadratic ? matrix("Q", dq, false) : std::vector<double>{};
      g.bx = quadratic ? matrix("bx", dbx, false) : std::vector<double>{};
      g.by = quadratic ? matrix("by", dby, false) : std::vector<double>{};
      auto expect = [&](const std::string& name, std::vector<double>& v, const std::vector<hsize_t>& dims,
                        std::vector<hsize_t> want) {
        if (v.empty()) {
          hsize_t n = 1;
          for (auto d : want) n *= d;
          v.assign(n, 0.0);
        } else if (dims != want) {
          std::string w;
          for (auto d : want) w += (w.empty() ? "" : " x ") + std::to_string(d);
          throw c.error("hb.path", "'" + path + "':/" + name + " must be " + w + " to match /A");
        }
      };
      const auto hx = static_cast<hsize_t>(g.dx), hy = static_cast<hsize_t>(g.dy);
      expect("P", g.P, dp, {hx, hx});
      expect("Q", g.Q, dq, {hy, hy});
      expect("bx", g.bx, dbx, {hx});
      expect("by", g.by, dby, {hy});
      for (const auto& [name, m, d] : {std::tuple{"P", &g.P, g.dx}, std::tuple{"Q", &g.Q, g.dy}})
        for (std::int64_t i = 0; i < d; ++i)
          for (std::int64_t j = 0; j < i; ++j) {
            const double a = (*m)[i * d + j], b = (*m)[j * d + i];
            if (std::fabs(a - b) > 1e-12 * std::max({1.0, std::fabs(a), std::fabs(b)}))
              throw c.error("hb.path", "'" + path + "':/" + name + " is not symmetric (entries " + std::to_string(i) + "," +
                                           std::to_string(j) + ")");
          }
    } else {
      g.dx = c.integer("hb.dim_x");
      g.dy = c.integer("hb.dim_y");
      const std::int64_t m = std::min(g.dx, g.dy);
      namespace la = kernels::linalg;
      const auto Ux = la::random_orthonormal(seed, "game_x", g.dx), Vy = la::random_orthonormal(seed, "game_y", g.dy);
      g.A = la::compose_svd(Ux, g.dx, spectrum(c, "hb.a_singular", m), Vy, g.dy, g.dx, g.dy);
      if (game_name_ == "quadratic") {
        g.P = la::compose_svd(Ux, g.dx, spectrum(c, "hb.p_eigenvalues", g.dx), Ux, g.dx, g.dx, g.dx);
        g.Q = la::compose_svd(Vy, g.dy, spectrum(c, "hb.q_eigenvalues", g.dy), Vy, g.dy, g.dy, g.dy);
      } else {
        g.P.assign(static_cast<std::size_t>(g.dx * g.dx), 0.0);
        g.Q.assign(static_cast<std::size_t>(g.dy * g.dy), 0.0);
      }
      auto linear = [&](const std::string& key, std::int64_t d) {
        if (!c.has(key)) return std::vector<double>(static_cast<std::size_t>(d), 0.0);
        if (static_cast<std::int64_t>(c.real_list(key).size()) != d) throw c.error(key, "needs " + std::to_string(d) + " values");
        return c.real_list(key);
      };
      g.bx = linear("hb.bx", g.dx);
      g.by = linear("hb.by", g.dy);
    }
    // One dense eigensolve of the n x n field Jacobian serves Sim-HB's radius at every grid
    // point and the step bounds (seconds at n = 4096; larger games go without them).
    if (g.n() <= 4096) field_eigs_ = kernels::linalg::eigenvalues(g.n(), g.field_jacobian());
    if (game_name_ == "bilinear") singular_ = kernels::linalg::singular_values(g.dx, g.dy, g.A);
  }

  // Trajectory index within a scheme -> (h, beta, start).
  void decode(std::int64_t i, double& h, double& beta, const double*& start) const {
    const std::int64_t k = i % ns_, b = (i / ns_) % static_cast<std::int64_t>(beta_.size()),
                       a = i / (ns_ * static_cast<std::int64_t>(beta_.size()));
    h = h_[static_cast<std::size_t>(a)];
    beta = beta_[static_cast<std::size_t>(b)];
    start = &starts_[static_cast<std::size_t>(k * (matrix_ ? game_.n() : 2))];
  }

  template <class Game>
  void run_scalar(const Game& game, bool alt, std::int64_t first, std::int64_t count, Outcome* out) const {
    Kokkos::View<double*, kernels::HostMem> hv("h", static_cast<std::size_t>(count)), bv("beta", static_cast<std::size_t>(count)),
        xv("x0", static_cast<std::size_t>(count)), yv("y0", static_cast<std::size_t>(count));
    for (std::int64_t k = 0; k < count; ++k) {
      const double* z0;
      decode(first + k, hv(k), bv(k), z0);
      xv(k) = z0[0];
      yv(k) = z0[1];
    }
    const kernels::Mem mem;
    auto h = Kokkos::create_mirror_view_and_copy(mem, hv), b = Kokkos::create_mirror_view_and_copy(mem, bv),
         x = Kokkos::create_mirror_view_and_copy(mem, xv), y = Kokkos::create_mirror_view_and_copy(mem, yv);
    // Blocks of kLanes trajectories per CPU thread (wide enough for AVX-512 to hide each
    // trajectory's serial latency; measured in bench/bench_hb); one per GPU thread. The tail
    // block repeats the last trajectory.
    constexpr int kLanes = kernels::kExecIsHost ? 32 : 1;
    const std::int64_t blocks = (count + kLanes - 1) / kLanes;
    Kokkos::View<Outcome*, kernels::Mem> res("outcomes", static_cast<std::size_t>(blocks * kLanes));
    const std::int64_t steps = steps_;
    Kokkos::parallel_for("hb::trajectories", kernels::exec_range(blocks), KOKKOS_LAMBDA(const std::int64_t blk) {
      double hl[kLanes], bl[kLanes], xl[kLanes], yl[kLanes];
      for (int l = 0; l < kLanes; ++l) {
        const std::int64_t k = kernels::kc::min(blk * kLanes + l, count - 1);
        hl[l] = h(k);
        bl[l] = b(k);
        xl[l] = x(k);
        yl[l] = y(k);
      }
      integrate_lanes<kLanes>(game, alt, hl, bl, xl, yl, steps, &res(blk * kLanes));
    });
    auto host = Kokkos::create_mirror_view_and_copy(kernels::HostMem(), res);
    for (std::int64_t k = 0; k < count; ++k) out[k] = host(k);
  }

  void run_trajectories(bool alt, std::int64_t first, std::int64_t count, Outcome* out) const {
    if (count == 0) return;
    if (game_name_ == "cubic") return run_scalar(Cubic{}, alt, first, count, out);
    if (game_name_ == "limit_cycle") return run_scalar(LimitCycle{}, alt, first, count, out);
    if (game_.dx == 1 && game_.dy == 1) return run_scalar(game_.scalar(), alt, first, count, out);
    const std::int64_t dx = game_.dx, dy = game_.dy;
    std::vector<double> h(static_cast<std::size_t>(count)), b(h.size()), X(h.size() * static_cast<std::size_t>(dx)),
        Y(h.size() * static_cast<std::size_t>(dy));
    for (std::int64_t k = 0; k < count; ++k) {
      const double* z0;
      decode(first + k, h[k], b[k], z0);
      std::copy(z0, z0 + dx, X.begin() + k * dx);
      std::copy(z0 + dx, z0 + dx + dy, Y.begin() + k * dy);
    }
    integrate_batch(game_, alt, count, h.data(), b.data(), X.data(), Y.data(), steps_, out);
  }

  // Spectral radius and ODE rate at every (h, beta), grid points split over ranks.
  void predictions(bool alt, std::vector<double>& radius, std::vector<double>& ode) const {
    const auto points = static_cast<std::int64_t>(h_.size() * beta_.size());
    radius.assign(static_cast<std::size_t>(points), 0.0);
    ode.assign(static_cast<std::size_t>(points), 0.0);
    const engine::RowRange mine = engine::block_rows(points, comm_.rank(), comm_.size());
    const bool dense = 2 * game_.n() <= eig_max_dim_;
    for (std::int64_t p = mine.begin; p < mine.end; ++p) {
      const double h = h_[static_cast<std::size_t>(p) / beta_.size()], b = beta_[static_cast<std::size_t>(p) % beta_.size()];
      if (!alt && !field_eigs_.empty()) radius[p] = sim_radius(field_eigs_, h, b);
      else if (dense) radius[p] = kernels::linalg::spectral_radius(2 * game_.n(), two_step_matrix(game_, alt, h, b));
      else if (!singular_.empty()) radius[p] = alt_bilinear_radius(singular_, game_.dx != game_.dy, h, b);
      else radius[p] = NAN;
      ode[p] = game_.n() <= eig_max_dim_ ? ode_rate(game_, alt, h, b) : NAN;
    }
    // NaN marks "not computed" for games too large for dense eigensolvers; the sum keeps it.
    comm_.allreduce(radius, engine::Op::Sum);
    comm_.allreduce(ode, engine::Op::Sum);
  }

  // The first start's trajectory for each traced (h, beta) and scheme, with the modified
  // equation integrated by RK4 at the same times.
  void write_traces(const engine::h5::Group& result) const {
    if (trace_h_.empty()) return;
    const engine::h5::Group traces = result.create_group("trajectories");
    const std::int64_t n = matrix_ ? game_.n() : 2;
    for (std::size_t s = 0; s < schemes_.size(); ++s) {
      const bool alt = schemes_[s];
      for (std::size_t k = 0; k < trace_h_.size(); ++k) {
        const double h = trace_h_[k], b = trace_beta_[k];
        std::vector<double> z, ode_z;
        std::vector<std::int64_t> at;
        auto keep = [&](std::int64_t step, const double* x, const double* y) {
          at.push_back(step);
          z.insert(z.end(), x, x + (matrix_ ? game_.dx : 1));
          z.insert(z.end(), y, y + (matrix_ ? game_.dy : 1));
        };
        trace_one(alt, h, b, keep);
        // The modified equation from the same start, sampled at the same steps.
        std::vector<double> state(starts_.begin(), starts_.begin() + n);
        std::int64_t t = 0;
        for (std::int64_t step : at) {
          const std::int64_t sub = (step - t) * ode_substeps_;
          if (sub > 0) modified_flow(alt, h, b, state, static_cast<double>(step - t) * h, sub);
          t = step;
          ode_z.insert(ode_z.end(), state.begin(), state.end());
        }
        const engine::h5::Group g = traces.create_group(std::string(alt ? "alt" : "sim") + "/" + std::to_string(k));
        g.write_attr("h", h);
        g.write_attr("beta", b);
        g.write("step", at);
        g.write("z", z, {at.size(), static_cast<hsize_t>(n)});
        g.write("ode_z", ode_z, {at.size(), static_cast<hsize_t>(n)});
      }
    }
  }

  template <class Keep>
  void trace_one(bool alt, double h, double b, Keep& keep) const {
    auto record = [&](std::int64_t step, double x, double y) { keep(step, &x, &y); };
    const double x0 = starts_[0], y0 = starts_[matrix_ ? static_cast<std::size_t>(game_.dx) : 1];
    if (game_name_ == "cubic") integrate(Cubic{}, alt, h, b, x0, y0, steps_, trace_every_, record);
    else if (game_name_ == "limit_cycle") integrate(LimitCycle{}, alt, h, b, x0, y0, steps_, trace_every_, record);
    else if (game_.dx == 1 && game_.dy == 1) integrate(game_.scalar(), alt, h, b, x0, y0, steps_, trace_every_, record);
    else {
      Outcome o;
      const std::int64_t dx = game_.dx;
      integrate_batch(game_, alt, 1, &h, &b, starts_.data(), starts_.data() + dx, steps_, &o, trace_every_,
                      [&](std::int64_t step, const double* x, const double* y) { keep(step, x, y); });
    }
  }

  void modified_flow(bool alt, double h, double b, std::vector<double>& z, double t, std::int64_t substeps) const {
    if (!matrix_ || (game_.dx == 1 && game_.dy == 1)) {
      auto rhs = [&](const std::vector<double>& s, std::vector<double>& ds) {
        if (game_name_ == "cubic") modified_rhs(Cubic{}, alt, h, b, s[0], s[1], ds[0], ds[1]);
        else if (game_name_ == "limit_cycle") modified_rhs(LimitCycle{}, alt, h, b, s[0], s[1], ds[0], ds[1]);
        else modified_rhs(game_.scalar(), alt, h, b, s[0], s[1], ds[0], ds[1]);
      };
      kernels::rk4(rhs, z, t, substeps);
      return;
    }
    // Linear games: z' = K (z - z*).
    const auto K = modified_matrix(game_, alt, h, b);
    const auto zs = game_.equilibrium();
    const std::int64_t n = game_.n();
    auto rhs = [&](const std::vector<double>& s, std::vector<double>& ds) {
      std::vector<double> d(s.size());
      for (std::size_t i = 0; i < s.size(); ++i) d[i] = s[i] - zs[i];
      kernels::linalg::host_backend().gemm(false, false, n, 1, n, 1.0, K.data(), n, d.data(), 1, 0.0, ds.data(), 1);
    };
    kernels::rk4(rhs, z, t, substeps);
  }

  engine::Comm comm_;
  std::string game_name_;
  bool matrix_ = false;
  MatrixGame game_;
  std::vector<std::complex<double>> field_eigs_;
  std::vector<double> singular_;
  std::int64_t steps_ = 0, chunk_ = 1, eig_max_dim_ = 256, ode_substeps_ = 4, trace_every_ = 10;
  double tol_ = 1e-6;
  std::vector<double> h_, beta_, starts_, trace_h_, trace_beta_;
  std::vector<bool> schemes_;
  std::int64_t ns_ = 1, per_scheme_ = 0, done_ = 0;
  std::vector<double> outcomes_;  // 4 per trajectory: g0, g_half, g_end, avg_sq
};

}  // namespace saddle::apps::hb

SADDLE_REGISTER_WORKLOAD(hb, "heavy-ball momentum in min-max games: Sim/Alt-HB sweeps, spectral radii, modified equations",
                         saddle::apps::hb::HeavyBall);
