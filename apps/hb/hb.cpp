// hb: heavy-ball momentum in min-max games (docs/algorithms.md section 4). A sweep over step h,
// momentum beta, start points and schemes (Sim-HB, Alt-HB); each driver step integrates one
// chunk of the sweep's trajectories, split over ranks, so a restart never redoes a finished chunk.
// The game (game.hpp), the grid (sweep.hpp), the predictions of linear analysis (predictions.hpp)
// and the recorded trajectories (traces.hpp) have files of their own.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "apps/hb/dynamics.hpp"
#include "apps/hb/game.hpp"
#include "apps/hb/matrix_game.hpp"
#include "apps/hb/predictions.hpp"
#include "apps/hb/sweep.hpp"
#include "apps/hb/traces.hpp"
#include "engine/memory_check.hpp"
#include "engine/workload.hpp"
#include "kernels/spaces.hpp"

namespace saddle::apps::hb {

using engine::Config;
using engine::InputError;

namespace {

bool converged(double g0, double g_end, double tol) { return g_end <= tol * std::max(g0, 1e-300); }

// Empirical contraction per step of one trajectory's outcome (g0, g_half, g_end) over the second
// half of the run, or over the first half when the second ends at rounding level (a converged
// run's floor is no rate).
double contraction_rate(const double* o, std::int64_t steps) {
  const double half = static_cast<double>(steps / 2), rest = static_cast<double>(steps - steps / 2);
  return !std::isfinite(o[2]) ? INFINITY
         : o[2] > 1e-13 * o[0] && o[1] > 0 ? std::pow(o[2] / o[1], 1.0 / rest)
         : o[0] > 0 && half > 0 ? std::pow(o[1] / o[0], 1.0 / half)
                                : 0.0;
}

// One block of W trajectories of a 2-D game per call: W lanes in lockstep (vectorised on a CPU
// thread; W = 1 on a GPU thread). The tail block repeats the last trajectory.
template <class Game2d, int W>
struct TrajectoryBlocks {
  Game2d game;
  bool alt;
  Kokkos::View<double*, kernels::Mem> h, b, x, y;
  std::int64_t steps, count;
  Kokkos::View<Outcome*, kernels::Mem> res;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t blk) const {
    double hl[W], bl[W], xl[W], yl[W];
    for (int l = 0; l < W; ++l) {
      const std::int64_t k = kernels::kc::min(blk * W + l, count - 1);
      hl[l] = h(k);
      bl[l] = b(k);
      xl[l] = x(k);
      yl[l] = y(k);
    }
    integrate_lanes<W>(game, alt, hl, bl, xl, yl, steps, &res(blk * W));
  }
};

}  // namespace

class HeavyBall : public engine::Workload {
 public:
  void declare(engine::Schema& s) const override {
    s.string("hb.game").one_of({"bilinear", "quadratic", "cubic", "limit_cycle"}).help("the game f(x, y)");
    s.string("hb.path").optional().help("HDF5 file with /A (and /P, /Q, /bx, /by) for bilinear and quadratic games");
    s.integer("hb.dim_x").def(std::int64_t{1}).range(1, 100000).help("dimension of x (generated matrix games; with hb.path and hb.start_points, the file's)");
    s.integer("hb.dim_y").def(std::int64_t{1}).range(1, 100000).help("dimension of y (generated matrix games; with hb.path and hb.start_points, the file's)");
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
    for (std::size_t s = 0; s < c.string_list("hb.schemes").size(); ++s) total += engine::chunk_count(per_scheme, c.integer("hb.chunk"));
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
    // The driver plans one step per chunk from this product: refuse it before it can overflow.
    const auto [key, trajectories] = largest_grid_term(c);
    if (trajectories > 1e15)
      throw c.error(key, "the sweep would have more than 1e15 trajectories (hb.h.count x hb.beta.count x start points x schemes)");
  }

