#include "engine/device_collectives.hpp"

#include <stdexcept>

namespace saddle::engine {

const char* transport_name(DeviceTransport t) {
  switch (t) {
    case DeviceTransport::Nccl: return "nccl";
    case DeviceTransport::Mpi: return "mpi";
    case DeviceTransport::Staged: return "staged";
  }
  return "staged";
}

DeviceTransport resolve_device_transport(const std::string& requested, const DeviceEnvironment& env) {
  const bool device = env.device_count > 0;
  if (requested == "auto") return env.nccl_built && device ? DeviceTransport::Nccl : DeviceTransport::Staged;
  if (requested == "staged") return DeviceTransport::Staged;
  if (requested == "nccl") {
    if (!env.nccl_built) throw std::invalid_argument("nccl: this build has no NCCL");
    if (!device) throw std::invalid_argument("nccl: no CUDA device is visible to every rank");
    return DeviceTransport::Nccl;
  }
  if (requested == "mpi") {
    if (!device) throw std::invalid_argument("mpi: no CUDA device is visible to every rank");
    if (!env.mpi_cuda_aware)
      throw std::invalid_argument("mpi: this MPI library is not CUDA-aware (MPIX_Query_cuda_support); use nccl or staged");
    return DeviceTransport::Mpi;
  }
  throw std::invalid_argument("'" + requested + "' is not one of auto, nccl, mpi, staged");
}

}  // namespace saddle::engine
