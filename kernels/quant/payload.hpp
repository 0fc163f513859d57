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
#include <cmath>
#include <cstdint>
#include <cstring>
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
}  // namespace detail

// Appends the payload of `q` to `out`; returns its size in bytes.
inline std::size_t encode(const Quantized& q, const Codebook& cb, std::vector<std::uint8_t>& out) {
  static_assert(sizeof(double) == 8, "IEEE doubles expected");
  const std::size_t start = out.size();
  out.resize(start + kHeaderBytes, 0);
  std::uint64_t bits;
  {
    // At most 64 bits per scale and, per coordinate, an Elias code of s + 1 <= 256 (17 bits), a
    // Huffman code (<= 15) or a fixed-width step (<= 8), plus a sign.
    BitWriter w(out, 64 * q.scale.size() + 18 * q.q.size());
    const std::int64_t n = cb.n();
    if (cb.scheme == Scheme::Bucket) {
      const int width = cb.fixed_bits();
      for (std::int64_t b = 0; b < cb.buckets(); ++b) {
        w.put64(detail::bits_of(q.scale[static_cast<std::size_t>(2 * b)]));
        w.put64(detail::bits_of(q.scale[static_cast<std::size_t>(2 * b + 1)]));
        for (std::int64_t i = b * cb.bucket; i < std::min(n, (b + 1) * cb.bucket); ++i)
          w.put(static_cast<std::uint64_t>(q.q[static_cast<std::size_t>(i)]), width);
      }
    } else {
      for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
        w.put64(detail::bits_of(q.scale[m]));
        const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
        if (cb.coder == Coder::Huffman) {
          const HuffmanCode& h = cb.huffman[static_cast<std::size_t>(cb.layout.types[m])];
          for (std::int64_t i = lo; i < hi; ++i) {
            const int k = q.q[static_cast<std::size_t>(i)];
            const auto a = static_cast<std::uint32_t>(k < 0 ? -k : k);
            if (a) h.put_with_bit(w, a, k < 0);
            else h.put(w, 0);
          }
        } else {
          for (std::int64_t i = lo; i < hi; ++i) {
            const int k = q.q[static_cast<std::size_t>(i)];
            const auto a = static_cast<std::uint32_t>(k < 0 ? -k : k);
            // Elias-gamma of a + 1 with the sign appended: one put for the common small indices.
            const std::uint32_t x = a + 1;
            const int nb = 31 - __builtin_clz(x);
            if (nb == 0) {
              w.put(1, 1);
            } else if (nb <= 12) {
              const std::uint64_t code = (std::uint64_t{1} << nb) | (static_cast<std::uint64_t>(x & ((1u << nb) - 1u)) << (nb + 1));
              w.put(code | (static_cast<std::uint64_t>(k < 0) << (2 * nb + 1)), 2 * nb + 2);
            } else {
              elias_put(w, x);
              w.put(k < 0, 1);
            }
          }
        }
      }
    }
    bits = w.finish();
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
  if (cb.scheme == Scheme::Bucket) {
    const int width = cb.fixed_bits();
    q.scale.resize(static_cast<std::size_t>(2 * cb.buckets()));
    for (std::int64_t b = 0; b < cb.buckets(); ++b) {
      const double mn = finite_scale(detail::double_of(r.get64()), false);
      const double mx = finite_scale(detail::double_of(r.get64()), false);
      if (!(mn <= mx) || !std::isfinite(mx - mn)) throw PayloadError("bucket bounds out of order");
      q.scale[static_cast<std::size_t>(2 * b)] = mn;
      q.scale[static_cast<std::size_t>(2 * b + 1)] = mx;
      for (std::int64_t i = b * cb.bucket; i < std::min(n, (b + 1) * cb.bucket); ++i) {
        const std::uint32_t k = r.get(width);
        if (k > static_cast<std::uint32_t>(cb.s)) throw PayloadError("bucket step above s");
        q.q[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(k);
      }
    }
  } else {
    q.scale.resize(cb.layout.blocks());
    const auto s = static_cast<std::uint32_t>(cb.s);
    for (std::size_t m = 0; m < cb.layout.blocks(); ++m) {
      q.scale[m] = finite_scale(detail::double_of(r.get64()), true);
      const std::int64_t lo = cb.layout.offsets[m], hi = cb.layout.offsets[m + 1];
      const HuffmanCode* h = cb.coder == Coder::Huffman ? &cb.huffman[static_cast<std::size_t>(cb.layout.types[m])] : nullptr;
      for (std::int64_t i = lo; i < hi; ++i) {
        const std::uint32_t a = h ? h->get(r) : elias_get(r, s + 1) - 1;
        if (a > s) throw PayloadError("level index above s");
        const bool neg = a ? r.get(1) != 0 : false;
        q.q[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(neg ? -static_cast<int>(a) : static_cast<int>(a));
      }
    }
  }
  if (r.position() != bits) throw PayloadError("body has " + std::to_string(bits - r.position()) + " bits left over");
}

}  // namespace saddle::kernels::quant
