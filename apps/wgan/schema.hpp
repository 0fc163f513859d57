#pragma once
// The deck keys of the wgan workload, with their defaults, ranges, choices and help (the docs'
// key tables are generated from them), and the checks that span several keys.
#include "engine/deck.hpp"

namespace saddle::apps::wgan {

void declare_keys(engine::Schema& s);
// Throws InputError naming the key for a combination the workload refuses.
void validate_keys(const engine::Config& c);

}  // namespace saddle::apps::wgan
