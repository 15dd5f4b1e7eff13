// cli/cuda_support.hpp: the CUDA models the tool runs (with -DSAMBA_ENABLE_CUDA=ON), instantiated
// and compiled by nvcc in model_instance_cuda.cu, and the GPU ceilings `samba bench --calibrate`
// reports against.
#pragma once

#include <samba/config.hpp>

#if SAMBA_HAVE_CUDA
#include <samba/model/cuda/model.hpp>

namespace samba::cli {

using CudaModel = DynamicModel<backend::Cuda, float>;
using CudaBf16Model = DynamicModel<backend::Cuda, bf16>;

/// The GPU's read bandwidth (bytes/s) and cuBLAS's rate (FLOP/s) for the weight type `dtype` (f32 or bf16).
struct GpuCeilings {
  double read_bytes_per_s;
  double gemm_flops_per_s;
};
GpuCeilings measure_gpu_ceilings(const backend::Cuda& be, const std::string& dtype);

}  // namespace samba::cli

extern template class samba::Model<samba::ModelShape{}, samba::backend::Cuda, float>;
extern template class samba::Model<samba::ModelShape{}, samba::backend::Cuda, samba::bf16>;
#endif
