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
#include "kernels/linalg/host_backend.hpp"

namespace saddle::kernels::linalg {

#if defined(SADDLE_HAVE_CUDA_LIBS)
// Defined in kernels/linalg/cuda_backend.cpp.
const Backend& cuda_backend_for(const void* ptr);
inline const Backend& backend_for(const void* ptr) { return cuda_backend_for(ptr); }
#else
inline const Backend& backend_for(const void*) { return host_backend(); }
#endif

}  // namespace saddle::kernels::linalg
