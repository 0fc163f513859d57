#pragma once
// What one rank of ksvd allocates for the sizes a deck sets, checked before anything is allocated
// (engine/memory_check.hpp): sizes that pass the schema but cannot fit are refused with exit 2
// naming the key whose term is largest, instead of a bad_alloc or a crash halfway through setup.
#include <cstdint>

#include "engine/deck.hpp"

namespace saddle::apps::ksvd {

// The sketch width k = min(rank + oversample, min(n, m)), without overflow for any deck values.
std::int64_t sketch_columns(std::int64_t rank, std::int64_t oversample, std::int64_t n, std::int64_t m);

// Before generating synthetic data: the sizes come from the deck's keys.
void require_generated_memory(const engine::Config& c, int ranks);
// After reading an HDF5 file of n rows, m columns, dimension d (0 for a matrix) and `tests` test
// rows: the column-side arrays and the sketch (the file's own arrays are guarded by
// engine/input_file).
void require_solver_memory(const engine::Config& c, std::int64_t n, std::int64_t m, std::int64_t d, std::int64_t tests, int ranks);

}  // namespace saddle::apps::ksvd
