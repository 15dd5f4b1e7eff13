// samba/ops/cuda/selective_scan.cuh: Mamba's selective scan on the GPU (SPEC.md "Mamba":
// h_t = exp(dt*A) h_{t-1} + dt*B*x; y = (C.h + D*x) * silu(z)), for prefill and decode alike.
// One thread per channel keeps that channel's state in registers for the whole sequence; B and C,
// shared by all channels of a token, are staged in shared memory a chunk of tokens at a time;
// z-gating and the D skip are fused into the same pass.
#pragma once

#include <cuda_runtime.h>

#include "samba/backend/cuda.hpp"
#include "samba/core/types.hpp"

namespace samba::ops {

namespace cuda_kernels {

inline constexpr int scan_threads = 128;      // channels per block
inline constexpr int scan_chunk_tokens = 64;  // tokens whose B and C are staged at once

/// MaxN: the largest state size this instantiation holds in registers; `state` <= MaxN.
template <int MaxN>
__global__ void selective_scan(const float* __restrict__ x, const float* __restrict__ dt, const float* __restrict__ a,
                               const float* __restrict__ b, const float* __restrict__ c, index_t bc_stride,
                               const float* __restrict__ d, const float* __restrict__ z, float* __restrict__ h,
                               float* __restrict__ y, index_t tokens, index_t channels, int state) {
  extern __shared__ float staged[];  // [scan_chunk_tokens, 2 * state]: B then C of each token
  const index_t e = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool active = e < channels;
  float s[MaxN], decay_rate[MaxN];  // h[:, e] and A[:, e]
#pragma unroll
  for (int k = 0; k < MaxN; ++k) {
    s[k] = active && k < state ? h[k * channels + e] : 0.0f;
    decay_rate[k] = active && k < state ? a[k * channels + e] : 0.0f;
  }
  const float skip = active ? d[e] : 0.0f;
  for (index_t t0 = 0; t0 < tokens; t0 += scan_chunk_tokens) {
    const int count = static_cast<int>(tokens - t0 < scan_chunk_tokens ? tokens - t0 : scan_chunk_tokens);
    __syncthreads();  // the previous chunk's B and C are no longer read
    for (int i = threadIdx.x; i < count * 2 * state; i += blockDim.x) {
      const int tt = i / (2 * state), k = i % (2 * state);
      const float* row = (k < state ? b : c) + (t0 + tt) * bc_stride;
      staged[i] = row[k < state ? k : k - state];
    }
    __syncthreads();
    if (!active) continue;
    for (int tt = 0; tt < count; ++tt) {
      const index_t at = (t0 + tt) * channels + e;
      const float step = dt[at], xv = x[at];
      const float* bt = staged + tt * 2 * state;
      float acc = 0.0f;
#pragma unroll
      for (int k = 0; k < MaxN; ++k) {
        if (k < state) {
          s[k] = expf(step * decay_rate[k]) * s[k] + step * bt[k] * xv;
          acc += s[k] * bt[state + k];
        }
      }
      const float zv = z[at];
      y[at] = (acc + skip * xv) * (zv / (1.0f + expf(-zv)));
    }
  }
  if (active) {
#pragma unroll
    for (int k = 0; k < MaxN; ++k)
      if (k < state) h[k * channels + e] = s[k];
  }
}

}  // namespace cuda_kernels

/// Same contract as the scalar selective_scan, with every pointer in device memory: x, dt, z
/// [T, E]; A [N, E]; B, C rows of stride `bc_stride`; d [E]; h [N, E] in/out; y [T, E].
inline void selective_scan(const backend::Cuda& be, const float* x, const float* dt, const float* a, const float* b,
                           const float* c, index_t bc_stride, const float* d, const float* z, float* h, float* y,
                           index_t tokens, index_t channels, index_t state) {
  require(state >= 1 && state <= 64, "selective_scan (CUDA): d_state ", state, " is outside the supported 1..64");
  if (tokens <= 0 || channels <= 0) return;
  using namespace cuda_kernels;
  const dim3 grid(static_cast<unsigned>((channels + scan_threads - 1) / scan_threads)), block(scan_threads);
  const std::size_t shared = static_cast<std::size_t>(scan_chunk_tokens) * 2 * static_cast<std::size_t>(state) * sizeof(float);
  const int n = static_cast<int>(state);
  if (n <= 8)
    cuda_kernels::selective_scan<8><<<grid, block, shared, be.stream()>>>(x, dt, a, b, c, bc_stride, d, z, h, y, tokens, channels, n);
  else if (n <= 16)
    cuda_kernels::selective_scan<16><<<grid, block, shared, be.stream()>>>(x, dt, a, b, c, bc_stride, d, z, h, y, tokens, channels, n);
  else
    cuda_kernels::selective_scan<64><<<grid, block, shared, be.stream()>>>(x, dt, a, b, c, bc_stride, d, z, h, y, tokens, channels, n);
  cuda::check_launch("selective_scan kernel launch");
}

}  // namespace samba::ops
