#pragma once
// The wire format of one quantised vector: versioned, self-delimiting and checked.
//
//   offset size  field
//   0      2     magic "SQ"
//   2      1     format version (kPayloadVersion)
//   3      1     scheme (bits 0-1: 1 layer-wise, 2 global, 3 bucket), coder (bits 2-3: 1 Elias-
//                gamma, 2 Huffman, 3 fixed width), norm (bit 4: 0 l2, 1 l-infinity), bits 5-7 zero
//   4      1     s (intervals; levels 0..s), 1..255
//   5      1-5   codebook epoch (which refit of levels and Huffman tables encoded it), varint
//   ...    1-10  coordinates n, varint
//   ...    1-10  body length in bits, varint
//   h - 8  4     CRC-32 of the body
//   h - 4  4     CRC-32 of bytes 0..h-5
//   h      ...   body: ceil(bits / 8) bytes, zero padded
// Varints are LEB128 (7 bits a byte, least significant first, high bit = more), shortest form;
// other integers little-endian; the header has 16 to 38 bytes (h). A scale (a block norm, a
// bucket bound) is 32 bits: a float32, or the escape 0xFFFFFFFF and then the 64-bit IEEE value
// for those outside the float32 normal range (the quantisers round to such values: wire_scale).
// Body, layer-wise/global: per block its norm, then per coordinate the code of |index| and, for
// a non-zero index, one sign bit (1 = negative). Body, bucket: per bucket (min, max), then per
// coordinate the step in fixed width. The decoder checks every field against its codebook, both
// checksums, the exact length, that decoding ends exactly at the last body bit, and every
// decoded norm, bound and index; it accepts only what the encoder writes (shortest varints,
// escapes only for values that have no float32).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/quant/bitstream.hpp"
#include "kernels/quant/coder.hpp"
#include "kernels/quant/quantizer.hpp"

namespace saddle::kernels::quant {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the bit streams are written with little-endian word stores");

constexpr std::uint8_t kPayloadVersion = 2;
constexpr std::size_t kMaxHeaderBytes = 38;
constexpr std::uint32_t kScaleEscape = 0xFFFFFFFFu;  // a NaN pattern: never a float32 scale

namespace detail {
inline void store(std::uint8_t* p, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) p[k] = static_cast<std::uint8_t>(v >> (8 * k));
}
inline std::uint64_t load(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int k = 0; k < bytes; ++k) v |= static_cast<std::uint64_t>(p[k]) << (8 * k);
  return v;
}
inline std::uint64_t bits_of(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, 8);
  return b;
}
inline double double_of(std::uint64_t b) {
  double x;
  std::memcpy(&x, &b, 8);
  return x;
}

inline int varint_bytes(std::uint64_t v) {
  int k = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++k;
  }
  return k;
}
inline std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}
// The varint at p[0, end), at most `max` in value, in its shortest form; advances p.
inline std::uint64_t get_varint(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t max, const char* what) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) throw PayloadError(std::string("header ends inside the ") + what);
    const std::uint8_t b = *p++;
    v |= static_cast<std::uint64_t>(b & 0x7Fu) << shift;
    if (!(b & 0x80u)) {
      if (b == 0 && shift > 0) throw PayloadError(std::string("overlong varint for the ") + what);
      if (v > max || (shift == 63 && b > 1)) throw PayloadError(std::string("impossible ") + what);
      return v;
    }
  }
  throw PayloadError(std::string("overlong varint for the ") + what);
}

// One scale: its float32, or the escape and its float64.
inline void put_scale(BitWriter& w, double x) {
  if (float_scale(x)) {
    const float f = static_cast<float>(x);
    if (static_cast<double>(f) != x) throw std::invalid_argument("encode: a scale that is not a wire value (quantize rounds them)");
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    w.put(b, 32);
  } else {
    if (!std::isfinite(x)) throw std::invalid_argument("encode: a non-finite scale");
    w.put(kScaleEscape, 32);
    w.put64(bits_of(x));
  }
}
inline double get_scale(BitReader& r) {
  const std::uint32_t b = r.get(32);
  if (b == kScaleEscape) {
    const double x = double_of(r.get64());
    if (!std::isfinite(x) || float_scale(x)) throw PayloadError("escaped scale that is not finite or has a float32");
    return x;
  }
  float f;
  std::memcpy(&f, &b, 4);
  const double x = static_cast<double>(f);
  if (!std::isfinite(x) || !float_scale(x)) throw PayloadError("scale that is not finite or a subnormal float32");
  return x;
}

