#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "engine/deck_internal.hpp"

namespace saddle::engine::deck_detail {

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : key) {
    if (c == '.') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

bool valid_bare_key(const std::string& k) {
  if (k.empty()) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string format_real(double x) {
  char buf[40];
  for (int prec = 15; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // TOML floats need a '.' or exponent
  return s;
}

std::string format_bound(double x) {
  if (x == std::floor(x) && std::fabs(x) < 0x1p63) return std::to_string(static_cast<long long>(x));
  return format_real(x);
}

// Short description of what the deck holds, for "got ..." in messages.
std::string describe(const TomlValue& v) {
  switch (v.type()) {
    case toml::value_t::boolean: return std::string("the boolean ") + (v.as_boolean() ? "true" : "false");
    case toml::value_t::integer: return "the integer " + std::to_string(v.as_integer());
    case toml::value_t::floating: return "the number " + format_real(v.as_floating());
    case toml::value_t::string: return "the string " + quote(v.as_string().str);
    case toml::value_t::array: return "an array of " + std::to_string(v.as_array().size()) + " elements";
    case toml::value_t::table: return "a table";
    default: return "a date/time";
  }
}

}  // namespace saddle::engine::deck_detail
