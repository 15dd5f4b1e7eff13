// samba/ops/cuda/causal_conv1d.cuh: Mamba's depthwise causal conv + SiLU on the GPU (SPEC.md
// "Mamba", x = silu(b[e] + sum_k W[e,k] x[t-K+1+k, e])), for prefill and decode alike: the conv
// runs in parallel over channels and chunks of rows, then a second kernel moves each sequence's
// history (its last K-1 inputs) forward; a decode step (one row per sequence) does both in one.
#pragma once

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/launch.cuh"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops {

namespace cuda_kernels {

inline constexpr int conv_rows_per_thread = 64;

/// grid (channel blocks, row chunks, sequences): one thread per (channel, chunk of
/// conv_rows_per_thread rows) slides a K-wide window of inputs through its rows in registers,
/// starting from the rows before its chunk (or the sequence's history). x rows of stride x_stride
/// (the first E columns of in_proj's output); history [K-1, E] per sequence (read only here);
/// w [E, K]; b [E]; y [T, E] float32, and y_cast [T, E] as A unless null.
template <int K, class A>
__global__ void conv_silu(const float* __restrict__ x, index_t x_stride, SegmentTable seg, StatePointers history,
                          const float* __restrict__ w, const float* __restrict__ b, float* __restrict__ y, A* __restrict__ y_cast,
                          index_t channels) {
  const index_t e = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int p = blockIdx.z, t0 = blockIdx.y * conv_rows_per_thread, rows = seg.rows[p];
  if (e >= channels || t0 >= rows) return;
  const float* hist = history.at[p];
  const index_t row0 = seg.row0[p];
  float window[K], weight[K];
#pragma unroll
  for (int k = 0; k < K; ++k) weight[k] = w[e * K + k];
#pragma unroll
  for (int k = 0; k < K - 1; ++k) {
    const int t = t0 - (K - 1) + k;  // the input K-1-k rows before the chunk
    window[k] = t >= 0 ? x[(row0 + t) * x_stride + e] : hist[(K - 1 + t) * channels + e];
  }
  const float bias = b[e];
  const int t_end = min(rows, t0 + conv_rows_per_thread);
  for (int t = t0; t < t_end; ++t) {
    const index_t row = row0 + t;
    window[K - 1] = x[row * x_stride + e];
    float acc = bias;
#pragma unroll
    for (int k = 0; k < K; ++k) acc += weight[k] * window[k];
    const float out = silu(acc);
    y[row * channels + e] = out;
    if (y_cast) y_cast[row * channels + e] = store_as<A>(out);
#pragma unroll
    for (int k = 0; k < K - 1; ++k) window[k] = window[k + 1];
  }
}

/// grid (channel blocks, sequences), after conv_silu: history [K-1, E] becomes the last K-1
/// inputs of (history ++ the sequence's rows). In place: slot i reads slot rows + i >= i, which
/// ascending i has not yet overwritten.
__global__ void conv_history(const float* __restrict__ x, index_t x_stride, SegmentTable seg, StatePointers history, index_t channels,
                             int kernel) {
  const index_t e = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int p = blockIdx.y, rows = seg.rows[p];
  if (e >= channels) return;
  float* hist = history.at[p];
  for (int i = 0; i < kernel - 1; ++i) {
    const int t = rows - (kernel - 1) + i;
    hist[i * channels + e] = t >= 0 ? x[(seg.row0[p] + t) * x_stride + e] : hist[(kernel - 1 + t) * channels + e];
  }
}

/// grid (channel blocks, sequences), one row per sequence (a decode step): the conv of that row
/// against the history, and the history moved forward by it, in one pass per channel.
template <int K, class A>
__global__ void conv_step(const float* __restrict__ x, index_t x_stride, SegmentTable seg, StatePointers history,
                          const float* __restrict__ w, const float* __restrict__ b, float* __restrict__ y, A* __restrict__ y_cast,
                          index_t channels) {
  const index_t e = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= channels) return;
  float weight[K];  // weights, read before waiting for the previous kernel (no kernel writes them)
#pragma unroll
  for (int k = 0; k < K; ++k) weight[k] = w[e * K + k];
  const float bias = b[e];
  cuda::allow_dependent_launch();
  cuda::wait_for_prior_grids();
  float* hist = history.at[blockIdx.y];
  const index_t row = seg.row0[blockIdx.y];
  float window[K];
#pragma unroll
  for (int k = 0; k < K - 1; ++k) window[k] = hist[k * channels + e];
  window[K - 1] = x[row * x_stride + e];
  float acc = bias;
#pragma unroll
  for (int k = 0; k < K; ++k) acc += weight[k] * window[k];
  const float out = silu(acc);
  y[row * channels + e] = out;
  if (y_cast) y_cast[row * channels + e] = store_as<A>(out);
#pragma unroll
  for (int k = 0; k < K - 1; ++k) hist[k * channels + e] = window[k + 1];
}

}  // namespace cuda_kernels

