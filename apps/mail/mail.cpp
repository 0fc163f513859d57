// mail: learning Nash equilibria from expert data in two-player zero-sum Markov games
// (docs/algorithms.md section 5). Setup solves each game exactly (Shapley iteration, states split
// over ranks when no learner needs the whole game), measures the expert's Nash gap and the
// concentrability coefficients; each driver step then runs one chunk of seeds of every learner,
// seeds split over ranks, and records the exact Nash gap at each expert-query budget.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "apps/mail/games.hpp"
#include "apps/mail/learners.hpp"
#include "apps/mail/solvers.hpp"
#include "engine/memory_check.hpp"
#include "engine/workload.hpp"

namespace saddle::apps::mail {

using engine::Config;
using engine::InputError;
using kernels::MarkovGame;

namespace {

Exchange exchange_over(const engine::Comm& comm, std::int64_t S) {
  Exchange ex;
  ex.gather = [comm, S](const std::vector<double>& held, std::vector<double>& full) {
    full = comm.allgatherv(held);
    if (full.size() != static_cast<std::size_t>(S)) throw std::logic_error("mail: the held rows do not cover the states");
  };
  ex.max = [comm](double v) { return comm.allreduce(v, engine::Op::Max); };
  ex.sum = [comm](std::vector<double>& v) { comm.allreduce(v, engine::Op::Sum); };
  return ex;
}

struct GameRun {
  MarkovGame game;
  double p = 0;                 // concentrability family only
  std::vector<double> mu, nu;   // expert, held rows
  std::vector<double> value;    // V* (full)
  Gap gap;
  Concentrability conc{std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  std::int64_t sweeps = 0, fallbacks = 0;
  double residual = 0;
};

}  // namespace

class Mail : public engine::Workload {
 public:
  void declare(engine::Schema& s) const override {
    s.string_list("mail.algorithms")
        .def(std::vector<std::string>{"bc", "mail_bro", "murmail"})
        .one_of({"bc", "mail_bro", "murmail", "murmail_exact_planning"})
        .help("learners to run (murmail_exact_planning: MURMAIL planning on the true transitions with the estimated reward)");
    s.integer("mail.seeds").def(std::int64_t{10}).range(0).help("independent seeds of every learner");
    s.integer("mail.seed_chunk").def(std::int64_t{50}).range(1).help("seeds per driver step (the checkpoint granularity)");
    s.int_list("mail.budgets").def(std::vector<std::int64_t>{100, 1000, 10000}).range(1).help("expert-query budgets, increasing");
    s.real("mail.eta").def(0.1).range(0).help("exponential-weights step size of MAIL-BRO and MURMAIL");
    s.real("mail.expert_tol").def(1e-12).range(0).help("Shapley iteration stops when the sup-norm update is <= this");
    s.real("mail.eval_tol").def(1e-10).range(0).help("value-iteration tolerance of the learners' gaps and best responses");
    s.integer("mail.concentrability_max_states").def(std::int64_t{2000}).range(0).help("compute C and C_max (one MDP solve per state and player) up to this many states");
    s.integer("mail.murmail.inner_episodes").def(std::int64_t{10}).range(1).help("UCBVI episodes per maximum-uncertainty response");
    s.real("mail.murmail.bonus").def(1.0).range(0).help("UCBVI exploration bonus c / sqrt(visits)");
    s.integer("mail.murmail.plan_sweeps").def(std::int64_t{30}).range(1).help("value-iteration sweeps per replanning");
    s.string("mail.game.source").def(std::string("random")).one_of({"random", "hdf5", "concentrability"}).help("where the game comes from");
    s.string("mail.game.path").optional().help("HDF5 game file (/P, /R, /rho, gamma) for source = \"hdf5\"");
    s.integer("mail.game.states").def(std::int64_t{10}).range(1, 2147483647).help("S of a random game");
    s.integer("mail.game.max_actions").def(std::int64_t{3}).range(1, kernels::kStageMax).help("A: actions of the maximiser (random game)");
    s.integer("mail.game.min_actions").def(std::int64_t{3}).range(1, kernels::kStageMax).help("B: actions of the minimiser (random game)");
    s.real("mail.game.gamma").def(0.9).range(0, 1).help("discount of random and concentrability games, in [0, 1)");
    s.integer("mail.game.successors").def(std::int64_t{0}).range(0).help("next states per (s, a, b) of a random game; 0 = all states");
    s.real_list("mail.game.reward_range").def(std::vector<double>{-1.0, 1.0}).help("[lo, hi] of random rewards");
    s.real_list("mail.game.p").def(std::vector<double>{0.5}).range(0, 1).help("expert's probability of the right path (concentrability); one game per value");
    s.integer("mail.game.length").def(std::int64_t{2}).range(1, 1000000).help("states per path of the concentrability game");
  }

