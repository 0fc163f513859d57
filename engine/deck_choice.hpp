#pragma once
// A string key of the deck read once, at setup, into the enum its value names, so that hot loops
// compare enums and not strings. The schema's one_of() has already refused other values.
#include <initializer_list>
#include <string>
#include <utility>

#include "engine/deck.hpp"

namespace saddle::engine {

template <class E>
E choice(const Config& c, const std::string& key, std::initializer_list<std::pair<const char*, E>> values) {
  const std::string& v = c.string(key);
  for (const auto& [name, e] : values)
    if (v == name) return e;
  throw c.error(key, "'" + v + "' is not a value this workload handles");
}

}  // namespace saddle::engine
