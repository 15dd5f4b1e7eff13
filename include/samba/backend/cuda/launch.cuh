// samba/backend/cuda/launch.cuh: kernel launches that may overlap the kernel before them
// (programmatic dependent launch, CUDA programming guide "Programmatic Dependent Launch"). A kernel
// launched through cuda::launch may become resident while its predecessor on the stream is still
// running: it may read what no kernel writes (weights) at once, and must call
// wait_for_prior_grids() before it reads or writes anything else. Every kernel of the project
// calls allow_dependent_launch() early, so that its successor can start filling the machine.
// Captured into CUDA graphs as programmatic edges. Compile with nvcc.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "samba/backend/cuda.hpp"

namespace samba::cuda {

/// Waits until the grids this one depends on have completed and their writes are visible (a no-op
/// for a kernel launched without the attribute, and before compute capability 9.0).
__device__ __forceinline__ void wait_for_prior_grids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

/// Lets the next kernel on the stream launch before this one finishes (it still waits for this
/// grid's completion in wait_for_prior_grids).
__device__ __forceinline__ void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

/// kernel<<<grid, block, shared, be.stream()>>>(args...), marked as a dependent launch where the
/// device supports it; throws Error naming `what` when the launch fails.
template <class... Params, class... Args>
void launch(const backend::Cuda& be, void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared, const char* what,
            Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid, config.blockDim = block, config.dynamicSmemBytes = shared, config.stream = be.stream();
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &attribute;
  config.numAttrs = be.dependent_launches() ? 1 : 0;
  check(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...), what);
}

}  // namespace samba::cuda
