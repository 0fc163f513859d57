#pragma once
// The data-parallel exchange of docs/algorithms.md section 2: every worker (rank) holds a vector
// v_k and every worker needs (1/K) sum_k Q(v_k).
// - compressed, collective allgather: each rank quantises and encodes its vector (kernels/quant),
//   one allgatherv of the payloads, and every rank decodes all payloads and averages them in rank
//   order, so all ranks hold the same bits. Bytes received per rank: (K - 1) payloads.
// - compressed, collective reduce_scatter (K > 1): the n coordinates are cut into K contiguous
//   segments (segment_begin); each rank quantises every segment of its vector on its own (the
//   codebook's blocks intersected with the segment, each piece with its own norm and its block's
//   level-set type), an alltoallv sends segment j's payloads to rank j, rank j decodes them,
//   averages them in rank order (p_j) and re-quantises p_j (Q2: same codebook, the "requantize"
//   random stream), and an allgatherv of the K re-quantised segments gives every rank the same
//   bits. Bytes received per rank: (K - 1) / K (P + P2) plus 2 (K - 1) headers, P a rank's K
//   segment payloads and P2 the K re-quantised segments (about 2 (K - 1) / K payloads, nearly
//   independent of K). One rank: the allgather path (one quantisation, nothing re-quantised), so
//   results on one rank do not depend on the collective.
//   Unbiased: E[avg] = (1/K) sum_k v_k, and
//     E|avg - vbar|^2 = (1/K^2) sum_k E|Q(v_k) - v_k|^2 + sum_j E|Q2(p_j) - p_j|^2
//   (the first rounding's errors are independent across ranks; Q2 is unbiased given p_j).
// - Adaptive levels and Huffman tables of both collectives are refitted every `adapt_every`
//   rounds from per-type statistics of the ranks' vectors v_k summed over ranks (reduce_scatter:
//   of the segments' pieces, each normalised by its own norm as it is quantised), so every rank
//   holds identical codebooks; the re-quantisation uses the same codebook.
// - uncompressed: one allreduce in options.precision (float64: the float64 vectors; float32: the
//   vectors rounded to float, summed in float; float16: each vector times 1/K rounded to IEEE
//   half, summed by an fp16 op that adds in float and rounds to half at every combine, as PyTorch
//   DDP's fp16 compress hook over NCCL). One rank sends and rounds nothing: avg = own = v.
// Bytes sent are counted (payloads and the refits' statistics), and time is split into
// quantise, encode, exchange and decode.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/comm.hpp"
#include "engine/h5.hpp"
#include "engine/pipeline.hpp"
#include "engine/quantizer_options.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/quant/codebook.hpp"
#include "kernels/quant/levels.hpp"
#include "kernels/quant/device_quantizer.hpp"
#include "kernels/quant/payload.hpp"
#include "kernels/spaces.hpp"

namespace saddle::engine {

class DeviceComm;

struct ExchangeStats {
  std::uint64_t bytes_total = 0;       // every worker's payloads and statistics, all rounds so far
  // Every worker's payloads of the last round: allgather, the K payloads; reduce_scatter, both
  // phases' payloads (the K x K segment payloads of the alltoallv, a rank's payload to itself
  // included, plus the K re-quantised segments); uncompressed, K n bytes_per_element.
  std::uint64_t round_bytes = 0;
  // Bytes this rank received from other ranks in the last round (refit statistics included):
  // allgather, the K - 1 other payloads; reduce_scatter, the K - 1 other payloads of its segment
  // plus the K - 1 other re-quantised segments; an allreduce (uncompressed, and a refit's
  // statistics) counts as a ring allreduce would: floor(2 (K - 1) n bytes_per_element / K).
  // Not checkpointed (0 after a load until the next round).
  std::uint64_t received_bytes = 0;
  // reduce_scatter: the K re-quantised segments' payloads of the last round (part of round_bytes:
  // one vector's worth, coded with the first rounding's levels and tables); 0 otherwise.
  std::uint64_t requant_bytes = 0;
  double quantize = 0, encode = 0, exchange = 0, decode = 0;  // this rank's seconds
  // This rank's seconds inside exchange(), post() and finish(): the time its computation waited
  // on the exchange (with overlap, what the transfers did not hide). Not checkpointed.
  double exposed = 0;
  // This rank's last round: |Q(v) - v|^2 (empirical), E|Q(v) - v|^2 (exact) and |v|^2, with Q(v) =
  // own (reduce_scatter: the segments' quantisations). 0 when uncompressed, and (with the next
  // three) unless options.error_statistics.
  double error_sq = 0, expected_sq = 0, norm_sq = 0;
  // reduce_scatter: the segment this rank owns, |Q2(p) - p|^2 (empirical) and E[|Q2(p) - p|^2 | p]
  // (exact given p, the partial average of the first roundings); 0 otherwise.
  double requant_error_sq = 0, requant_expected_sq = 0;
  // The same two sums per layer of the layout given to the constructor (whatever the scheme).
  std::vector<double> layer_error_sq, layer_norm_sq;
};

class CompressedExchange {
 public:
  // `layout`: the layers of the vector (offsets 0 = o_0 < ... < o_B = n) with one level-set type
  // per block (layout.types). The global and bucket schemes use one block and one type whatever
  // `layout` is (kernels::quant::make_codebook).
  // `part`: where the vector sits in a whole vector split over pipeline stages (the other parts on
  // the ranks of part.stages). Rounding draws are then keyed by the coordinate's index in the whole
  // vector and checkpoints hold the whole vector's codebook (this part's level sets placed after
  // those of the parts that start earlier), so a layer-wise exchange of the parts is the exchange
  // of the whole; the global and bucket schemes have one level set per part.
  CompressedExchange(const Comm& comm, const QuantizerOptions& options, const kernels::quant::Layout& layout,
                     std::uint64_t seed, StagePart part = {});
  CompressedExchange(const CompressedExchange&) = delete;
  CompressedExchange& operator=(const CompressedExchange&) = delete;

