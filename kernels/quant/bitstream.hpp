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

// Appends bits to a byte vector. put(v, n) writes v (< 2^n, n <= 56), least significant bit first.
// Bits collect in a 64-bit accumulator and leave it as one unaligned 8-byte store per flush, so
// no branch depends on the data. `max_bits` is a first estimate of what will be written: the
// vector grows once to it, more if needed, and finish() trims it.
class BitWriter {
 public:
  BitWriter(std::vector<std::uint8_t>& out, std::uint64_t max_bits) : out_(out), start_(out.size()) {
    out_.resize(start_ + static_cast<std::size_t>(max_bits / 8) + 16);
    at_ = out_.data() + start_;
    end_ = out_.data() + out_.size();
  }
  // Adds v (< 2^n) above the pending bits without storing them: at most 56 bits between flushes.
  void add(std::uint64_t v, int n) {
    acc_ |= v << fill_;
    fill_ += n;
  }
  // Stores the whole bytes of the pending bits; fewer than 8 bits stay pending.
  void flush() {
    if (end_ - at_ < 8) grow();
    std::memcpy(at_, &acc_, 8);  // little-endian hosts only (checked in payload.hpp)
    at_ += fill_ >> 3;
    acc_ >>= fill_ & ~7;
    fill_ &= 7;
  }
  void put(std::uint64_t v, int n) {
    add(v, n);
    flush();
  }
  void put64(std::uint64_t v) {
    put(v & 0xFFFFFFFFu, 32);
    put(v >> 32, 32);
  }
  // Flushes the last partial byte (zero padded), trims the vector; returns the bits written.
  std::uint64_t finish() {
    flush();
    const std::size_t bytes = static_cast<std::size_t>(at_ - (out_.data() + start_));
    const std::uint64_t bits = 8 * static_cast<std::uint64_t>(bytes) + static_cast<std::uint64_t>(fill_);
    out_.resize(start_ + bytes + (fill_ > 0 ? 1 : 0));  // the partial byte is stored already
    at_ = end_ = nullptr;
    return bits;
  }

 private:
  void grow() {
    const std::size_t at = static_cast<std::size_t>(at_ - out_.data());
    out_.resize(out_.size() + (out_.size() - start_) / 2 + 64);
    at_ = out_.data() + at;
    end_ = out_.data() + out_.size();
  }
  std::vector<std::uint8_t>& out_;
  std::size_t start_;
  std::uint8_t *at_, *end_;
  std::uint64_t acc_ = 0;
  int fill_ = 0;
};

// Reads `bits` bits; reading past them throws PayloadError. window() and advance() are the
// unchecked fast path of table-driven decoders: they check overran() once at the end.
class BitReader {
 public:
  BitReader(const std::uint8_t* data, std::uint64_t bits) : p_(data), bits_(bits), bytes_((bits + 7) / 8) {}
  // At least the next 57 bits (zeros past the last byte), from one unaligned 8-byte load.
  std::uint64_t window() const {
    const std::uint64_t at = pos_ >> 3;
    std::uint64_t w = 0;
    if (at + 8 <= bytes_) std::memcpy(&w, p_ + at, 8);  // little-endian hosts only (checked in payload.hpp)
    else if (at < bytes_) std::memcpy(&w, p_ + at, static_cast<std::size_t>(bytes_ - at));
    return w >> (pos_ & 7);
  }
  void advance(int n) { pos_ += static_cast<std::uint64_t>(n); }
  bool overran() const { return pos_ > bits_; }
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
