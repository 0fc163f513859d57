#pragma once
// Which transport the device collectives (engine/device_comm.hpp) use: the deck key
// parallel.device_collectives = auto | nccl | mpi | staged, resolved against what this build and
// this machine have. Pure functions, compiled into every build; DeviceComm itself needs CUDA.
#include <string>

namespace saddle::engine {

enum class DeviceTransport { Nccl, Mpi, Staged };

// What resolution looks at: NCCL linked, CUDA devices visible (the minimum over ranks, so every
// rank resolves alike), and whether the MPI library takes device pointers.
struct DeviceEnvironment {
  bool nccl_built = false;
  int device_count = 0;
  bool mpi_cuda_aware = false;
};

// "nccl", "mpi" or "staged".
const char* transport_name(DeviceTransport t);

// auto: nccl when NCCL is built and a device exists, else staged. nccl: NCCL built and a device.
// mpi: a device and a CUDA-aware MPI. staged: always (device buffers go through pinned host
// memory and engine::Comm). An unknown value or an unmet need throws std::invalid_argument with
// the reason (the caller names the key).
DeviceTransport resolve_device_transport(const std::string& requested, const DeviceEnvironment& env);

}  // namespace saddle::engine
