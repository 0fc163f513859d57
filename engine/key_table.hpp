#pragma once
// Deck keys as Markdown tables (`saddle check --keys [WORKLOAD]`). The docs paste these tables
// between `<!-- keys:NAME -->` markers and tests/cli/docs_keys.sh checks that they still equal
// the command's output, so the documented keys cannot drift from the schema.
#include <string>

#include "engine/deck.hpp"

namespace saddle::engine {

// Every key of `schema` in declaration order: key | type | default | range / choices | help.
std::string key_table(const Schema& schema);

// The keys a workload declared on top of the engine's: `declared` is the engine's schema after
// the workload's declare(), `engine` the engine's schema alone. Engine keys the workload changed
// (a default such as run.steps) are listed too, so its table says everything it sets.
std::string workload_key_table(const Schema& declared, const Schema& engine);

}  // namespace saddle::engine
