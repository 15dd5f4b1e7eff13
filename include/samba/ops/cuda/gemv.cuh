// samba/ops/cuda/gemv.cuh: y = x W^T for the few rows of a decode step (SPEC.md: every projection
// is a bias-free nn.Linear), streaming each weight row once with 16-byte loads, with the work
// around the product fused in: the input may be the RMSNorm of the float32 residual stream
// (SPEC.md "RMSNorm") or a float32 array rounded to the weights' type, and the output may be
// stored, added to the residual stream (x = x + layer(...), SPEC.md "Block structure"), or, for
// SwiGLU's interleaved gate/up rows, reduced to silu(gate) * up (SPEC.md "SwiGLU MLP"). Every warp
// streams an equal share of the weights with loads always in flight, and the first of them are
// issued before the kernel waits for its predecessor (weights do not depend on it), so that a
// chain of products keeps the memory busy across kernel boundaries.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

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
inline constexpr int gemv_warps = gemv_threads / 32;
/// 16-byte weight loads of one row a lane issues per group (half that per row of a gate/up pair);
/// a warp keeps two groups in flight, so it always has loads outstanding while it computes.
inline constexpr int gemv_group_loads = 4;
/// Largest staged input (rows x in elements of the weights' type, in bytes) a block holds.
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
};

__device__ __forceinline__ uint4 load_streaming(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

/// acc + sum_j w[j] x[j] over 16 bytes of weights `q` and the 16 bytes of staged input `v` at the
/// same columns (4 floats, or 8 bf16: the upper half of a float32 is its bf16 rounding's bits).
__device__ __forceinline__ float dot16(const uint4& q, const uint4& v, float acc, float) {
  acc = fmaf(__uint_as_float(q.x), __uint_as_float(v.x), acc);
  acc = fmaf(__uint_as_float(q.y), __uint_as_float(v.y), acc);
  acc = fmaf(__uint_as_float(q.z), __uint_as_float(v.z), acc);
  return fmaf(__uint_as_float(q.w), __uint_as_float(v.w), acc);
}
__device__ __forceinline__ float dot16(const uint4& q, const uint4& v, float acc, bf16) {
  const unsigned w[4] = {q.x, q.y, q.z, q.w}, x[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    acc = fmaf(low_bf16(w[i]), low_bf16(x[i]), acc);
    acc = fmaf(high_bf16(w[i]), high_bf16(x[i]), acc);
  }
  return acc;
}

/// Blocks of gemv_fused<..., MaxRows> a multiprocessor holds: two at 64 registers a thread for
/// one row, one for up to gemv_max_rows (whose sums need more registers).
__host__ __device__ constexpr int gemv_blocks_per_sm(int max_rows) { return max_rows == 1 ? 2 : 1; }

/// Byte offset of the partial-sum area behind the staged input.
__host__ __device__ constexpr std::size_t gemv_partial_offset(std::size_t staged_bytes) { return (staged_bytes + 15) / 16 * 16; }

/// Width consecutive floats at p (Width 1, or 4 from a 16-byte aligned p).
template <int Width>
__device__ __forceinline__ void load_floats(const float* p, float (&v)[Width]) {
  if constexpr (Width == 4) {
    const float4 f = *reinterpret_cast<const float4*>(p);
    v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
  } else {
    v[0] = *p;
  }
}

/// v rounded to W, stored at p (aligned to Width elements).
template <class W, int Width>
__device__ __forceinline__ void store_rounded(W* p, const float (&v)[Width]) {
  if constexpr (Width == 1) {
    *p = store_as<W>(v[0]);
  } else if constexpr (std::is_same_v<W, float>) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    const auto bits = [&](int j) { return static_cast<unsigned>(store_as<W>(v[j]).bits); };
    *reinterpret_cast<uint2*>(p) = make_uint2(bits(0) | bits(1) << 16, bits(2) | bits(3) << 16);
  }
}

