#pragma once
// Bit-level I/O for the quantised payloads (LSB-first within little-endian 64-bit words) and the
// CRC-32 (IEEE 802.3, as zlib's crc32) that guards them.
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

inline std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

// Appends bits to a byte vector. put(v, n) writes v (< 2^n, n <= 32), least significant bit first.
// `max_bits` bounds what will be written: the vector grows once, and finish() trims it.
class BitWriter {
 public:
  BitWriter(std::vector<std::uint8_t>& out, std::uint64_t max_bits) : out_(out), start_(out.size()) {
    out_.resize(start_ + static_cast<std::size_t>(max_bits / 8) + 8);
    at_ = start_;
  }
  void put(std::uint64_t v, int n) {
    acc_ |= v << fill_;
    fill_ += n;
    if (fill_ >= 32) {
      if (at_ + 4 > out_.size()) throw std::logic_error("BitWriter: more bits than announced");
      const auto w = static_cast<std::uint32_t>(acc_);
      std::memcpy(&out_[at_], &w, 4);  // little-endian hosts only (checked in payload.hpp)
      at_ += 4;
      acc_ >>= 32;
      fill_ -= 32;
    }
  }
  void put64(std::uint64_t v) {
    put(v & 0xFFFFFFFFu, 32);
    put(v >> 32, 32);
  }
  // Flushes the last partial byte (zero padded), trims the vector; returns the bits written.
  std::uint64_t finish() {
    const std::uint64_t bits = 8 * (at_ - start_) + static_cast<std::uint64_t>(fill_);
    while (fill_ > 0) {
      if (at_ >= out_.size()) throw std::logic_error("BitWriter: more bits than announced");
      out_[at_++] = static_cast<std::uint8_t>(acc_);
      acc_ >>= 8;
      fill_ = fill_ > 8 ? fill_ - 8 : 0;
    }
    out_.resize(at_);
    return bits;
  }

 private:
  std::vector<std::uint8_t>& out_;
  std::size_t start_, at_;
  std::uint64_t acc_ = 0;
  int fill_ = 0;
};

// Reads `bits` bits; reading past them throws PayloadError.
class BitReader {
 public:
  BitReader(const std::uint8_t* data, std::uint64_t bits) : p_(data), bits_(bits) {}
  // The next n <= 32 bits without consuming them (zeros past the end).
  std::uint32_t peek(int n) {
    refill();
    return static_cast<std::uint32_t>(acc_ & ((std::uint64_t{1} << n) - 1));
  }
  void skip(int n) {
    if (static_cast<std::uint64_t>(n) > remaining()) throw PayloadError("bit stream ends inside a code");
    acc_ >>= n;
    fill_ -= n;
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
  std::uint64_t remaining() const { return bits_ - pos_; }

 private:
  void refill() {
    if (fill_ >= 32) return;  // peek needs at most 32 bits
    const std::uint64_t byte_at = (pos_ + static_cast<std::uint64_t>(fill_)) / 8, bytes = (bits_ + 7) / 8;
    if (byte_at + 8 <= bytes) {  // whole bytes of one 8-byte load (little-endian hosts)
      std::uint64_t w;
      std::memcpy(&w, p_ + byte_at, 8);
      const int take = (64 - fill_) / 8 < 7 ? (64 - fill_) / 8 : 7;
      acc_ |= (w & ((std::uint64_t{1} << (8 * take)) - 1)) << fill_;
      fill_ += 8 * take;
      return;
    }
    for (std::uint64_t b = byte_at; fill_ <= 56; ++b) {
      acc_ |= (b < bytes ? static_cast<std::uint64_t>(p_[b]) : 0) << fill_;
      fill_ += 8;
    }
  }
  const std::uint8_t* p_;
  std::uint64_t bits_;
  std::uint64_t pos_ = 0;
  std::uint64_t acc_ = 0;
  int fill_ = 0;
};

}  // namespace saddle::kernels::quant
