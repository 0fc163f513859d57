#pragma once
// Bit-level I/O for the quantised payloads (LSB-first within little-endian 64-bit words) and the
// CRC-32 (IEEE 802.3, as zlib's crc32) that guards them.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace saddle::kernels::quant {

// A payload that fails a check (magic, version, lengths, checksum, an impossible code). It is
// detected and reported, never decoded into garbage.
class PayloadError : public std::runtime_error {
 public:
  explicit PayloadError(const std::string& what) : std::runtime_error("corrupt quantised payload: " + what) {}
};

// Slicing by 16 (Intel's slicing-by-8 widened): table k maps a byte to its CRC contribution k
// bytes further on, so 16 input bytes cost 16 independent lookups instead of a chain of 16.
inline std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0) {
  static const std::array<std::array<std::uint32_t, 256>, 16> table = [] {
    std::array<std::array<std::uint32_t, 256>, 16> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (std::size_t k = 1; k < 16; ++k)
      for (std::uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
    return t;
  }();
  crc = ~crc;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    std::uint32_t w[4];
    std::memcpy(w, data + i, 16);  // little-endian hosts only (checked in payload.hpp)
    w[0] ^= crc;
    std::uint32_t c = 0;
    for (int b = 0; b < 16; ++b) c ^= table[static_cast<std::size_t>(15 - b)][(w[b / 4] >> (8 * (b % 4))) & 0xFFu];
    crc = c;
  }
  for (; i < n; ++i) crc = table[0][(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

// Appends bits to a byte vector. put(v, n) writes v (< 2^n, n <= 56), least significant bit first.
// Bits collect in a 64-bit accumulator and leave it as one unaligned 8-byte store per flush, so
// no branch depends on the data. `max_bits` is a first estimate of what will be written: the
// vector grows once to it, more if needed, and finish() trims it.
class BitWriter {
 public:
  // The writer's state for a hot loop, which keeps it in registers (stores through the writer's
  // own byte pointer would otherwise make the compiler reload it) and writes without checks:
  // at most 56 bits are added between flushes, and the loop took room for all it flushes.
  struct Cursor {
    std::uint8_t* at;
    std::uint64_t acc;
    int fill;
    void add(std::uint64_t v, int n) {
      acc |= v << fill;
      fill += n;
    }
    // Stores the whole bytes of the pending bits; fewer than 8 bits stay pending.
    void flush() {
      std::memcpy(at, &acc, 8);  // little-endian hosts only (checked in payload.hpp)
      at += fill >> 3;
      acc >>= fill & ~7;
      fill &= 7;
    }
  };

  BitWriter(std::vector<std::uint8_t>& out, std::uint64_t max_bits) : out_(out), start_(out.size()) {
    out_.resize(start_ + static_cast<std::size_t>(max_bits / 8) + 16);
    c_ = {out_.data() + start_, 0, 0};
    end_ = out_.data() + out_.size();
  }
  // A cursor with room for `bytes` more bytes of flushes; restore() it before using the writer.
  Cursor cursor(std::size_t bytes) {
    if (static_cast<std::size_t>(end_ - c_.at) < bytes + 8) grow(bytes + 8);
    return c_;
  }
  void restore(const Cursor& c) { c_ = c; }
  void put(std::uint64_t v, int n) {
    if (end_ - c_.at < 8) grow(8);
    c_.add(v, n);
    c_.flush();
  }
  void put64(std::uint64_t v) {
    put(v & 0xFFFFFFFFu, 32);
    put(v >> 32, 32);
  }
  // Flushes the last partial byte (zero padded), trims the vector; returns the bits written.
  std::uint64_t finish() {
    if (end_ - c_.at < 8) grow(8);
    c_.flush();  // the partial byte is stored too
    const std::size_t bytes = static_cast<std::size_t>(c_.at - (out_.data() + start_));
    const std::uint64_t bits = 8 * static_cast<std::uint64_t>(bytes) + static_cast<std::uint64_t>(c_.fill);
    out_.resize(start_ + bytes + (c_.fill > 0 ? 1 : 0));
    c_ = {nullptr, 0, 0};
    end_ = nullptr;
    return bits;
  }

 private:
  void grow(std::size_t bytes) {
    const std::size_t at = static_cast<std::size_t>(c_.at - out_.data());
    out_.resize(std::max(out_.size() + (out_.size() - start_) / 2, at + bytes) + 64);
    c_.at = out_.data() + at;
    end_ = out_.data() + out_.size();
  }
  std::vector<std::uint8_t>& out_;
  std::size_t start_;
  Cursor c_;
  std::uint8_t* end_;
};

// Reads `bits` bits; reading past them throws PayloadError. window() and advance() are the
// unchecked fast path of table-driven decoders, which check overran() once at the end; hot loops
// keep the position in a local (at(), window_at(), seek()).
class BitReader {
 public:
  BitReader(const std::uint8_t* data, std::uint64_t bits) : p_(data), bits_(bits), bytes_((bits + 7) / 8) {}
  // At least 57 bits from bit `pos` of data[0, bytes) (zeros past the end), from one unaligned
  // 8-byte load where there are 8 bytes.
  static std::uint64_t window_at(const std::uint8_t* data, std::uint64_t bytes, std::uint64_t pos) {
    const std::uint64_t at = pos >> 3;
    std::uint64_t w = 0;
    if (at + 8 <= bytes) std::memcpy(&w, data + at, 8);  // little-endian hosts only (checked in payload.hpp)
    else if (at < bytes) std::memcpy(&w, data + at, static_cast<std::size_t>(bytes - at));
    return w >> (pos & 7);
  }
  std::uint64_t window() const { return window_at(p_, bytes_, pos_); }
  void advance(int n) { pos_ += static_cast<std::uint64_t>(n); }
  void seek(std::uint64_t pos) { pos_ = pos; }
  bool overran() const { return pos_ > bits_; }
  const std::uint8_t* data() const { return p_; }
  std::uint64_t bytes() const { return bytes_; }
  // The next n <= 32 bits without consuming them (zeros past the end).
  std::uint32_t peek(int n) const { return static_cast<std::uint32_t>(window() & ((std::uint64_t{1} << n) - 1)); }
  void skip(int n) {
    if (static_cast<std::uint64_t>(n) > remaining()) throw PayloadError("bit stream ends inside a code");
    pos_ += static_cast<std::uint64_t>(n);
  }
  std::uint32_t get(int n) {
    const std::uint32_t v = peek(n);
    skip(n);
    return v;
  }
  std::uint64_t get64() {
    const std::uint64_t lo = get(32);
    return lo | (static_cast<std::uint64_t>(get(32)) << 32);
  }
  std::uint64_t position() const { return pos_; }
  std::uint64_t remaining() const { return pos_ > bits_ ? 0 : bits_ - pos_; }

 private:
  const std::uint8_t* p_;
  std::uint64_t bits_, bytes_;
  std::uint64_t pos_ = 0;
};

}  // namespace saddle::kernels::quant
