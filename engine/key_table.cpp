#include "engine/key_table.hpp"

#include <charconv>
#include <cmath>
#include <variant>
#include <vector>

namespace saddle::engine {
namespace {

// Shortest text that reads back as the same double, exponents without padding ("1e-4").
std::string number(double x) {
  char buf[32];
  const std::string s(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
  const auto e = s.find('e');
  if (e == std::string::npos) return s;
  const bool negative = s[e + 1] == '-';
  const auto digits = s.find_first_not_of("+-0", e + 1);
  return s.substr(0, e + 1) + (negative ? "-" : "") + (digits == std::string::npos ? "0" : s.substr(digits));
}

// Deck values written as in a deck: reals keep a '.' or exponent, strings are quoted.
struct DeckText {
  std::string operator()(bool b) const { return b ? "true" : "false"; }
  std::string operator()(std::int64_t i) const { return std::to_string(i); }
  std::string operator()(double d) const {
    std::string s = number(d);
    return s.find_first_of(".ein") == std::string::npos ? s + ".0" : s;
  }
  std::string operator()(const std::string& s) const { return "\"" + s + "\""; }
  template <class T>
  std::string operator()(const std::vector<T>& xs) const {
    std::string out = "[";
    for (std::size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + (*this)(xs[i]);
    return out + "]";
  }
};

std::string code(const std::string& s) { return "`" + s + "`"; }

// A table cell: a '|' would end the cell early.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

// Prose outside code spans: "<output>" would be read as an HTML tag.
std::string prose(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '<' ? std::string("&lt;") : std::string(1, c);
  return out;
}

bool is_list(KeyType t) { return t == KeyType::IntList || t == KeyType::RealList || t == KeyType::StringList; }

std::string type_name(KeyType t) {
  switch (t) {
    case KeyType::Bool: return "bool";
    case KeyType::Int: return "integer";
    case KeyType::Real: return "real";
    case KeyType::String: return "string";
    case KeyType::IntList: return "integer list";
    case KeyType::RealList: return "real list";
    case KeyType::StringList: return "string list";
  }
  return "";
}

std::string default_text(const KeySpec& k) {
  if (k.default_value) return code(std::visit(DeckText{}, *k.default_value));
  return k.is_optional ? "optional" : "required";
}

std::string limits_text(const KeySpec& k) {
  std::string s;
  if (!k.choices.empty()) {
    for (std::size_t i = 0; i < k.choices.size(); ++i) s += (i ? ", " : "") + code("\"" + k.choices[i] + "\"");
  } else if (std::isfinite(k.lo) && std::isfinite(k.hi)) {
    s = "[" + number(k.lo) + ", " + number(k.hi) + "]";
  } else if (std::isfinite(k.lo)) {
    s = "≥ " + number(k.lo);
  } else if (std::isfinite(k.hi)) {
    s = "≤ " + number(k.hi);
  }
  if (s.empty() || !is_list(k.type)) return s;
  return (k.choices.empty() ? "each " : "each of ") + s;
}

std::string row(const KeySpec& k) {
  const std::string help = k.description + (k.affects_result ? "" : " (restart-neutral)");
  return "| " + cell(code(k.key)) + " | " + type_name(k.type) + " | " + cell(default_text(k)) + " | " +
         cell(limits_text(k)) + " | " + cell(prose(help)) + " |\n";
}

std::string table(const std::vector<const KeySpec*>& keys) {
  std::string out = "| key | type | default | range / choices | help |\n|---|---|---|---|---|\n";
  for (const KeySpec* k : keys) out += row(*k);
  return out;
}

bool same(const KeySpec& a, const KeySpec& b) {
  return a.type == b.type && a.default_value == b.default_value && a.is_optional == b.is_optional && a.lo == b.lo &&
         a.hi == b.hi && a.choices == b.choices && a.description == b.description && a.affects_result == b.affects_result;
}

}  // namespace

std::string key_table(const Schema& schema) {
  std::vector<const KeySpec*> keys;
  for (const KeySpec& k : schema.keys()) keys.push_back(&k);
  return table(keys);
}

std::string workload_key_table(const Schema& declared, const Schema& engine) {
  std::vector<const KeySpec*> keys;
  for (const KeySpec& k : declared.keys()) {
    const KeySpec* base = engine.find(k.key);
    if (!base || !same(k, *base)) keys.push_back(&k);
  }
  return table(keys);
}

}  // namespace saddle::engine
