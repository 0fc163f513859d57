// Checking a parsed deck against a schema: unknown keys, types, ranges, choices, required keys.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "engine/deck_internal.hpp"

namespace saddle::engine {
namespace {

using deck_detail::describe;
using deck_detail::quote;

void collect_leaves(const TomlValue& v, const std::string& prefix, std::vector<std::pair<std::string, const TomlValue*>>& out) {
  for (const auto& [k, child] : v.as_table()) {
    const std::string path = prefix.empty() ? k : prefix + "." + k;
    if (child.is_table() && !child.as_table().empty())
      collect_leaves(child, path, out);
    else
      out.emplace_back(path, &child);
  }
}

bool finite_in(double x, const KeySpec& s) { return std::isfinite(x) && x >= s.lo && x <= s.hi; }
// Integers compared exactly: as doubles, 2^60 + 1 would pass a bound of 2^60.
bool integer_in(std::int64_t i, const KeySpec& s) {
  const auto x = static_cast<long double>(i);
  return x >= static_cast<long double>(s.lo) && x <= static_cast<long double>(s.hi);
}

std::string beyond_int64(const KeySpec& s, const std::string& literal) {
  return "expected " + s.expected_form() + ", got " + literal + ", which is beyond the 64-bit integer range" +
         (s.type == KeyType::Real || s.type == KeyType::RealList ? " (write a float such as 1e20)" : "");
}

// Converts a TOML value to the spec's type; returns an error text ("" on success).
std::string convert(const TomlValue& v, const KeySpec& s, Value& out) {
  const std::string bad = "expected " + s.expected_form() + ", got " + describe(v);
  auto number = [&](const TomlValue& x, double& d) {
    if (x.is_integer()) d = static_cast<double>(x.as_integer());
    else if (x.is_floating()) d = x.as_floating();
    else return false;
    return true;
  };
  auto check_choice = [&](const std::string& str) -> std::string {
    if (s.choices.empty() || std::find(s.choices.begin(), s.choices.end(), str) != s.choices.end()) return "";
    std::string msg = "expected " + s.expected_form() + ", got " + quote(str);
    const auto near = did_you_mean(str, s.choices);
    return near.empty() ? msg : msg + " (did you mean " + quote(near) + "?)";
  };
  switch (s.type) {
    case KeyType::Bool:
      if (!v.is_boolean()) return bad;
      out = v.as_boolean();
      return "";
    case KeyType::Int: {
      if (!v.is_integer()) return bad;
      if (const auto literal = deck_detail::overflowing_integer(v)) return beyond_int64(s, *literal);
      const auto i = static_cast<std::int64_t>(v.as_integer());
      if (!integer_in(i, s)) return bad;
      out = i;
      return "";
    }
    case KeyType::Real: {
      if (v.is_integer())
        if (const auto literal = deck_detail::overflowing_integer(v)) return beyond_int64(s, *literal);
      double d = 0;
      if (!number(v, d) || !finite_in(d, s)) return bad;
      out = d;
      return "";
    }
    case KeyType::String: {
      if (!v.is_string()) return bad;
      const std::string str = v.as_string().str;
      if (auto e = check_choice(str); !e.empty()) return e;
      out = str;
      return "";
    }
    case KeyType::IntList:
    case KeyType::RealList:
    case KeyType::StringList: {
      if (!v.is_array()) return bad;
      std::vector<std::int64_t> ints;
      std::vector<double> reals;
      std::vector<std::string> strs;
      std::size_t i = 0;
      for (const auto& x : v.as_array()) {
        const std::string at = "element " + std::to_string(i++) + ": ";
        if (x.is_integer() && s.type != KeyType::StringList)
          if (const auto literal = deck_detail::overflowing_integer(x)) return at + beyond_int64(s, *literal);
        if (s.type == KeyType::IntList) {
          if (!x.is_integer() || !integer_in(static_cast<std::int64_t>(x.as_integer()), s))
            return at + "expected " + s.expected_form() + ", got " + describe(x);
          ints.push_back(static_cast<std::int64_t>(x.as_integer()));
        } else if (s.type == KeyType::RealList) {
          double d = 0;
          if (!number(x, d) || !finite_in(d, s)) return at + "expected " + s.expected_form() + ", got " + describe(x);
          reals.push_back(d);
        } else {
          if (!x.is_string()) return at + "expected " + s.expected_form() + ", got " + describe(x);
          if (auto e = check_choice(x.as_string().str); !e.empty()) return at + e;
          strs.push_back(x.as_string().str);
        }
      }
      if (s.type == KeyType::IntList) out = ints;
      else if (s.type == KeyType::RealList) out = reals;
      else out = strs;
      return "";
    }
  }
  return bad;
}

// A default must have the key's type (an integer literal is accepted for a real key).
Value checked_default(const KeySpec& s) {
  Value v = *s.default_value;
  if (s.type == KeyType::Real && std::holds_alternative<std::int64_t>(v)) v = static_cast<double>(std::get<std::int64_t>(v));
  static const std::size_t expected[] = {0, 1, 2, 3, 4, 5, 6};
  if (v.index() != expected[static_cast<int>(s.type)])
    throw std::logic_error("default of deck key '" + s.key + "' does not have the declared type");
  return v;
}

}  // namespace

Config resolve(const Deck& deck, const Schema& schema) {
  const auto& impl = *deck.impl_;
  std::vector<std::pair<std::string, const TomlValue*>> leaves;
  collect_leaves(impl.root, "", leaves);

  std::vector<std::string> all_keys;
  for (const auto& s : schema.keys()) all_keys.push_back(s.key);

  std::vector<std::string> problems;
  Config cfg;
  cfg.deck_path_ = impl.path;
  std::map<std::string, const TomlValue*> given;
  for (const auto& [key, v] : leaves) {
    const KeySpec* spec = schema.find(key);
    // An empty table of the schema ("[parallel]" with every key commented out) is fine.
    if (!spec && v->is_table() &&
        std::any_of(all_keys.begin(), all_keys.end(), [prefix = key + "."](const std::string& k) { return k.rfind(prefix, 0) == 0; }))
      continue;
    if (!spec && !schema.new_name(key).empty()) {
      problems.push_back(impl.origin(key, *v) + ": '" + key + "' was renamed '" + schema.new_name(key) + "'");
      continue;
    }
    if (!spec && v->is_table()) {
      std::vector<std::string> tables;
      for (const auto& k : all_keys)
        for (auto dot = k.find('.'); dot != std::string::npos; dot = k.find('.', dot + 1)) tables.push_back(k.substr(0, dot));
      std::string msg = impl.origin(key, *v) + ": unknown table [" + key + "]";
      const auto near = did_you_mean(key, tables);
      if (!near.empty()) msg += " (did you mean [" + near + "]?)";
      problems.push_back(msg);
      continue;
    }
    if (!spec) {
      std::string msg = impl.origin(key, *v) + ": unknown key '" + key + "'";
      const auto near = did_you_mean(key, all_keys);
      if (!near.empty()) msg += " (did you mean '" + near + "'?)";
      problems.push_back(msg);
      continue;
    }
    given[key] = v;
  }
  for (const auto& spec : schema.keys()) {
    const auto it = given.find(spec.key);
    if (it == given.end()) {
      if (spec.default_value) {
        cfg.values_.emplace(spec.key, Config::Entry{spec, checked_default(spec), "default"});
        cfg.order_.push_back(spec.key);
      } else if (!spec.is_optional) {
        problems.push_back(impl.path + ": missing required key '" + spec.key + "' (" + spec.expected_form() +
                           (spec.description.empty() ? "" : "; " + spec.description) + ")");
      }
      continue;
    }
    Value value;
    const std::string err = convert(*it->second, spec, value);
    if (!err.empty()) {
      problems.push_back(impl.origin(spec.key, *it->second) + ": key '" + spec.key + "': " + err);
      continue;
    }
    cfg.values_.emplace(spec.key, Config::Entry{spec, std::move(value), impl.origin(spec.key, *it->second)});
    cfg.order_.push_back(spec.key);
  }
  if (problems.size() == 1) throw InputError(problems.front());
  if (!problems.empty()) {
    std::string msg = "deck '" + impl.path + "' has " + std::to_string(problems.size()) + " problems:";
    for (const auto& p : problems) msg += "\n  " + p;
    throw InputError(msg);
  }
  return cfg;
}

}  // namespace saddle::engine
