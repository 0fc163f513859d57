#include "apps/hb/game.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "engine/input_file.hpp"
#include "kernels/linalg/ops.hpp"

namespace saddle::apps::hb {

using engine::Config;

namespace {

constexpr const char* kNames[] = {"bilinear", "quadratic", "cubic", "limit_cycle"};

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

// /A (dx x dy, non-empty) and, for a quadratic game, the optional /P, /Q, /bx, /by (zero when
// absent; P and Q symmetric).
MatrixGame read_matrix_game(const Config& c, bool quadratic) {
  const engine::InputFile f(c, "hb.path");
  using Values = engine::InputFile::Values;
  MatrixGame g;
  const engine::Shape da = f.shape("A");
  f.expect_matrix("A", da);
  g.dx = da[0];
  g.dy = da[1];
  g.A = f.read<double>("A", Values::Finite).values;
  auto optional = [&](const std::string& name, std::vector<double>& v, const engine::Shape& want) {
    if (quadratic && f.has_dataset(name)) {
      f.expect_shape(name, f.shape(name), want, " to match /A");
      v = f.read<double>(name, Values::Finite).values;
    } else {
      std::int64_t count = 1;
      for (auto d : want) count *= d;
      v.assign(static_cast<std::size_t>(count), 0.0);
    }
  };
  optional("P", g.P, {g.dx, g.dx});
  optional("Q", g.Q, {g.dy, g.dy});
  optional("bx", g.bx, {g.dx});
  optional("by", g.by, {g.dy});
  for (const auto& [name, m, d] : {std::tuple{"P", &g.P, g.dx}, std::tuple{"Q", &g.Q, g.dy}})
    for (std::int64_t i = 0; i < d; ++i)
      for (std::int64_t j = 0; j < i; ++j) {
        const double a = (*m)[i * d + j], b = (*m)[j * d + i];
        if (std::fabs(a - b) > 1e-12 * std::max({1.0, std::fabs(a), std::fabs(b)}))
          throw f.error(name, "is not symmetric (entries " + std::to_string(i) + "," + std::to_string(j) + ")");
      }
  return g;
}

// A = U diag(a_singular) V' with random orthonormal U, V from the seed; a quadratic game's P and
// Q share U and V as eigenvectors.
MatrixGame generate_matrix_game(const Config& c, std::uint64_t seed, bool quadratic) {
  namespace la = kernels::linalg;
  MatrixGame g;
  g.dx = c.integer("hb.dim_x");
  g.dy = c.integer("hb.dim_y");
  const std::int64_t m = std::min(g.dx, g.dy);
  const auto Ux = la::random_orthonormal(seed, "game_x", g.dx), Vy = la::random_orthonormal(seed, "game_y", g.dy);
  g.A = la::compose_svd(Ux, g.dx, spectrum(c, "hb.a_singular", m), Vy, g.dy, g.dx, g.dy);
  if (quadratic) {
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
  return g;
}

}  // namespace

GameKind parse_game_kind(const std::string& name) {
  for (int k = 0; k < 4; ++k)
    if (name == kNames[k]) return static_cast<GameKind>(k);
  throw std::invalid_argument("hb: unknown game '" + name + "'");
}

const char* game_name(GameKind kind) { return kNames[static_cast<int>(kind)]; }

Game make_game(const Config& c, std::uint64_t seed) {
  Game game;
  game.kind = parse_game_kind(c.string("hb.game"));
  if (!game.is_matrix()) return game;
  const bool quadratic = game.kind == GameKind::Quadratic;
  game.matrix = c.has("hb.path") ? read_matrix_game(c, quadratic) : generate_matrix_game(c, seed, quadratic);
  return game;
}

}  // namespace saddle::apps::hb
