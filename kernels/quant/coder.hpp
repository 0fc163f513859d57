#pragma once
// Entropy codes for the level indices 0..s of the quantiser: Elias-gamma of (index + 1), and a
// canonical Huffman code fitted to an index histogram (length-limited to kMaxHuffmanBits so one
// table lookup decodes a symbol). Codes are written LSB-first (bitstream.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <queue>
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
    std::vector<std::uint32_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return len_[a] < len_[b]; });
    code_.assign(n, 0);
    std::uint32_t code = 0;
    int prev = len_[order[0]];
    for (std::size_t k = 0; k < n; ++k) {
      const int l = len_[order[k]];
      code <<= (l - prev);
      prev = l;
      // Stored bit-reversed: the first (most significant) code bit is written first, LSB-first.
      std::uint32_t rev = 0;
      for (int b = 0; b < l; ++b) rev |= ((code >> b) & 1u) << (l - 1 - b);
      code_[order[k]] = rev;
      ++code;
    }
    // Decode table over kMaxHuffmanBits peeked bits: (symbol << 4) | length; 0 = no code.
    table_.assign(std::size_t{1} << kMaxHuffmanBits, 0);
    for (std::size_t s = 0; s < n; ++s) {
      const int l = len_[s];
      for (std::uint32_t hi = 0; hi < (1u << (kMaxHuffmanBits - l)); ++hi)
        table_[code_[s] | (hi << l)] = static_cast<std::uint32_t>((s << 4) | static_cast<std::uint32_t>(l));
    }
  }
  bool empty() const { return len_.empty(); }
  std::size_t symbols() const { return len_.size(); }
  const std::vector<std::uint8_t>& lengths() const { return len_; }
  int length(std::uint32_t s) const { return len_[s]; }
  void put(BitWriter& w, std::uint32_t s) const { w.put(code_[s], len_[s]); }
  // The code of s followed by one more bit (a sign), in one write.
  void put_with_bit(BitWriter& w, std::uint32_t s, std::uint32_t bit) const {
    w.put(code_[s] | (bit << len_[s]), len_[s] + 1);
  }
  std::uint32_t get(BitReader& r) const {
    const std::uint32_t e = table_[r.peek(kMaxHuffmanBits)];
    if (e == 0) throw PayloadError("bits match no Huffman code");
    r.skip(static_cast<int>(e & 15u));
    return e >> 4;
  }

 private:
  std::vector<std::uint8_t> len_;
  std::vector<std::uint32_t> code_;
  std::vector<std::uint32_t> table_;
};

}  // namespace saddle::kernels::quant
