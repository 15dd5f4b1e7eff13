// samba/ops/cuda/linear.cuh: y = x W^T through cuBLAS (SPEC.md: every projection is a bias-free
// nn.Linear). float32 weights multiply float32 inputs in exact float32 (no TF32); bf16 weights
// multiply bf16 inputs with float32 accumulation. The output is always float32. A few rows (decode
// steps) take the GEMV kernel of gemv.cuh, which streams each weight row once with 16-byte loads.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>

#include "samba/backend/cuda.hpp"
#include "samba/core/bf16_device.cuh"
#include "samba/core/dtype.hpp"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/gemv.cuh"

namespace samba::ops {

/// x [T, K] (row stride ldx), w [N, K], y [T, N] (row stride ldy); W is float or bf16, x the same type.
template <class W>
void linear(const backend::Cuda& be, const W* x, index_t ldx, const W* w, float* y, index_t ldy, index_t tokens, index_t in,
            index_t out) {
  static_assert(std::is_same_v<W, float> || std::is_same_v<W, bf16>, "CUDA linear: weights are float or bf16");
  if (tokens <= 0 || out <= 0) return;
  require(tokens <= INT_MAX && in <= INT_MAX && out <= INT_MAX && ldx <= INT_MAX && ldy <= INT_MAX,
          "CUDA linear: a dimension exceeds cuBLAS's 32-bit range (", tokens, " x ", in, " -> ", out, ")");
  if (gemv_serves<W>(tokens, in, w, ldx)) {
    cuda_kernels::GemvArgs<W> a;
    a.x = x, a.ldx = ldx, a.w = w, a.y = y, a.ldy = ldy;
    a.rows = static_cast<int>(tokens), a.in = static_cast<int>(in), a.out = static_cast<int>(out);
    gemv<cuda_kernels::GemvIn::vector, cuda_kernels::GemvOut::store>(be, a);
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
