// samba/backend/cuda/error.hpp: every CUDA runtime and cuBLAS call is checked; a failure becomes a
// samba::Error that names the call and the library's own message.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "samba/core/error.hpp"

namespace samba::cuda {

/// Throws samba::Error("CUDA: <what> failed: <reason>") unless `status` is cudaSuccess.
inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) fail("CUDA: ", what, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
}

/// Checks the last kernel launch (launch errors are reported by cudaGetLastError).
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

/// Throws samba::Error("cuBLAS: <what> failed: <status>") unless `status` is CUBLAS_STATUS_SUCCESS.
inline void check_blas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("cuBLAS: ", what, " failed: ", cublasGetStatusName(status), " (", cublasGetStatusString(status), ")");
}

/// Number of CUDA devices; 0 where there is no driver or no GPU (never throws).
inline int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

}  // namespace samba::cuda