// Writes the signed indices q[0, n) with tables t; `slow(w, k)` for an index outside [-s, s].
// A vectorised pass checks the range first, so the packing loop has no checks: three table
// codes per flush, the cursor in registers.
template <class Slow>
void put_indices(BitWriter& w, const std::int16_t* q, std::int64_t n, const IndexTables& t, Slow&& slow) {
  const std::uint32_t* enc = t.enc();
  const int s = t.s();
  const auto span = static_cast<std::uint32_t>(2 * s);
  std::uint32_t worst = 0;
  for (std::int64_t i = 0; i < n; ++i) worst = std::max(worst, static_cast<std::uint32_t>(q[i] + s));
  if (worst > span) {
    for (std::int64_t i = 0; i < n; ++i) {
      const int k = q[i];
      if (static_cast<std::uint32_t>(k + s) > span) slow(w, k);
      else w.put(enc[k] & 0xFFFFFFu, static_cast<int>(enc[k] >> 24));
    }
    return;
  }
  BitWriter::Cursor c = w.cursor(static_cast<std::size_t>(n * t.longest() / 8 + 8));
  std::int64_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t e0 = enc[q[i]], e1 = enc[q[i + 1]], e2 = enc[q[i + 2]];
    c.add(e0 & 0xFFFFFFu, static_cast<int>(e0 >> 24));
    c.add(e1 & 0xFFFFFFu, static_cast<int>(e1 >> 24));
    c.add(e2 & 0xFFFFFFu, static_cast<int>(e2 >> 24));
    c.flush();
  }
  for (; i < n; ++i) {
    c.add(enc[q[i]] & 0xFFFFFFu, static_cast<int>(enc[q[i]] >> 24));
    c.flush();
  }
  w.restore(c);
}

// Reads n signed indices into q with tables t: per 57-bit window up to five table lookups of up
// to four indices each; `slow(r)` (checked, bit by bit) for a code the tables do not hold.
template <class Slow>
void get_indices(BitReader& r, std::int16_t* q, std::int64_t n, const IndexTables& t, Slow&& slow) {
  const std::uint64_t* sym = t.sym();
  const std::uint16_t* meta = t.meta();
  const std::uint8_t* data = r.data();
  const std::uint64_t bytes = r.bytes();
  constexpr std::uint64_t mask = (std::uint64_t{1} << kDecodeBits) - 1;
  std::uint64_t pos = r.position();
  auto take_slow = [&]() {
    r.seek(pos);
    const std::int16_t k = slow(r);
    pos = r.position();
    return k;
  };
  std::int64_t i = 0;
  while (n - i >= 4) {  // whole groups of four may be stored
    std::uint64_t w = BitReader::window_at(data, bytes, pos);
    bool stuck = false;
    for (int look = 0; look < 5 && n - i >= 4; ++look) {  // 5 * kDecodeBits <= 57
      const auto c = static_cast<std::size_t>(w & mask);
      const unsigned m = meta[c];
      if ((m & (7u << 6)) == 0) {
        stuck = true;
        break;
      }
      std::memcpy(q + i, &sym[c], 8);
      w >>= m & 63u;
      pos += m & 63u;
      i += (m >> 6) & 7u;
    }
    if (stuck) q[i++] = take_slow();
  }
  while (i < n) {
    const auto c = static_cast<std::size_t>(BitReader::window_at(data, bytes, pos) & mask);
    const unsigned m = meta[c];
    if (m & (7u << 6)) {
      q[i++] = static_cast<std::int16_t>(sym[c] & 0xFFFFu);
      pos += (m >> 9) & 15u;
    } else {
      q[i++] = take_slow();
    }
  }
  r.seek(pos);
}
}  // namespace detail

// The fields of a payload header (read_header).
struct PayloadHeader {
  Scheme scheme;
  Coder coder;
  Norm norm;
  int s;
  std::uint32_t epoch;
  std::uint64_t n, bits;
  std::uint32_t body_crc;
  std::size_t header_bytes;
  std::size_t size() const { return header_bytes + static_cast<std::size_t>((bits + 7) / 8); }
};

