// samba/ops/cuda/selective_scan.cuh: Mamba's selective scan on the GPU (SPEC.md "Mamba":
// dt = softplus(dt_raw + bias); h_t = exp(dt*A) h_{t-1} + dt*B*x; y = (C.h + D*x) * silu(z)), for
// prefill and decode alike. One thread per (sequence, channel) keeps that channel's state in
// registers for the whole chunk; B and C, shared by all channels of a token, are staged in shared
// memory a few tokens at a time; the dt softplus, the D skip and the z gate are fused.
#pragma once

#include <cuda_runtime.h>

#include "samba/backend/cuda.hpp"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops {

namespace cuda_kernels {

inline constexpr int scan_threads = 128;      // channels per block
inline constexpr int scan_chunk_tokens = 64;  // tokens whose B and C are staged at once

/// MaxN: the largest state size this instantiation holds in registers; `state` <= MaxN.
/// Rows are stacked sequences (seg); x, dt [T, E]; z rows of stride z_stride; B, C rows of stride
/// bc_stride; dt_bias [E] or null (dt already final); y [T, E] as Y.
template <int MaxN, class Y>
__global__ void selective_scan(const float* __restrict__ x, const float* __restrict__ dt, const float* __restrict__ dt_bias,
                               const float* __restrict__ a, const float* __restrict__ b, const float* __restrict__ c,
                               index_t bc_stride, const float* __restrict__ d, const float* __restrict__ z, index_t z_stride,
                               SegmentTable seg, StatePointers states, Y* __restrict__ y, index_t channels, int state) {
  extern __shared__ float staged[];  // [scan_chunk_tokens, 2 * state]: B then C of each token
  const index_t e = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int p = blockIdx.y;
  const bool active = e < channels;
  float* h = states.at[p];
  float s[MaxN], decay_rate[MaxN];  // h[:, e] and A[:, e]
#pragma unroll
  for (int k = 0; k < MaxN; ++k) {
    s[k] = active && k < state ? h[k * channels + e] : 0.0f;
    decay_rate[k] = active && k < state ? a[k * channels + e] : 0.0f;
  }
  const float skip = active ? d[e] : 0.0f, bias = active && dt_bias ? dt_bias[e] : 0.0f;
  const index_t row0 = seg.row0[p], tokens = seg.rows[p];
  for (index_t t0 = 0; t0 < tokens; t0 += scan_chunk_tokens) {
    const int count = static_cast<int>(tokens - t0 < scan_chunk_tokens ? tokens - t0 : scan_chunk_tokens);
    __syncthreads();  // the previous chunk's B and C are no longer read
    for (int i = threadIdx.x; i < count * 2 * state; i += blockDim.x) {
      const int tt = i / (2 * state), k = i % (2 * state);
      const float* row = (k < state ? b : c) + (row0 + t0 + tt) * bc_stride;
      staged[i] = row[k < state ? k : k - state];
    }
    __syncthreads();
    if (!active) continue;
    for (int tt = 0; tt < count; ++tt) {
      const index_t row = row0 + t0 + tt, at = row * channels + e;
      const float step = dt_bias ? softplus(dt[at] + bias) : dt[at], xv = x[at];
      const float* bt = staged + tt * 2 * state;
      float acc = 0.0f;
#pragma unroll
      for (int k = 0; k < MaxN; ++k) {
        if (k < state) {
          s[k] = expf(step * decay_rate[k]) * s[k] + step * bt[k] * xv;
          acc += s[k] * bt[state + k];
        }
      }
      const float zv = z[row * z_stride + e];
      y[at] = store_as<Y>((acc + skip * xv) * silu(zv));
    }
  }
  if (active) {
#pragma unroll
    for (int k = 0; k < MaxN; ++k)
      if (k < state) h[k * channels + e] = s[k];
  }
}

}  // namespace cuda_kernels

/// The batched scan: see cuda_kernels::selective_scan. d_state in [1, 64].
template <class Y>
void selective_scan(const backend::Cuda& be, const float* x, const float* dt, const float* dt_bias, const float* a, const float* b,
                    const float* c, index_t bc_stride, const float* d, const float* z, index_t z_stride,
                    const cuda_kernels::SegmentTable& seg, const cuda_kernels::StatePointers& states, Y* y, index_t channels,
                    index_t state) {
  require(state >= 1 && state <= 64, "selective_scan (CUDA): d_state ", state, " is outside the supported 1..64");
  if (seg.count == 0 || channels <= 0) return;
  using namespace cuda_kernels;
  const dim3 grid(static_cast<unsigned>((channels + scan_threads - 1) / scan_threads), static_cast<unsigned>(seg.count));
  const dim3 block(scan_threads);
  const std::size_t shared = static_cast<std::size_t>(scan_chunk_tokens) * 2 * static_cast<std::size_t>(state) * sizeof(float);
  const int n = static_cast<int>(state);
  auto launch = [&](auto max_n) {
    cuda_kernels::selective_scan<decltype(max_n)::value, Y><<<grid, block, shared, be.stream()>>>(
        x, dt, dt_bias, a, b, c, bc_stride, d, z, z_stride, seg, states, y, channels, n);
  };
  if (n <= 8) launch(std::integral_constant<int, 8>{});
  else if (n <= 16) launch(std::integral_constant<int, 16>{});
  else launch(std::integral_constant<int, 64>{});
  cuda::check_launch("selective_scan kernel launch");
}

/// One sequence, the scalar selective_scan's contract with every pointer in device memory: x, dt
/// (final), z [T, E]; A [N, E]; B, C rows of stride `bc_stride`; d [E]; h [N, E] in/out; y [T, E].
inline void selective_scan(const backend::Cuda& be, const float* x, const float* dt, const float* a, const float* b,
                           const float* c, index_t bc_stride, const float* d, const float* z, float* h, float* y,
                           index_t tokens, index_t channels, index_t state) {
  require(tokens <= 0x7fffffff, "selective_scan (CUDA): ", tokens, " tokens in one call");
  if (tokens <= 0) return;
  cuda_kernels::SegmentTable seg;
  seg.count = 1, seg.row0[0] = 0, seg.rows[0] = static_cast<int>(tokens), seg.position[0] = 0;
  cuda_kernels::StatePointers states;
  states.at[0] = h;
  selective_scan<float>(be, x, dt, nullptr, a, b, c, bc_stride, d, z, channels, seg, states, y, channels, state);
}

}  // namespace samba::ops
