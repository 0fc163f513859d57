#pragma once
// Refusing sizes that cannot fit before allocating them: a size that passes the schema's bounds
// may still need more memory than the machine has, and an allocation of absurd size fails late
// (an overflowed byte count, a crash) instead of naming the key.
#include <cstdint>
#include <string>

#include "engine/deck.hpp"

namespace saddle::engine {

// The memory this process may use: the machine's physical memory, or its cgroup's limit when
// that is lower. 0 if unknown.
std::uint64_t memory_limit();

// Throws config.error(key, ...) (InputError, exit 2) when `bytes`, a workload's estimate of what
// this rank will allocate for the size that `key` sets, exceeds memory_limit(). The estimate is a
// double so that absurd sizes cannot overflow it. It refuses what cannot fit; it does not promise
// that what it admits fits. Workloads call it in setup, before allocating, inside
// ctx.grid.world.agree so that every rank reports the refusal alike.
// `share` says whether the size is split over ranks (the refusal then suggests more ranks) or
// held whole by every rank (it suggests a smaller size only).
enum class Share { Split, Whole };
void require_memory(double bytes, const std::string& key, const Config& config, Share share = Share::Split);

}  // namespace saddle::engine
