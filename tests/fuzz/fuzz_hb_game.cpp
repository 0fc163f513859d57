// fuzz_hb_game: an HDF5 file as hb's game (hb.path), read by apps/hb/game.cpp as a bilinear game
// (/A) and as a quadratic one (/A and the optional /P, /Q, /bx, /by).
#include "apps/hb/game.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (const char* game : {"bilinear", "quadratic"})
    saddle::fuzz::fuzz_input_file(data, size,
                                  std::string("[run]\nworkload = \"hb\"\n[hb]\ngame = \"") + game + "\"\npath = \"@PATH@\"\n",
                                  [](const saddle::engine::Config& c) { saddle::apps::hb::make_game(c, 1); });
  return 0;
}