namespace detail {
// The header's fields and length, without checking its checksum.
inline PayloadHeader parse_header(const std::uint8_t* data, std::size_t available) {
  if (available < 5) throw PayloadError("only " + std::to_string(available) + " bytes, shorter than a header");
  if (std::memcmp(data, "SQ", 2) != 0) throw PayloadError("bad magic");
  if (data[2] != kPayloadVersion)
    throw PayloadError("format version " + std::to_string(data[2]) + ", this build reads " + std::to_string(kPayloadVersion));
  PayloadHeader h{};
  const std::uint8_t kind = data[3];
  if ((kind & 3u) == 0 || ((kind >> 2) & 3u) == 0 || (kind >> 5) != 0) throw PayloadError("bad scheme, coder or norm field");
  h.scheme = static_cast<Scheme>(kind & 3u);
  h.coder = static_cast<Coder>((kind >> 2) & 3u);
  h.norm = (kind >> 4) & 1u ? Norm::Linf : Norm::L2;
  h.s = data[4];
  if (h.s == 0) throw PayloadError("s = 0");
  const std::uint8_t *p = data + 5, *end = data + std::min(available, kMaxHeaderBytes);
  h.epoch = static_cast<std::uint32_t>(get_varint(p, end, 0xFFFFFFFFu, "codebook epoch"));
  h.n = get_varint(p, end, std::uint64_t{1} << 62, "coordinate count");
  h.bits = get_varint(p, end, 8 * (std::uint64_t{1} << 50), "body length");
  if (end - p < 8) throw PayloadError("header ends inside its checksums");
  h.body_crc = static_cast<std::uint32_t>(load(p, 4));
  h.header_bytes = static_cast<std::size_t>(p + 8 - data);
  return h;
}
inline std::uint8_t kind_byte(const Codebook& cb) {
  const auto coder = cb.scheme == Scheme::Bucket ? Coder::Fixed : cb.coder;
  return static_cast<std::uint8_t>(static_cast<unsigned>(cb.scheme) | static_cast<unsigned>(coder) << 2 |
                                   (cb.norm == Norm::Linf ? 1u : 0u) << 4);
}
// Rewrites both checksums of the payload p[0, size) to match its bytes (tests, fuzzing).
inline void rewrite_checksums(std::uint8_t* p, std::size_t size) {
  const PayloadHeader h = parse_header(p, size);
  store(p + h.header_bytes - 8, crc32(p + h.header_bytes, size - h.header_bytes), 4);
  store(p + h.header_bytes - 4, crc32(p, h.header_bytes - 4), 4);
}
}  // namespace detail

// The header of the payload starting at `data`, after checking that it is intact (magic,
// version, fields, header checksum); throws PayloadError otherwise.
inline PayloadHeader read_header(const std::uint8_t* data, std::size_t available) {
  const PayloadHeader h = detail::parse_header(data, available);
  if (detail::load(data + h.header_bytes - 4, 4) != crc32(data, h.header_bytes - 4)) throw PayloadError("header checksum mismatch");
  return h;
}

