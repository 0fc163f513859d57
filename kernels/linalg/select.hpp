#pragma once
// backend_for(ptr): the linalg::Backend for memory at `ptr`. In a program linked with saddle_cuda
// (SADDLE_HAVE_CUDA_LIBS; cmake/SaddleCuda.cmake) it asks the CUDA runtime where `ptr` lives
// (cudaPointerGetAttributes): device or managed memory gets the CUDA backend of the default
// stream (kernels/linalg/cuda_backend.hpp), anything else - host memory, nullptr, a pointer the
// runtime does not know, or no CUDA device or driver at all - host_backend(). Without
// saddle_cuda it is always host_backend(). Pass the first array of the call; every array of one
// call must live in the same memory space.
//
// Code that knows its memory space statically (a Kokkos view's memory_space) should pick the
// backend itself, and a CUDA backend bound to its execution space's stream (cuda_backend(instance)),
// rather than pay a runtime query per call.
#include <type_traits>

#include "kernels/linalg/host_backend.hpp"
#include "kernels/spaces.hpp"

#if defined(SADDLE_HAVE_CUDA_LIBS) && defined(KOKKOS_ENABLE_CUDA)
#include "kernels/linalg/cuda_backend.hpp"
#endif

namespace saddle::kernels::linalg {

#if defined(SADDLE_HAVE_CUDA_LIBS)
// Defined in kernels/linalg/cuda_backend.cpp.
const Backend& cuda_backend_for(const void* ptr);
inline const Backend& backend_for(const void* ptr) { return cuda_backend_for(ptr); }
#else
inline const Backend& backend_for(const void*) { return host_backend(); }
#endif

// Whether Exec has a backend (backend_of_space<Exec>() compiles): a host Exec, or a CUDA Kokkos
// with the CUDA libraries (always so in a build CMake accepts; cmake/SaddleCuda.cmake).
#if defined(SADDLE_HAVE_CUDA_LIBS) && defined(KOKKOS_ENABLE_CUDA)
inline constexpr bool kExecHasBackend = kExecIsHost || std::is_same_v<Exec, Kokkos::Cuda>;
#else
inline constexpr bool kExecHasBackend = kExecIsHost;
#endif

// The backend of the memory of execution space Space, known statically: host_backend() for a
// host space (kHostSpace); for Kokkos::Cuda (a CUDA Kokkos with saddle_cuda linked) a
// CudaBackend on the stream of Space's default instance, created on first use, so that its
// products are ordered with the kernels launched on that instance.
template <class Space>
const Backend& backend_of_space() {
  if constexpr (kHostSpace<Space>) {
    return host_backend();
  } else {
#if defined(SADDLE_HAVE_CUDA_LIBS) && defined(KOKKOS_ENABLE_CUDA)
    static_assert(std::is_same_v<Space, Kokkos::Cuda>, "backend_of_space: device spaces other than CUDA have no linalg backend");
    static const CudaBackend backend = cuda_backend(Space());
    return backend;
#else
    static_assert(sizeof(Space) == 0, "backend_of_space: a device space needs the CUDA libraries (saddle_cuda, SADDLE_ENABLE_CUDA)");
#endif
  }
}

}  // namespace saddle::kernels::linalg