  void setup(const engine::RunContext& ctx) override {
    const Config& c = ctx.config;
    comm_ = ctx.grid.world;
    tol_ = c.real("hb.tol");
    chunk_ = c.integer("hb.chunk");
    eig_max_dim_ = c.integer("hb.eig_max_dim");
    steps_ = trace_.steps = c.integer("hb.steps");
    trace_.every = c.integer("hb.trace_every");
    trace_.ode_substeps = c.integer("hb.ode_substeps");
    if (c.has("hb.trace_h")) {
      trace_.h = c.real_list("hb.trace_h");
      trace_.beta = c.real_list("hb.trace_beta");
    }
    comm_.agree([&] {
      // Every rank keeps every trajectory's 4 outcomes, and the grids and start points.
      const auto [key, trajectories] = largest_grid_term(c);
      const double n = static_cast<double>(c.integer("hb.dim_x") + c.integer("hb.dim_y"));
      engine::require_memory(trajectories * 4 * sizeof(double) + static_cast<double>(starts_count(c)) * n * sizeof(double) +
                                 static_cast<double>(c.integer("hb.h.count") + c.integer("hb.beta.count")) * sizeof(double),
                             key, c, engine::Share::Whole);
    });
    comm_.agree([&] {
      game_ = make_game(c, ctx.seed);
      if (game_.is_matrix()) spectra_ = game_spectra(game_);
    });
    comm_.agree([&] { sweep_ = make_sweep(c, ctx.seed, game_.n()); });
    outcomes_.assign(static_cast<std::size_t>(4 * total()), 0.0);
    done_ = 0;
  }

  void step(std::int64_t step) override {
    // Driver step -> (scheme, first trajectory, count) of one chunk.
    const std::int64_t per_scheme = sweep_.per_scheme(), chunks_per_scheme = engine::chunk_count(per_scheme, chunk_);
    const std::int64_t sch = (step - 1) / chunks_per_scheme, first = ((step - 1) % chunks_per_scheme) * chunk_;
    const std::int64_t count = std::min(chunk_, per_scheme - first);
    const engine::RowRange mine = engine::block_rows(count, comm_.rank(), comm_.size());
    std::vector<Outcome> local(static_cast<std::size_t>(mine.count()));
    run_trajectories(sweep_.schemes[static_cast<std::size_t>(sch)] == Scheme::Alt, first + mine.begin, mine.count(), local.data());
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
    std::copy(slice.begin(), slice.end(), outcomes_.begin() + 4 * (sch * per_scheme + first));
    done_ += count;
  }

  engine::MetricValues metrics(std::int64_t) override {
    std::int64_t conv = 0, finite = 0;
    double avg = 0;
    // Chunks run in order, so the done trajectories are the first `done_` of the sweep order.
    for (std::int64_t g = 0; g < done_; ++g) {
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
    g.write_attr("per_scheme", sweep_.per_scheme());
  }

  void load(const engine::h5::Group& g) override {
    if (g.read_attr<std::int64_t>("per_scheme") != sweep_.per_scheme()) throw InputError("checkpoint holds another hb grid");
    outcomes_ = g.read<double>("outcomes");
    done_ = g.read_attr<std::int64_t>("done");
  }

  void finish(const engine::h5::Group& result) override {
    const engine::h5::Group sweep = result.create_group("sweep");
    const auto nh = static_cast<hsize_t>(sweep_.h.size()), nb = static_cast<hsize_t>(sweep_.beta.size());
    const std::int64_t ns = sweep_.ns, per_scheme = sweep_.per_scheme();
    sweep.write("h", sweep_.h);
    sweep.write("beta", sweep_.beta);
    sweep.write("starts", sweep_.starts, {static_cast<hsize_t>(ns), sweep_.starts.size() / static_cast<hsize_t>(ns)});
    sweep.write_attr("game", game_name(game_.kind));
    sweep.write_attr("steps", steps_);
    sweep.write_attr("tol", tol_);
    for (std::size_t s = 0; s < sweep_.schemes.size(); ++s) {
      const engine::h5::Group out = sweep.create_group(scheme_name(sweep_.schemes[s]));
      std::vector<std::int64_t> conv(nh * nb, 0);
      std::vector<double> rate(nh * nb), avg(nh * nb), g_end(nh * nb * static_cast<hsize_t>(ns));
      for (std::size_t p = 0; p < nh * nb; ++p) {
        double log_rate = 0, sum_avg = 0;
        for (std::int64_t k = 0; k < ns; ++k) {
          const auto g = static_cast<std::int64_t>(s) * per_scheme + static_cast<std::int64_t>(p) * ns + k;
          const double* o = &outcomes_[static_cast<std::size_t>(4 * g)];
          conv[p] += converged(o[0], o[2], tol_);
          g_end[p * static_cast<std::size_t>(ns) + static_cast<std::size_t>(k)] = o[2];
          log_rate += std::log(contraction_rate(o, steps_));
          sum_avg += o[3];
        }
        rate[p] = std::exp(log_rate / static_cast<double>(ns));
        avg[p] = sum_avg / static_cast<double>(ns);
      }
      out.write("converged", conv, {nh, nb});
      out.write("rate", rate, {nh, nb});
      out.write("avg_grad_sq", avg, {nh, nb});
      out.write("final_grad_norm", g_end, {nh, nb, static_cast<hsize_t>(ns)});
      if (game_.is_matrix()) write_predictions(out, comm_, game_, spectra_, sweep_, sweep_.schemes[s], eig_max_dim_);
    }
    write_traces(result, game_, sweep_, trace_);
  }

 private:
  static std::int64_t starts_count(const Config& c) {
    if (!c.has("hb.start_points")) return c.integer("hb.starts");
    const auto n = c.integer("hb.dim_x") + c.integer("hb.dim_y");
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(c.real_list("hb.start_points").size()) / n);
  }
  // The sweep's trajectories over all schemes (as a double: deck values may overflow an integer),
  // with the count key that contributes most, to name in a refusal.
  static std::pair<std::string, double> largest_grid_term(const Config& c) {
    const std::pair<std::string, double> terms[] = {{"hb.h.count", static_cast<double>(c.integer("hb.h.count"))},
                                                    {"hb.beta.count", static_cast<double>(c.integer("hb.beta.count"))},
                                                    {c.has("hb.start_points") ? "hb.start_points" : "hb.starts", static_cast<double>(starts_count(c))}};
    double product = static_cast<double>(c.string_list("hb.schemes").size());
    for (const auto& t : terms) product *= t.second;
    const auto& top = *std::max_element(std::begin(terms), std::end(terms), [](const auto& a, const auto& b) { return a.second < b.second; });
    return {top.first, product};
  }
  std::int64_t total() const { return sweep_.per_scheme() * static_cast<std::int64_t>(sweep_.schemes.size()); }

