// kernels/linalg/cuda_backend.hpp: cuBLAS and cuSOLVER on row-major device arrays.
#include "kernels/linalg/cuda_backend.hpp"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "kernels/linalg/host_backend.hpp"
#include "kernels/linalg/select.hpp"

namespace saddle::kernels::linalg {

namespace {

void check_cuda(cudaError_t e, const char* routine) {
  if (e != cudaSuccess) throw Error(std::string(routine) + " (" + cudaGetErrorString(e) + ")", static_cast<int>(e));
}
void check_blas(cublasStatus_t s, const char* routine) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(std::string(routine) + " (cuBLAS status " + cublasGetStatusString(s) + ")", static_cast<int>(s));
}
void check_solver(cusolverStatus_t s, const char* routine) {
  if (s != CUSOLVER_STATUS_SUCCESS) throw Error(std::string(routine) + " (cuSOLVER status)", static_cast<int>(s));
}

// cuBLAS and the legacy cuSOLVER API take int dimensions.
int to_int(std::int64_t v, const char* routine) {
  if (v < 0 || v > INT_MAX) throw Error(std::string(routine) + " (dimension " + std::to_string(v) + " outside int)", -1);
  return static_cast<int>(v);
}
int ld(std::int64_t v, const char* routine) { return to_int(std::max<std::int64_t>(v, 1), routine); }

// Device memory of one call, allocated and freed on the backend's stream.
class Workspace {
 public:
  Workspace(std::size_t bytes, cudaStream_t stream) : stream_(stream) {
    if (bytes > 0) check_cuda(cudaMallocAsync(&ptr_, bytes, stream_), "cudaMallocAsync");
  }
  ~Workspace() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

template <class T>
Workspace device_array(std::int64_t count, cudaStream_t stream) {
  return Workspace(static_cast<std::size_t>(std::max<std::int64_t>(count, 1)) * sizeof(T), stream);
}

cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

CudaBackend::CudaBackend(cudaStream_t stream) : stream_(stream) {
  check_blas(cublasCreate(&blas_), "cublasCreate");
  if (const cublasStatus_t s = cublasSetStream(blas_, stream_); s != CUBLAS_STATUS_SUCCESS) {
    cublasDestroy(blas_);
    check_blas(s, "cublasSetStream");
  }
  if (const cusolverStatus_t s = cusolverDnCreate(&solver_); s != CUSOLVER_STATUS_SUCCESS) {
    cublasDestroy(blas_);
    check_solver(s, "cusolverDnCreate");
  }
  if (const cusolverStatus_t s = cusolverDnSetStream(solver_, stream_); s != CUSOLVER_STATUS_SUCCESS) {
    cusolverDnDestroy(solver_);
    cublasDestroy(blas_);
    check_solver(s, "cusolverDnSetStream");
  }
}

CudaBackend::CudaBackend(CudaBackend&& other) noexcept
    : stream_(other.stream_), blas_(std::exchange(other.blas_, nullptr)), solver_(std::exchange(other.solver_, nullptr)) {}

CudaBackend::~CudaBackend() {
  if (solver_) cusolverDnDestroy(solver_);
  if (blas_) cublasDestroy(blas_);
}

void CudaBackend::check_info(const int* device_info, const char* routine) const {
  int info = 0;
  check_cuda(cudaMemcpyAsync(&info, device_info, sizeof info, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  if (info != 0) throw Error(routine, info);
}

void CudaBackend::transpose(std::int64_t rows, std::int64_t cols, const double* in, std::int64_t ldi, double* out,
                            std::int64_t ldo) const {
  const double one = 1.0, zero = 0.0;
  // C = 1 * A' + 0 * B with B = C (cuBLAS's in-place form; B is not read when beta is 0).
  check_blas(cublasDgeam(blas_, CUBLAS_OP_T, CUBLAS_OP_N, to_int(cols, "cublasDgeam"), to_int(rows, "cublasDgeam"), &one, in,
                         ld(ldi, "cublasDgeam"), &zero, out, ld(ldo, "cublasDgeam"), out, ld(ldo, "cublasDgeam")),
             "cublasDgeam");
}

// --- BLAS ------------------------------------------------------------------------------------
// Row-major C = op(A) op(B) is column-major C' = op(B)' op(A)': swap the operands and m, n.
void CudaBackend::gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a,
                       std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc) const {
  if (m == 0 || n == 0) return;
  const char* r = "cublasDgemm";
  check_blas(cublasDgemm(blas_, op(tb), op(ta), to_int(n, r), to_int(m, r), to_int(k, r), &alpha, b, ld(ldb, r), a, ld(lda, r),
                         &beta, c, ld(ldc, r)),
             r);
}

void CudaBackend::gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
                       std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) const {
  if (m == 0 || n == 0) return;
  const char* r = "cublasSgemm";
  check_blas(cublasSgemm(blas_, op(tb), op(ta), to_int(n, r), to_int(m, r), to_int(k, r), &alpha, b, ld(ldb, r), a, ld(lda, r),
                         &beta, c, ld(ldc, r)),
             r);
}

// Row-major A (m x n) is column-major A' (n x m): y = (A')' x.
void CudaBackend::gemv(std::int64_t m, std::int64_t n, double alpha, const double* a, std::int64_t lda, const double* x,
                       double beta, double* y) const {
  if (m == 0) return;
  const char* r = "cublasDgemv";
  check_blas(cublasDgemv(blas_, CUBLAS_OP_T, to_int(n, r), to_int(m, r), &alpha, a, ld(lda, r), x, 1, &beta, y, 1), r);
}

// --- SVD -------------------------------------------------------------------------------------
void CudaBackend::gesvd(char job, int rows, int cols, double* x, double* s, double* u, int ldu, double* vt, int ldvt) const {
  int lwork = 0;
  check_solver(cusolverDnDgesvd_bufferSize(solver_, rows, cols, &lwork), "cusolverDnDgesvd_bufferSize");
  Workspace work = device_array<double>(lwork, stream_);
  Workspace rwork = device_array<double>(cols, stream_);  // unconverged superdiagonal (min(rows, cols) - 1)
  Workspace info = device_array<int>(1, stream_);
  check_solver(cusolverDnDgesvd(solver_, job, job, rows, cols, x, rows, s, u, std::max(ldu, 1), vt, std::max(ldvt, 1),
                                work.as<double>(), lwork, rwork.as<double>(), info.as<int>()),
               "cusolverDnDgesvd");
  check_info(info.as<int>(), "cusolverDnDgesvd");
}

// gesvd wants a column-major matrix with rows >= columns. Row-major A (m x n) is column-major
// X = A' (n x m). Wide A (n >= m): X = U_x S VT_x gives A = VT_x' S U_x', and VT_x (m x m,
// column-major) is row-major U_A, U_x (n x m, column-major) row-major Vt_A: no copies. Tall A
// (m > n): the SVD of Y = A (column-major m x n, a transpose of X), whose U_y and VT_y are
// transposed back into row-major u and vt.
void CudaBackend::svd(std::int64_t m, std::int64_t n, double* a, double* s, double* u, double* vt) const {
  const std::int64_t r = std::min(m, n);
  if (r == 0) return;
  const char* routine = "cusolverDnDgesvd";
  if (n >= m) {
    gesvd('S', to_int(n, routine), to_int(m, routine), a, s, vt, to_int(n, routine), u, to_int(m, routine));
    return;
  }
  Workspace y = device_array<double>(m * n, stream_), uy = device_array<double>(m * n, stream_),
            vty = device_array<double>(n * n, stream_);
  transpose(n, m, a, n, y.as<double>(), m);
  gesvd('S', to_int(m, routine), to_int(n, routine), y.as<double>(), s, uy.as<double>(), to_int(m, routine), vty.as<double>(),
        to_int(n, routine));
  transpose(m, n, uy.as<double>(), m, u, n);   // u row-major m x n = column-major n x m = U_y'
  transpose(n, n, vty.as<double>(), n, vt, n);  // vt row-major n x n = VT_y
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

void CudaBackend::singular_values(std::int64_t m, std::int64_t n, double* a, double* s) const {
  const std::int64_t r = std::min(m, n);
  if (r == 0) return;
  const char* routine = "cusolverDnDgesvd";
  if (n >= m) {
    gesvd('N', to_int(n, routine), to_int(m, routine), a, s, nullptr, to_int(n, routine), nullptr, to_int(m, routine));
    return;
  }
  Workspace y = device_array<double>(m * n, stream_);
  transpose(n, m, a, n, y.as<double>(), m);
  gesvd('N', to_int(m, routine), to_int(n, routine), y.as<double>(), s, nullptr, to_int(m, routine), nullptr, to_int(n, routine));
}

// --- QR --------------------------------------------------------------------------------------
// geqrf and orgqr work on Y = A column-major (m x n), a transpose of the row-major input; R is
// copied row by row out of the transposed factors (its strictly lower part zero), Q transposed
// back into a as row-major m x r.
void CudaBackend::qr(std::int64_t m, std::int64_t n, double* a, double* r_out) const {
  const std::int64_t r = std::min(m, n);
  if (r == 0) return;
  const int M = to_int(m, "cusolverDnDgeqrf"), N = to_int(n, "cusolverDnDgeqrf"), R = static_cast<int>(r);
  Workspace y = device_array<double>(m * n, stream_), tau = device_array<double>(r, stream_), info = device_array<int>(1, stream_);
  transpose(n, m, a, n, y.as<double>(), m);
  int lwork = 0;
  check_solver(cusolverDnDgeqrf_bufferSize(solver_, M, N, y.as<double>(), M, &lwork), "cusolverDnDgeqrf_bufferSize");
  {
    Workspace work = device_array<double>(lwork, stream_);
    check_solver(cusolverDnDgeqrf(solver_, M, N, y.as<double>(), M, tau.as<double>(), work.as<double>(), lwork, info.as<int>()),
                 "cusolverDnDgeqrf");
    check_info(info.as<int>(), "cusolverDnDgeqrf");
  }
  if (r_out) {
    // The top r rows of Y as row-major r x n (column-major n x r, leading dimension n), then row
    // i of R = its entries i..n-1, the rest zero.
    Workspace top = device_array<double>(r * n, stream_);
    transpose(r, n, y.as<double>(), m, top.as<double>(), n);
    check_cuda(cudaMemsetAsync(r_out, 0, static_cast<std::size_t>(r * n) * sizeof(double), stream_), "cudaMemsetAsync");
    for (std::int64_t i = 0; i < r; ++i)
      check_cuda(cudaMemcpyAsync(r_out + i * n + i, top.as<double>() + i * n + i, static_cast<std::size_t>(n - i) * sizeof(double),
                                 cudaMemcpyDeviceToDevice, stream_),
                 "cudaMemcpyAsync");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }
  check_solver(cusolverDnDorgqr_bufferSize(solver_, M, R, R, y.as<double>(), M, tau.as<double>(), &lwork),
               "cusolverDnDorgqr_bufferSize");
  Workspace work = device_array<double>(lwork, stream_);
  check_solver(cusolverDnDorgqr(solver_, M, R, R, y.as<double>(), M, tau.as<double>(), work.as<double>(), lwork, info.as<int>()),
               "cusolverDnDorgqr");
  check_info(info.as<int>(), "cusolverDnDorgqr");
  transpose(m, r, y.as<double>(), m, a, r);  // a row-major m x r = column-major r x m = Q'
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

// --- eigenvalues -----------------------------------------------------------------------------
// Row-major A is column-major A', whose eigenvalues are A's: Xgeev runs on a as it is. W is
// complex (interleaved re, im) and is split into wr and wi by strided copies.
// cusolverDnXgeev first shipped with cuSOLVER 11.6.3 (CUDA 12.6).
#if defined(CUSOLVER_VERSION) && CUSOLVER_VERSION >= 11603
#define SADDLE_HAVE_XGEEV 1
#else
#define SADDLE_HAVE_XGEEV 0
#endif

void CudaBackend::eigenvalues(std::int64_t n, double* a, double* wr, double* wi) const {
  if (n == 0) return;
#if SADDLE_HAVE_XGEEV
  cusolverDnParams_t params = nullptr;
  check_solver(cusolverDnCreateParams(&params), "cusolverDnCreateParams");
  struct ParamsGuard {
    cusolverDnParams_t p;
    ~ParamsGuard() { cusolverDnDestroyParams(p); }
  } guard{params};
  Workspace w = device_array<double>(2 * n, stream_), info = device_array<int>(1, stream_);
  std::size_t device_bytes = 0, host_bytes = 0;
  check_solver(cusolverDnXgeev_bufferSize(solver_, params, CUSOLVER_EIG_MODE_NOVECTOR, CUSOLVER_EIG_MODE_NOVECTOR, n, CUDA_R_64F,
                                          a, n, CUDA_C_64F, w.as<void>(), CUDA_R_64F, nullptr, 1, CUDA_R_64F, nullptr, 1,
                                          CUDA_R_64F, &device_bytes, &host_bytes),
               "cusolverDnXgeev_bufferSize");
  Workspace device_work(device_bytes, stream_);
  std::vector<char> host_work(std::max<std::size_t>(host_bytes, 1));
  check_solver(cusolverDnXgeev(solver_, params, CUSOLVER_EIG_MODE_NOVECTOR, CUSOLVER_EIG_MODE_NOVECTOR, n, CUDA_R_64F, a, n,
                               CUDA_C_64F, w.as<void>(), CUDA_R_64F, nullptr, 1, CUDA_R_64F, nullptr, 1, CUDA_R_64F,
                               device_work.as<void>(), device_bytes, host_work.data(), host_bytes, info.as<int>()),
               "cusolverDnXgeev");
  check_info(info.as<int>(), "cusolverDnXgeev");
  const int N = to_int(n, "cublasDcopy");
  check_blas(cublasDcopy(blas_, N, w.as<double>(), 2, wr, 1), "cublasDcopy");
  check_blas(cublasDcopy(blas_, N, w.as<double>() + 1, 2, wi, 1), "cublasDcopy");
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
#else
  (void)a;
  (void)wr;
  (void)wi;
  throw Error("cusolverDnXgeev (not in this cuSOLVER " + std::to_string(CUSOLVER_VER_MAJOR) + "." +
                  std::to_string(CUSOLVER_VER_MINOR) + "; the eigenvalues need CUDA 12.6 or newer)",
              -1);
#endif
}

// --- solve -----------------------------------------------------------------------------------
// Row-major A is column-major A': getrf factors A', getrs solves (A')' X = B. Row-major B (n x
// nrhs) is transposed into column-major form and back (not needed for one right-hand side).
void CudaBackend::solve(std::int64_t n, std::int64_t nrhs, double* a, double* b) const {
  if (n == 0 || nrhs == 0) return;
  const int N = to_int(n, "cusolverDnDgetrf"), NRHS = to_int(nrhs, "cusolverDnDgetrs");
  Workspace piv = device_array<int>(n, stream_), info = device_array<int>(1, stream_);
  int lwork = 0;
  check_solver(cusolverDnDgetrf_bufferSize(solver_, N, N, a, N, &lwork), "cusolverDnDgetrf_bufferSize");
  {
    Workspace work = device_array<double>(lwork, stream_);
    check_solver(cusolverDnDgetrf(solver_, N, N, a, N, work.as<double>(), piv.as<int>(), info.as<int>()), "cusolverDnDgetrf");
    check_info(info.as<int>(), "cusolverDnDgetrf");
  }
  if (nrhs == 1) {
    check_solver(cusolverDnDgetrs(solver_, CUBLAS_OP_T, N, 1, a, N, piv.as<int>(), b, N, info.as<int>()), "cusolverDnDgetrs");
    check_info(info.as<int>(), "cusolverDnDgetrs");
    return;
  }
  Workspace x = device_array<double>(n * nrhs, stream_);
  transpose(nrhs, n, b, nrhs, x.as<double>(), n);  // column-major n x nrhs
  check_solver(cusolverDnDgetrs(solver_, CUBLAS_OP_T, N, NRHS, a, N, piv.as<int>(), x.as<double>(), N, info.as<int>()),
               "cusolverDnDgetrs");
  check_info(info.as<int>(), "cusolverDnDgetrs");
  transpose(n, nrhs, x.as<double>(), n, b, nrhs);
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

// --- selection -------------------------------------------------------------------------------
const Backend& cuda_default_backend() {
  static const CudaBackend backend;
  return backend;
}

const Backend& cuda_backend_for(const void* ptr) {
  if (!ptr) return host_backend();
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error (no device, no driver, unknown pointer)
    return host_backend();
  }
  if (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged) return cuda_default_backend();
  return host_backend();
}

}  // namespace saddle::kernels::linalg
