// samba/ops/cuda/linear.cuh: y = x W^T through cuBLAS (SPEC.md: every projection is a bias-free
// nn.Linear). float32 weights multiply float32 inputs in exact float32 (no TF32); bf16 weights
// multiply bf16 inputs with float32 accumulation. The output is always float32. A few rows (decode
// steps) take a GEMV kernel that streams each weight row once with 16-byte loads.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>

#include "samba/backend/cuda.hpp"
#include "samba/core/bf16_device.cuh"
#include "samba/core/dtype.hpp"
#include "samba/core/types.hpp"

namespace samba::ops {

namespace cuda_kernels {

/// Rows a GEMV launch serves (their inputs are staged in shared memory as float32).
inline constexpr int gemv_max_rows = 4;

/// Widens the 16 bytes at `p` (4 floats or 8 bf16) into v.
__device__ __forceinline__ void widen16(const float* p, float* v) {
  const float4 q = *reinterpret_cast<const float4*>(p);
  v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
}
__device__ __forceinline__ void widen16(const bf16* p, float* v) {
  const uint4 q = *reinterpret_cast<const uint4*>(p);
  const unsigned words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) v[2 * i] = __uint_as_float(words[i] << 16), v[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
}

/// y[t, n] = sum_k x[t, k] w[n, k] for t < rows <= gemv_max_rows: one warp per output column n
/// (grid-stride), each lane reading 16 bytes of the weight row and of each input row at a time
/// (the inputs stay in L1/L2: every warp reads the same ones). Rows of w and x must be 16-byte
/// aligned.
template <class W>
__global__ void gemv(const W* __restrict__ x, index_t ldx, const W* __restrict__ w, float* __restrict__ y, index_t ldy, int rows,
                     int in, int out) {
  constexpr int per_load = 16 / sizeof(W);
  const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int n = blockIdx.x * warps + (threadIdx.x >> 5); n < out; n += gridDim.x * warps) {
    const W* row = w + static_cast<index_t>(n) * in;
    float acc[gemv_max_rows] = {};
#pragma unroll 4
    for (int k = lane * per_load; k < in; k += 32 * per_load) {  // unrolled: several loads in flight
      float v[per_load];
      widen16(row + k, v);
#pragma unroll
      for (int t = 0; t < gemv_max_rows; ++t) {
        if (t < rows) {
          float xv[per_load];
          widen16(x + t * ldx + k, xv);
#pragma unroll
          for (int j = 0; j < per_load; ++j) acc[t] += v[j] * xv[j];
        }
      }
    }
#pragma unroll
    for (int t = 0; t < gemv_max_rows; ++t) {
      if (t >= rows) break;
      float a = acc[t];
      for (int o = 16; o > 0; o >>= 1) a += __shfl_xor_sync(0xffffffffu, a, o);
      if (lane == 0) y[t * ldy + n] = a;
    }
  }
}

}  // namespace cuda_kernels

/// x [T, K] (row stride ldx), w [N, K], y [T, N] (row stride ldy); W is float or bf16, x the same type.
template <class W>
void linear(const backend::Cuda& be, const W* x, index_t ldx, const W* w, float* y, index_t ldy, index_t tokens, index_t in,
            index_t out) {
  static_assert(std::is_same_v<W, float> || std::is_same_v<W, bf16>, "CUDA linear: weights are float or bf16");
  if (tokens <= 0 || out <= 0) return;
  require(tokens <= INT_MAX && in <= INT_MAX && out <= INT_MAX && ldx <= INT_MAX && ldy <= INT_MAX,
          "CUDA linear: a dimension exceeds cuBLAS's 32-bit range (", tokens, " x ", in, " -> ", out, ")");
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  if (tokens <= cuda_kernels::gemv_max_rows && (in * sizeof(W)) % 16 == 0 && (ldx * sizeof(W)) % 16 == 0 && aligned(w) && aligned(x)) {
    const index_t blocks = std::min<index_t>((out + 7) / 8, static_cast<index_t>(be.multiprocessors()) * 16);
    cuda_kernels::gemv<W><<<static_cast<unsigned>(blocks), 256, 0, be.stream()>>>(x, ldx, w, y, ldy, static_cast<int>(tokens),
                                                                                 static_cast<int>(in), static_cast<int>(out));
    cuda::check_launch("gemv kernel launch");
    return;
  }
  constexpr cudaDataType_t type = std::is_same_v<W, float> ? CUDA_R_32F : CUDA_R_16BF;
  const float alpha = 1.0f, beta = 0.0f;
  // Row-major y[T, N] = x[T, K] W[N, K]^T is column-major y^T[N, T] = W^T ... as cuBLAS sees it:
  // op(A) = W (stored as the column-major [K, N] matrix, transposed), B = x^T (column-major [K, T]).
  cuda::check_blas(cublasGemmEx(be.blas(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(tokens),
                                static_cast<int>(in), &alpha, w, type, static_cast<int>(in), x, type, static_cast<int>(ldx),
                                &beta, y, CUDA_R_32F, static_cast<int>(ldy), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   "cublasGemmEx (linear)");
}

}  // namespace samba::ops
