// A resolved deck: typed access, where each value came from, and the deck rendered as TOML.
#include <stdexcept>

#include "engine/deck_internal.hpp"

namespace saddle::engine {

using deck_detail::format_real;
using deck_detail::quote;

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
