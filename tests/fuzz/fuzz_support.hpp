#pragma once
// What the fuzz targets share (docs/development.md, "Fuzzing"). A target feeds its input to the
// code under test and lets exactly one exception type through: the one that code documents for
// bad input (engine::InputError, quant::PayloadError). Anything else that escapes -- another
// exception, like a crash or undefined behaviour -- is a finding: the target aborts, so that
// libFuzzer reports it and keeps the input.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/deck.hpp"
#include "engine/workload.hpp"

namespace saddle::fuzz {

// Prints "fuzz finding: <what>" and aborts.
[[noreturn]] void finding(const std::string& what);
// The demangled dynamic type of `e`.
std::string type_name(const std::exception& e);

// Runs `code`; returns when it returns or throws Expected, aborts (a finding) on anything else.
template <class Expected>
void expect_only(const std::string& what, const std::function<void()>& code) {
  try {
    code();
  } catch (const Expected&) {
  } catch (const std::exception& e) {
    finding(what + " threw " + type_name(e) + ": " + e.what());
  } catch (...) {
    finding(what + " threw something that is not a std::exception");
  }
}

// A deck checked as `saddle check` checks it on one rank: parsed with its overrides, the
// workload it names created, resolved against the engine's and the workload's keys, validated.
struct CheckedDeck {
  std::unique_ptr<engine::Workload> workload;
  engine::Config config;
};
CheckedDeck check_deck(const std::string& text, const std::vector<std::string>& overrides);

// MPI and Kokkos for this process (one rank), started once and left running until exit.
void start_runtime();

// Writes `data` to the input file, saddle_fuzz_input.h5 in the temporary directory ($TMPDIR: one
// of its own for each process), and returns its path.
std::string write_input_file(const std::uint8_t* data, std::size_t size);

// The target of an input file named by `deck` (a TOML deck in which "@PATH@" stands for the
// file, checked once): writes the input and runs `read` with the deck's configuration.
// engine::InputError is the expected refusal. Reads are limited to 8 MiB
// (engine::InputFile::set_memory_limit_bytes): a tiny file may declare a huge dataset, which
// would read as gigabytes of its fill value, slowly and legitimately.
void fuzz_input_file(const std::uint8_t* data, std::size_t size, const std::string& deck,
                     const std::function<void(const engine::Config&)>& read);

}  // namespace saddle::fuzz
