#pragma once
// The wire format of one quantised vector: versioned, self-delimiting and checked.
//
//   offset size  field
//   0      4     magic "SQP1"
//   4      1     format version (kPayloadVersion)
//   5      1     scheme (1 layer-wise, 2 global, 3 bucket)
//   6      1     coder (1 Elias-gamma, 2 Huffman, 3 fixed width)
//   7      1     norm (2 = l2, 255 = l-infinity)
//   8      2     s (intervals; levels 0..s)
//   10     2     reserved, 0
//   12     4     codebook epoch (which refit of levels and Huffman tables encoded it)
//   16     8     coordinates n
//   24     8     body length in bits
//   32     4     CRC-32 of the body
//   36     4     CRC-32 of bytes 0..35
//   40     ...   body: ceil(bits / 8) bytes, zero padded
// All integers little-endian. Body, layer-wise/global: per block its norm (64-bit IEEE), then per
// coordinate the code of |index| and, for a non-zero index, one sign bit (1 = negative). Body,
// bucket: per bucket (min, max) as 64-bit IEEE, then per coordinate the step in fixed width.
// The decoder checks every field against its codebook, both checksums, the exact length, that
// decoding ends exactly at the last body bit, and every decoded norm, bound and index.
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

constexpr std::uint8_t kPayloadVersion = 1;
constexpr std::size_t kHeaderBytes = 40;

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

// Appends the payload of `q` to `out`; returns its size in bytes.
inline std::size_t encode(const Quantized& q, const Codebook& cb, std::vector<std::uint8_t>& out) {
  static_assert(sizeof(double) == 8, "IEEE doubles expected");
  const std::size_t start = out.size();
  out.resize(start + kHeaderBytes, 0);
  std::uint64_t bits;
  {
    const std::int64_t n = cb.n();
    if (cb.scheme == Scheme::Bucket) {
      const int width = cb.fixed_bits();
      const std::uint32_t top = (1u << width) - 1;  // a step above s but within the width is written (the decoder refuses it)
      BitWriter w(out, 128 * static_cast<std::uint64_t>(cb.buckets()) + static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(n));
      const int per = 56 / width;  // steps per flush
      for (std::int64_t b = 0; b < cb.buckets(); ++b) {
        w.put64(detail::bits_of(q.scale[static_cast<std::size_t>(2 * b)]));
        w.put64(detail::bits_of(q.scale[static_cast<std::size_t>(2 * b + 1)]));
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
      // A first estimate: 64 bits per norm and the longest code per coordinate.
      int longest = huffman ? 0 : elias_tables(s).longest();
      for (std::size_t m = 0; huffman && m < cb.layout.blocks(); ++m) longest = std::max(longest, tables_of(m).longest());
      BitWriter w(out, 64 * static_cast<std::uint64_t>(cb.layout.blocks()) + static_cast<std::uint64_t>(longest) * static_cast<std::uint64_t>(n));
      // Only a forged Quantized has an index outside [-s, s]: Elias-gamma codes it, Huffman cannot.
      auto slow = [&](BitWriter& bw, int k) {
        if (huffman) throw std::invalid_argument("encode: level index " + std::to_string(k) + " outside [-s, s]");
        const auto a = static_cast<std::uint32_t>(k < 0 ? -k : k);
        elias_put(bw, a + 1);
        if (a) bw.put(k < 0, 1);
      };
      for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
        w.put64(detail::bits_of(q.scale[m]));
        const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
        detail::put_indices(w, q.q.data() + lo, hi - lo, tables_of(m), slow);
      }
      bits = w.finish();
    }
  }
  std::uint8_t* h = out.data() + start;
  std::memcpy(h, "SQP1", 4);
  h[4] = kPayloadVersion;
  h[5] = static_cast<std::uint8_t>(cb.scheme);
  h[6] = static_cast<std::uint8_t>(cb.scheme == Scheme::Bucket ? Coder::Fixed : cb.coder);
  h[7] = static_cast<std::uint8_t>(cb.norm);
  detail::store(h + 8, static_cast<std::uint64_t>(cb.s), 2);
  detail::store(h + 10, 0, 2);
  detail::store(h + 12, cb.epoch, 4);
  detail::store(h + 16, static_cast<std::uint64_t>(cb.n()), 8);
  detail::store(h + 24, bits, 8);
  detail::store(h + 32, crc32(h + kHeaderBytes, out.size() - start - kHeaderBytes), 4);
  detail::store(h + 36, crc32(h, 36), 4);
  return out.size() - start;
}

// The total size of the payload starting at `data` (from its header), after checking that the
// header is intact; throws PayloadError otherwise.
inline std::size_t payload_size(const std::uint8_t* data, std::size_t available) {
  if (available < kHeaderBytes) throw PayloadError("only " + std::to_string(available) + " bytes, shorter than a header");
  if (std::memcmp(data, "SQP1", 4) != 0) throw PayloadError("bad magic");
  if (detail::load(data + 36, 4) != crc32(data, 36)) throw PayloadError("header checksum mismatch");
  if (data[4] != kPayloadVersion)
    throw PayloadError("format version " + std::to_string(data[4]) + ", this build reads " + std::to_string(kPayloadVersion));
  const std::uint64_t bits = detail::load(data + 24, 8);
  if (bits > 8 * (std::uint64_t{1} << 50)) throw PayloadError("impossible body length");
  return kHeaderBytes + static_cast<std::size_t>((bits + 7) / 8);
}

// Decodes one payload of exactly `size` bytes into `q`.
inline void decode(const std::uint8_t* data, std::size_t size, const Codebook& cb, Quantized& q) {
  const std::size_t expect = payload_size(data, size);
  if (expect != size) throw PayloadError("length " + std::to_string(size) + " bytes, header says " + std::to_string(expect));
  const auto want_coder = static_cast<std::uint8_t>(cb.scheme == Scheme::Bucket ? Coder::Fixed : cb.coder);
  if (data[5] != static_cast<std::uint8_t>(cb.scheme) || data[6] != want_coder || data[7] != static_cast<std::uint8_t>(cb.norm) ||
      detail::load(data + 8, 2) != static_cast<std::uint64_t>(cb.s) || detail::load(data + 10, 2) != 0)
    throw PayloadError("scheme, coder, norm or level count differ from the receiver's");
  if (detail::load(data + 12, 4) != cb.epoch)
    throw PayloadError("codebook epoch " + std::to_string(detail::load(data + 12, 4)) + ", receiver has " + std::to_string(cb.epoch));
  if (detail::load(data + 16, 8) != static_cast<std::uint64_t>(cb.n()))
    throw PayloadError("holds " + std::to_string(detail::load(data + 16, 8)) + " coordinates, expected " + std::to_string(cb.n()));
  const std::uint8_t* body = data + kHeaderBytes;
  if (detail::load(data + 32, 4) != crc32(body, size - kHeaderBytes)) throw PayloadError("body checksum mismatch");
  const std::uint64_t bits = detail::load(data + 24, 8);
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
      const double mn = finite_scale(detail::double_of(r.get64()), false);
      const double mx = finite_scale(detail::double_of(r.get64()), false);
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
      q.scale[m] = finite_scale(detail::double_of(r.get64()), true);
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
