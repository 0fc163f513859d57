// The schema side of decks: key declarations, their expected forms, and near-miss suggestions.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/deck_internal.hpp"

namespace saddle::engine {
namespace {

using deck_detail::format_bound;
using deck_detail::split_key;
using deck_detail::valid_bare_key;
using deck_detail::quote;

// Optimal-string-alignment distance (Levenshtein with transpositions).
std::size_t edit_distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

std::string last_segment(const std::string& key) {
  const auto p = key.rfind('.');
  return p == std::string::npos ? key : key.substr(p + 1);
}

}  // namespace

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    // The same leaf name in another table ("run.layer" for "parallel.layer") is a near miss too.
    if (last_segment(word) == last_segment(c) && word.find('.') != std::string::npos) d = std::min<std::size_t>(d, 1);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  const std::size_t limit = std::max<std::size_t>(2, std::min(word.size(), best.size()) / 4);
  return best_d <= limit ? best : std::string();
}

std::string KeySpec::expected_form() const {
  auto range_text = [&]() -> std::string {
    const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
    if (has_lo && has_hi) return " in [" + format_bound(lo) + ", " + format_bound(hi) + "]";
    if (has_lo) return " >= " + format_bound(lo);
    if (has_hi) return " <= " + format_bound(hi);
    return "";
  };
  auto choice_text = [&]() {
    std::string s;
    for (std::size_t i = 0; i < choices.size(); ++i) s += (i ? ", " : "") + quote(choices[i]);
    return s;
  };
  switch (type) {
    case KeyType::Bool: return "true or false";
    case KeyType::Int: return "an integer" + range_text();
    case KeyType::Real: return "a finite number" + range_text();
    case KeyType::String: return choices.empty() ? "a string" : "one of " + choice_text();
    case KeyType::IntList: return "an array of integers" + range_text();
    case KeyType::RealList: return "an array of finite numbers" + range_text();
    case KeyType::StringList: return choices.empty() ? "an array of strings" : "an array of strings from " + choice_text();
  }
  return "";
}

KeySpec& Schema::add(const std::string& key, KeyType type) {
  if (index_.count(key)) throw std::logic_error("deck key '" + key + "' declared twice");
  for (const auto& part : split_key(key))
    if (!valid_bare_key(part)) throw std::logic_error("deck key '" + key + "' is not a dotted bare key");
  index_[key] = keys_.size();
  keys_.push_back(KeySpec{});
  keys_.back().key = key;
  keys_.back().type = type;
  return keys_.back();
}

const KeySpec* Schema::find(const std::string& key) const {
  const auto it = index_.find(key);
  return it == index_.end() ? nullptr : &keys_[it->second];
}
KeySpec* Schema::find(const std::string& key) {
  const auto it = index_.find(key);
  return it == index_.end() ? nullptr : &keys_[it->second];
}

std::string Schema::new_name(const std::string& key) const {
  if (const auto it = renamed_.find(key); it != renamed_.end()) return it->second;
  // The longest renamed table above the key.
  for (auto dot = key.rfind('.'); dot != std::string::npos && dot > 0; dot = key.rfind('.', dot - 1)) {
    if (const auto it = renamed_.find(key.substr(0, dot)); it != renamed_.end()) return it->second + key.substr(dot);
    if (dot == 0) break;
  }
  return "";
}

}  // namespace saddle::engine
