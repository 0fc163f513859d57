#include "apps/mail/games.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/comm.hpp"
#include "kernels/counter_rng.hpp"

namespace saddle::apps::mail {

using kernels::MarkovGame;

namespace {

MarkovGame empty_game(std::int64_t S, std::int64_t A, std::int64_t B, double gamma, std::int64_t s_begin, std::int64_t s_end) {
  const auto rows = static_cast<std::size_t>((s_end - s_begin) * A * B);
  return MarkovGame{S, A, B, gamma, s_begin, s_end, std::vector<double>(rows, 0.0), {0}, {}, {}, {}};
}

}  // namespace

MarkovGame random_game(const RandomGameSpec& spec, std::uint64_t seed, std::int64_t s_begin, std::int64_t s_end) {
  MarkovGame g = empty_game(spec.S, spec.A, spec.B, spec.gamma, s_begin, s_end);
  const kernels::CounterRng rew(seed, "mail_game_reward"), tr(seed, "mail_game_transition");
  const std::int64_t k = spec.successors == 0 ? spec.S : std::min(spec.successors, spec.S);
  std::vector<std::int32_t> succ;
  std::vector<double> w;
  std::vector<char> taken(static_cast<std::size_t>(spec.S), 0);
  for (std::int64_t s = s_begin; s < s_end; ++s)
    for (std::int64_t a = 0; a < spec.A; ++a)
      for (std::int64_t b = 0; b < spec.B; ++b) {
        const auto global = static_cast<std::uint64_t>((s * spec.A + a) * spec.B + b);
        g.R[static_cast<std::size_t>(g.row(s, a, b))] = spec.r_lo + (spec.r_hi - spec.r_lo) * rew.uniform(global, 0);
        succ.clear();
        std::uint32_t draw = 0;
        if (k == spec.S) {
          for (std::int64_t t = 0; t < spec.S; ++t) succ.push_back(static_cast<std::int32_t>(t));
        } else {
          while (static_cast<std::int64_t>(succ.size()) < k) {
            const auto t = std::min<std::int64_t>(spec.S - 1, static_cast<std::int64_t>(tr.uniform(global, draw++) * static_cast<double>(spec.S)));
            if (!taken[static_cast<std::size_t>(t)]) {
              taken[static_cast<std::size_t>(t)] = 1;
              succ.push_back(static_cast<std::int32_t>(t));
            }
          }
          for (auto t : succ) taken[static_cast<std::size_t>(t)] = 0;
          std::sort(succ.begin(), succ.end());
        }
        w.clear();
        double tot = 0;
        for (std::size_t j = 0; j < succ.size(); ++j) tot += w.emplace_back(-std::log(tr.uniform(global, draw++)));
        for (std::size_t j = 0; j < succ.size(); ++j) {
          g.next.push_back(succ[j]);
          g.prob.push_back(w[j] / tot);
        }
        g.ptr.push_back(static_cast<std::int64_t>(g.next.size()));
      }
  g.rho.assign(static_cast<std::size_t>(spec.S), 1.0 / static_cast<double>(spec.S));
  return g;
}

MarkovGame concentrability_game(double gamma, std::int64_t length) {
  const std::int64_t S = 2 * length + 1;
  MarkovGame g = empty_game(S, 2, 2, gamma, 0, S);
  const double path_reward[2][2] = {{0.0, 1.0}, {-1.0, 0.0}};
  for (std::int64_t s = 0; s < S; ++s)
    for (std::int64_t a = 0; a < 2; ++a)
      for (std::int64_t b = 0; b < 2; ++b) {
        std::int64_t t;
        if (s == 0) {
          t = a == 0 ? 1 : length + 1;  // the maximiser picks the path
        } else {
          g.R[static_cast<std::size_t>(g.row(s, a, b))] = path_reward[a][b];
          const bool last = s == length || s == 2 * length;
          t = last ? s : s + 1;
        }
        g.next.push_back(static_cast<std::int32_t>(t));
        g.prob.push_back(1.0);
        g.ptr.push_back(static_cast<std::int64_t>(g.next.size()));
      }
  g.rho.assign(static_cast<std::size_t>(S), 0.0);
  g.rho[0] = 1.0;
  return g;
}

void concentrability_expert(const MarkovGame& g, double p, std::vector<double>& mu, std::vector<double>& nu) {
  mu.assign(static_cast<std::size_t>(g.S * 2), 0.0);
  nu.assign(static_cast<std::size_t>(g.S * 2), 0.0);
  for (std::int64_t s = 0; s < g.S; ++s) {
    mu[s * 2] = 1.0;
    nu[s * 2] = 1.0;
  }
  mu[0] = 1.0 - p;
  mu[1] = p;
}

double concentrability_closed_form(double p) {
  if (p <= 0 || p >= 1) return std::numeric_limits<double>::infinity();
  return std::max(1.0 / p, 1.0 / (1.0 - p));
}

MarkovGame read_game(const engine::InputFile& f, int part, int parts) {
  using Values = engine::InputFile::Values;
  const engine::Shape dr = f.shape("R"), dp = f.shape("P"), drho = f.shape("rho");
  double gamma = 0;
  if (f.has_attribute("", "gamma")) {
    gamma = f.read_attribute<double>("", "gamma", 1)[0];
  } else if (f.has_dataset("gamma")) {
    const engine::Shape dg = f.shape("gamma");
    if (!dg.empty() && dg != engine::Shape{1}) throw f.error("gamma", "must hold one value, found " + engine::shape_text(dg));
    gamma = f.read<double>("gamma").values[0];
  } else {
    throw f.error("has neither a root attribute nor a dataset 'gamma'");
  }
  if (!(gamma >= 0 && gamma < 1)) throw f.error("gamma = " + std::to_string(gamma) + " must be in [0, 1)");
  if (dr.size() != 3 || dr[0] == 0 || dr[1] == 0 || dr[2] == 0) throw f.error("R", "must be a non-empty S x A x B array, found " + engine::shape_text(dr));
  const std::int64_t S = dr[0], A = dr[1], B = dr[2];
  if (A > kernels::kStageMax || B > kernels::kStageMax)
    throw f.error("at most " + std::to_string(kernels::kStageMax) + " actions per player are supported");
  f.expect_shape("P", dp, {S, A, B, S}, " (S x A x B x S, to match /R)");
  f.expect_shape("rho", drho, {S}, " (S values)");
  const auto R = f.read<double>("R", Values::Finite).values;
  const auto P = f.read<double>("P").values;
  const auto rho = f.read<double>("rho").values;
  double srho = 0;
  for (double r : rho) {
    if (!(r >= 0) || !std::isfinite(r)) throw f.error("rho", "holds a negative or non-finite value");
    srho += r;
  }
  if (std::fabs(srho - 1) > 1e-9) throw f.error("rho", "sums to " + std::to_string(srho) + ", not 1");
  const engine::RowRange mine = engine::block_rows(S, part, parts);
  MarkovGame g = empty_game(S, A, B, gamma, mine.begin, mine.end);
  g.rho = rho;
  for (std::int64_t row = 0; row < S * A * B; ++row) {
    double tot = 0;
    for (std::int64_t t = 0; t < S; ++t) {
      const double p = P[static_cast<std::size_t>(row * S + t)];
      if (!(p >= 0) || !std::isfinite(p)) throw f.error("P", "holds a negative or non-finite probability (row " + std::to_string(row) + ")");
      tot += p;
    }
    if (std::fabs(tot - 1) > 1e-9)
      throw f.error("P", "[s, a, b, :] sums to " + std::to_string(tot) + " for (s, a, b) = (" + std::to_string(row / (A * B)) + ", " +
                             std::to_string((row / B) % A) + ", " + std::to_string(row % B) + "), not 1");
    const std::int64_t s = row / (A * B);
    if (s < mine.begin || s >= mine.end) continue;
    g.R[static_cast<std::size_t>(row - mine.begin * A * B)] = R[static_cast<std::size_t>(row)];
    for (std::int64_t t = 0; t < S; ++t) {
      const double p = P[static_cast<std::size_t>(row * S + t)];
      if (p == 0) continue;
      g.next.push_back(static_cast<std::int32_t>(t));
      g.prob.push_back(p);
    }
    g.ptr.push_back(static_cast<std::int64_t>(g.next.size()));
  }
  return g;
}

}  // namespace saddle::apps::mail
