#pragma once
// engine::Comm: the collectives the workloads need, over one MPI communicator, on plain buffers,
// std::vector and contiguous host-accessible Kokkos views.
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace saddle::engine {

enum class Op { Sum, Max, Min };

template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, std::int32_t>) return MPI_INT32_T;
  else if constexpr (std::is_same_v<T, std::int64_t>) return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return MPI_UINT16_T;  // IEEE halves (engine/half.hpp)
  else if constexpr (std::is_same_v<T, std::uint32_t>) return MPI_UINT32_T;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return MPI_UINT64_T;
  else if constexpr (std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::byte> || std::is_same_v<T, char>)
    return MPI_BYTE;
  else static_assert(sizeof(T) == 0, "no MPI datatype for this type");
}

MPI_Op mpi_op(Op op);

class Comm {
 public:
  // MPI_COMM_WORLD (not owned).
  Comm();
  // Wraps `comm`; frees it on destruction of the last copy when `owned`.
  explicit Comm(MPI_Comm comm, bool owned = false);

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  MPI_Comm raw() const { return *comm_; }

  void barrier() const;
  // Completes `request`, sleeping 2 ms between tests.
  static void wait_idle(MPI_Request& request);

  // --- broadcast ---
  template <class T>
  void bcast(T* data, std::size_t n, int root = 0) const {
    MPI_Bcast(data, checked_count(n), mpi_type<T>(), root, raw());
  }
  template <class T>
  void bcast(std::vector<T>& v, int root = 0) const {
    std::uint64_t n = v.size();
    bcast(&n, 1, root);
    v.resize(n);
    bcast(v.data(), v.size(), root);
  }
  void bcast(std::string& s, int root = 0) const;
  // The same, for a broadcast the other ranks may wait long for (root factorises a matrix with
  // every core's BLAS threads): they poll a non-blocking broadcast and sleep between polls
  // instead of spinning on the cores root computes on.
  template <class T>
  void bcast_idle(T* data, std::size_t n, int root = 0) const {
    MPI_Request request;
    MPI_Ibcast(data, checked_count(n), mpi_type<T>(), root, raw(), &request);
    wait_idle(request);
  }
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  T bcast_value(T value, int root = 0) const {
    bcast(&value, 1, root);
    return value;
  }

  // --- allreduce (in place) ---
  template <class T>
  void allreduce(T* data, std::size_t n, Op op) const {
    MPI_Allreduce(MPI_IN_PLACE, data, checked_count(n), mpi_type<T>(), mpi_op(op), raw());
  }
  template <class T>
  void allreduce(std::vector<T>& v, Op op) const {
    allreduce(v.data(), v.size(), op);
  }
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  T allreduce(T value, Op op) const {
    allreduce(&value, 1, op);
    return value;
  }
  template <class DataType, class... Props>
  void allreduce(const Kokkos::View<DataType, Props...>& v, Op op) const {
    check_view(v);
    allreduce(v.data(), v.span(), op);
  }

  // In place: the elementwise sum of IEEE half values (engine/half.hpp) over ranks, by a
  // commutative MPI user-defined op that widens each pair to float, adds in float and rounds the
  // sum back to half (ties to even; overflow gives inf), as fp16 sums of NCCL and gloo do. The op
  // is commutative, so every rank receives the same bits (as with MPI_SUM).
  void allreduce_half_sum(std::uint16_t* data, std::size_t n) const;
  // The op of allreduce_half_sum, for its non-blocking form (the caller frees it with MPI_Op_free
  // once the operations using it are complete).
  static MPI_Op make_half_sum_op();

