// fuzz_payload: the quantised-payload decoder (kernels/quant/payload.hpp). Input: one byte picking
// the receiver's codebook (payload_codebooks.hpp), one flag byte, then the payload. With flag bit
// 0 the target first rewrites both CRC-32 fields to match, so that mutations reach the body
// decoder instead of stopping at a checksum. PayloadError is how a bad payload is refused; a
// payload that decodes must pass the decoder's own promises: indices within the levels, finite
// (non-negative) scales, ordered bucket bounds, finite dequantised values, and encoding the
// decoded vector again gives back the same bytes (up to the padding bits of the last byte).
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz_support.hpp"
#include "kernels/quant/payload.hpp"
#include "payload_codebooks.hpp"

namespace {

using namespace saddle::kernels::quant;

const Codebook& codebook(std::uint8_t selector) {
  static std::array<std::unique_ptr<Codebook>, 256> cache;
  auto& cb = cache[selector];
  if (!cb) cb = std::make_unique<Codebook>(saddle::fuzz::payload_codebook(selector));
  return *cb;
}

void fix_checksums(std::vector<std::uint8_t>& p) {
  try {
    detail::rewrite_checksums(p.data(), p.size());
  } catch (const PayloadError&) {  // no header to find the checksums in: decoding refuses it anyway
  }
}

void check_decoded(const std::vector<std::uint8_t>& payload, const Codebook& cb, const Quantized& q) {
  using saddle::fuzz::finding;
  const auto n = static_cast<std::size_t>(cb.n());
  const bool bucket = cb.scheme == Scheme::Bucket;
  if (q.q.size() != n) finding("decoded " + std::to_string(q.q.size()) + " indices, expected " + std::to_string(n));
  if (q.scale.size() != (bucket ? static_cast<std::size_t>(2 * cb.buckets()) : cb.layout.blocks())) finding("wrong number of scales");
  for (auto k : q.q)
    if (k > cb.s || k < (bucket ? 0 : -cb.s)) finding("decoded index " + std::to_string(k) + " outside the levels");
  for (std::size_t m = 0; m < q.scale.size(); ++m)
    if (!std::isfinite(q.scale[m]) || (!bucket && !(q.scale[m] >= 0)) || (bucket && m % 2 == 1 && !(q.scale[m - 1] <= q.scale[m])))
      finding("decoded scale " + std::to_string(q.scale[m]) + " is not finite, negative or out of order");
  std::vector<double> values(n);
  dequantize(q, cb, values.data());
  for (double v : values)
    if (!std::isfinite(v)) finding("a decoded payload dequantises to a non-finite value");
  std::vector<std::uint8_t> again;
  encode(q, cb, again);
  std::vector<std::uint8_t> canonical = payload;
  const std::uint64_t bits = read_header(canonical.data(), canonical.size()).bits;
  if (bits % 8) canonical.back() &= static_cast<std::uint8_t>((1u << (bits % 8)) - 1u);
  fix_checksums(canonical);
  if (again != canonical) finding("the decoded vector encodes to other bytes than the payload it came from");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const Codebook& cb = codebook(data[0]);
  std::vector<std::uint8_t> payload(data + 2, data + size);
  if (data[1] & 1u) fix_checksums(payload);
  Quantized q;
  bool decoded = false;
  saddle::fuzz::expect_only<PayloadError>("decoding the payload", [&] {
    decode(payload.data(), payload.size(), cb, q);
    decoded = true;
  });
  if (decoded) check_decoded(payload, cb, q);
  return 0;
}