/// Kernel widths the CUDA conv is built for.
inline constexpr index_t cuda_conv_max_kernel = 8;

/// The batched conv: see cuda_kernels::conv_silu. kernel in [2, cuda_conv_max_kernel].
template <class A>
void causal_conv1d_silu(const backend::Cuda& be, const float* x, index_t x_stride, const cuda_kernels::SegmentTable& seg,
                        const cuda_kernels::StatePointers& history, const float* w, const float* b, float* y, A* y_cast,
                        index_t channels, index_t kernel) {
  require(kernel >= 2 && kernel <= cuda_conv_max_kernel, "causal_conv1d (CUDA): d_conv ", kernel, " is outside the supported 2..",
          cuda_conv_max_kernel);
  if (seg.count == 0 || channels <= 0) return;
  int max_rows = 0, total_rows = 0;
  for (int p = 0; p < seg.count; ++p) max_rows = seg.rows[p] > max_rows ? seg.rows[p] : max_rows, total_rows += seg.rows[p];
  const unsigned channel_blocks = static_cast<unsigned>((channels + 127) / 128);
  const bool one_row_each = max_rows == 1 && total_rows == seg.count;  // a decode step: one fused kernel
  const dim3 grid(channel_blocks, static_cast<unsigned>((max_rows + cuda_kernels::conv_rows_per_thread - 1) / cuda_kernels::conv_rows_per_thread),
                  static_cast<unsigned>(seg.count)),
      block(128);
  auto launch = [&](auto k) {
    constexpr int Width = decltype(k)::value;
    if (one_row_each)
      cuda::launch(be, cuda_kernels::conv_step<Width, A>, dim3(channel_blocks, static_cast<unsigned>(seg.count)), block, 0,
                   "conv_step kernel launch", x, x_stride, seg, history, w, b, y, y_cast, channels);
    else
      cuda_kernels::conv_silu<Width, A><<<grid, block, 0, be.stream()>>>(x, x_stride, seg, history, w, b, y, y_cast, channels);
  };
  switch (kernel) {
    case 2: launch(std::integral_constant<int, 2>{}); break;
    case 3: launch(std::integral_constant<int, 3>{}); break;
    case 4: launch(std::integral_constant<int, 4>{}); break;
    case 5: launch(std::integral_constant<int, 5>{}); break;
    case 6: launch(std::integral_constant<int, 6>{}); break;
    case 7: launch(std::integral_constant<int, 7>{}); break;
    default: launch(std::integral_constant<int, 8>{}); break;
  }
  if (one_row_each) return;
  cuda::check_launch("conv_silu kernel launch");
  cuda_kernels::conv_history<<<dim3(channel_blocks, static_cast<unsigned>(seg.count)), 128, 0, be.stream()>>>(
      x, x_stride, seg, history, channels, static_cast<int>(kernel));
  cuda::check_launch("conv_history kernel launch");
}

}  // namespace samba::ops
