#include "fuzz_support.hpp"

#include <cxxabi.h>
#include <hdf5.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <typeinfo>

#include "engine/driver.hpp"
#include "engine/input_file.hpp"
#include "engine/runtime.hpp"

// Sanitizer defaults of every fuzz target (ASAN_OPTIONS and LSAN_OPTIONS add to them). A request
// for more than 2 GiB fails as malloc fails for impossible sizes: HDF5 1.10 asks for up to 2^64
// bytes on crafted metadata lengths and reports the failure, which is how a release build behaves;
// Saddle's own containers throw std::bad_alloc, a finding. Leaks: tests/sanitizers/lsan.supp.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1:max_allocation_size_mb=2048"; }
extern "C" const char* __lsan_default_options() { return "suppressions=" SADDLE_LSAN_SUPPRESSIONS ":print_suppressions=0"; }

namespace saddle::fuzz {

void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

std::string type_name(const std::exception& e) {
  int status = 0;
  char* name = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
  std::string out = status == 0 && name ? name : typeid(e).name();
  std::free(name);
  return out;
}

CheckedDeck check_deck(const std::string& text, const std::vector<std::string>& overrides) {
  const std::string path = "fuzz.toml";
  const engine::Deck deck = engine::Deck::parse(text, path, overrides);
  const auto name = deck.peek_string("run.workload");
  if (!name) throw engine::InputError(path + ": missing required key 'run.workload'");
  CheckedDeck out{engine::Registry::instance().create(*name), {}};
  engine::Schema schema = engine::engine_schema(path);
  out.workload->declare(schema);
  out.config = engine::resolve(deck, schema);
  out.workload->validate(out.config);
  return out;
}

void start_runtime() {
  static engine::Runtime* runtime = [] {
    static int argc = 1;
    static char name[] = "saddle_fuzz";
    static char* args[] = {name, nullptr};
    static char** argv = args;
    // Never deleted: MPI and Kokkos stay up until the process exits.
    return new engine::Runtime(argc, argv);
  }();
  (void)runtime;
}

std::string write_input_file(const std::uint8_t* data, std::size_t size) {
  // The same name at every run, so that a run is reproducible from libFuzzer's seed.
  static const std::string path = (std::filesystem::temp_directory_path() / "saddle_fuzz_input.h5").string();
  // A new file (a new inode), so that nothing HDF5 may still hold of the last input reaches this one.
  std::filesystem::remove(path);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

void fuzz_input_file(const std::uint8_t* data, std::size_t size, const std::string& deck,
                     const std::function<void(const engine::Config&)>& read) {
  static std::map<std::string, CheckedDeck> checked;  // the path is the same for every input
  start_runtime();
  engine::InputFile::set_memory_limit_bytes(std::int64_t{8} << 20);
  const std::string path = write_input_file(data, size);
  auto it = checked.find(deck);
  if (it == checked.end()) {
    std::string text = deck;
    text.replace(text.find("@PATH@"), 6, path);
    it = checked.emplace(deck, check_deck(text, {})).first;
  }
  expect_only<engine::InputError>("reading '" + path + "'", [&] { read(it->second.config); });
  if (const ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); open != 0)
    finding("HDF5 objects left open after reading: " + std::to_string(open));
}

}  // namespace saddle::fuzz
