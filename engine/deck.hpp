#pragma once
// Input decks: TOML files plus `key.path=value` command-line overrides, checked against a schema
// that the engine and the selected workload declare. Every error names the file (or override),
// the line where known, the key and the expected form; near misses get a "did you mean".
// Implemented in engine/deck_*.cpp: parse (file and overrides), guards (what toml11 accepts but
// Saddle refuses), schema, resolve (deck against schema), config (the resolved deck), text.
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/error.hpp"

namespace saddle::engine {

enum class KeyType { Bool, Int, Real, String, IntList, RealList, StringList };

using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>, std::vector<double>,
                           std::vector<std::string>>;

// One deck key: its type, default (absent = required, unless optional), allowed range or
// choices (applied to each element of a list), and a one-line description.
struct KeySpec {
  std::string key;
  KeyType type = KeyType::Int;
  std::optional<Value> default_value;
  bool is_optional = false;
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;
  std::string description;
  bool affects_result = true;  // part of the deck identity a checkpoint must match

  KeySpec& def(Value v) {
    default_value = std::move(v);
    return *this;
  }
  KeySpec& optional() {
    is_optional = true;
    return *this;
  }
  KeySpec& range(double lo_, double hi_ = std::numeric_limits<double>::infinity()) {
    lo = lo_;
    hi = hi_;
    return *this;
  }
  KeySpec& one_of(std::vector<std::string> c) {
    choices = std::move(c);
    return *this;
  }
  KeySpec& help(std::string text) {
    description = std::move(text);
    return *this;
  }
  // Keys such as checkpoint cadence that may change between a run and its restart.
  KeySpec& restart_neutral() {
    affects_result = false;
    return *this;
  }
  std::string expected_form() const;
};

class Schema {
 public:
  KeySpec& add(const std::string& key, KeyType type);  // logic_error if declared twice
  KeySpec& boolean(const std::string& key) { return add(key, KeyType::Bool); }
  KeySpec& integer(const std::string& key) { return add(key, KeyType::Int); }
  KeySpec& real(const std::string& key) { return add(key, KeyType::Real); }
  KeySpec& string(const std::string& key) { return add(key, KeyType::String); }
  KeySpec& int_list(const std::string& key) { return add(key, KeyType::IntList); }
  KeySpec& real_list(const std::string& key) { return add(key, KeyType::RealList); }
  KeySpec& string_list(const std::string& key) { return add(key, KeyType::StringList); }

  const KeySpec* find(const std::string& key) const;
  KeySpec* find(const std::string& key);
  const std::deque<KeySpec>& keys() const { return keys_; }

  // A key (or a table, every key below it) that an older Saddle read: a deck that still sets it
  // is refused with a message naming its new place ("wgan.quantizer.type" -> "wgan.exchange.quantizer").
  void renamed(const std::string& old_key, const std::string& new_key) { renamed_[old_key] = new_key; }
  // The new name of an old key ("" when `key` was never renamed); a table rename maps the rest of the path.
  std::string new_name(const std::string& key) const;

 private:
  std::deque<KeySpec> keys_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> renamed_;
};

// A resolved deck: every declared key with its value (defaults filled in) and where it came from.
class Config {
 public:
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  // Whether the deck or an override set the key (false when its default is used).
  bool is_set(const std::string& key) const;
  bool boolean(const std::string& key) const { return get<bool>(key); }
  std::int64_t integer(const std::string& key) const { return get<std::int64_t>(key); }
  double real(const std::string& key) const { return get<double>(key); }
  const std::string& string(const std::string& key) const { return get<std::string>(key); }
  const std::vector<std::int64_t>& int_list(const std::string& key) const { return get<std::vector<std::int64_t>>(key); }
  const std::vector<double>& real_list(const std::string& key) const { return get<std::vector<double>>(key); }
  const std::vector<std::string>& string_list(const std::string& key) const {
    return get<std::vector<std::string>>(key);
  }

  // "deck.toml:12" or "command line override 'a.b=1'" or "default".
  std::string origin(const std::string& key) const;
  // An InputError for a value that is well-formed but wrong for the workload (a rank larger than
  // the matrix, a missing data file): "<origin>: key 'k': <message>".
  InputError error(const std::string& key, const std::string& message) const;

  // The resolved deck as TOML, keys grouped by table in declaration order.
  std::string to_toml() const;
  // The part of the deck a checkpoint must match (restart-neutral keys left out).
  std::string identity() const;

  const std::string& deck_path() const { return deck_path_; }

 private:
  friend Config resolve(const class Deck&, const Schema&);
  template <class T>
  const T& get(const std::string& key) const;
  std::string render(bool identity_only) const;
  static std::string format_value(const Value& v);

  struct Entry {
    KeySpec spec;
    Value value;
    std::string origin;
  };
  std::vector<std::string> order_;  // declaration order of the keys that have a value
  std::map<std::string, Entry> values_;
  std::string deck_path_;
};

// A parsed deck file with overrides applied, not yet checked against a schema.
class Deck {
 public:
  // Throws InputError for an unreadable file, a TOML syntax error or a malformed override.
  static Deck load(const std::string& path, const std::vector<std::string>& overrides);
  static Deck parse(const std::string& text, const std::string& name, const std::vector<std::string>& overrides);
  ~Deck();
  Deck(Deck&&) noexcept;
  Deck& operator=(Deck&&) noexcept;

  const std::string& path() const;
  // A string value by dotted key, if present (used to pick the workload before its schema exists).
  std::optional<std::string> peek_string(const std::string& key) const;

  struct Impl;  // engine/deck_internal.hpp

 private:
  explicit Deck(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend Config resolve(const Deck&, const Schema&);
};

// Checks every key of the deck against the schema (unknown keys, types, ranges, choices,
// required keys). Throws one InputError listing every problem found.
Config resolve(const Deck& deck, const Schema& schema);

// The candidate closest to `word` if it is a plausible typo (edit distance), else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace saddle::engine
