#pragma once
// What the deck_*.cpp files share and nothing else includes: the parsed TOML tree of a deck, the
// guards run on the text before and on the tree after toml11 parses it, and how keys and values
// are written in messages and in the resolved deck.
#include <map>
#include <optional>
#include <string>
#include <toml.hpp>
#include <vector>

#include "engine/deck.hpp"

namespace saddle::engine {

using TomlValue = toml::basic_value<toml::discard_comments, std::map, std::vector>;

struct Deck::Impl {
  std::string path;
  TomlValue root;
  std::map<std::string, std::string> override_origin;  // key -> "command line override '...'"

  // "deck.toml:12", the override that set `key`, or the deck's path.
  std::string origin(const std::string& key, const TomlValue& v) const;
};

namespace deck_detail {

// --- deck_text.cpp: keys and values as text
std::vector<std::string> split_key(const std::string& key);
bool valid_bare_key(const std::string& part);
std::string quote(const std::string& s);  // a TOML basic string, control characters escaped
std::string format_real(double x);        // the shortest TOML float that reads back as x
std::string format_bound(double x);       // a range bound: an integer when it is one
std::string describe(const TomlValue& v);  // "the integer 3": the "got ..." of messages

// --- deck_guards.cpp: what toml11 does not refuse
// Arrays, inline tables, table headers and dotted keys nested deeper than this are refused
// before toml11 parses them (it recurses once per level and overflows the stack: 10,000 levels).
constexpr int kMaxNesting = 64;
// Throws InputError "<where>: ... nested more than 64 deep", with ":<line>" when `lines`.
void check_nesting(const std::string& text, const std::string& where, bool lines);
// Throws InputError naming the key of the first string or key that holds a NUL character
// (file names and messages would end at it).
void check_no_nul(const Deck::Impl& deck);
// toml11 reads an integer literal beyond 64 bits as the nearest int64 (clamped, no error). The
// literal as written in the deck when `v` is such a clamped integer, else nullopt.
std::optional<std::string> overflowing_integer(const TomlValue& v);

}  // namespace deck_detail
}  // namespace saddle::engine
