// Reading a deck: the TOML file, then the command-line overrides applied on top of it.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/deck_internal.hpp"
#include "engine/utf8.hpp"

namespace saddle::engine {

using deck_detail::describe;
using deck_detail::split_key;
using deck_detail::valid_bare_key;

std::string Deck::Impl::origin(const std::string& key, const TomlValue& v) const {
  if (auto it = override_origin.find(key); it != override_origin.end()) return it->second;
  const auto loc = v.location();
  if (loc.line() == 0 || loc.file_name() == "unknown file") return path;
  return loc.file_name() + ":" + std::to_string(loc.line());
}

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
  deck_detail::check_nesting(text, name, true);
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
    if (parts.size() > deck_detail::kMaxNesting)
      throw InputError("command line override of '" + key.substr(0, 80) + "...': a key of more than " +
                       std::to_string(deck_detail::kMaxNesting) + " parts");
    deck_detail::check_nesting("v = " + text_value, "command line override of '" + key + "'", false);
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
  deck_detail::check_no_nul(*impl);
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

}  // namespace saddle::engine
