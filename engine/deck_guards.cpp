// What toml11 3.7 accepts but Saddle must refuse: nesting deep enough to overflow its recursive
// parser, integer literals it clamps to 64 bits, and strings holding NUL characters.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "engine/deck_internal.hpp"

namespace saddle::engine::deck_detail {
namespace {

// Skips the string that starts at text[i] (a quote) and returns the index of its last character;
// counts the newlines of multi-line strings. An unterminated string runs to the end of its line
// (toml11 reports it).
std::size_t skip_string(const std::string& text, std::size_t i, int& line) {
  const char q = text[i];
  const bool multi = text.compare(i, 3, std::string(3, q)) == 0;
  const bool escapes = q == '"';
  for (std::size_t j = i + (multi ? 3 : 1); j < text.size(); ++j) {
    const char c = text[j];
    if (escapes && c == '\\') {
      if (j + 1 < text.size() && text[j + 1] == '\n') ++line;
      ++j;
    } else if (c == '\n') {
      if (!multi) return j - 1;
      ++line;
    } else if (c == q && (!multi || text.compare(j, 3, std::string(3, q)) == 0)) {
      return multi ? j + 2 : j;
    }
  }
  return text.size() - 1;
}

}  // namespace

// A single pass that tracks, outside strings and comments, how deep the value being read is:
// the segments of the [table] header, of each dotted key, and one per open array or inline table.
void check_nesting(const std::string& text, const std::string& where, bool lines) {
  enum class Mode { LineStart, Header, AfterHeader, Key, Value };
  struct Open {
    char bracket;
    int depth;
  };
  std::vector<Open> open;
  Mode mode = Mode::LineStart;
  int line = 1, table_depth = 0, key_depth = 0, depth = 0;
  auto check = [&](int d) {
    if (d <= kMaxNesting) return;
    throw InputError(where + (lines ? ":" + std::to_string(line) : std::string()) +
                     ": arrays, inline tables, tables and dotted keys nested more than " + std::to_string(kMaxNesting) +
                     " deep");
  };
  auto key_base = [&] { return open.empty() ? table_depth : open.back().depth; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      if (open.empty()) mode = Mode::LineStart;
      continue;
    }
    if (c == '#') {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
      continue;
    }
    if (c == '"' || c == '\'') {
      if (mode == Mode::LineStart) {
        mode = Mode::Key;
        key_depth = 1;
      }
      i = skip_string(text, i, line);
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') continue;
    switch (mode) {
      case Mode::LineStart:
        if (c == '[') {
          mode = Mode::Header;
          table_depth = 1;
        } else {
          mode = Mode::Key;
          key_depth = 1;
        }
        break;
      case Mode::Header:
        if (c == '.') check(++table_depth);
        if (c == ']') mode = Mode::AfterHeader;
        break;
      case Mode::AfterHeader:
        break;
      case Mode::Key:
        if (c == '.') check(key_base() + ++key_depth);
        if (c == '=') {
          depth = key_base() + key_depth;
          mode = Mode::Value;
        }
        break;
      case Mode::Value:
        if (c == '[' || c == '{') {
          check(++depth);
          open.push_back({c, depth});
          if (c == '{') {
            mode = Mode::Key;
            key_depth = 1;
          }
        } else if (c == ']' || c == '}') {
          if (!open.empty()) open.pop_back();
          depth = key_base();
        } else if (c == ',' && !open.empty() && open.back().bracket == '{') {
          mode = Mode::Key;
          key_depth = 1;
        } else if (c == ',' && !open.empty()) {
          depth = open.back().depth;
        }
        break;
    }
  }
}

namespace {

void check_no_nul(const Deck::Impl& deck, const TomlValue& v, const std::string& key) {
  const std::string nul(1, '\0');
  if (v.is_string() && v.as_string().str.find(nul) != std::string::npos)
    throw InputError(deck.origin(key, v) + ": key '" + key + "': the string " + quote(v.as_string().str) +
                     " holds a NUL character (\\u0000), which no file name or text can hold");
  if (v.is_array())
    for (const auto& x : v.as_array()) check_no_nul(deck, x, key);
  if (!v.is_table()) return;
  for (const auto& [k, child] : v.as_table()) {
    const std::string path = key.empty() ? k : key + "." + k;
    if (k.find(nul) != std::string::npos)
      throw InputError(deck.origin(path, child) + ": the key " + quote(k) + " holds a NUL character (\\u0000)");
    check_no_nul(deck, child, path);
  }
}

}  // namespace

void check_no_nul(const Deck::Impl& deck) { check_no_nul(deck, deck.root, ""); }

std::optional<std::string> overflowing_integer(const TomlValue& v) {
  const auto i = static_cast<std::int64_t>(v.as_integer());
  if (i != std::numeric_limits<std::int64_t>::max() && i != std::numeric_limits<std::int64_t>::min()) return std::nullopt;
  const auto loc = v.location();
  const std::string line = loc.line_str();
  if (loc.column() < 1 || loc.column() - 1 + loc.region() > line.size()) return std::nullopt;
  const std::string literal = line.substr(loc.column() - 1, loc.region());
  std::string digits;
  for (char c : literal)
    if (c != '_') digits += c;
  errno = 0;
  const bool prefixed = digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o' || digits[1] == 'b');
  if (prefixed) {
    const int base = digits[1] == 'x' ? 16 : digits[1] == 'o' ? 8 : 2;
    const unsigned long long u = std::strtoull(digits.c_str() + 2, nullptr, base);
    if (errno == ERANGE || u > static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max())) return literal;
    return std::nullopt;
  }
  std::strtoll(digits.c_str(), nullptr, 10);
  if (errno == ERANGE) return literal;
  return std::nullopt;
}

}  // namespace saddle::engine::deck_detail
