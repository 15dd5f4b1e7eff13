// cli/model_instance_cuda.cu: the tool's CUDA model types, instantiated once (nvcc compiles their
// kernels here; the commands see only model.hpp's declarations), and the GPU ceilings.
#include <samba/cuda.cuh>
#include <samba/perf/cuda_roofline.cuh>

#include "cuda_support.hpp"

template class samba::Model<samba::ModelShape{}, samba::backend::Cuda, float>;
template class samba::Model<samba::ModelShape{}, samba::backend::Cuda, samba::bf16>;

namespace samba::cli {

GpuCeilings measure_gpu_ceilings(const backend::Cuda& be, const std::string& dtype) {
  const double bandwidth = perf::device_read_bandwidth(be);
  const double gemm = dtype == "bf16" ? perf::gemm_rate<bf16>(be) : perf::gemm_rate<float>(be);
  return {bandwidth, gemm};
}

}  // namespace samba::cli