/// Stages the input rows of a product in xs [rows, in] as W, after the input transform; Width 4:
/// 16-byte loads (the rows' starts and strides 16-byte aligned, in % 4 == 0), else one element a
/// load. One load per thread and row per pass for in up to 2048 floats or 4096 bf16. RMSNorm reads
/// the inputs twice (the second time from L1) and takes the gains of its first pass from
/// first_gains [threads * 4], copied there before the kernel waited for its predecessor (see
/// gemv_prefetch_gains).
template <class W, GemvIn In, int MaxRows, int Width>
__device__ __forceinline__ void gemv_stage(const GemvArgs<W>& a, W* xs, const float* first_gains) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if constexpr (In == GemvIn::rmsnorm) {
    __shared__ float sums[MaxRows][gemv_warps];
    float sq[MaxRows] = {};
#pragma unroll 1  // the weight groups in flight hold most registers
    for (int i = threadIdx.x * Width; i < a.in; i += gemv_threads * Width)
#pragma unroll
      for (int t = 0; t < MaxRows; ++t)
        if (t < a.rows) {
          float v[Width];
          load_floats(a.xf + t * a.ldx + i, v);
#pragma unroll
          for (int j = 0; j < Width; ++j) sq[t] = fmaf(v[j], v[j], sq[t]);
        }
#pragma unroll
    for (int t = 0; t < MaxRows; ++t) {
      for (int o = 16; o > 0; o >>= 1) sq[t] += __shfl_xor_sync(0xffffffffu, sq[t], o);
      if (lane == 0) sums[t][warp] = sq[t];
    }
    asm volatile("cp.async.wait_all;" ::: "memory");  // this thread's gains, published to the block by:
    __syncthreads();
    float inv_rms[MaxRows];
#pragma unroll
    for (int t = 0; t < MaxRows; ++t) {
      float total = 0.0f;
      for (int j = 0; j < gemv_warps; ++j) total += sums[t][j];
      inv_rms[t] = rsqrtf(total / static_cast<float>(a.in) + a.eps);
    }
#pragma unroll 1
    for (int i = threadIdx.x * Width; i < a.in; i += gemv_threads * Width) {
      float g[Width];
      load_floats((i < gemv_threads * 4 ? first_gains : a.gain) + i, g);
#pragma unroll
      for (int t = 0; t < MaxRows; ++t)
        if (t < a.rows) {
          float v[Width];
          load_floats(a.xf + t * a.ldx + i, v);
#pragma unroll
          for (int j = 0; j < Width; ++j) v[j] = v[j] * inv_rms[t] * g[j];
          store_rounded<W, Width>(xs + t * a.in + i, v);
        }
    }
  } else if constexpr (In == GemvIn::cast) {
#pragma unroll 1
    for (int i = threadIdx.x * Width; i < a.in; i += gemv_threads * Width)
#pragma unroll
      for (int t = 0; t < MaxRows; ++t)
        if (t < a.rows) {
          float v[Width];
          load_floats(a.xf + t * a.ldx + i, v);
          store_rounded<W, Width>(xs + t * a.in + i, v);
        }
  } else {
    constexpr int step = Width == 4 ? 16 / static_cast<int>(sizeof(W)) : 1;  // elements a load
#pragma unroll 1
    for (int i = threadIdx.x * step; i < a.in; i += gemv_threads * step)
#pragma unroll
      for (int t = 0; t < MaxRows; ++t)
        if (t < a.rows) {
          if constexpr (Width == 4) *reinterpret_cast<uint4*>(xs + t * a.in + i) = *reinterpret_cast<const uint4*>(a.x + t * a.ldx + i);
          else xs[t * a.in + i] = a.x[t * a.ldx + i];
        }
  }
}

/// RMSNorm: the gains [4 * threadIdx.x, + 4) into the same place of gains [threads * 4] (those
/// of gemv_stage's first pass, for either width), asynchronously; committed with the caller's next
/// cp.async.commit_group.
__device__ __forceinline__ void gemv_prefetch_gains(const float* gain, int in, float* gains) {
  for (int i = threadIdx.x * 4; i < threadIdx.x * 4 + 4 && i < in; ++i)
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(static_cast<unsigned>(__cvta_generic_to_shared(gains + i))), "l"(gain + i)
                 : "memory");
}

