// fuzz_deck: an input deck and its command-line overrides, checked as `saddle check` does
// (fuzz_support.hpp). The input is the deck's text, then optionally a line "#overrides" and one
// override (key.path=value) per line. InputError is how a bad deck is refused.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"

namespace {

// TOML comment, so a seed with overrides is still a deck on its own.
const std::string kOverrides = "\n#overrides\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace saddle;
  fuzz::start_runtime();  // as in `saddle check`: some workloads' checks ask the communicator
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find(kOverrides);
  const std::string text = input.substr(0, split);
  std::vector<std::string> overrides;
  if (split != std::string::npos) {
    std::string rest = input.substr(split + kOverrides.size());
    for (std::size_t at = 0; at <= rest.size();) {
      const std::size_t end = std::min(rest.find('\n', at), rest.size());
      overrides.push_back(rest.substr(at, end - at));
      at = end + 1;
    }
  }
  fuzz::expect_only<engine::InputError>("checking the deck", [&] {
    const fuzz::CheckedDeck deck = fuzz::check_deck(text, overrides);
    // What `saddle run` derives from the deck before any data is read.
    deck.workload->steps(deck.config);
    deck.config.to_toml();
    deck.config.identity();
  });
  return 0;
}
