// Writes the seed corpus of fuzz_payload into the directory argv[1]: for every codebook
// selector (payload_codebooks.hpp) the payload of a quantised fixed vector, with and without the
// flag that rewrites the checksums.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/counter_rng.hpp"
#include "kernels/quant/payload.hpp"
#include "payload_codebooks.hpp"

int main(int argc, char** argv) {
  using namespace saddle::kernels::quant;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIRECTORY\n", argv[0]);
    return 2;
  }
  const auto v = saddle::fuzz::payload_vector();
  const saddle::kernels::CounterRng rng(1, "fuzz_payload_seeds");
  for (int selector = 0; selector < 256; ++selector) {
    if ((selector & 3) == 3) continue;  // the same codebooks as (selector & ~3)
    const Codebook cb = saddle::fuzz::payload_codebook(static_cast<std::uint8_t>(selector));
    Quantized q;
    quantize(v.data(), cb, rng, 0, 0, q);
    for (std::uint8_t flags : {0, 1}) {
      std::vector<std::uint8_t> bytes{static_cast<std::uint8_t>(selector), flags};
      encode(q, cb, bytes);
      const std::string path = std::string(argv[1]) + "/payload_" + std::to_string(selector) + "_" + std::to_string(flags);
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
  }
  return 0;
}
