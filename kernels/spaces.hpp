#pragma once
// The Kokkos execution and memory spaces Saddle uses, named once (docs/development.md, "Kokkos").
// Every parallel loop and every view in the project takes one of these names:
// - HostExec / HostMem: host-only work on data that lives in host memory (std::vector, HDF5 and
//   MPI buffers, BLAS/LAPACK on the host, lambdas that capture by reference);
// - Exec / Mem: kernels that may run on a device: Kokkos's default execution space and its
//   memory space (Serial or OpenMP on CPU builds, where Mem is host memory; CUDA on GPU builds).
// Kernels written for Exec capture by value and touch only views in Mem (or values).
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <type_traits>

namespace saddle::kernels {

using HostExec = Kokkos::DefaultHostExecutionSpace;
using HostMem = Kokkos::HostSpace;
using Exec = Kokkos::DefaultExecutionSpace;
using Mem = Exec::memory_space;

// Whether Exec runs on the host (true for Serial/OpenMP builds).
inline constexpr bool kExecIsHost = std::is_same_v<Exec, HostExec>;
// Whether execution space Space keeps its data in host memory (HostExec, or Serial in an OpenMP
// build): code templated on a space loops there with host_for/host_chunks (kernels/host_loops.hpp)
// and takes the host linalg backend; a device space's loops are Kokkos kernels on it.
template <class Space>
inline constexpr bool kHostSpace = std::is_same_v<typename Space::memory_space, HostMem>;

// [begin, end) on the host execution space.
inline Kokkos::RangePolicy<HostExec> host_range(std::int64_t begin, std::int64_t end) {
  return Kokkos::RangePolicy<HostExec>(begin, end);
}
inline Kokkos::RangePolicy<HostExec> host_range(std::int64_t n) { return host_range(0, n); }
// [begin, end) on the default execution space.
inline Kokkos::RangePolicy<Exec> exec_range(std::int64_t begin, std::int64_t end) { return Kokkos::RangePolicy<Exec>(begin, end); }
inline Kokkos::RangePolicy<Exec> exec_range(std::int64_t n) { return exec_range(0, n); }

}  // namespace saddle::kernels