  bool compressed() const { return compressed_; }
  std::int64_t n() const { return n_; }
  // avg = (1/K) sum_k Q(v_k) (reduce_scatter: Q2 of the segments' partial averages) and own =
  // Q(v_this_rank), identical bits on every rank (avg); `round` numbers the exchange (random
  // rounding draws and refit schedule depend on it). own is this rank's quantised vector as it
  // was sent, all n coordinates: allgather, Q(v); reduce_scatter, the K segments' quantisations
  // (blocks cut at segment edges have a norm per piece; the same as Q(v) when no block is cut, and
  // for the bucket scheme, whose segments hold whole buckets). Uncompressed: own is what this rank
  // put on the wire, back in float64: float64, v; float32, float(v); float16, K half(v / K) (the
  // 1/K scaling undone, exactly), so that avg is (1/K) sum_k own_k up to the sums' roundings;
  // one rank: own = avg = v.
  // Collective; v, avg and own are distinct arrays of n(). Quantised: a non-finite v on any rank
  // makes every rank throw CollectiveError (unquantised: the caller checks avg; float32 and
  // float16 overflow to inf, so the check fires).
  void exchange(const double* v, double* avg, double* own, std::uint32_t round);

  // The same exchange on views in kernels::Mem (a vector on the device in a CUDA build; host
  // memory in a CPU build, where this path runs on Exec = Serial or OpenMP all the same): the bits
  // of exchange(v.data(), ...) on a host copy, and the same stats, but the caller need not stage
  // (tested in CPU builds; on a GPU an L2 block norm may round to the next float32 wire value,
  // rarely, and NCCL may associate sums of K >= 3 ranks otherwise than MPI: docs/design.md).
  // - unquantised: the wire conversion is a kernel on Exec and the allreduce runs on the device
  //   buffer, through a DeviceComm in a CUDA build (set_device_collectives; float16: NCCL's
  //   ncclHalf sum, or the host's fp16 op on a staged copy) and through engine::Comm otherwise;
  // - quantised: norms and level indices on Exec (kernels/quant/device_quantizer.hpp), the
  //   indices and norms copied to the host, encoded, exchanged and decoded there, and the decoded
  //   indices dequantised into avg and own on Exec. v comes to the host only when a step needs it
  //   whole: a refit round, error statistics, a failing rank's message.
  // Views of n() elements, distinct. Collective, as exchange(). No begin/post/finish form.
  void exchange(const Kokkos::View<const double*, kernels::Mem>& v, const Kokkos::View<double*, kernels::Mem>& avg,
                const Kokkos::View<double*, kernels::Mem>& own, std::uint32_t round);
  // The transport of the view exchange's allreduce in a CUDA build: the deck's
  // parallel.device_collectives ("auto", "nccl", "mpi" or "staged"; default "auto"), resolved at
  // the first view exchange (collective; as the driver resolves it, so the same result). Ignored
  // in a host build, whose views are in host memory and go through engine::Comm (the driver
  // accepts only "auto" there).
  void set_device_collectives(std::string requested) { device_collectives_ = std::move(requested); }

