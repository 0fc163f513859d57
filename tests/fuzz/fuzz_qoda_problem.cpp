// fuzz_qoda_problem: an HDF5 file as qoda's problem (qoda.problem.path), read by
// apps/qoda/problem.cpp as a bilinear problem (/A, /b, /c) and as a quadratic one (/M, /q).
#include "apps/qoda/problem.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (const char* type : {"bilinear", "quadratic"})
    saddle::fuzz::fuzz_input_file(data, size,
                                  std::string("[run]\nworkload = \"qoda\"\n[qoda.problem]\ntype = \"") + type + "\"\npath = \"@PATH@\"\n",
                                  [](const saddle::engine::Config& c) { saddle::apps::qoda::make_problem(c, 1); });
  return 0;
}