/// A warp's share of its block's units: the flat range [f0, f1) of (unit, 16-byte chunk) pairs,
/// units counted from the block's first. Units [first, last]; the first starts at chunk
/// first_chunk, the last ends before chunk last_end.
struct GemvShare {
  long long f0, f1;
  int first, first_chunk, last, last_end;
  __device__ GemvShare(long long block_chunks, int warp, int chunks) {
    f0 = block_chunks * warp / gemv_warps, f1 = block_chunks * (warp + 1) / gemv_warps;
    first = static_cast<int>(f0 / chunks), first_chunk = static_cast<int>(f0 % chunks);
    last = f1 > f0 ? static_cast<int>((f1 - 1) / chunks) : first - 1;
    last_end = f1 > f0 ? static_cast<int>((f1 - 1) % chunks) + 1 : 0;
  }
  /// Whether unit u of the share is shared with a neighbouring warp.
  __device__ bool cut(int u, int chunks) const { return (u == first && first_chunk > 0) || (u == last && last_end < chunks); }
};

/// A group of loads: chunks [c, c + 32 * loads) of unit u, cut at the unit's end (u < 0: none).
struct GemvGroup {
  int u, c;
};

/// Each block takes an equal run of whole units (weight rows, or gate/up pairs for swiglu) and its
/// 16 warps split the run's (unit, chunk) pairs into equal contiguous shares, so that every warp
/// streams the same number of bytes; a warp walks its share in groups of gemv_group_loads loads per
/// lane and keeps the next group in flight while it computes one. A unit cut between warps is
/// added up in shared memory after the walk, in warp order (bitwise repeatable). The block first
/// stages the rows' input in shared memory in the weights' type (after the input transform); the
/// first two groups are loaded before the kernel waits for its predecessor. Dynamic shared memory:
/// the staged input, then [warps, 2, Pair, MaxRows] floats of partial sums. MaxRows: 1, or
/// gemv_max_rows for launches of 2 to that many rows.
template <class W, GemvIn In, GemvOut Out, int MaxRows>
__global__ void __launch_bounds__(gemv_threads, gemv_blocks_per_sm(MaxRows)) gemv_fused(GemvArgs<W> a) {
  constexpr int per_load = 16 / sizeof(W), Pair = Out == GemvOut::swiglu ? 2 : 1, Loads = gemv_group_loads / Pair, Span = 32 * Loads;
  extern __shared__ __align__(16) unsigned char gemv_shared[];
  W* xs = reinterpret_cast<W*>(gemv_shared);  // [rows, in]
  float* partial = reinterpret_cast<float*>(gemv_shared + gemv_partial_offset(static_cast<std::size_t>(a.rows) * a.in * sizeof(W)));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int chunks = a.in / per_load, units = a.out / Pair;
  const int u_begin = static_cast<int>(static_cast<long long>(units) * blockIdx.x / gridDim.x);
  const int u_end = static_cast<int>(static_cast<long long>(units) * (blockIdx.x + 1) / gridDim.x);
  const long long block_chunks = static_cast<long long>(u_end - u_begin) * chunks;
  const GemvShare share(block_chunks, warp, chunks);
  const auto stop = [&](int u) { return u == share.last ? share.last_end : chunks; };
  const auto next = [&](GemvGroup g) -> GemvGroup {
    if (g.u < 0) return g;
    if (g.c + Span < stop(g.u)) return {g.u, g.c + Span};
    return g.u < share.last ? GemvGroup{g.u + 1, 0} : GemvGroup{-1, 0};
  };
  using Buffer = uint4[Pair][Loads];
  const auto load = [&](Buffer& q, GemvGroup g) {
    const W* rows = a.w + (static_cast<index_t>(u_begin) + (g.u < 0 ? 0 : g.u)) * Pair * a.in + g.c * per_load;  // [Pair, in] from chunk c
    const int end = g.u < 0 ? 0 : stop(g.u) - g.c;
#pragma unroll
    for (int k = 0; k < Loads; ++k) {
      const int c = 32 * k + lane;
#pragma unroll
      for (int p = 0; p < Pair; ++p)
        q[p][k] = c < end ? load_streaming(rows + static_cast<index_t>(p) * a.in + c * per_load) : make_uint4(0, 0, 0, 0);
    }
  };

  // The first two groups and the gains of the RMSNorm's first pass, before waiting for the
  // previous kernel (weights do not depend on it).
  GemvGroup g0 = share.last >= share.first ? GemvGroup{share.first, share.first_chunk} : GemvGroup{-1, 0};
  GemvGroup g1 = next(g0);
  Buffer q0, q1;
  load(q0, g0);
  load(q1, g1);
  [[maybe_unused]] float* first_gains = nullptr;  // RMSNorm: [threads * 4] floats
  if constexpr (In == GemvIn::rmsnorm) {
    __shared__ __align__(16) float gains[gemv_threads * 4];
    first_gains = gains;
    gemv_prefetch_gains(a.gain, a.in, first_gains);
    asm volatile("cp.async.commit_group;" ::: "memory");
  }
  cuda::allow_dependent_launch();
  cuda::wait_for_prior_grids();

  // A residual add reads the outputs of the warp's first and last units now, so that writing them
  // later needs no round trip (only this warp's lane 0 writes them; middle units read as they go).
  float y_first[MaxRows] = {}, y_last[MaxRows] = {};
  if constexpr (Out == GemvOut::accumulate)
    if (lane == 0 && share.last >= share.first)
#pragma unroll
      for (int t = 0; t < MaxRows; ++t)
        if (t < a.rows) y_first[t] = a.y[t * a.ldy + u_begin + share.first], y_last[t] = a.y[t * a.ldy + u_begin + share.last];

  // Stage the input rows, 16 bytes a load where the rows allow.
  const auto aligned = [](const void* p, index_t stride_bytes) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0 && stride_bytes % 16 == 0; };
  bool wide;
  if constexpr (In == GemvIn::vector) wide = aligned(a.x, a.ldx * static_cast<index_t>(sizeof(W)));
  else wide = a.in % 4 == 0 && aligned(a.xf, a.ldx * 4) && (In != GemvIn::rmsnorm || aligned(a.gain, 0));
  if (wide) gemv_stage<W, In, MaxRows, 4>(a, xs, first_gains);
  else gemv_stage<W, In, MaxRows, 1>(a, xs, first_gains);
  __syncthreads();

  float acc[Pair][MaxRows] = {};
  const auto write = [&](int unit, const float (&sum)[Pair][MaxRows]) {
#pragma unroll
    for (int t = 0; t < MaxRows; ++t) {
      if (t >= a.rows) break;
      if constexpr (Out == GemvOut::store) {
        a.y[t * a.ldy + unit] = sum[0][t];
      } else if constexpr (Out == GemvOut::accumulate) {
        const int u = unit - u_begin;
        a.y[t * a.ldy + unit] = (u == share.first ? y_first[t] : u == share.last ? y_last[t] : a.y[t * a.ldy + unit]) + sum[0][t];
      } else {
        a.y_act[t * a.ldy + unit] = store_as<W>(silu(sum[0][t]) * sum[Pair - 1][t]);
      }
    }
  };
  // Adds group g (in q) to acc; after a unit's last group, the warp's sum is written (or kept for
  // the cut-unit pass).
  const auto consume = [&](const Buffer& q, GemvGroup g) {
    const int end = stop(g.u);
#pragma unroll
    for (int k = 0; k < Loads; ++k) {
      const int c = g.c + 32 * k + lane;
      if (c >= end) break;
#pragma unroll
      for (int t = 0; t < MaxRows; ++t)
        if (t < a.rows) {
          const uint4 v = *reinterpret_cast<const uint4*>(xs + t * a.in + c * per_load);
#pragma unroll
          for (int p = 0; p < Pair; ++p) acc[p][t] = dot16(q[p][k], v, acc[p][t], W{});
        }
    }
    if (g.c + Span < end) return;
#pragma unroll
    for (int p = 0; p < Pair; ++p)
#pragma unroll
      for (int t = 0; t < MaxRows; ++t)
        for (int o = 16; o > 0; o >>= 1) acc[p][t] += __shfl_xor_sync(0xffffffffu, acc[p][t], o);
    if (lane == 0) {
      if (!share.cut(g.u, chunks)) {
        write(u_begin + g.u, acc);
      } else {
        float* slot = partial + (warp * 2 + (g.u == share.first ? 0 : 1)) * Pair * MaxRows;
#pragma unroll
        for (int p = 0; p < Pair; ++p)
#pragma unroll
          for (int t = 0; t < MaxRows; ++t) slot[p * MaxRows + t] = acc[p][t];
      }
    }
#pragma unroll
    for (int p = 0; p < Pair; ++p)
#pragma unroll
      for (int t = 0; t < MaxRows; ++t) acc[p][t] = 0.0f;
  };
  for (;;) {  // uniform over the warp; q0 holds g0 and q1 is loading g1
    if (g0.u < 0) break;
    consume(q0, g0);
    g0 = next(g1);
    load(q0, g0);
    if (g1.u < 0) break;
    consume(q1, g1);
    g1 = next(g0);
    load(q1, g1);
  }

  // Units cut between warps: the warp holding a unit's first chunk adds its part and then those of
  // the warps after it that start inside the unit.
  __syncthreads();
  if (lane != 0 || share.last < share.first || share.last_end == chunks || (share.last == share.first && share.first_chunk > 0)) return;
  const int u = share.last;
  float sum[Pair][MaxRows];
  const float* own = partial + (warp * 2 + (u == share.first ? 0 : 1)) * Pair * MaxRows;
