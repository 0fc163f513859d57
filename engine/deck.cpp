#include "engine/deck.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <toml.hpp>

#include "engine/utf8.hpp"

namespace saddle::engine {
namespace {

using TomlValue = toml::basic_value<toml::discard_comments, std::map, std::vector>;

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
  if (x == std::floor(x) && std::fabs(x) < 1e15) return std::to_string(static_cast<long long>(x));
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

// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
struct Deck::Impl {
  std::string path;
  TomlValue root;
  std::map<std::string, std::string> override_origin;  // key -> "command line override '...'"
};

Deck::Deck(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Deck::~Deck() = default;
Deck::Deck(Deck&&) noexcept = default;
Deck& Deck::operator=(Deck&&) noexcept = default;
const std::string& Deck::path() const { return impl_->path; }

Deck Deck::load(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read deck '" + path + "': " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, overrides);
}

Deck Deck::parse(const std::string& text, const std::string& name, const std::vector<std::string>& overrides) {
  auto impl = std::make_unique<Impl>();
  impl->path = name;
  if (const auto bad = utf8_problem(text); !bad.empty()) throw InputError("deck '" + name + "' is not valid TOML: " + bad);
  try {
    std::istringstream is(text);
    impl->root = toml::parse<toml::discard_comments, std::map, std::vector>(is, name);
  } catch (const std::exception& e) {
    throw InputError("deck '" + name + "' is not valid TOML:\n" + e.what());
  }
  for (const auto& ov : overrides) {
    const std::string where = "command line override '" + ov + "'";
    if (const auto bad = utf8_problem(ov); !bad.empty()) throw InputError(where + ": " + bad);
    const auto eq = ov.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError(where + ": expected key.path=value (e.g. run.steps=200)");
    const std::string key = ov.substr(0, eq), text_value = ov.substr(eq + 1);
    const auto parts = split_key(key);
    for (const auto& p : parts)
      if (!valid_bare_key(p)) throw InputError(where + ": '" + key + "' is not a dotted key of letters, digits, '_' and '-'");
    // The value is TOML ("3", "1e-3", "[1, 2]", "true", "\"s\""); anything else is a bare string.
    TomlValue value;
    try {
      std::istringstream is("v = " + text_value);
      value = toml::find(toml::parse<toml::discard_comments, std::map, std::vector>(is, where), "v");
    } catch (const std::exception&) {
      value = TomlValue(text_value);
    }
    TomlValue* t = &impl->root;
    std::string path;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      path += (i ? "." : "") + parts[i];
      auto& table = t->as_table();
      auto it = table.find(parts[i]);
      if (it == table.end()) it = table.emplace(parts[i], TomlValue(TomlValue::table_type{})).first;
      if (!it->second.is_table())
        throw InputError(where + ": '" + path + "' is " + describe(it->second) + " in the deck, not a table");
      t = &it->second;
    }
    t->as_table()[parts.back()] = value;
    impl->override_origin[key] = where;
  }
  return Deck(std::move(impl));
}

std::optional<std::string> Deck::peek_string(const std::string& key) const {
  const TomlValue* t = &impl_->root;
  for (const auto& part : split_key(key)) {
    if (!t->is_table()) return std::nullopt;
    const auto& table = t->as_table();
    const auto it = table.find(part);
    if (it == table.end()) return std::nullopt;
    t = &it->second;
  }
  if (!t->is_string()) return std::nullopt;
  return t->as_string().str;
}

// ---------------------------------------------------------------------------------------------
namespace {

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
      const auto i = static_cast<std::int64_t>(v.as_integer());
      if (!finite_in(static_cast<double>(i), s)) return bad;
      out = i;
      return "";
    }
    case KeyType::Real: {
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
        if (s.type == KeyType::IntList) {
          if (!x.is_integer() || !finite_in(static_cast<double>(x.as_integer()), s))
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

  auto origin_of = [&](const std::string& key, const TomlValue& v) {
    if (auto it = impl.override_origin.find(key); it != impl.override_origin.end()) return it->second;
    const auto loc = v.location();
    if (loc.line() == 0 || loc.file_name() == "unknown file") return impl.path;
    return loc.file_name() + ":" + std::to_string(loc.line());
  };

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
    if (!spec && v->is_table()) {
      std::vector<std::string> tables;
      for (const auto& k : all_keys)
        for (auto dot = k.find('.'); dot != std::string::npos; dot = k.find('.', dot + 1)) tables.push_back(k.substr(0, dot));
      std::string msg = origin_of(key, *v) + ": unknown table [" + key + "]";
      const auto near = did_you_mean(key, tables);
      if (!near.empty()) msg += " (did you mean [" + near + "]?)";
      problems.push_back(msg);
      continue;
    }
    if (!spec) {
      std::string msg = origin_of(key, *v) + ": unknown key '" + key + "'";
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
      problems.push_back(origin_of(spec.key, *it->second) + ": key '" + spec.key + "': " + err);
      continue;
    }
    cfg.values_.emplace(spec.key, Config::Entry{spec, std::move(value), origin_of(spec.key, *it->second)});
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

// ---------------------------------------------------------------------------------------------
template <class T>
const T& Config::get(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end())
    throw std::logic_error("deck key '" + key + "' is not declared or has no value (optional keys: check has())");
  const T* v = std::get_if<T>(&it->second.value);
  if (!v) throw std::logic_error("deck key '" + key + "' read with the wrong type");
  return *v;
}
template const bool& Config::get<bool>(const std::string&) const;
template const std::int64_t& Config::get<std::int64_t>(const std::string&) const;
template const double& Config::get<double>(const std::string&) const;
template const std::string& Config::get<std::string>(const std::string&) const;
template const std::vector<std::int64_t>& Config::get<std::vector<std::int64_t>>(const std::string&) const;
template const std::vector<double>& Config::get<std::vector<double>>(const std::string&) const;
template const std::vector<std::string>& Config::get<std::vector<std::string>>(const std::string&) const;

bool Config::is_set(const std::string& key) const {
  const auto it = values_.find(key);
  return it != values_.end() && it->second.origin != "default";
}

std::string Config::origin(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end() || it->second.origin == "default") return deck_path_ + " (key '" + key + "' not set; default used)";
  return it->second.origin;
}

InputError Config::error(const std::string& key, const std::string& message) const {
  const auto it = values_.find(key);
  const std::string where = (it == values_.end() || it->second.origin == "default") ? deck_path_ : it->second.origin;
  return InputError(where + ": key '" + key + "': " + message);
}

namespace {
struct ValueFormatter {
  std::string operator()(bool b) const { return b ? "true" : "false"; }
  std::string operator()(std::int64_t i) const { return std::to_string(i); }
  std::string operator()(double d) const { return format_real(d); }
  std::string operator()(const std::string& s) const { return quote(s); }
  template <class T>
  std::string operator()(const std::vector<T>& xs) const {
    std::string out = "[";
    for (std::size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + (*this)(xs[i]);
    return out + "]";
  }
};
}  // namespace

std::string Config::format_value(const Value& v) { return std::visit(ValueFormatter{}, v); }

std::string Config::render(bool identity_only) const {
  std::vector<std::string> tables;
  std::map<std::string, std::vector<std::string>> lines;
  for (const auto& key : order_) {
    const auto& e = values_.at(key);
    if (identity_only && !e.spec.affects_result) continue;
    const auto dot = key.rfind('.');
    const std::string table = dot == std::string::npos ? "" : key.substr(0, dot);
    if (!lines.count(table)) tables.push_back(table);
    std::string line = key.substr(dot == std::string::npos ? 0 : dot + 1) + " = " + format_value(e.value);
    if (!identity_only && !e.spec.description.empty()) line += "  # " + e.spec.description;
    lines[table].push_back(line);
  }
  std::string out;
  for (const auto& table : tables) {
    if (!table.empty()) out += (out.empty() ? "" : "\n") + std::string("[") + table + "]\n";
    for (const auto& l : lines[table]) out += l + "\n";
  }
  return out;
}

std::string Config::to_toml() const { return render(false); }
std::string Config::identity() const { return render(true); }

}  // namespace saddle::engine
