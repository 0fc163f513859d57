// fuzz_mail_game: an HDF5 file as mail's game (mail.game.path: /P, /R, /rho, gamma), read by
// apps/mail/games.cpp whole and as the second of three parts (the split of a 3-rank run).
#include "apps/mail/games.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  saddle::fuzz::fuzz_input_file(data, size,
                                "[run]\nworkload = \"mail\"\n[mail]\nalgorithms = []\nseeds = 0\n[mail.game]\nsource = \"hdf5\"\n"
                                "path = \"@PATH@\"\n",
                                [](const saddle::engine::Config& c) {
                                  saddle::apps::mail::read_game(saddle::engine::InputFile(c, "mail.game.path"), 0, 1);
                                  saddle::apps::mail::read_game(saddle::engine::InputFile(c, "mail.game.path"), 1, 3);
                                });
  return 0;
}