  template <class Game2d>
  void run_scalar(const Game2d& game, bool alt, std::int64_t first, std::int64_t count, Outcome* out) const {
    Kokkos::View<double*, kernels::HostMem> hv("h", static_cast<std::size_t>(count)), bv("beta", static_cast<std::size_t>(count)),
        xv("x0", static_cast<std::size_t>(count)), yv("y0", static_cast<std::size_t>(count));
    for (std::int64_t k = 0; k < count; ++k) {
      const double* z0;
      sweep_.decode(first + k, hv(k), bv(k), z0);
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
    Kokkos::parallel_for("hb::trajectories", kernels::exec_range(blocks), TrajectoryBlocks<Game2d, kLanes>{game, alt, h, b, x, y, steps_, count, res});
    auto host = Kokkos::create_mirror_view_and_copy(kernels::HostMem(), res);
    for (std::int64_t k = 0; k < count; ++k) out[k] = host(k);
  }

  void run_trajectories(bool alt, std::int64_t first, std::int64_t count, Outcome* out) const {
    if (count == 0) return;
    if (game_.visit_2d([&](const auto& g2) { run_scalar(g2, alt, first, count, out); })) return;
    const std::int64_t dx = game_.matrix.dx, dy = game_.matrix.dy;
    std::vector<double> h(static_cast<std::size_t>(count)), b(h.size()), X(h.size() * static_cast<std::size_t>(dx)),
        Y(h.size() * static_cast<std::size_t>(dy));
    for (std::int64_t k = 0; k < count; ++k) {
      const double* z0;
      sweep_.decode(first + k, h[k], b[k], z0);
      std::copy(z0, z0 + dx, X.begin() + k * dx);
      std::copy(z0 + dx, z0 + dx + dy, Y.begin() + k * dy);
    }
    integrate_batch(game_.matrix, alt, count, h.data(), b.data(), X.data(), Y.data(), steps_, out);
  }

  engine::Comm comm_;
  Game game_;
  Spectra spectra_;
  Sweep sweep_;
  TraceSpec trace_;
  std::int64_t steps_ = 0, chunk_ = 1, eig_max_dim_ = 256;
  double tol_ = 1e-6;
  std::int64_t done_ = 0;
  std::vector<double> outcomes_;  // 4 per trajectory: g0, g_half, g_end, avg_sq
};

}  // namespace saddle::apps::hb

SADDLE_REGISTER_WORKLOAD(hb, "heavy-ball momentum in min-max games: Sim/Alt-HB sweeps, spectral radii, modified equations",
                         saddle::apps::hb::HeavyBall);