  // The same exchange overlapped with the computation that produces v: begin(round), post(v, lo,
  // hi) as soon as v[lo, hi) is final (disjoint ranges, in the same order on every rank; a range
  // never posted is sent by finish), then finish(v, avg, own) gives what exchange(v, avg, own,
  // round) gives. The allreduce (uncompressed, K > 1) sends each posted range at once with a
  // non-blocking allreduce in its wire format and drives the ones in flight at every post, so
  // the transfer of one layer proceeds while the next is computed. A quantised exchange runs whole
  // in finish (its norms, refits and segments need the whole vector). The element-wise sums are
  // those of exchange() at K = 2; at K >= 3 MPI may associate a short range's sums otherwise than
  // the whole vector's (every rank still gets the same bits).
  // Whether posted ranges travel before finish (the allreduce at K > 1); else begin/post/finish
  // is exchange() with extra steps, and a caller may as well call exchange().
  bool overlaps() const { return !compressed_ && comm_.size() > 1; }
  void begin(std::uint32_t round);
  void post(const double* v, std::int64_t lo, std::int64_t hi);
  void finish(const double* v, double* avg, double* own);

  // reduce_scatter: where segment j starts (j = 0..K; segment j is [begin(j), begin(j + 1)) of
  // this part's n coordinates): block_rows(n, j, K) (the first n % K segments one longer), for the
  // bucket scheme block_rows of the buckets (segments hold whole buckets). Empty otherwise.
  const std::vector<std::int64_t>& segment_begin() const { return seg_; }

  const ExchangeStats& stats() const { return stats_; }
  // The exact variance of the last round's avg, (1/K^2) sum_k expected_sq_k + sum_j
  // requant_expected_sq_j (the second sum exact given the first roundings, an unbiased estimate of
  // its expectation); 0 when uncompressed. Collective (an allreduce of two numbers, asked for when
  // needed rather than paid every round); the same on every rank.
  double average_variance() const;
  const kernels::quant::Codebook& codebook() const { return cb_; }
  // Levels of each type (for /result/levels/<type>).
  const std::vector<std::vector<double>>& levels() const { return cb_.levels; }

  // The codebook (levels, Huffman code lengths, epoch) and the counters, of the whole vector
  // (collective over the part's stages; the counters are the stages' sums, restored on stage 0).
  void save(const h5::Group& g) const;
  void load(const h5::Group& g);

 private:
  using DeviceVector = Kokkos::View<const double*, kernels::Mem>;
  using DeviceArray = Kokkos::View<double*, kernels::Mem>;
  // Where one exchange's vectors live: host arrays (v, avg, own), or views in Mem (dv, davg, down;
  // then v is a host copy made on first need and own, avg are host scratch for the steps that
  // stay on the host).
  struct Io {
    const double* v = nullptr;
    double* avg = nullptr;
    double* own = nullptr;
    const DeviceVector* dv = nullptr;
    const DeviceArray* davg = nullptr;
    const DeviceArray* down = nullptr;
  };
  // v on the host (a device Io's v copied once per exchange).
  const double* host_v(Io& io);
  // out = Q(v[a, a + cb.n())) (codebook `which`: 0 for cb_, j for segment j's; Io on a device:
  // its device codebook), drawn as q::quantize(v + a, cb, rng, round, worker, out, first).
  void quantise(Io& io, std::int64_t a, int which, const kernels::quant::Codebook& cb, const kernels::CounterRng& rng,
                std::uint32_t round, std::uint32_t worker, kernels::quant::Quantized& out, std::uint64_t first);
  // avg[a, ...) (to_avg) or own[a, ...) = (+=, accumulate) the dequantised x; on Exec for a device Io.
  void dequantise(Io& io, const kernels::quant::Quantized& x, int which, const kernels::quant::Codebook& cb, std::int64_t a,
                  bool to_avg, bool accumulate = false);
  // avg /= K.
  void divide_avg(Io& io, double K);
  // own on the host (a device Io's copied back).
  const double* host_own(Io& io);
  const kernels::quant::DeviceCodebook<>& device_codebook(int which, const kernels::quant::Codebook& cb);
  void exchange_plain_device(const DeviceVector& v, const DeviceArray& avg, const DeviceArray& own);
  // The sums over ranks of the device wire buffers (DeviceComm in a CUDA build, else engine::Comm).
  template <class T>
  void device_allreduce(T* data, std::size_t n);
  void device_allreduce_half(std::uint16_t* data, std::size_t n);
#if SADDLE_HAVE_CUDA
  // The DeviceComm of comm_, made at the first use (collective), device_collectives_ resolved.
  DeviceComm& device_comm();
#endif

