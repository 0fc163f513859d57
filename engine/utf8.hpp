#pragma once
// UTF-8 validation (RFC 3629: shortest forms only, no surrogates, nothing above U+10FFFF). A TOML
// document must be UTF-8, and toml11 3.7 reads past its buffer while reporting some invalid
// sequences (inside multi-line strings), so decks and overrides are checked before it sees them.
#include <algorithm>
#include <cstddef>
#include <string>

namespace saddle::engine {

// The offset of the first byte that does not begin a valid UTF-8 sequence, or npos.
inline std::size_t invalid_utf8_at(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = (c & 0xE0u) == 0xC0u ? 2 : (c & 0xF0u) == 0xE0u ? 3 : (c & 0xF8u) == 0xF0u ? 4 : 0;
    if (len == 0 || i + len > s.size()) return i;
    unsigned cp = c & (0x7Fu >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0u) != 0x80u) return i;
      cp = (cp << 6) | (d & 0x3Fu);
    }
    static const unsigned shortest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < shortest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}

// "" for valid UTF-8, else "not UTF-8 text (byte B of line L)".
inline std::string utf8_problem(const std::string& s) {
  const std::size_t at = invalid_utf8_at(s);
  if (at == std::string::npos) return "";
  const std::size_t newline = at == 0 ? std::string::npos : s.rfind('\n', at - 1);
  const std::size_t column = newline == std::string::npos ? at : at - newline - 1;
  const auto line = 1 + std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(at), '\n');
  return "not UTF-8 text (byte " + std::to_string(column + 1) + " of line " + std::to_string(line) + ")";
}

}  // namespace saddle::engine
