// samba/ops/cuda/tma.cuh: Hopper (sm_90a) data movement and synchronization of warp-specialized
// kernels: tensor maps and the tensor memory accelerator's bulk copies into shared memory (PTX ISA
// "cp.async.bulk.tensor"), the shared-memory barriers that count their bytes ("mbarrier",
// expect-tx), named barriers between warpgroups ("bar.sync" / "bar.arrive" with an id) and the
// moving of registers between warpgroups ("setmaxnreg"). The device functions compile only where
// SAMBA_WGMMA_DEVICE_CODE holds; the host's tensor-map encoding anywhere the CUDA runtime is.
#pragma once

#include <cuda.h>  // CUtensorMap and its enums (types only: the driver is reached through the runtime)
#include <cuda_runtime.h>
#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled

#include <cstdint>
#include <mutex>

#include "samba/backend/cuda/error.hpp"
#include "samba/config.hpp"
#include "samba/core/error.hpp"

namespace samba::ops::cuda_kernels::tma {

/// A tensor map of a bf16 array of 3 dimensions (dims[0] the contiguous one; strides in bytes of
/// dims 1 and 2, multiples of 16) read in boxes of box[0] x box[1] x box[2] elements into shared
/// memory with the 128-byte swizzle that wgmma descriptors expect (box[0] * 2 must be 128 bytes at
/// most); elements outside the array read as zero.
inline CUtensorMap bf16_tensor_map_3d(const void* base, const std::uint64_t (&dims)[3], const std::uint64_t (&strides)[2],
                                      const std::uint32_t (&box)[3]) {
  static PFN_cuTensorMapEncodeTiled_v12000 encode = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* entry = nullptr;
    cudaDriverEntryPointQueryResult found{};
    cuda::check(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &entry, 12000, cudaEnableDefault, &found),
                "cudaGetDriverEntryPointByVersion (cuTensorMapEncodeTiled)");
    if (found == cudaDriverEntryPointSuccess) encode = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(entry);
  });
  require(encode != nullptr, "CUDA tensor map: the driver has no cuTensorMapEncodeTiled (CUDA 12 or newer needed)");
  CUtensorMap map;
  const cuuint64_t global_dims[3] = {dims[0], dims[1], dims[2]};
  const cuuint64_t global_strides[2] = {strides[0], strides[1]};
  const cuuint32_t box_dims[3] = {box[0], box[1], box[2]}, element_strides[3] = {1, 1, 1};
  const CUresult status = encode(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, const_cast<void*>(base), global_dims, global_strides, box_dims,
                                 element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                 CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  require(status == CUDA_SUCCESS, "CUDA tensor map: cuTensorMapEncodeTiled failed with CUresult ", static_cast<int>(status),
          " (dims ", dims[0], " x ", dims[1], " x ", dims[2], ", box ", box[0], " x ", box[1], " x ", box[2], ")");
  return map;
}

#if SAMBA_WGMMA_DEVICE_CODE
/// Initializes the barrier at shared address `bar` to expect `arrivals` arrivals a phase.
__device__ __forceinline__ void barrier_init(unsigned bar, unsigned arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(arrivals) : "memory");
}
/// Makes initialized barriers visible to the other threads and to the copy engine (then __syncthreads).
__device__ __forceinline__ void barrier_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }
/// Arrives, and adds `bytes` to the bytes the current phase waits for (the copies' complete_tx).
__device__ __forceinline__ void barrier_arrive_expect(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void barrier_arrive(unsigned bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
/// Waits until the phase of parity `parity` of the barrier has completed.
__device__ __forceinline__ void barrier_wait(unsigned bar, unsigned parity) {
  unsigned done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

/// Copies the box at element coordinates (c0, c1, c2) of `map` to shared address `dst` (1024-byte
/// aligned for the swizzle); its bytes complete a transaction of barrier `bar`.
__device__ __forceinline__ void load_box(unsigned dst, const CUtensorMap& map, unsigned bar, int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n" ::"r"(dst),
      "l"(reinterpret_cast<std::uint64_t>(&map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}

/// Named barrier `id` (1..15; 0 is __syncthreads) of `Threads` threads: wait there, or only count in.
template <int Threads>
__device__ __forceinline__ void named_sync(int id) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "n"(Threads) : "memory");
}
template <int Threads>
__device__ __forceinline__ void named_arrive(int id) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "n"(Threads) : "memory");
}

/// bar.arrive where `arrive` holds, as a predicated instruction: no branch (which could sit between
/// a wgmma and its wait).
template <int Threads>
__device__ __forceinline__ void named_arrive_if(bool arrive, int id) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %2, 0;\n@p bar.arrive %0, %1;\n}\n" ::"r"(id), "n"(Threads), "r"(static_cast<int>(arrive))
               : "memory");
}

/// Gives up registers to (dec) or takes them from (inc) the other warpgroups: a warpgroup's threads
/// then hold `Registers` each (a multiple of 8 in [24, 256]).
template <int Registers>
__device__ __forceinline__ void registers_decrease() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(Registers));
}
template <int Registers>
__device__ __forceinline__ void registers_increase() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(Registers));
}
#endif  // SAMBA_WGMMA_DEVICE_CODE

}  // namespace samba::ops::cuda_kernels::tma
