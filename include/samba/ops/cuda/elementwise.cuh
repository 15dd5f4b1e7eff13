// samba/ops/cuda/elementwise.cuh: the row-wise and element-wise kernels of a forward pass on the
// GPU: embedding gather, residual add fused with RMSNorm (SPEC.md "RMSNorm"), SwiGLU's
// silu(gate) * up (SPEC.md "SwiGLU MLP") and the float32 -> matrix-input casts. A is the type
// matrix products read (float or bf16); the residual stream stays float32.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/launch.cuh"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops {

namespace cuda_kernels {

/// x[t, :] = table[tokens[t], :] as float32 (the token embedding, SPEC.md "Block structure").
template <class W>
__global__ void embed_rows(const W* __restrict__ table, const int* __restrict__ tokens, float* __restrict__ x, index_t dim) {
  cuda::allow_dependent_launch();
  const index_t t = blockIdx.x;
  const W* row = table + static_cast<index_t>(tokens[t]) * dim;
  for (index_t i = threadIdx.x; i < dim; i += blockDim.x) x[t * dim + i] = load_float(row[i]);
}

/// Copies a chunk's token ids and sequence positions from mapped pinned host memory into device
/// memory: a kernel rather than a memcpy, so that a captured CUDA graph holds no node bound to the
/// host allocation.
__global__ void stage_inputs(const int* __restrict__ host_tokens, int* __restrict__ tokens, int count, const long long* __restrict__ host_positions,
                             long long* __restrict__ positions, int sequences) {
  for (int i = threadIdx.x; i < count; i += blockDim.x) tokens[i] = host_tokens[i];
  for (int i = threadIdx.x; i < sequences; i += blockDim.x) positions[i] = host_positions[i];
}

/// Sum over the block; every thread gets the total. `scratch` holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();  // scratch may still be read from a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/// One row per block: x += y (when y is given), normed = x * rsqrt(mean(x^2) + eps) * w.
template <class A>
__global__ void add_rmsnorm(float* __restrict__ x, const float* __restrict__ y, const float* __restrict__ w,
                            A* __restrict__ normed, index_t dim, float eps) {
  __shared__ float scratch[32];
  const index_t t = blockIdx.x;
  float* xt = x + t * dim;
  float sum_sq = 0.0f;
  for (index_t i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = xt[i];
    if (y) xt[i] = v = v + y[t * dim + i];
    sum_sq += v * v;
  }
  const float inv_rms = rsqrtf(block_sum(sum_sq, scratch) / static_cast<float>(dim) + eps);
  for (index_t i = threadIdx.x; i < dim; i += blockDim.x) normed[t * dim + i] = store_as<A>(xt[i] * inv_rms * w[i]);
}

/// x += y over n floats.
__global__ void add_inplace(float* __restrict__ x, const float* __restrict__ y, index_t n) {
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<index_t>(gridDim.x) * blockDim.x)
    x[i] += y[i];
}

/// gate_up [T, 2I], gate and up interleaved (column 2j is gate j, 2j + 1 up j) -> out [T, I] =
/// silu(gate) * up; grid (column blocks, rows).
template <class A>
__global__ void silu_mul(const float* __restrict__ gate_up, A* __restrict__ out, index_t hidden) {
  const index_t t = blockIdx.y;
  const float2* row = reinterpret_cast<const float2*>(gate_up + t * 2 * hidden);
  for (index_t j = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < hidden; j += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const float2 gu = row[j];
    out[t * hidden + j] = store_as<A>(silu(gu.x) * gu.y);
  }
}

/// dst [rows, cols] (contiguous) = src rows of stride `src_stride`, converted to A.
template <class A>
__global__ void cast_rows(const float* __restrict__ src, index_t src_stride, A* __restrict__ dst, index_t rows, index_t cols) {
  const index_t n = rows * cols;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<index_t>(gridDim.x) * blockDim.x)
    dst[i] = store_as<A>(src[(i / cols) * src_stride + i % cols]);
}

inline unsigned grid_for(index_t n, int threads) {
  const index_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 4096 ? (blocks > 0 ? blocks : 1) : 4096);
}

}  // namespace cuda_kernels

/// x [T, D] = rows of `table` [V, D] picked by tokens [T] (device ids, already validated).
template <class W>
void embed_rows(const backend::Cuda& be, const W* table, const int* tokens, float* x, index_t tokens_count, index_t dim) {
  if (tokens_count <= 0) return;
  cuda_kernels::embed_rows<<<static_cast<unsigned>(tokens_count), 256, 0, be.stream()>>>(table, tokens, x, dim);
  cuda::check_launch("embed_rows kernel launch");
}

/// tokens [count] and positions [sequences] in device memory from mapped pinned host memory.
inline void stage_inputs(const backend::Cuda& be, const int* host_tokens, int* tokens, index_t count, const long long* host_positions,
                         long long* positions, index_t sequences) {
  cuda_kernels::stage_inputs<<<1, 256, 0, be.stream()>>>(host_tokens, tokens, static_cast<int>(count), host_positions, positions,
                                                        static_cast<int>(sequences));
  cuda::check_launch("stage_inputs kernel launch");
}

/// x [T, D] += y (y may be null: no add); normed [T, D] = rmsnorm(x) * w, as A.
template <class A>
void add_rmsnorm(const backend::Cuda& be, float* x, const float* y, const float* w, A* normed, index_t tokens, index_t dim, float eps) {
  if (tokens <= 0) return;
  cuda_kernels::add_rmsnorm<<<static_cast<unsigned>(tokens), 256, 0, be.stream()>>>(x, y, w, normed, dim, eps);
  cuda::check_launch("add_rmsnorm kernel launch");
}

/// x [n] += y [n].
inline void add_inplace(const backend::Cuda& be, float* x, const float* y, index_t n) {
  if (n <= 0) return;
  cuda_kernels::add_inplace<<<cuda_kernels::grid_for(n, 256), 256, 0, be.stream()>>>(x, y, n);
  cuda::check_launch("add_inplace kernel launch");
}

/// out [T, I] = silu(gate) * up of the interleaved gate_up [T, 2I], as A.
template <class A>
void silu_mul(const backend::Cuda& be, const float* gate_up, A* out, index_t tokens, index_t hidden) {
  if (tokens * hidden <= 0) return;
  require(tokens <= 65535, "silu_mul (CUDA): ", tokens, " rows in one launch");
  const dim3 grid(static_cast<unsigned>(std::min<index_t>((hidden + 255) / 256, 64)), static_cast<unsigned>(tokens));
  cuda_kernels::silu_mul<<<grid, 256, 0, be.stream()>>>(gate_up, out, hidden);
  cuda::check_launch("silu_mul kernel launch");
}

/// dst [rows, cols] = src (row stride src_stride) as A.
template <class A>
void cast_rows(const backend::Cuda& be, const float* src, index_t src_stride, A* dst, index_t rows, index_t cols) {
  if (rows * cols <= 0) return;
  cuda_kernels::cast_rows<<<cuda_kernels::grid_for(rows * cols, 256), 256, 0, be.stream()>>>(src, src_stride, dst, rows, cols);
  cuda::check_launch("cast_rows kernel launch");
}

}  // namespace samba::ops
