#pragma once
// Helpers of the tests in tests/cuda: device availability (tests skip without a device) and
// device buffers filled from and read back to host vectors.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace saddle::test {

// Empty when a CUDA device is usable; otherwise why not, for GTEST_SKIP.
inline std::string no_device_reason() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("no CUDA device: cudaGetDeviceCount returned ") + cudaGetErrorString(e);
  }
  if (count == 0) return "no CUDA device: cudaGetDeviceCount returned 0 devices";
  return "";
}

#define SADDLE_SKIP_WITHOUT_DEVICE()                                             \
  do {                                                                           \
    if (const std::string why = ::saddle::test::no_device_reason(); !why.empty()) \
      GTEST_SKIP() << why;                                                       \
  } while (0)

inline void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

// A device copy of a host vector (at least one element, so that empty arrays have a valid pointer).
template <class T>
class DeviceVector {
 public:
  explicit DeviceVector(const std::vector<T>& host) : n_(host.size()) {
    cuda_check(cudaMalloc(reinterpret_cast<void**>(&ptr_), std::max<std::size_t>(n_, 1) * sizeof(T)), "cudaMalloc");
    if (n_) cuda_check(cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  explicit DeviceVector(std::size_t n) : DeviceVector(std::vector<T>(n)) {}
  ~DeviceVector() { cudaFree(ptr_); }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;
  T* get() const { return ptr_; }
  std::vector<T> host() const {
    std::vector<T> out(n_);
    cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    if (n_) cuda_check(cudaMemcpy(out.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return out;
  }

 private:
  T* ptr_ = nullptr;
  std::size_t n_;
};

}  // namespace saddle::test
