// samba/ops/cuda/attention.cuh: causal sliding-window grouped-query attention on the GPU, flash
// style (SPEC.md "SWA": query t sees keys j with t-w < j <= t; softmax(q.k / sqrt(hs)) v): each
// block holds a tile of queries of one head and streams the keys of its window a tile at a time
// with an online softmax, so key tiles outside the window are never loaded. Keys and values come
// from the chunk's own fused qkv rows or, for older positions, the sequence's KV cache; query heads
// of a group read their KV head in place (no copies).
#pragma once

#include <cmath>

#include "samba/backend/cuda.hpp"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops {

namespace cuda_kernels {

inline constexpr int attention_rows = 32;  // queries per block
inline constexpr int attention_keys = 32;  // keys per tile
inline constexpr int attention_threads = 128;

/// Geometry of one attention layer.
struct AttentionGeometry {
  int n_head, n_kv_head, head_size;
  int window;  // keys per query, itself included; -1 = full causal
};

/// grid (query tiles, heads, sequences). qkv rows [G, q_per_kv + 2, hs]; y [T, H, hs] as A.
/// Four threads share a query row: each scores a quarter of the key tile and accumulates a quarter
/// of the output dimensions (MaxHs / 4 in registers).
template <int MaxHs, class A>
__global__ void __launch_bounds__(attention_threads) swa_forward(const float* __restrict__ qkv, SegmentTable seg, KvPointers kv,
                                                                 AttentionGeometry geo, float scale, A* __restrict__ y) {
  constexpr int Br = attention_rows, Bc = attention_keys, Dpt = MaxHs / 4;
  extern __shared__ float smem[];
  const int hs = geo.head_size, ld = hs + 1;  // padded rows: no bank conflicts between rows
  float* qs = smem;             // [Br, ld] scaled queries
  float* ks = qs + Br * ld;     // [Bc, ld]
  float* vs = ks + Bc * ld;     // [Bc, ld]
  float* ps = vs + Bc * ld;     // [Br, Bc] probabilities of the tile
  const int p = blockIdx.z, h = blockIdx.y, tile0 = blockIdx.x * Br, rows = seg.rows[p];
  if (tile0 >= rows) return;
  const int q_per_kv = geo.n_head / geo.n_kv_head, g = h / q_per_kv;
  const index_t width = static_cast<index_t>(geo.n_kv_head) * (q_per_kv + 2) * hs;  // floats per qkv row
  const int q_off = (g * (q_per_kv + 2) + h % q_per_kv) * hs, k_off = (g * (q_per_kv + 2) + q_per_kv) * hs, v_off = k_off + hs;
  const index_t row0 = seg.row0[p];
  const long long first = seg.position[p], slots = kv.slots[p];
  const float* keys = kv.keys[p] + g * slots * hs;
  const float* values = kv.values[p] + g * slots * hs;

  for (int i = threadIdx.x; i < Br * hs; i += blockDim.x) {
    const int r = i / hs, dd = i % hs;
    qs[r * ld + dd] = tile0 + r < rows ? qkv[(row0 + tile0 + r) * width + q_off + dd] * scale : 0.0f;
  }
  const int r = threadIdx.x >> 2, sub = threadIdx.x & 3;
  const bool row_valid = tile0 + r < rows;
  const long long my_pos = first + tile0 + r;
  const long long pos_hi = first + min(rows, tile0 + Br) - 1;  // newest key of the tile's queries
  long long pos_lo = geo.window > 0 ? first + tile0 - geo.window + 1 : 0;  // oldest key of its first query
  if (pos_lo < 0) pos_lo = 0;

  float o[Dpt];
#pragma unroll
  for (int k = 0; k < Dpt; ++k) o[k] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (long long j0 = pos_lo; j0 <= pos_hi; j0 += Bc) {
    __syncthreads();  // the previous tile is consumed (and the queries are staged)
    for (int i = threadIdx.x; i < Bc * hs; i += blockDim.x) {
      const int c = i / hs, dd = i % hs;
      const long long j = j0 + c;
      float kv_k = 0.0f, kv_v = 0.0f;
      if (j <= pos_hi) {
        if (j >= first) {
          const float* src = qkv + (row0 + (j - first)) * width;
          kv_k = src[k_off + dd], kv_v = src[v_off + dd];
        } else {
          const long long at = (geo.window > 0 ? j % geo.window : j) * hs + dd;
          kv_k = keys[at], kv_v = values[at];
        }
      }
      ks[c * ld + dd] = kv_k, vs[c * ld + dd] = kv_v;
    }
    __syncthreads();
    float s[Bc / 4];
    float tile_max = -INFINITY;
#pragma unroll
    for (int n = 0; n < Bc / 4; ++n) {
      const int c = sub + 4 * n;
      const long long j = j0 + c;
      const bool visible = row_valid && j <= my_pos && (geo.window <= 0 || j > my_pos - geo.window);
      float dot = 0.0f;
      if (visible)
        for (int dd = 0; dd < hs; ++dd) dot += qs[r * ld + dd] * ks[c * ld + dd];
      s[n] = visible ? dot : -INFINITY;
      tile_max = fmaxf(tile_max, s[n]);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
    const float m_new = fmaxf(m, tile_max);
    const float correction = m_new == -INFINITY ? 1.0f : expf(m - m_new);
    float sum = 0.0f;
#pragma unroll
    for (int n = 0; n < Bc / 4; ++n) {
      const float e = s[n] == -INFINITY ? 0.0f : expf(s[n] - m_new);
      ps[r * Bc + sub + 4 * n] = e;
      sum += e;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    l = l * correction + sum;
    m = m_new;
    __syncwarp();  // the row's four threads share a warp
#pragma unroll
    for (int k = 0; k < Dpt; ++k) o[k] *= correction;
    for (int c = 0; c < Bc; ++c) {
      const float pc = ps[r * Bc + c];
#pragma unroll
      for (int k = 0; k < Dpt; ++k) {
        const int dd = sub + 4 * k;
        if (dd < hs) o[k] += pc * vs[c * ld + dd];
      }
    }
  }
  if (!row_valid) return;
  A* out = y + ((row0 + tile0 + r) * geo.n_head + h) * hs;
  const float inv = 1.0f / l;
#pragma unroll
  for (int k = 0; k < Dpt; ++k) {
    const int dd = sub + 4 * k;
    if (dd < hs) out[dd] = store_as<A>(o[k] * inv);
  }
}

/// grid (rows of the longest sequence, sequences): writes each sequence's keys and values (the
/// chunk's rows that stay in the window) into its cache.
__global__ void kv_append(const float* __restrict__ qkv, SegmentTable seg, KvPointers kv, AttentionGeometry geo) {
  const int p = blockIdx.y, t = blockIdx.x, rows = seg.rows[p];
  if (t >= rows || (geo.window > 0 && t < rows - geo.window)) return;  // overwritten within the chunk
  const int hs = geo.head_size, q_per_kv = geo.n_head / geo.n_kv_head;
  const long long j = seg.position[p] + t, slots = kv.slots[p];
  const long long slot = geo.window > 0 ? j % geo.window : j;
  const float* src = qkv + (static_cast<index_t>(seg.row0[p]) + t) * geo.n_kv_head * (q_per_kv + 2) * hs;
  for (int i = threadIdx.x; i < geo.n_kv_head * hs; i += blockDim.x) {
    const int g = i / hs, dd = i % hs;
    const float* group = src + (g * (q_per_kv + 2) + q_per_kv) * hs;
    kv.keys[p][(g * slots + slot) * hs + dd] = group[dd];
    kv.values[p][(g * slots + slot) * hs + dd] = group[hs + dd];
  }
}

}  // namespace cuda_kernels

/// Head sizes the CUDA attention is built for.
inline constexpr index_t cuda_attention_max_head_size = 256;

/// Attention of every stacked sequence's rows (queries and keys already rotated): y [T, H, hs] as A.
/// The caches are read, not written; call kv_append afterwards.
template <class A>
void swa_forward(const backend::Cuda& be, const float* qkv, const cuda_kernels::SegmentTable& seg, int max_rows,
                 const cuda_kernels::KvPointers& kv, const cuda_kernels::AttentionGeometry& geo, A* y) {
  using namespace cuda_kernels;
  require(geo.head_size >= 1 && geo.head_size <= cuda_attention_max_head_size, "attention (CUDA): head size ", geo.head_size,
          " is outside the supported 1..", cuda_attention_max_head_size);
  if (seg.count == 0 || max_rows <= 0) return;
  const dim3 grid(static_cast<unsigned>((max_rows + attention_rows - 1) / attention_rows), static_cast<unsigned>(geo.n_head),
                  static_cast<unsigned>(seg.count));
  const int ld = geo.head_size + 1;
  const std::size_t shared = (static_cast<std::size_t>(attention_rows + 2 * attention_keys) * ld + attention_rows * attention_keys) * sizeof(float);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(geo.head_size)));
  auto launch = [&](auto max_hs) {
    auto kernel = swa_forward<decltype(max_hs)::value, A>;
    cuda::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)),
                "cudaFuncSetAttribute (attention shared memory)");
    kernel<<<grid, attention_threads, shared, be.stream()>>>(qkv, seg, kv, geo, scale, y);
  };
  if (geo.head_size <= 32) launch(std::integral_constant<int, 32>{});
  else if (geo.head_size <= 64) launch(std::integral_constant<int, 64>{});
  else if (geo.head_size <= 128) launch(std::integral_constant<int, 128>{});
  else launch(std::integral_constant<int, 256>{});
  cuda::check_launch("swa_forward kernel launch");
}

/// Appends every sequence's chunk keys and values to its cache (after swa_forward read them).
inline void kv_append(const backend::Cuda& be, const float* qkv, const cuda_kernels::SegmentTable& seg, int max_rows,
                      const cuda_kernels::KvPointers& kv, const cuda_kernels::AttentionGeometry& geo) {
  if (seg.count == 0 || max_rows <= 0) return;
  cuda_kernels::kv_append<<<dim3(static_cast<unsigned>(max_rows), static_cast<unsigned>(seg.count)), 128, 0, be.stream()>>>(qkv, seg, kv, geo);
  cuda::check_launch("kv_append kernel launch");
}

}  // namespace samba::ops
