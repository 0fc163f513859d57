#pragma once
// engine::DeviceComm: allreduce, allgather and broadcast on CUDA device buffers over the ranks of
// an engine::Comm, by one of three transports (engine/device_collectives.hpp):
// - nccl: an NCCL communicator made from the MPI one (rank 0's ncclGetUniqueId, MPI_Bcast,
//   ncclCommInitRank);
// - mpi: device pointers straight to a CUDA-aware MPI (refused when MPIX_Query_cuda_support()
//   says the library is not, or the MPI has no such query);
// - staged: device -> pinned host buffer -> engine::Comm -> device.
// Each collective is enqueued on the communicator's stream (after what is already there) and
// waits for it before returning: on return the result is in the buffer, as with engine::Comm.
// Errors (CUDA, NCCL, MPI refusal) throw std::runtime_error naming the call.
//
// Built into saddle_cuda (cmake/SaddleCuda.cmake); compiled and linked on machines without a
// GPU, run only where one exists.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/comm.hpp"
#include "engine/device_collectives.hpp"

namespace saddle::engine {

// Selects this rank's CUDA device: its rank on the node (MPI_Comm_split_type with
// MPI_COMM_TYPE_SHARED) modulo cudaGetDeviceCount, as jobs/slurm/saddle-gpu.sbatch expects
// (one GPU per task: device 0 of each task's own view). Collective over `comm`; returns the
// device, or -1 (and selects nothing) when no device is visible.
int select_local_device(const Comm& comm);

// What this rank sees: NCCL built (always, in saddle_cuda), the devices visible to every rank of
// `comm` (minimum over ranks: collective), and whether MPI is CUDA-aware.
DeviceEnvironment device_environment(const Comm& comm);

// True when the MPI library says it takes device pointers (Open MPI's MPIX_Query_cuda_support
// from mpi-ext.h); false when it says not or has no such query.
bool mpi_is_cuda_aware();

class DeviceComm {
 public:
  // Collective over `comm`. Selects the device (select_local_device) and sets the transport up;
  // `stream` nullptr = the default stream.
  DeviceComm(const Comm& comm, DeviceTransport transport, cudaStream_t stream = nullptr);
  ~DeviceComm();
  DeviceComm(const DeviceComm&) = delete;
  DeviceComm& operator=(const DeviceComm&) = delete;

  DeviceTransport transport() const { return transport_; }
  const Comm& comm() const { return comm_; }
  int device() const { return device_; }

  // In place over n device elements (T = float, double, std::int32_t).
  template <class T>
  void allreduce(T* data, std::size_t n, Op op) const;
  // Every rank sends n elements; recv (size() * n device elements) receives them in rank order.
  template <class T>
  void allgather(const T* send, std::size_t n, T* recv) const;
  template <class T>
  void broadcast(T* data, std::size_t n, int root = 0) const;
  // In place: the sum over ranks of n IEEE halves (engine/half.hpp) on the device, each combine
  // added in float and rounded to half as Comm::allreduce_half_sum does. nccl: ncclHalf with
  // ncclSum (a correctly rounded half addition: the same as float-then-half, float having more
  // than 2 x 11 + 2 bits; NCCL orders the combines its own way, as MPI does its own). mpi and
  // staged: through pinned host memory and Comm::allreduce_half_sum (a user-defined MPI op runs
  // on the host, so a CUDA-aware MPI gains nothing here).
  void allreduce_half_sum(std::uint16_t* data, std::size_t n) const;

 private:
  enum class Type { Float, Double, Int32 };
  template <class T>
  static constexpr Type type_of();
  void allreduce_bytes(void* data, std::size_t n, Type type, Op op) const;
  void allgather_bytes(const void* send, std::size_t n, void* recv, Type type) const;
  void broadcast_bytes(void* data, std::size_t n, Type type, int root) const;
  void* staging(std::size_t bytes) const;  // pinned host memory of at least `bytes`

  Comm comm_;
  DeviceTransport transport_;
  cudaStream_t stream_;
  int device_ = -1;
  struct Nccl;
  std::unique_ptr<Nccl> nccl_;
  mutable void* pinned_ = nullptr;
  mutable std::size_t pinned_bytes_ = 0;
};

template <class T>
constexpr DeviceComm::Type DeviceComm::type_of() {
  if constexpr (std::is_same_v<T, float>) return Type::Float;
  else if constexpr (std::is_same_v<T, double>) return Type::Double;
  else if constexpr (std::is_same_v<T, std::int32_t>) return Type::Int32;
  else static_assert(sizeof(T) == 0, "DeviceComm: float, double or std::int32_t");
}

template <class T>
void DeviceComm::allreduce(T* data, std::size_t n, Op op) const {
  allreduce_bytes(data, n, type_of<T>(), op);
}
template <class T>
void DeviceComm::allgather(const T* send, std::size_t n, T* recv) const {
  allgather_bytes(send, n, recv, type_of<T>());
}
template <class T>
void DeviceComm::broadcast(T* data, std::size_t n, int root) const {
  broadcast_bytes(data, n, type_of<T>(), root);
}

// Resolves parallel.device_collectives for a run: device_environment(comm) then
// resolve_device_transport. Collective; throws std::invalid_argument as the latter.
DeviceTransport resolve_device_collectives(const Comm& comm, const std::string& requested);

}  // namespace saddle::engine
