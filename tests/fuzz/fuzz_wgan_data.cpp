// fuzz_wgan_data: an HDF5 file as wgan's training data (wgan.data.path: /X, rows are samples),
// read by apps/wgan/data.cpp and split into training and held-out rows as the workload does.
#include "apps/wgan/data.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  saddle::fuzz::fuzz_input_file(data, size, "[run]\nworkload = \"wgan\"\n[wgan.data]\ntype = \"hdf5\"\npath = \"@PATH@\"\n",
                                [](const saddle::engine::Config& c) {
                                  std::int64_t rows = 0, cols = 0;
                                  auto x = saddle::apps::wgan::read_hdf5_x(c.string("wgan.data.path"), rows, cols);
                                  saddle::apps::wgan::split(std::move(x), cols, c.real("wgan.data.holdout"), 1, "fuzz");
                                });
  return 0;
}