// Appends the payload of `q` to `out`; returns its size in bytes.
inline std::size_t encode(const Quantized& q, const Codebook& cb, std::vector<std::uint8_t>& out) {
  static_assert(sizeof(double) == 8, "IEEE doubles expected");
  const std::size_t start = out.size();
  out.resize(start + kMaxHeaderBytes, 0);  // the header goes in front once the body's length is known
  std::uint64_t bits;
  {
    const std::int64_t n = cb.n();
    if (cb.scheme == Scheme::Bucket) {
      const int width = cb.fixed_bits();
      const std::uint32_t top = (1u << width) - 1;  // a step above s but within the width is written (the decoder refuses it)
      BitWriter w(out, 64 * static_cast<std::uint64_t>(cb.buckets()) + static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(n));
      const int per = 56 / width;  // steps per flush
      for (std::int64_t b = 0; b < cb.buckets(); ++b) {
        detail::put_scale(w, q.scale[static_cast<std::size_t>(2 * b)]);
        detail::put_scale(w, q.scale[static_cast<std::size_t>(2 * b + 1)]);
        const std::int64_t lo = b * cb.bucket, hi = std::min(n, (b + 1) * cb.bucket);
        const std::int16_t* qb = q.q.data() + lo;
        std::uint32_t bad = 0;
        BitWriter::Cursor c = w.cursor(static_cast<std::size_t>((hi - lo) * width / 8 + 8));
        std::int64_t i = 0;
        for (; i + per <= hi - lo; i += per) {
          for (int t = 0; t < per; ++t) {
            const auto k = static_cast<std::uint32_t>(static_cast<std::int32_t>(qb[i + t]));
            bad |= k > top;
            c.add(k & top, width);
          }
          c.flush();
        }
        for (; i < hi - lo; ++i) {
          const auto k = static_cast<std::uint32_t>(static_cast<std::int32_t>(qb[i]));
          bad |= k > top;
          c.add(k & top, width);
          c.flush();
        }
        w.restore(c);
        if (bad) throw std::invalid_argument("encode: a bucket step outside [0, 2^width)");
      }
      bits = w.finish();
    } else {
      const bool huffman = cb.coder == Coder::Huffman;
      const int s = cb.s;
      auto tables_of = [&](std::size_t m) -> const IndexTables& {
        if (!huffman) return elias_tables(s);
        const IndexTables& t = cb.huffman[static_cast<std::size_t>(cb.layout.types[m])].tables();
        if (t.s() != s) throw std::logic_error("encode: the Huffman code does not have s + 1 symbols");
        return t;
      };
      // A first estimate: 32 bits per norm and the longest code per coordinate.
      int longest = huffman ? 0 : elias_tables(s).longest();
      for (std::size_t m = 0; huffman && m < cb.layout.blocks(); ++m) longest = std::max(longest, tables_of(m).longest());
      BitWriter w(out, 32 * static_cast<std::uint64_t>(cb.layout.blocks()) + static_cast<std::uint64_t>(longest) * static_cast<std::uint64_t>(n));
      // Only a forged Quantized has an index outside [-s, s]: Elias-gamma codes it, Huffman cannot.
      auto slow = [&](BitWriter& bw, int k) {
        if (huffman) throw std::invalid_argument("encode: level index " + std::to_string(k) + " outside [-s, s]");
        const auto a = static_cast<std::uint32_t>(k < 0 ? -k : k);
        elias_put(bw, a + 1);
        if (a) bw.put(k < 0, 1);
      };
      for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
        detail::put_scale(w, q.scale[m]);
        const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
        detail::put_indices(w, q.q.data() + lo, hi - lo, tables_of(m), slow);
      }
      bits = w.finish();
    }
  }
  std::uint8_t header[kMaxHeaderBytes];
  header[0] = 'S';
  header[1] = 'Q';
  header[2] = kPayloadVersion;
  header[3] = detail::kind_byte(cb);
  header[4] = static_cast<std::uint8_t>(cb.s);
  std::uint8_t* p = detail::put_varint(header + 5, cb.epoch);
  p = detail::put_varint(p, static_cast<std::uint64_t>(cb.n()));
  p = detail::put_varint(p, bits);
  const auto hb = static_cast<std::size_t>(p + 8 - header);
  std::uint8_t* body = out.data() + start + kMaxHeaderBytes;
  const std::size_t body_bytes = out.size() - start - kMaxHeaderBytes;
  detail::store(p, crc32(body, body_bytes), 4);
  detail::store(p + 4, crc32(header, hb - 4), 4);
  if (hb < kMaxHeaderBytes) std::memmove(out.data() + start + hb, body, body_bytes);
  std::memcpy(out.data() + start, header, hb);
  out.resize(start + hb + body_bytes);
  return hb + body_bytes;
}

// The total size of the payload starting at `data` (from its header), after checking that the
// header is intact; throws PayloadError otherwise.
inline std::size_t payload_size(const std::uint8_t* data, std::size_t available) { return read_header(data, available).size(); }

