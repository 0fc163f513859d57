// engine/device_comm.hpp: NCCL, CUDA-aware MPI or staged collectives on device buffers.
#include "engine/device_comm.hpp"

#include <mpi.h>
#include <nccl.h>

#include <climits>
#include <stdexcept>
#include <string>

#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>  // Open MPI: MPIX_CUDA_AWARE_SUPPORT, MPIX_Query_cuda_support
#endif

namespace saddle::engine {

namespace {

void check_cuda(cudaError_t e, const char* call) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("engine::DeviceComm: ") + call + " failed: " + cudaGetErrorString(e));
}
void check_nccl(ncclResult_t r, const char* call) {
  if (r != ncclSuccess) throw std::runtime_error(std::string("engine::DeviceComm: ") + call + " failed: " + ncclGetErrorString(r));
}

std::size_t type_size(int type) {  // DeviceComm::Type as int: Float, Double, Int32
  return type == 1 ? sizeof(double) : 4;
}

int checked_int(std::size_t n, const char* call) {
  if (n > static_cast<std::size_t>(INT_MAX))
    throw std::runtime_error(std::string("engine::DeviceComm: ") + call + ": " + std::to_string(n) + " elements exceed an MPI count");
  return static_cast<int>(n);
}

ncclRedOp_t nccl_op(Op op) {
  switch (op) {
    case Op::Sum: return ncclSum;
    case Op::Max: return ncclMax;
    case Op::Min: return ncclMin;
  }
  return ncclSum;
}

}  // namespace

bool mpi_is_cuda_aware() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  return MPIX_Query_cuda_support() == 1;
#else
  return false;  // built without CUDA support, or an MPI without the query: not CUDA-aware
#endif
}

int select_local_device(const Comm& comm) {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(comm.raw(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node);
  int local_rank = 0;
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_free(&node);
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count <= 0) {
    cudaGetLastError();
    return -1;
  }
  const int device = local_rank % count;
  check_cuda(cudaSetDevice(device), "cudaSetDevice");
  return device;
}

DeviceEnvironment device_environment(const Comm& comm) {
  DeviceEnvironment env;
  env.nccl_built = true;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    count = 0;
  }
  env.device_count = comm.allreduce(count, Op::Min);
  env.mpi_cuda_aware = comm.allreduce(mpi_is_cuda_aware() ? 1 : 0, Op::Min) == 1;
  return env;
}

DeviceTransport resolve_device_collectives(const Comm& comm, const std::string& requested) {
  return resolve_device_transport(requested, device_environment(comm));
}

struct DeviceComm::Nccl {
  ncclComm_t comm = nullptr;
  ~Nccl() {
    if (comm) ncclCommDestroy(comm);
  }
  static ncclDataType_t type(Type t) {
    switch (t) {
      case Type::Float: return ncclFloat;
      case Type::Double: return ncclDouble;
      case Type::Int32: return ncclInt32;
    }
    return ncclFloat;
  }
};

namespace {
MPI_Datatype mpi_datatype(int type) {  // DeviceComm::Type as int
  return type == 0 ? MPI_FLOAT : type == 1 ? MPI_DOUBLE : MPI_INT32_T;
}
// Calls f with a null pointer of the element type (DeviceComm::Type as int).
template <class F>
void with_type(int type, F&& f) {
  if (type == 0) f(static_cast<float*>(nullptr));
  else if (type == 1) f(static_cast<double*>(nullptr));
  else f(static_cast<std::int32_t*>(nullptr));
}
}  // namespace

DeviceComm::DeviceComm(const Comm& comm, DeviceTransport transport, cudaStream_t stream)
    : comm_(comm), transport_(transport), stream_(stream) {
  device_ = select_local_device(comm_);
  if (transport_ == DeviceTransport::Mpi && !mpi_is_cuda_aware())
    throw std::runtime_error("engine::DeviceComm: transport mpi needs a CUDA-aware MPI, and MPIX_Query_cuda_support() "
                             "(mpi-ext.h) says this MPI library is not; use nccl or staged");
  if (transport_ == DeviceTransport::Nccl) {
    ncclUniqueId id{};
    // A rank without a device, or rank 0's failure, must reach every rank before the broadcast
    // they would wait in.
    comm_.agree([&] {
      if (device_ < 0) throw std::runtime_error("engine::DeviceComm: transport nccl needs a CUDA device; none is visible");
      if (comm_.is_root()) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    });
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm_.raw());
    nccl_ = std::make_unique<Nccl>();
    check_nccl(ncclCommInitRank(&nccl_->comm, comm_.size(), id, comm_.rank()), "ncclCommInitRank");
  }
}