  std::int64_t steps(const Config& c) const override {
    return games(c) * std::max<std::int64_t>(1, chunks(c));
  }

  void validate(const Config& c) const override {
    if (c.is_set("run.steps"))
      throw c.error("run.steps", "mail sets the number of driver steps itself (one per chunk of mail.seed_chunk seeds and game)");
    const auto& b = c.int_list("mail.budgets");
    if (b.empty()) throw c.error("mail.budgets", "needs at least one budget");
    for (std::size_t i = 1; i < b.size(); ++i)
      if (b[i] <= b[i - 1]) throw c.error("mail.budgets", "budgets must be strictly increasing");
    const auto& algos = c.string_list("mail.algorithms");
    for (std::size_t i = 0; i < algos.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (algos[i] == algos[j]) throw c.error("mail.algorithms", "'" + algos[i] + "' is listed twice");
    if (!(c.real("mail.game.gamma") < 1)) throw c.error("mail.game.gamma", "must be < 1");
    for (const std::string k : {"mail.expert_tol", "mail.eval_tol"})
      if (!(c.real(k) > 0)) throw c.error(k, "must be > 0 (value iteration stops when its update is at most this)");
    const auto& rr = c.real_list("mail.game.reward_range");
    if (rr.size() != 2 || !(rr[0] <= rr[1])) throw c.error("mail.game.reward_range", "expected [lo, hi] with lo <= hi");
    const std::string src = c.string("mail.game.source");
    if (src == "hdf5" && !c.has("mail.game.path")) throw c.error("mail.game.source", "source = \"hdf5\" needs mail.game.path");
    if (src != "hdf5" && c.has("mail.game.path")) throw c.error("mail.game.path", "is only read for source = \"hdf5\"");
    if (src != "concentrability" && (c.is_set("mail.game.p") || c.is_set("mail.game.length")))
      throw c.error(c.is_set("mail.game.p") ? "mail.game.p" : "mail.game.length", "belongs to source = \"concentrability\"");
    if (src == "concentrability" && c.real_list("mail.game.p").empty()) throw c.error("mail.game.p", "needs at least one value");
    if (src != "random")
      for (const std::string k : {"mail.game.states", "mail.game.max_actions", "mail.game.min_actions", "mail.game.successors", "mail.game.reward_range"})
        if (c.is_set(k)) throw c.error(k, "belongs to source = \"random\"");
    if (src == "random" && c.integer("mail.game.successors") > c.integer("mail.game.states"))
      throw c.error("mail.game.successors", "exceeds mail.game.states");
    if (src == "random" && learners(c)) {
      // The learners hold the whole game, and MURMAIL an S x S x actions count table, per rank.
      const double S = static_cast<double>(c.integer("mail.game.states"));
      const double rows = S * static_cast<double>(c.integer("mail.game.max_actions") * c.integer("mail.game.min_actions")) *
                          static_cast<double>(c.integer("mail.game.successors") ? c.integer("mail.game.successors") : c.integer("mail.game.states"));
      if (rows > 5e8) throw c.error("mail.game.states", "the learners need the whole game on every rank; this one has " + std::to_string(rows) + " transition entries (at most 5e8): set mail.seeds = 0 or mail.algorithms = [] to solve it alone");
    }
  }

  void setup(const engine::RunContext& ctx) override {
    const Config& c = ctx.config;
    comm_ = ctx.grid.world;
    for (const auto& n : c.string_list("mail.algorithms")) algos_.push_back(algorithm_from_name(n));
    seeds_ = c.integer("mail.seeds");
    chunk_ = c.integer("mail.seed_chunk");
    run_seed_ = ctx.seed;
    opt_.budgets = c.int_list("mail.budgets");
    opt_.eta = c.real("mail.eta");
    opt_.eval_tol = c.real("mail.eval_tol");
    opt_.inner_episodes = c.integer("mail.murmail.inner_episodes");
    opt_.bonus = c.real("mail.murmail.bonus");
    opt_.plan_sweeps = c.integer("mail.murmail.plan_sweeps");
    source_ = c.string("mail.game.source");
    const bool whole = learners(c);
    const double tol = c.real("mail.expert_tol");
    const std::int64_t n_games = games(c);
    // Every rank keeps the Nash gap of every (game, learner, seed, budget).
    comm_.agree([&] {
      engine::require_memory(static_cast<double>(n_games) * static_cast<double>(algos_.size()) * static_cast<double>(seeds_) *
                                 static_cast<double>(opt_.budgets.size()) * sizeof(double),
                             "mail.seeds", c, engine::Share::Whole);
    });
    for (std::int64_t k = 0; k < n_games; ++k) {
      GameRun run;
      auto t = ctx.timers.scope("game");
      comm_.agree([&] {
        const int part = whole ? 0 : comm_.rank(), parts = whole ? 1 : comm_.size();
        if (source_ == "random") {
          RandomGameSpec spec;
          spec.S = c.integer("mail.game.states");
          spec.A = c.integer("mail.game.max_actions");
          spec.B = c.integer("mail.game.min_actions");
          spec.gamma = c.real("mail.game.gamma");
          spec.successors = c.integer("mail.game.successors");
          spec.r_lo = c.real_list("mail.game.reward_range")[0];
          spec.r_hi = c.real_list("mail.game.reward_range")[1];
          const auto rows = engine::block_rows(spec.S, part, parts);
          run.game = random_game(spec, ctx.seed, rows.begin, rows.end);
        } else if (source_ == "hdf5") {
          run.game = read_game(engine::InputFile(c, "mail.game.path"), part, parts);
          if (whole && learners(c) && static_cast<double>(run.game.next.size()) > 5e8)
            throw c.error("mail.game.path", "the game is too large for the learners (set mail.seeds = 0)");
        } else {
          run.game = concentrability_game(c.real("mail.game.gamma"), c.integer("mail.game.length"));
          run.p = c.real_list("mail.game.p")[static_cast<std::size_t>(k)];
        }
      });
      const Exchange ex = whole ? Exchange::serial() : exchange_over(comm_, run.game.S);
      {
        auto ts = ctx.timers.scope("expert_solve");
        const ExpertSolution sol = solve_expert(run.game, ex, tol);
        run.value = sol.value;
        run.sweeps = sol.sweeps;
        run.fallbacks = sol.glpk_fallbacks;
        run.residual = sol.residual;
        run.mu = sol.mu;
        run.nu = sol.nu;
      }
      // The concentrability expert is the constructed mixture of the two pure paths (also a
      // Nash equilibrium, which its gap below confirms), not the solver's pure choice.
      if (source_ == "concentrability") concentrability_expert(run.game, run.p, run.mu, run.nu);
      {
        auto tg = ctx.timers.scope("nash_gap");
        run.gap = nash_gap(run.game, ex, run.mu.data(), run.nu.data(), tol, run.value);
      }
      if (run.game.S <= c.integer("mail.concentrability_max_states")) {
        auto tc = ctx.timers.scope("concentrability");
        run.conc = concentrability(run.game, ex, run.mu.data(), run.nu.data(), tol, 1e-9);
      }
      ctx.log("[mail] game " + std::to_string(k) + ": S = " + std::to_string(run.game.S) + ", " + std::to_string(run.sweeps) +
              " Shapley sweeps, expert Nash gap " + fmt(run.gap.nash_gap()) + ", C = " + fmt(run.conc.C) + ", C_max = " + fmt(run.conc.C_max));
      games_.push_back(std::move(run));
    }
    whole_ = whole;
    gaps_.assign(static_cast<std::size_t>(n_games) * algos_.size() * static_cast<std::size_t>(seeds_) * opt_.budgets.size(), 0.0);
    done_ = 0;
  }

  void step(std::int64_t step) override {
    const std::int64_t per_game = std::max<std::int64_t>(1, engine::chunk_count(seeds_, chunk_));
    const std::int64_t k = (step - 1) / per_game, first = ((step - 1) % per_game) * chunk_;
    const std::int64_t count = std::max<std::int64_t>(0, std::min(chunk_, seeds_ - first));
    if (count > 0 && !algos_.empty()) {
      const GameRun& run = games_[static_cast<std::size_t>(k)];
      const engine::RowRange mine = engine::block_rows(count, comm_.rank(), comm_.size());
      const std::size_t J = opt_.budgets.size(), NA = algos_.size();
      std::vector<double> slice(NA * static_cast<std::size_t>(count) * J, 0.0);
      for (std::size_t al = 0; al < NA; ++al)
        for (std::int64_t i = mine.begin; i < mine.end; ++i) {
          const auto seed = static_cast<std::uint64_t>(k * seeds_ + first + i);
          const auto g = run_learner(algos_[al], run.game, run.mu, run.nu, opt_, run_seed_, seed);
          std::copy(g.begin(), g.end(), slice.begin() + static_cast<std::ptrdiff_t>((al * static_cast<std::size_t>(count) + static_cast<std::size_t>(i)) * J));
        }
      // Every rank gets the whole chunk: the others' slots are zero, so the sum is exact.
      comm_.allreduce(slice, engine::Op::Sum);
      for (std::size_t al = 0; al < NA; ++al)
        for (std::int64_t i = 0; i < count; ++i)
          std::copy_n(slice.begin() + static_cast<std::ptrdiff_t>((al * static_cast<std::size_t>(count) + static_cast<std::size_t>(i)) * J), J,
                      gaps_.begin() + static_cast<std::ptrdiff_t>(at(k, al, first + i, 0)));
    }
    done_ = step;
  }

  engine::MetricValues metrics(std::int64_t) override {
    engine::MetricValues m;
    const std::int64_t per_game = std::max<std::int64_t>(1, engine::chunk_count(seeds_, chunk_));
    for (std::size_t al = 0; al < algos_.size(); ++al) {
      // Mean gap at the largest budget over the seeds done, all games together.
      double sum = 0;
      std::int64_t n = 0;
      for (std::int64_t k = 0; k < static_cast<std::int64_t>(games_.size()); ++k)
        for (std::int64_t i = 0; i < seeds_; ++i)
          if (k * per_game + i / chunk_ < done_) {
            sum += gaps_[at(k, al, i, opt_.budgets.size() - 1)];
            ++n;
          }
      m.emplace_back(std::string("gap_") + algorithm_name(algos_[al]), n ? sum / static_cast<double>(n) : 0.0);
    }
    m.emplace_back("expert_nash_gap", games_.empty() ? 0.0 : games_.front().gap.nash_gap());
    return m;
  }

  void save(const engine::h5::Group& g) const override {
    g.write("gaps", gaps_);
    g.write_attr("done", done_);
  }

  void load(const engine::h5::Group& g) override {
    auto gaps = g.read<double>("gaps");
    if (gaps.size() != gaps_.size()) throw InputError("mail checkpoint holds another number of seeds, budgets or algorithms");
    gaps_ = std::move(gaps);
    done_ = g.read_attr<std::int64_t>("done");
  }

  void finish(const engine::h5::Group& result) override {
    const auto G = static_cast<hsize_t>(games_.size());
    const bool multi = G > 1;
    auto lead = [&](std::vector<hsize_t> dims) {
      if (multi) dims.insert(dims.begin(), G);
      return dims;
    };
    const engine::h5::Group expert = result.create_group("expert");
    const MarkovGame& g0 = games_.front().game;
    const auto S = static_cast<hsize_t>(g0.S), A = static_cast<hsize_t>(g0.A), B = static_cast<hsize_t>(g0.B);
    std::vector<double> value, gap, conc, gain_max, gain_min, p;
    std::vector<std::int64_t> sweeps, fallbacks;
    for (const GameRun& r : games_) {
      value.insert(value.end(), r.value.begin(), r.value.end());
      gap.push_back(r.gap.nash_gap());
      gain_max.push_back(r.gap.gain_max);
      gain_min.push_back(r.gap.gain_min);
      conc.push_back(r.conc.C);
      conc.push_back(r.conc.C_max);
      sweeps.push_back(r.sweeps);
      fallbacks.push_back(r.fallbacks);
      p.push_back(r.p);
    }
    expert.write("value", value, lead({S}));
    if (whole_) {
      std::vector<double> mu, nu;
      for (const GameRun& r : games_) {
        mu.insert(mu.end(), r.mu.begin(), r.mu.end());
        nu.insert(nu.end(), r.nu.begin(), r.nu.end());
      }
      expert.write("mu", mu, lead({S, A}));
      expert.write("nu", nu, lead({S, B}));
    } else {
      // One game, its rows split over ranks: a collective write in global row order.
      expert.write_rows("mu", games_.front().mu.data(), g0.held(), g0.A);
      expert.write_rows("nu", games_.front().nu.data(), g0.held(), g0.B);
    }
    if (multi) expert.write("nash_gap", gap);
    else expert.write_scalar("nash_gap", gap[0]);
    expert.write("gain_max", gain_max);
    expert.write("gain_min", gain_min);
    expert.write("shapley_sweeps", sweeps);
    expert.write("glpk_fallbacks", fallbacks);
    expert.write_attr("gamma", g0.gamma);
    expert.write_attr("source", source_);
    result.write("concentrability", conc, lead({2}));
    result.write_attr("concentrability_columns", "C, C_max");
    if (source_ == "concentrability") result.write("p", p);
    const std::size_t J = opt_.budgets.size();
    // Curves exist only when seeds ran (mail.seeds = 0 solves the game alone).
    for (std::size_t al = 0; seeds_ > 0 && al < algos_.size(); ++al) {
      const engine::h5::Group out = result.create_group(algorithm_name(algos_[al]));
      out.write("queries", opt_.budgets);
      std::vector<double> mean, sd, all;
      for (std::size_t k = 0; k < games_.size(); ++k) {
        for (std::size_t j = 0; j < J; ++j) {
          double s = 0, s2 = 0;
          for (std::int64_t i = 0; i < seeds_; ++i) s += gaps_[at(static_cast<std::int64_t>(k), al, i, j)];
          const double m = s / static_cast<double>(seeds_);
          for (std::int64_t i = 0; i < seeds_; ++i) {
            const double d = gaps_[at(static_cast<std::int64_t>(k), al, i, j)] - m;
            s2 += d * d;
          }
          mean.push_back(m);
          sd.push_back(seeds_ > 1 ? std::sqrt(s2 / static_cast<double>(seeds_ - 1)) : 0.0);
        }
        all.insert(all.end(), gaps_.begin() + static_cast<std::ptrdiff_t>(at(static_cast<std::int64_t>(k), al, 0, 0)),
                   gaps_.begin() + static_cast<std::ptrdiff_t>(at(static_cast<std::int64_t>(k), al, seeds_, 0)));
      }
      out.write("nash_gap_mean", mean, lead({J}));
      out.write("nash_gap_std", sd, lead({J}));
      out.write("nash_gap", all, lead({static_cast<hsize_t>(seeds_), J}));
      out.write_attr("seeds", seeds_);
      out.write_attr("std", "sample standard deviation across seeds (n - 1)");
    }
  }

 private:
  static std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }
  static std::int64_t chunks(const Config& c) { return engine::chunk_count(c.integer("mail.seeds"), c.integer("mail.seed_chunk")); }
  static std::int64_t games(const Config& c) {
    return c.string("mail.game.source") == "concentrability" ? static_cast<std::int64_t>(c.real_list("mail.game.p").size()) : 1;
  }
  static bool learners(const Config& c) { return !c.string_list("mail.algorithms").empty() && c.integer("mail.seeds") > 0; }
  std::size_t at(std::int64_t k, std::size_t al, std::int64_t seed, std::size_t j) const {
    return ((static_cast<std::size_t>(k) * algos_.size() + al) * static_cast<std::size_t>(seeds_) + static_cast<std::size_t>(seed)) *
               opt_.budgets.size() + j;
  }

  engine::Comm comm_;
  std::vector<Algorithm> algos_;
  std::int64_t seeds_ = 0, chunk_ = 1, done_ = 0;
  std::uint64_t run_seed_ = 0;
  LearnerOptions opt_;
  std::string source_;
  bool whole_ = true;
  std::vector<GameRun> games_;
  std::vector<double> gaps_;  // games x algorithms x seeds x budgets
};

}  // namespace saddle::apps::mail

SADDLE_REGISTER_WORKLOAD(mail, "multi-agent imitation learning in zero-sum Markov games: Nash expert, BC, MAIL-BRO, MURMAIL, exact Nash gaps",
                         saddle::apps::mail::Mail);