// Decodes one payload of exactly `size` bytes into `q`.
inline void decode(const std::uint8_t* data, std::size_t size, const Codebook& cb, Quantized& q) {
  const PayloadHeader h = read_header(data, size);
  if (h.size() != size) throw PayloadError("length " + std::to_string(size) + " bytes, header says " + std::to_string(h.size()));
  if (data[3] != detail::kind_byte(cb) || h.s != cb.s) throw PayloadError("scheme, coder, norm or level count differ from the receiver's");
  if (h.epoch != cb.epoch) throw PayloadError("codebook epoch " + std::to_string(h.epoch) + ", receiver has " + std::to_string(cb.epoch));
  if (h.n != static_cast<std::uint64_t>(cb.n()))
    throw PayloadError("holds " + std::to_string(h.n) + " coordinates, expected " + std::to_string(cb.n()));
  const std::uint8_t* body = data + h.header_bytes;
  if (h.body_crc != crc32(body, size - h.header_bytes)) throw PayloadError("body checksum mismatch");
  const std::uint64_t bits = h.bits;
  BitReader r(body, bits);
  const std::int64_t n = cb.n();
  q.q.resize(static_cast<std::size_t>(n));
  auto finite_scale = [](double x, bool nonneg) {
    if (!std::isfinite(x) || (nonneg && !(x >= 0))) throw PayloadError("non-finite or negative scale");
    return x;
  };
  const auto s = static_cast<std::uint32_t>(cb.s);
  if (cb.scheme == Scheme::Bucket) {
    const int width = cb.fixed_bits();
    const int per = 56 / width;
    const std::uint64_t step_mask = (std::uint64_t{1} << width) - 1;
    q.scale.resize(static_cast<std::size_t>(2 * cb.buckets()));
    for (std::int64_t b = 0; b < cb.buckets(); ++b) {
      const double mn = finite_scale(detail::get_scale(r), false);
      const double mx = finite_scale(detail::get_scale(r), false);
      if (!(mn <= mx) || !std::isfinite(mx - mn)) throw PayloadError("bucket bounds out of order");
      q.scale[static_cast<std::size_t>(2 * b)] = mn;
      q.scale[static_cast<std::size_t>(2 * b + 1)] = mx;
      const std::int64_t lo = b * cb.bucket, hi = std::min(n, (b + 1) * cb.bucket);
      std::int16_t* qb = q.q.data() + lo;
      std::uint32_t top = 0;
      std::int64_t i = 0;
      for (; i + per <= hi - lo; i += per) {
        std::uint64_t w = r.window();
        for (int t = 0; t < per; ++t) {
          const auto k = static_cast<std::uint32_t>(w & step_mask);
          w >>= width;
          top = std::max(top, k);
          qb[i + t] = static_cast<std::int16_t>(k);
        }
        r.advance(per * width);
      }
      if (r.overran()) throw PayloadError("bit stream ends inside a code");
      for (; i < hi - lo; ++i) {
        const std::uint32_t k = r.get(width);
        top = std::max(top, k);
        qb[i] = static_cast<std::int16_t>(k);
      }
      if (top > s) throw PayloadError("bucket step above s");
    }
  } else {
    q.scale.resize(cb.layout.blocks());
    const bool huffman = cb.coder == Coder::Huffman;
    auto sign = [](BitReader& br, std::uint32_t a) {
      const bool neg = a ? br.get(1) != 0 : false;
      return static_cast<std::int16_t>(neg ? -static_cast<int>(a) : static_cast<int>(a));
    };
    for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
      q.scale[m] = finite_scale(detail::get_scale(r), true);
      const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
      if (huffman) {
        const HuffmanCode& h = cb.huffman[static_cast<std::size_t>(cb.layout.types[m])];
        if (h.tables().s() != cb.s) throw std::logic_error("decode: the Huffman code does not have s + 1 symbols");
        detail::get_indices(r, q.q.data() + lo, hi - lo, h.tables(), [&](BitReader& br) { return sign(br, h.get(br)); });
      } else {
        detail::get_indices(r, q.q.data() + lo, hi - lo, elias_tables(cb.s), [&](BitReader& br) {
          const std::uint32_t a = elias_get(br, s + 1) - 1;
          if (a > s) throw PayloadError("level index above s");
          return sign(br, a);
        });
      }
      if (r.overran()) throw PayloadError("bit stream ends inside a code");
    }
  }
  if (r.position() != bits) throw PayloadError("body has " + std::to_string(bits - r.position()) + " bits left over");
}

}  // namespace saddle::kernels::quant
