#pragma once
// The linalg::Backend of CUDA device memory: cuBLAS (dgemm, sgemm, dgemv) and cuSOLVER (gesvd for
// the thin SVD and for singular values, geqrf + orgqr, Xgeev, getrf + getrs). Every pointer is a
// device pointer; arrays are row-major as in every backend (kernels/linalg/backend.hpp).
//
// Row-major A (m x n) is, read column-major, A' (n x m), so no call needs a transpose except where
// the routine wants A itself: gemm/gemv use C' = B' A' and y = (A')' x; eigenvalues of A' are those
// of A; the SVD of a wide A is that of A' with U and V' swapped. Tall SVDs (gesvd wants rows >=
// columns), QR and the right-hand sides of solve go through cublasDgeam transposes into
// workspaces. Workspaces are allocated per call with cudaMallocAsync on the backend's stream and
// freed with cudaFreeAsync (RAII, also when a call throws).
//
// Ordering: every call is enqueued on the backend's stream. gemm and gemv return without
// synchronising; the factorisations synchronise the stream before returning, since they read
// their device info code back (a failure throws linalg::Error naming the routine and the info or
// status code). A CUDA runtime, cuBLAS or cuSOLVER error throws linalg::Error as well.
//
// Built into saddle_cuda (cmake/SaddleCuda.cmake) by the host C++ compiler; no nvcc.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>

#include <Kokkos_Macros.hpp>  // KOKKOS_ENABLE_CUDA when Kokkos has the CUDA backend

#include <cstdint>

#include "kernels/linalg/backend.hpp"

#if defined(KOKKOS_ENABLE_CUDA)
#include <Kokkos_Core.hpp>
#endif

namespace saddle::kernels::linalg {

class CudaBackend final : public Backend {
 public:
  // Binds cuBLAS and cuSOLVER handles to `stream` (nullptr: the default stream) on the current
  // device.
  explicit CudaBackend(cudaStream_t stream = nullptr);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;
  CudaBackend(CudaBackend&& other) noexcept;
  CudaBackend& operator=(CudaBackend&&) = delete;

  const char* name() const override { return "cuda"; }
  cudaStream_t stream() const { return stream_; }

  void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a,
            std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc) const override;
  void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
            std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) const override;
  void gemv(std::int64_t m, std::int64_t n, double alpha, const double* a, std::int64_t lda, const double* x, double beta,
            double* y) const override;
  void svd(std::int64_t m, std::int64_t n, double* a, double* s, double* u, double* vt) const override;
  void singular_values(std::int64_t m, std::int64_t n, double* a, double* s) const override;
  void qr(std::int64_t m, std::int64_t n, double* a, double* r_out) const override;
  // cusolverDnXgeev (cuSOLVER of CUDA 12.6 or newer); older toolkits throw Error.
  void eigenvalues(std::int64_t n, double* a, double* wr, double* wi) const override;
  void solve(std::int64_t n, std::int64_t nrhs, double* a, double* b) const override;

 private:
  // The gesvd of a column-major rows x cols matrix (rows >= cols), with or without vectors.
  void gesvd(char job, int rows, int cols, double* x, double* s, double* u, int ldu, double* vt, int ldvt) const;
  // out (cols x rows, column-major, leading dimension ldo) = in' (in: rows x cols, leading dimension ldi).
  void transpose(std::int64_t rows, std::int64_t cols, const double* in, std::int64_t ldi, double* out, std::int64_t ldo) const;
  // Waits for the stream and throws Error(routine, info) when the device info code is not 0.
  void check_info(const int* device_info, const char* routine) const;

  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cusolverDnHandle_t solver_ = nullptr;
};

// The backend of the default stream of the current device, created on first use.
const Backend& cuda_default_backend();

#if defined(KOKKOS_ENABLE_CUDA)
// A backend on the stream of a Kokkos::Cuda execution space instance, so that its calls are
// ordered with the instance's kernels.
inline CudaBackend cuda_backend(const Kokkos::Cuda& instance) { return CudaBackend(instance.cuda_stream()); }
#endif

}  // namespace saddle::kernels::linalg
