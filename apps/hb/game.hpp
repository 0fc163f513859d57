#pragma once
// The game of an hb run (docs/algorithms.md section 4): its kind, parsed from hb.game once, and
// for bilinear and quadratic games the matrices, read from HDF5 (hb.path) or generated from the
// run's seed with the deck's spectra.
#include <cstdint>
#include <string>

#include "apps/hb/games.hpp"
#include "apps/hb/matrix_game.hpp"
#include "engine/deck.hpp"

namespace saddle::apps::hb {

enum class GameKind { Bilinear, Quadratic, Cubic, LimitCycle };

struct Game {
  GameKind kind = GameKind::Bilinear;
  MatrixGame matrix;  // bilinear and quadratic games

  bool is_matrix() const { return kind == GameKind::Bilinear || kind == GameKind::Quadratic; }
  // Dimension of z = (x, y).
  std::int64_t n() const { return is_matrix() ? matrix.n() : 2; }
  // Calls f(functor) with the game as a 2-D functor (Cubic, LimitCycle, or the ScalarQuadratic of
  // a 1 x 1 matrix game) and returns true; returns false for a larger matrix game.
  template <class F>
  bool visit_2d(F&& f) const {
    if (kind == GameKind::Cubic) f(Cubic{});
    else if (kind == GameKind::LimitCycle) f(LimitCycle{});
    else if (matrix.dx == 1 && matrix.dy == 1) f(matrix.scalar());
    else return false;
    return true;
  }
};

// "bilinear", "quadratic", "cubic", "limit_cycle" (the values of hb.game).
GameKind parse_game_kind(const std::string& name);
const char* game_name(GameKind kind);

// The game of the deck; throws InputError naming hb.path and the dataset for a bad file.
Game make_game(const engine::Config& c, std::uint64_t seed);

}  // namespace saddle::apps::hb