  // Non-blocking in-place sum over ranks of n elements (float, double; or IEEE halves with
  // `op` = make_half_sum_op()); complete the request with MPI_Test/MPI_Wait.
  template <class T>
  MPI_Request iallreduce_sum(T* data, std::size_t n, MPI_Op op = MPI_SUM) const {
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, data, checked_count(n), mpi_type<T>(), op, raw(), &request);
    return request;
  }

  // Exclusive prefix sum (rank 0 gets 0): the global offset of this rank's rows.
  std::int64_t exscan_sum(std::int64_t value) const;

  // --- gathers of uneven contributions ---
  // Every rank contributes `n` elements; every rank receives all contributions concatenated in
  // rank order, and each rank's element count in `counts` when given.
  // Arithmetic T travels as its MPI type, any other trivially copyable T (a small struct) as bytes.
  template <class T>
  std::vector<T> allgatherv(const T* data, std::size_t n, std::vector<std::size_t>* counts = nullptr) const {
    static_assert(std::is_trivially_copyable_v<T>, "allgatherv copies elements bitwise");
    constexpr bool typed = std::is_arithmetic_v<T> || std::is_same_v<T, std::byte>;
    constexpr std::uint64_t unit = typed ? 1 : sizeof(T);  // MPI elements per T
    const std::vector<std::uint64_t> sizes = allgather(static_cast<std::uint64_t>(n));
    std::vector<int> icounts(sizes.size()), displs(sizes.size());
    std::uint64_t total = 0;
    for (std::size_t r = 0; r < sizes.size(); ++r) {
      displs[r] = checked_count(total * unit);
      icounts[r] = checked_count(sizes[r] * unit);
      total += sizes[r];
    }
    checked_count(total * unit);
    if (counts) counts->assign(sizes.begin(), sizes.end());
    std::vector<T> out(total);
    MPI_Datatype type = MPI_BYTE;
    if constexpr (typed) type = mpi_type<T>();
    MPI_Allgatherv(data, checked_count(n * unit), type, out.data(), icounts.data(), displs.data(), type, raw());
    return out;
  }
  template <class T>
  std::vector<T> allgatherv(const std::vector<T>& v, std::vector<std::size_t>* counts = nullptr) const {
    return allgatherv(v.data(), v.size(), counts);
  }
  template <class DataType, class... Props>
  auto allgatherv(const Kokkos::View<DataType, Props...>& v, std::vector<std::size_t>* counts = nullptr) const {
    check_view(v);
    return allgatherv(v.data(), v.span(), counts);
  }
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  std::vector<T> allgather(T value) const {
    std::vector<T> out(static_cast<std::size_t>(size_));
    MPI_Allgather(&value, 1, mpi_type<T>(), out.data(), 1, mpi_type<T>(), raw());
    return out;
  }

  // --- all to all of uneven contributions ---
  // This rank sends send_counts[r] elements to rank r (data holds them concatenated in rank
  // order); returns what every rank sent to this one, concatenated in rank order, and each
  // sender's element count in `recv_counts` when given. Counts travel first (MPI_Alltoall), then
  // MPI_Alltoallv moves the data; element types as allgatherv.
  template <class T>
  std::vector<T> alltoallv(const T* data, const std::vector<std::size_t>& send_counts, std::vector<std::size_t>* recv_counts = nullptr) const {
    static_assert(std::is_trivially_copyable_v<T>, "alltoallv copies elements bitwise");
    constexpr bool typed = std::is_arithmetic_v<T> || std::is_same_v<T, std::byte>;
    constexpr std::uint64_t unit = typed ? 1 : sizeof(T);
    if (send_counts.size() != static_cast<std::size_t>(size_)) throw std::invalid_argument("engine::Comm::alltoallv: one count per rank expected");
    std::vector<std::uint64_t> out_n(send_counts.begin(), send_counts.end()), in_n(send_counts.size());
    MPI_Alltoall(out_n.data(), 1, MPI_UINT64_T, in_n.data(), 1, MPI_UINT64_T, raw());
    std::vector<int> scounts(out_n.size()), sdispls(out_n.size()), rcounts(in_n.size()), rdispls(in_n.size());
    std::uint64_t sent = 0, total = 0;
    for (std::size_t r = 0; r < out_n.size(); ++r) {
      sdispls[r] = checked_count(sent * unit);
      scounts[r] = checked_count(out_n[r] * unit);
      sent += out_n[r];
      rdispls[r] = checked_count(total * unit);
      rcounts[r] = checked_count(in_n[r] * unit);
      total += in_n[r];
    }
    checked_count(sent * unit);
    checked_count(total * unit);
    if (recv_counts) recv_counts->assign(in_n.begin(), in_n.end());
    std::vector<T> out(total);
    MPI_Datatype type = MPI_BYTE;
    if constexpr (typed) type = mpi_type<T>();
    MPI_Alltoallv(data, scounts.data(), sdispls.data(), type, out.data(), rcounts.data(), rdispls.data(), type, raw());
    return out;
  }
  template <class T>
  std::vector<T> alltoallv(const std::vector<T>& v, const std::vector<std::size_t>& send_counts, std::vector<std::size_t>* recv_counts = nullptr) const {
    return alltoallv(v.data(), send_counts, recv_counts);
  }

  // --- point to point ---
  template <class T>
  void send(const T* data, std::size_t n, int dest, int tag = 0) const {
    MPI_Send(data, checked_count(n), mpi_type<T>(), dest, tag, raw());
  }
  template <class T>
  void recv(T* data, std::size_t n, int source, int tag = 0) const {
    MPI_Recv(data, checked_count(n), mpi_type<T>(), source, tag, raw(), MPI_STATUS_IGNORE);
  }

  Comm split(int color, int key) const;

  // Runs `f` on every rank, then agrees on failure: if `f` threw on any rank, every rank throws a
  // CollectiveError carrying the message and exit code of the lowest failing rank. Use it around
  // work whose failure one rank may see alone (reading its rows of a data file) and that has no
  // collective inside, so callers can report the error once and exit cleanly.
  void agree(const std::function<void()>& f) const;

 private:
  static int checked_count(std::size_t n);
  template <class V>
  static void check_view(const V& v) {
    static_assert(Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename V::memory_space>::accessible,
                  "engine::Comm collectives take host-accessible views");
    if (!v.span_is_contiguous()) throw std::invalid_argument("engine::Comm: view is not contiguous");
  }

  std::shared_ptr<MPI_Comm> comm_;
  int rank_ = 0, size_ = 1;
};

// The 2-D process grid `data x layer` (docs/design.md, "Parallel model"): ranks r = d * layer + l.
// `layer` connects the L pipeline stages of one data replica (consecutive ranks); `data` connects
// the replicas of one stage.
struct ProcessGrid {
  Comm world;
  Comm data;   // size = world.size() / layers; rank = data index
  Comm layer;  // size = layers; rank = stage index
  int data_index() const { return data.rank(); }
  int layer_index() const { return layer.rank(); }
};

// Throws InputError when `layers` is not a positive divisor of the rank count.
ProcessGrid make_process_grid(const Comm& world, int layers);

// Rows [begin, end) of a block distribution of `global_rows` over `parts`: the first
// global_rows % parts parts get one row more.
struct RowRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t count() const { return end - begin; }
};
RowRange block_rows(std::int64_t global_rows, int part, int parts);

}  // namespace saddle::engine
