// samba/backend/cuda.hpp: the CUDA backend policy (work in progress, issue 5): kernels run on one
// GPU on the policy's stream. Ops that have a CUDA version take device pointers.
#pragma once

#include <cuda_runtime.h>

#include "samba/backend/cuda/error.hpp"

namespace samba::backend {

class Cuda {
 public:
  /// Uses `device` and the default stream.
  explicit Cuda(int device = 0) : device_(device) { cuda::check(cudaSetDevice(device_), "cudaSetDevice"); }
  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
};

}  // namespace samba::backend