#pragma unroll
  for (int p = 0; p < Pair; ++p)
#pragma unroll
    for (int t = 0; t < MaxRows; ++t) sum[p][t] = own[p * MaxRows + t];
  for (int w = warp + 1; w < gemv_warps; ++w) {
    const GemvShare other(block_chunks, w, chunks);
    if (other.f1 == other.f0) continue;
    if (other.first != u) break;
    const float* part = partial + w * 2 * Pair * MaxRows;
#pragma unroll
    for (int p = 0; p < Pair; ++p)
#pragma unroll
      for (int t = 0; t < MaxRows; ++t) sum[p][t] += part[p * MaxRows + t];
  }
  write(u_begin + u, sum);
}

}  // namespace cuda_kernels

/// Whether gemv() serves this product: few rows, 16-byte aligned rows, a staged input that fits.
template <class W>
bool gemv_serves(index_t rows, index_t in, const void* w, index_t ldx) {
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  return rows >= 1 && rows <= cuda_kernels::gemv_max_rows && (in * static_cast<index_t>(sizeof(W))) % 16 == 0 && aligned(w) &&
         static_cast<std::size_t>(rows * in) * sizeof(W) <= cuda_kernels::gemv_max_shared && in <= 0x7fffffff && ldx >= in;
}

/// The fused decode product (see cuda_kernels::gemv_fused); `a` holds the pointers and sizes, and
/// gemv_serves(a.rows, a.in, a.w, a.ldx) must hold.
template <cuda_kernels::GemvIn In, cuda_kernels::GemvOut Out, class W>
void gemv(const backend::Cuda& be, cuda_kernels::GemvArgs<W> a) {
  using namespace cuda_kernels;
  if (a.rows <= 0 || a.out <= 0) return;
  constexpr int Pair = Out == GemvOut::swiglu ? 2 : 1;
  require(a.out % Pair == 0, "gemv (CUDA): swiglu needs an even number of weight rows (got ", a.out, ")");
  // One wave of blocks (or one per unit, where there are fewer units).
  const auto run = [&](auto max_rows) {
    constexpr int MaxRows = decltype(max_rows)::value;
    const int units = a.out / Pair, blocks = std::min(units, gemv_blocks_per_sm(MaxRows) * be.multiprocessors());
    const std::size_t shared = gemv_partial_offset(static_cast<std::size_t>(a.rows) * a.in * sizeof(W)) +
                               static_cast<std::size_t>(gemv_warps) * 2 * Pair * MaxRows * sizeof(float);
    auto kernel = gemv_fused<W, In, Out, MaxRows>;
    cuda::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)),
                "cudaFuncSetAttribute (gemv shared memory)");
    cuda::launch(be, kernel, dim3(static_cast<unsigned>(blocks)), dim3(gemv_threads), shared, "gemv kernel launch", a);
  };
  if (a.rows == 1) run(std::integral_constant<int, 1>{});
  else run(std::integral_constant<int, gemv_max_rows>{});
}

}  // namespace samba::ops
