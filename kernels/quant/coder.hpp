#pragma once
// Entropy codes for the level indices 0..s of the quantiser: Elias-gamma of (index + 1), and a
// canonical Huffman code fitted to an index histogram (length-limited to kMaxHuffmanBits), with
// the lookup tables that encode and decode signed indices (IndexTables). Codes are written
// LSB-first (bitstream.hpp).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/quant/bitstream.hpp"

namespace saddle::kernels::quant {

// Elias-gamma of x >= 1: floor(log2 x) zeros, a one, then the low floor(log2 x) bits of x.
inline void elias_put(BitWriter& w, std::uint32_t x) {
  int n = 0;
  while ((x >> (n + 1)) != 0) ++n;
  w.put(std::uint64_t{1} << n, n + 1);
  if (n > 0) w.put(x & ((1u << n) - 1u), n);
}

inline int elias_length(std::uint32_t x) {
  int n = 0;
  while ((x >> (n + 1)) != 0) ++n;
  return 2 * n + 1;
}

// Decodes one Elias-gamma value no larger than `max_value` (larger ones are corruption).
inline std::uint32_t elias_get(BitReader& r, std::uint32_t max_value) {
  const std::uint32_t window = r.peek(32);
  if (window == 0) throw PayloadError("Elias-gamma code longer than 32 bits");
  int n = 0;
  while (((window >> n) & 1u) == 0) ++n;
  if (n > 16) throw PayloadError("Elias-gamma value too large");
  r.skip(n + 1);
  const std::uint32_t x = (1u << n) | (n > 0 ? r.get(n) : 0u);
  if (x > max_value) throw PayloadError("Elias-gamma value " + std::to_string(x) + " above " + std::to_string(max_value));
  return x;
}

constexpr int kMaxHuffmanBits = 15;

// Code lengths of a Huffman code for `counts` (every symbol gets a code: counts are taken as at
// least 1), limited to kMaxHuffmanBits by flattening the counts until the code fits.
inline std::vector<std::uint8_t> huffman_lengths(std::vector<double> counts) {
  const std::size_t n = counts.size();
  if (n < 2) throw std::invalid_argument("huffman_lengths: needs at least two symbols");
  for (double& c : counts) c = std::max(1.0, std::floor(c));
  while (true) {
    // Nodes: leaves 0..n-1, internal n..2n-2; parent links give depths.
    std::vector<int> parent(2 * n - 1, -1);
    using Item = std::pair<double, int>;
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> q;
    for (std::size_t i = 0; i < n; ++i) q.push({counts[i], static_cast<int>(i)});
    int next = static_cast<int>(n);
    while (q.size() > 1) {
      const Item a = q.top();
      q.pop();
      const Item b = q.top();
      q.pop();
      parent[static_cast<std::size_t>(a.second)] = next;
      parent[static_cast<std::size_t>(b.second)] = next;
      q.push({a.first + b.first, next++});
    }
    std::vector<std::uint8_t> len(n);
    int longest = 0;
    for (std::size_t i = 0; i < n; ++i) {
      int d = 0;
      for (int p = parent[i]; p >= 0; p = parent[static_cast<std::size_t>(p)]) ++d;
      len[i] = static_cast<std::uint8_t>(std::min(d, 255));
      longest = std::max(longest, d);
    }
    if (longest <= kMaxHuffmanBits) return len;
    for (double& c : counts) c = std::floor(c / 2) + 1;
  }
}

// Table-driven coding of the signed level indices k in [-s, s] as they appear in a payload: the
// code of |k|, then for k != 0 one sign bit (1 = negative). Encoding is one lookup per index;
// decoding looks up the next kDecodeBits bits and gets up to four whole indices at once. An index
// whose code and sign are longer than that (or bits that are no code) has no entry, and its
// coder's bit-by-bit reference decoder (HuffmanCode::get, elias_get) takes over.
constexpr int kDecodeBits = 11;
// Codes with their sign fit in 18 bits (Elias-gamma of 256 and a sign; Huffman: 15 and a sign),
// so three of them fit in one BitWriter flush.
constexpr int kMaxIndexBits = 18;

class IndexTables {
 public:
  IndexTables() = default;
  // code_of(a) = (bits, length) of the code of a = 0..s, written LSB-first (length <= 32).
  template <class F>
  IndexTables(int s, F&& code_of) : s_(s), enc_(2 * static_cast<std::size_t>(s) + 1, 0) {
    constexpr std::size_t cells = std::size_t{1} << kDecodeBits;
    std::vector<std::int16_t> one_sym(cells, 0);
    std::vector<std::uint8_t> one_len(cells, 0);  // 0: no whole index within the window
    for (int k = -s; k <= s; ++k) {
      const auto [bits, len] = code_of(static_cast<std::uint32_t>(k < 0 ? -k : k));
      const std::uint64_t code = k == 0 ? bits : bits | (static_cast<std::uint64_t>(k < 0) << len);
      const int total = k == 0 ? len : len + 1;
      if (total > kMaxIndexBits) throw std::invalid_argument("IndexTables: a code longer than " + std::to_string(kMaxIndexBits) + " bits");
      enc_[static_cast<std::size_t>(k + s)] = static_cast<std::uint32_t>(code) | static_cast<std::uint32_t>(total) << 24;
      longest_ = std::max(longest_, total);
      if (total > kDecodeBits) continue;
      for (std::uint64_t hi = 0; hi < (std::uint64_t{1} << (kDecodeBits - total)); ++hi) {
        const auto c = static_cast<std::size_t>(code | (hi << total));
        one_sym[c] = static_cast<std::int16_t>(k);
        one_len[c] = static_cast<std::uint8_t>(total);
      }
    }
    sym_.assign(cells, 0);
    meta_.assign(cells, 0);
    for (std::size_t c = 0; c < cells; ++c) {
      int used = 0, count = 0;
      std::uint64_t four = 0;
      while (count < 4) {
        const std::size_t rest = c >> used;  // the window's bits after `used`, zeros above
        const int l = one_len[rest];
        if (l == 0 || used + l > kDecodeBits) break;
        four |= static_cast<std::uint64_t>(static_cast<std::uint16_t>(one_sym[rest])) << (16 * count);
        used += l;
        ++count;
      }
      sym_[c] = four;
      meta_[c] = static_cast<std::uint16_t>(used | count << 6 | one_len[c] << 9);
    }
  }
  bool empty() const { return enc_.empty(); }
  int s() const { return s_; }
  int longest() const { return longest_; }  // bits of the longest code with its sign
  // enc()[k] for k in [-s, s]: code bits | length << 24.
  const std::uint32_t* enc() const { return enc_.data() + s_; }
  // Per window of kDecodeBits bits: up to four decoded indices (int16 each, first lowest), and
  // meta = bits used (bits 0-5) | how many indices (bits 6-8) | bits of the first alone (9-14).
  const std::uint64_t* sym() const { return sym_.data(); }
  const std::uint16_t* meta() const { return meta_.data(); }

