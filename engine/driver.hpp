#pragma once
// `saddle run|check|info`: the command line, the deck, and the step loop with its logging,
// progress, checkpoints, signals and run file. Knows no workload by name (see Registry).
#include <string>
#include <vector>

#include "engine/comm.hpp"
#include "engine/deck.hpp"

namespace saddle::engine {

// Runs one command (args without the program name) and returns the exit code. Needs a live
// Runtime; collective over `world`. Input errors are printed once (rank 0) and give kExitBadInput.
int execute(const Comm& world, const std::vector<std::string>& args);

// The engine's own deck keys: [run] and [parallel]. `deck_path` gives run.name's default.
Schema engine_schema(const std::string& deck_path);

std::string usage();

}  // namespace saddle::engine
