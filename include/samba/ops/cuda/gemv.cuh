// samba/ops/cuda/gemv.cuh: y = x W^T for the few rows of a decode step (SPEC.md: every projection
// is a bias-free nn.Linear), streaming each weight row once with 16-byte loads, with the work
// around the product fused in: the input may be the RMSNorm of the float32 residual stream
// (SPEC.md "RMSNorm") or a float32 array rounded to the weights' type, and the output may be
// stored, added to the residual stream (x = x + layer(...), SPEC.md "Block structure"), or, for
// SwiGLU's interleaved gate/up rows, reduced to silu(gate) * up (SPEC.md "SwiGLU MLP"). Weight
// loads of the first batch are issued before the kernel waits for its predecessor (weights do not
// depend on it), so that a chain of products keeps the memory busy across kernel boundaries.
#pragma once

#include <algorithm>
#include <cstdint>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/launch.cuh"
#include "samba/core/bf16_device.cuh"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops {

namespace cuda_kernels {

/// Rows (sequences of a decode step) a GEMV launch serves.
inline constexpr int gemv_max_rows = 4;
inline constexpr int gemv_threads = 512;
/// 16-byte weight loads a lane issues before it uses the first of them (half each for a gate/up pair).
inline constexpr int gemv_batch = 8;
/// Largest staged input (rows x in floats) a block holds in shared memory.
inline constexpr std::size_t gemv_max_shared = 96 * 1024;

/// What the product reads.
enum class GemvIn {
  vector,   // x [rows, in] of the weights' type
  cast,     // xf [rows, in] float32, rounded to the weights' type
  rmsnorm   // xf [rows, in] float32 residual stream: xf * rsqrt(mean(xf^2) + eps) * gain, rounded likewise
};
/// What the product writes.
enum class GemvOut {
  store,       // y [rows, out] float32
  accumulate,  // y [rows, out] float32 += the product (a residual add)
  swiglu       // weight rows (2i, 2i+1) are (gate, up): y_act [rows, out / 2] = silu(gate) * up as W
};

template <class W>
struct GemvArgs {
  const W* x = nullptr;         // GemvIn::vector
  const float* xf = nullptr;    // GemvIn::cast and rmsnorm
  const float* gain = nullptr;  // GemvIn::rmsnorm [in]
  float eps = 0.0f;
  index_t ldx = 0;              // row stride of x or xf
  const W* w = nullptr;         // [out, in], rows 16-byte aligned
  float* y = nullptr;           // store, accumulate
  W* y_act = nullptr;           // swiglu
  index_t ldy = 0;              // row stride of y or y_act
  int rows = 0, in = 0, out = 0;
  int split = 1;                // warps that share one output unit (a power of two <= warps per block)
};

__device__ __forceinline__ uint4 load_streaming(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

/// sum_j w[j] x[j] over the 16 bytes of weights in `q` (4 floats or 8 bf16) and the matching floats at xs.
__device__ __forceinline__ float dot16(const uint4& q, const float* xs, float acc, float) {
  const float4 a = *reinterpret_cast<const float4*>(xs);
  acc += __uint_as_float(q.x) * a.x + __uint_as_float(q.y) * a.y;
  return acc + __uint_as_float(q.z) * a.z + __uint_as_float(q.w) * a.w;
}
__device__ __forceinline__ float dot16(const uint4& q, const float* xs, float acc, bf16) {
  const float4 a = *reinterpret_cast<const float4*>(xs), b = *reinterpret_cast<const float4*>(xs + 4);
  const unsigned words[4] = {q.x, q.y, q.z, q.w};
  const float lo[4] = {a.x, a.z, b.x, b.z}, hi[4] = {a.y, a.w, b.y, b.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) acc += __uint_as_float(words[i] << 16) * lo[i] + __uint_as_float(words[i] & 0xffff0000u) * hi[i];
  return acc;
}

/// grid-stride over output units (one weight row, or a gate/up pair for swiglu), `split` warps per
/// unit; the block first stages the rows' input vectors in shared memory as float32 (after the
/// input transform, rounded to W). Dynamic shared memory: rows * in floats + the reduction area.
template <class W, GemvIn In, GemvOut Out>
__global__ void __launch_bounds__(gemv_threads, 2) gemv_fused(GemvArgs<W> a) {
  constexpr int per_load = 16 / sizeof(W), Pair = Out == GemvOut::swiglu ? 2 : 1, Batch = gemv_batch / Pair;
  extern __shared__ __align__(16) float gemv_staged[];  // [rows, in], then [warps, Pair, rows] partial sums
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const int chunks = a.in / per_load, units = a.out / Pair;
  const int per_block = warps / a.split, member = warp % a.split, slot = warp / a.split;
  const int lane_chunk = member * 32 + lane, chunk_step = 32 * a.split;

  // The first batch of weights of this warp's first unit, before waiting for the previous kernel.
  uint4 wq[Pair][Batch];
  auto load_batch = [&](int unit, int c0) {
#pragma unroll
    for (int p = 0; p < Pair; ++p) {
      const W* row = a.w + static_cast<index_t>(unit * Pair + p) * a.in;
#pragma unroll
      for (int b = 0; b < Batch; ++b) {
        const int c = c0 + b * chunk_step + lane_chunk;
        wq[p][b] = unit < units && c < chunks ? load_streaming(row + c * per_load) : make_uint4(0, 0, 0, 0);
      }
    }
  };
  const int first_unit = blockIdx.x * per_block + slot;
  load_batch(first_unit, 0);
  cuda::allow_dependent_launch();
  cuda::wait_for_prior_grids();

  // Stage the input rows.
  float* xs = gemv_staged;
  float* partial = gemv_staged + static_cast<index_t>(a.rows) * a.in;
  if constexpr (In == GemvIn::rmsnorm) {
    __shared__ float sums[gemv_max_rows][32];
    float sq[gemv_max_rows] = {};
    for (int i = threadIdx.x; i < a.in; i += blockDim.x)
#pragma unroll
      for (int t = 0; t < gemv_max_rows; ++t)
        if (t < a.rows) {
          const float v = a.xf[t * a.ldx + i];
          sq[t] += v * v;
        }
#pragma unroll
    for (int t = 0; t < gemv_max_rows; ++t) {
      for (int o = 16; o > 0; o >>= 1) sq[t] += __shfl_xor_sync(0xffffffffu, sq[t], o);
      if (lane == 0) sums[t][warp] = sq[t];
    }
    __syncthreads();
    for (int t = 0; t < a.rows; ++t) {
      float total = 0.0f;
      for (int j = 0; j < warps; ++j) total += sums[t][j];
      const float inv_rms = rsqrtf(total / static_cast<float>(a.in) + a.eps);
      for (int i = threadIdx.x; i < a.in; i += blockDim.x)
        xs[t * a.in + i] = load_float(store_as<W>(a.xf[t * a.ldx + i] * inv_rms * a.gain[i]));
    }
  } else {
    for (int t = 0; t < a.rows; ++t)
      for (int i = threadIdx.x; i < a.in; i += blockDim.x) {
        if constexpr (In == GemvIn::cast) xs[t * a.in + i] = load_float(store_as<W>(a.xf[t * a.ldx + i]));
        else xs[t * a.in + i] = load_float(a.x[t * a.ldx + i]);
      }
  }
  __syncthreads();

  bool preloaded = true;
  for (int base = blockIdx.x * per_block; base < units; base += gridDim.x * per_block) {  // uniform over the block
    const int unit = base + slot;
    float acc[Pair][gemv_max_rows] = {};
    for (int c0 = 0; c0 < chunks; c0 += Batch * chunk_step) {
      if (!preloaded) load_batch(unit, c0);
      preloaded = false;
#pragma unroll
      for (int b = 0; b < Batch; ++b) {
        const int c = c0 + b * chunk_step + lane_chunk;
        if (c >= chunks) break;
#pragma unroll
        for (int t = 0; t < gemv_max_rows; ++t)
          if (t < a.rows)
#pragma unroll
            for (int p = 0; p < Pair; ++p) acc[p][t] = dot16(wq[p][b], xs + t * a.in + c * per_load, acc[p][t], W{});
      }
    }
#pragma unroll
    for (int p = 0; p < Pair; ++p)
#pragma unroll
      for (int t = 0; t < gemv_max_rows; ++t)
        for (int o = 16; o > 0; o >>= 1) acc[p][t] += __shfl_xor_sync(0xffffffffu, acc[p][t], o);
    if (a.split > 1) {  // the unit's warps add up in shared memory
      if (lane == 0)
        for (int p = 0; p < Pair; ++p)
          for (int t = 0; t < a.rows; ++t) partial[(warp * Pair + p) * gemv_max_rows + t] = acc[p][t];
      __syncthreads();
      if (member == 0 && lane == 0)
        for (int p = 0; p < Pair; ++p)
          for (int t = 0; t < a.rows; ++t) {
            float total = 0.0f;
            for (int m = 0; m < a.split; ++m) total += partial[((warp + m) * Pair + p) * gemv_max_rows + t];
            acc[p][t] = total;
          }
      __syncthreads();
    }
    if (member != 0 || lane != 0 || unit >= units) continue;
    for (int t = 0; t < a.rows; ++t) {
      if constexpr (Out == GemvOut::store) a.y[t * a.ldy + unit] = acc[0][t];
      else if constexpr (Out == GemvOut::accumulate) a.y[t * a.ldy + unit] += acc[0][t];
      else a.y_act[t * a.ldy + unit] = store_as<W>(silu(acc[0][t]) * acc[Pair - 1][t]);
    }
  }
}

}  // namespace cuda_kernels

/// Whether gemv() serves this product: few rows, 16-byte aligned rows, a staged input that fits.
template <class W>
bool gemv_serves(index_t rows, index_t in, const void* w, index_t ldx) {
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  return rows >= 1 && rows <= cuda_kernels::gemv_max_rows && (in * static_cast<index_t>(sizeof(W))) % 16 == 0 && aligned(w) &&
         static_cast<std::size_t>(rows * in) * sizeof(float) <= cuda_kernels::gemv_max_shared && in <= 0x7fffffff && ldx >= in;
}

/// The fused decode product (see cuda_kernels::gemv_fused); `a` holds the pointers and sizes, and
/// gemv_serves(a.rows, a.in, a.w, a.ldx) must hold.
template <cuda_kernels::GemvIn In, cuda_kernels::GemvOut Out, class W>
void gemv(const backend::Cuda& be, cuda_kernels::GemvArgs<W> a) {
  using namespace cuda_kernels;
  if (a.rows <= 0 || a.out <= 0) return;
  constexpr int Pair = Out == GemvOut::swiglu ? 2 : 1, warps = gemv_threads / 32;
  require(a.out % Pair == 0, "gemv (CUDA): swiglu needs an even number of weight rows (got ", a.out, ")");
  const int units = a.out / Pair;
  // Enough warps for the whole machine: units with few rows share a unit among several warps.
  const long long target = static_cast<long long>(be.multiprocessors()) * 2 * warps;
  a.split = 1;
  const int chunks = a.in / static_cast<int>(16 / sizeof(W));
  while (a.split < warps && static_cast<long long>(units) * a.split < target && chunks >= 64 * a.split) a.split *= 2;
  const int per_block = warps / a.split;
  const int blocks = std::min<int>((units + per_block - 1) / per_block, be.multiprocessors() * 2);
  const std::size_t shared = (static_cast<std::size_t>(a.rows) * a.in + warps * Pair * gemv_max_rows) * sizeof(float);
  auto kernel = gemv_fused<W, In, Out>;
  cuda::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)),
              "cudaFuncSetAttribute (gemv shared memory)");
  cuda::launch(be, kernel, dim3(static_cast<unsigned>(blocks)), dim3(gemv_threads), shared, "gemv kernel launch", a);
}

}  // namespace samba::ops