DeviceComm::~DeviceComm() {
  nccl_.reset();
  if (pinned_) cudaFreeHost(pinned_);
}

void* DeviceComm::staging(std::size_t bytes) const {
  if (bytes > pinned_bytes_) {
    if (pinned_) check_cuda(cudaFreeHost(pinned_), "cudaFreeHost");
    pinned_ = nullptr;
    pinned_bytes_ = 0;
    check_cuda(cudaMallocHost(&pinned_, bytes), "cudaMallocHost");
    pinned_bytes_ = bytes;
  }
  return pinned_;
}

void DeviceComm::allreduce_bytes(void* data, std::size_t n, Type type, Op op) const {
  if (n == 0) return;
  const int t = static_cast<int>(type);
  const std::size_t bytes = n * type_size(t);
  switch (transport_) {
    case DeviceTransport::Nccl:
      check_nccl(ncclAllReduce(data, data, n, Nccl::type(type), nccl_op(op), nccl_->comm, stream_), "ncclAllReduce");
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      return;
    case DeviceTransport::Mpi:
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      MPI_Allreduce(MPI_IN_PLACE, data, checked_int(n, "allreduce"), mpi_datatype(t), mpi_op(op), comm_.raw());
      return;
    case DeviceTransport::Staged: {
      void* host = staging(bytes);
      check_cuda(cudaMemcpyAsync(host, data, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      with_type(t, [&](auto* tag) { comm_.allreduce(static_cast<decltype(tag)>(host), n, op); });
      check_cuda(cudaMemcpyAsync(data, host, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      return;
    }
  }
}

void DeviceComm::allreduce_half_sum(std::uint16_t* data, std::size_t n) const {
  if (n == 0) return;
  const std::size_t bytes = n * sizeof(std::uint16_t);
  if (transport_ == DeviceTransport::Nccl) {
    check_nccl(ncclAllReduce(data, data, n, ncclHalf, ncclSum, nccl_->comm, stream_), "ncclAllReduce");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    return;
  }
  auto* host = static_cast<std::uint16_t*>(staging(bytes));
  check_cuda(cudaMemcpyAsync(host, data, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  comm_.allreduce_half_sum(host, n);
  check_cuda(cudaMemcpyAsync(data, host, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

void DeviceComm::allgather_bytes(const void* send, std::size_t n, void* recv, Type type) const {
  if (n == 0) return;
  const int t = static_cast<int>(type);
  const std::size_t bytes = n * type_size(t), total = bytes * static_cast<std::size_t>(comm_.size());
  switch (transport_) {
    case DeviceTransport::Nccl:
      check_nccl(ncclAllGather(send, recv, n, Nccl::type(type), nccl_->comm, stream_), "ncclAllGather");
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      return;
    case DeviceTransport::Mpi:
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      MPI_Allgather(send, checked_int(n, "allgather"), mpi_datatype(t), recv, checked_int(n, "allgather"), mpi_datatype(t),
                    comm_.raw());
      return;
    case DeviceTransport::Staged: {
      // [0, bytes): this rank's contribution; [bytes, bytes + total): everyone's.
      char* host = static_cast<char*>(staging(bytes + total));
      check_cuda(cudaMemcpyAsync(host, send, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      MPI_Allgather(host, checked_int(n, "allgather"), mpi_datatype(t), host + bytes, checked_int(n, "allgather"), mpi_datatype(t),
                    comm_.raw());
      check_cuda(cudaMemcpyAsync(recv, host + bytes, total, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      return;
    }
  }
}

void DeviceComm::broadcast_bytes(void* data, std::size_t n, Type type, int root) const {
  if (n == 0) return;
  const int t = static_cast<int>(type);
  const std::size_t bytes = n * type_size(t);
  switch (transport_) {
    case DeviceTransport::Nccl:
      check_nccl(ncclBroadcast(data, data, n, Nccl::type(type), root, nccl_->comm, stream_), "ncclBroadcast");
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      return;
    case DeviceTransport::Mpi:
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      MPI_Bcast(data, checked_int(n, "broadcast"), mpi_datatype(t), root, comm_.raw());
      return;
    case DeviceTransport::Staged: {
      void* host = staging(bytes);
      if (comm_.rank() == root) {
        check_cuda(cudaMemcpyAsync(host, data, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
        check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      }
      with_type(t, [&](auto* tag) { comm_.bcast(static_cast<decltype(tag)>(host), n, root); });
      if (comm_.rank() != root) {
        check_cuda(cudaMemcpyAsync(data, host, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
        check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      }
      return;
    }
  }
}

}  // namespace saddle::engine
