// samba/backend/cuda.hpp: the CUDA backend policy: kernels run on one GPU, on the policy's own
// stream, and matrix products go through cuBLAS on that stream. Copies of a policy share the
// stream and the cuBLAS handle. Ops that have a CUDA version take device pointers.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "samba/backend/cuda/error.hpp"

namespace samba::backend {

class Cuda {
 public:
  static constexpr const char* name = "cuda";

  /// Uses GPU `device`, a new stream on it and a cuBLAS handle bound to that stream.
  explicit Cuda(int device = 0) : context_(std::make_shared<Context>(device)) {}

  int device() const { return context_->device; }
  cudaStream_t stream() const { return context_->stream; }
  cublasHandle_t blas() const { return context_->blas; }
  /// Streaming multiprocessors of the device (read once; launch sizes use it).
  int multiprocessors() const { return context_->multiprocessors; }
  /// Compute capability of the device, major * 10 + minor (90 for H100/H200).
  int compute_capability() const { return context_->compute_capability; }
  /// Whether kernels launched through cuda::launch may start while the kernel before them drains
  /// (programmatic dependent launch, compute capability 9.0 and later); each such kernel waits for
  /// its predecessor's results with cuda::wait_for_prior_grids() before reading them.
  bool dependent_launches() const { return context_->compute_capability >= 90; }
  int threads() const { return 1; }  // host threads the policy uses (CLI reports)

  /// Waits for the work queued on the stream; throws Error naming the failure of any of it.
  void synchronize() const { cuda::check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize"); }

 private:
  struct Context {
    explicit Context(int d) : device(d) {
      require(d >= 0 && d < cuda::device_count(), "CUDA: device ", d, " does not exist (", cuda::device_count(),
              " CUDA device(s) visible)");
      cuda::check(cudaSetDevice(device), "cudaSetDevice");
      cuda::check(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
      int major = 0, minor = 0;
      cuda::check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "cudaDeviceGetAttribute");
      cuda::check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), "cudaDeviceGetAttribute");
      compute_capability = 10 * major + minor;
      cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
      if (const cublasStatus_t s = cublasCreate(&blas); s != CUBLAS_STATUS_SUCCESS) {
        cudaStreamDestroy(stream);
        cuda::check_blas(s, "cublasCreate");
      }
      cuda::check_blas(cublasSetStream(blas, stream), "cublasSetStream");
      // float32 products stay exact float32 (no TF32): CUBLAS_DEFAULT_MATH, set explicitly.
      cuda::check_blas(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
      // A workspace of its own, so that cuBLAS allocates nothing while a decode step is captured
      // into a CUDA graph (32 MiB, NVIDIA's recommendation for Hopper).
      cuda::check(cudaMalloc(&workspace, workspace_bytes), "cudaMalloc (cuBLAS workspace)");
      cuda::check_blas(cublasSetWorkspace(blas, workspace, workspace_bytes), "cublasSetWorkspace");
    }
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
    ~Context() {
      cublasDestroy(blas);
      cudaFree(workspace);
      cudaStreamDestroy(stream);
    }
    static constexpr std::size_t workspace_bytes = std::size_t{32} << 20;
    int device;
    int multiprocessors = 0;
    int compute_capability = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    void* workspace = nullptr;
  };
  std::shared_ptr<Context> context_;
};

}  // namespace samba::backend