  void refit(const double* v);
  // Refits when due; a non-finite v (on any rank: the check is collective) throws invalid_argument.
  void maybe_refit(const double* v, std::uint32_t round);
  bool refit_due(std::uint32_t round) const;
  void exchange_plain(const double* v, double* avg, double* own);
  // The wire value of v[i] into the wire buffer, and its float64 value (own) back.
  void to_wire(const double* v, double* own, std::int64_t lo, std::int64_t hi);
  // avg = the allreduce's sums / K, from sum64 (float64, summed in place) or the wire buffers.
  void read_sums(const double* sum64, double* avg) const;
  // round_bytes, received_bytes and bytes_total of one allreduce round in the wire format.
  void count_allreduce();
  // Rounds v[lo, hi) into the wire buffer and starts its non-blocking allreduce.
  void start(const double* v, std::int64_t lo, std::int64_t hi);
  void exchange_allgather(Io& io, std::uint32_t round);
  void exchange_reduce_scatter(Io& io, std::uint32_t round);
  // The codebook of segment j: cb_'s levels and tables with the segment's pieces as blocks.
  const kernels::quant::Codebook& segment_codebook(int j);
  void layer_errors(const double* v, const double* own);

  Comm comm_;
  StagePart part_;
  std::int64_t first_type_ = 0, total_types_ = 0;  // this part's level sets among the whole vector's
  QuantizerOptions opt_;
  bool compressed_ = false, adaptive_ = false, huffman_ = false;
  std::int64_t n_ = 0;
  std::vector<std::int64_t> layers_;  // offsets of the caller's layers
  kernels::quant::Codebook cb_;
  kernels::CounterRng rng_, requant_rng_;
  std::unique_ptr<kernels::quant::LevelHistogram> hist_;
  kernels::quant::Quantized mine_, theirs_;
  std::vector<std::uint8_t> payload_;
  // reduce_scatter
  bool reduce_scatter_ = false;
  std::vector<std::int64_t> seg_;
  std::vector<kernels::quant::Layout> seg_layout_;
  kernels::quant::Codebook seg_cb_;  // cb_ with seg_layout_[j] set by segment_codebook(j)
  bool seg_cb_stale_ = true;         // cb_'s levels or tables changed since seg_cb_ was copied
  std::vector<kernels::quant::Quantized> seg_q_;
  kernels::quant::Quantized requant_;
  std::vector<double> partial_;
  // uncompressed float32 / float16 wire buffers
  std::vector<float> wire32_;
  std::vector<std::uint16_t> wire16_;
  std::vector<double> wire64_, own_wire_;  // begin/post/finish: float64 sums, and own
  // begin/post/finish: the round, whether posted ranges travel at once, the ranges posted and
  // their requests, the fp16 op while in use.
  std::uint32_t round_ = 0;
  bool overlapping_ = false;
  std::vector<std::pair<std::int64_t, std::int64_t>> posted_;
  std::vector<MPI_Request> requests_;
  MPI_Op half_op_ = MPI_OP_NULL;
  // The view exchange: device codebooks (index 0: cb_; reduce_scatter, j: segment j's), rebuilt
  // after a refit or a load; device scratch for indices, scales and the wire; host copies of v and
  // scratch for avg and own; parallel.device_collectives and, in a CUDA build, its DeviceComm.
  std::vector<kernels::quant::DeviceCodebook<>> dcb_;
  std::vector<char> dcb_built_;
  bool dcb_stale_ = true;
  Kokkos::View<std::int16_t*, kernels::Mem> dq_;
  Kokkos::View<double*, kernels::Mem> dscale_;
  Kokkos::View<float*, kernels::Mem> dwire32_;
  Kokkos::View<std::uint16_t*, kernels::Mem> dwire16_;
  std::vector<double> host_v_, host_avg_, host_own_;
  bool host_v_ready_ = false;
  std::string device_collectives_ = "auto";
  std::shared_ptr<DeviceComm> device_comm_;  // shared_ptr: DeviceComm is declared only, in a host build
  ExchangeStats stats_;
};

}  // namespace saddle::engine
