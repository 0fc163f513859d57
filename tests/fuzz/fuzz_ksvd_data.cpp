// fuzz_ksvd_data: an HDF5 file as ksvd's input data (ksvd.data.path: points /X, /Z, /Xtest or a
// dense or CSR matrix /G), read by apps/ksvd/data.cpp on one rank.
#include "apps/ksvd/data.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  saddle::fuzz::fuzz_input_file(data, size,
                                "[run]\nworkload = \"ksvd\"\n[ksvd]\nrank = 1\n[ksvd.data]\nsource = \"hdf5\"\npath = \"@PATH@\"\n",
                                [](const saddle::engine::Config& c) { saddle::apps::ksvd::load_data(c, 1, saddle::engine::Comm()); });
  return 0;
}