 private:
  int s_ = 0, longest_ = 0;
  std::vector<std::uint32_t> enc_;
  std::vector<std::uint64_t> sym_;
  std::vector<std::uint16_t> meta_;
};

// Elias-gamma of a + 1 (LSB-first as elias_put writes it).
inline std::pair<std::uint64_t, int> elias_code(std::uint32_t a) {
  const std::uint32_t x = a + 1;
  const int n = 31 - __builtin_clz(x);
  const std::uint64_t low = n > 0 ? static_cast<std::uint64_t>(x & ((1u << n) - 1u)) : 0;
  return {(std::uint64_t{1} << n) | (low << (n + 1)), 2 * n + 1};
}

// The tables of the Elias-gamma coder with s intervals, built once per s (thread-safe).
inline const IndexTables& elias_tables(int s) {
  if (s < 1 || s > 255) throw std::invalid_argument("elias_tables: s must be in [1, 255]");
  static std::array<std::once_flag, 256> once;
  static std::array<std::unique_ptr<IndexTables>, 256> tables;
  const auto t = static_cast<std::size_t>(s);
  std::call_once(once[t], [&] { tables[t] = std::make_unique<IndexTables>(s, elias_code); });
  return *tables[t];
}

// A canonical Huffman code from its code lengths: codes assigned in (length, symbol) order.
class HuffmanCode {
 public:
  HuffmanCode() = default;
  explicit HuffmanCode(std::vector<std::uint8_t> lengths) : len_(std::move(lengths)) {
    const std::size_t n = len_.size();
    double kraft = 0;
    for (auto l : len_) {
      if (l < 1 || l > kMaxHuffmanBits) throw std::invalid_argument("HuffmanCode: code length out of range");
      kraft += 1.0 / static_cast<double>(1u << l);
    }
    if (kraft > 1.0 + 1e-12) throw std::invalid_argument("HuffmanCode: lengths violate the Kraft inequality");
    order_.resize(n);
    for (std::size_t i = 0; i < n; ++i) order_[i] = static_cast<std::uint32_t>(i);
    std::stable_sort(order_.begin(), order_.end(), [&](std::uint32_t a, std::uint32_t b) { return len_[a] < len_[b]; });
    code_.assign(n, 0);
    first_.assign(kMaxHuffmanBits + 2, 0);
    count_.assign(kMaxHuffmanBits + 2, 0);
    start_.assign(kMaxHuffmanBits + 2, 0);
    std::uint32_t code = 0;
    int prev = len_[order_[0]];
    for (std::size_t k = 0; k < n; ++k) {
      const int l = len_[order_[k]];
      code <<= (l - prev);
      prev = l;
      if (count_[static_cast<std::size_t>(l)]++ == 0) {
        first_[static_cast<std::size_t>(l)] = code;
        start_[static_cast<std::size_t>(l)] = static_cast<std::uint32_t>(k);
      }
      // Stored bit-reversed: the first (most significant) code bit is written first, LSB-first.
      std::uint32_t rev = 0;
      for (int b = 0; b < l; ++b) rev |= ((code >> b) & 1u) << (l - 1 - b);
      code_[order_[k]] = rev;
      ++code;
    }
    if (n >= 2 && n <= 256)
      tables_ = IndexTables(static_cast<int>(n) - 1, [&](std::uint32_t a) { return std::pair<std::uint64_t, int>(code_[a], len_[a]); });
  }
  bool empty() const { return len_.empty(); }
  std::size_t symbols() const { return len_.size(); }
  const std::vector<std::uint8_t>& lengths() const { return len_; }
  int length(std::uint32_t s) const { return len_[s]; }
  std::uint32_t code(std::uint32_t s) const { return code_[s]; }
  // The tables of the level indices -s..s with s = symbols() - 1 (empty unless 2..256 symbols).
  const IndexTables& tables() const { return tables_; }
  void put(BitWriter& w, std::uint32_t s) const { w.put(code_[s], len_[s]); }
  // The code of s followed by one more bit (a sign), in one write.
  void put_with_bit(BitWriter& w, std::uint32_t s, std::uint32_t bit) const {
    w.put(code_[s] | (bit << len_[s]), len_[s] + 1);
  }
  // Decodes one symbol bit by bit (canonical codes: the codes of one length are consecutive).
  std::uint32_t get(BitReader& r) const {
    std::uint32_t code = 0;
    for (int l = 1; l <= kMaxHuffmanBits; ++l) {
      code = (code << 1) | r.get(1);
      const auto L = static_cast<std::size_t>(l);
      if (count_[L] > 0 && code >= first_[L] && code - first_[L] < count_[L]) return order_[start_[L] + code - first_[L]];
    }
    throw PayloadError("bits match no Huffman code");
  }

 private:
  std::vector<std::uint8_t> len_;
  std::vector<std::uint32_t> code_, order_;
  std::vector<std::uint32_t> first_, count_, start_;  // per length: first code, how many, where in order_
  IndexTables tables_;
};

}  // namespace saddle::kernels::quant
