// samba/ops/cuda/attention.cuh: causal sliding-window grouped-query attention on the GPU, flash
// style (SPEC.md "SWA": query t sees keys j with t-w < j <= t; softmax(q.k / sqrt(hs)) v): each
// block holds a tile of queries of one head and streams the keys of its window a tile at a time
// with an online softmax, so key tiles outside the window are never loaded. Keys and values come
// from the chunk's own fused qkv rows or, for older positions, the sequence's KV cache; query heads
// of a group read their KV head in place (no copies). swa_forward picks the kernel: the split-key
// kernel of attention_decode.cuh for rows of decode steps, the tensor-core kernels (wgmma,
// mma.sync) or the float32 one below for chunks of prompts.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/launch.cuh"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/attention_common.cuh"
#include "samba/ops/cuda/attention_wgmma.cuh"
#include "samba/ops/cuda/attention_decode.cuh"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops {

namespace cuda_kernels {

inline constexpr int attention_rows = 32;  // queries per block
inline constexpr int attention_keys = 32;  // keys per tile
inline constexpr int attention_threads = 128;

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
  __shared__ const float* tile_k[Bc];
  __shared__ const float* tile_v[Bc];
  const int q_per_kv = geo.n_head / geo.n_kv_head, g = h / q_per_kv;
  const index_t width = static_cast<index_t>(geo.n_kv_head) * (q_per_kv + 2) * hs;  // floats per qkv row
  const int q_off = (g * (q_per_kv + 2) + h % q_per_kv) * hs;
  const index_t row0 = seg.row0[p];
  const long long first = seg.position[p];
  const KeyRows source = key_rows(qkv, seg, kv, geo, p, g);

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
    if (threadIdx.x < Bc) {
      const long long j = j0 + threadIdx.x;
      if (j <= pos_hi) source.find(j, tile_k[threadIdx.x], tile_v[threadIdx.x]);
      else tile_k[threadIdx.x] = tile_v[threadIdx.x] = nullptr;
    }
    __syncthreads();
    for (int c = threadIdx.x >> 5; c < Bc; c += blockDim.x >> 5) {  // a warp per key, lanes over its dims
      const float *kr = tile_k[c], *vr = tile_v[c];
      for (int dd = threadIdx.x & 31; dd < hs; dd += 32) ks[c * ld + dd] = kr ? kr[dd] : 0.0f, vs[c * ld + dd] = vr ? vr[dd] : 0.0f;
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

/// Tensor-core variant for bf16 models (head sizes 64 and 128), FlashAttention-2 style: 64 queries
/// of one head per block, 16 per warp. S = Q K^T and O += P V are mma.sync m16n8k16 bf16 products
/// with float32 accumulators whose fragment layout (PTX ISA, "Matrix fragments for mma.m16n8k16")
/// lets the online softmax, the rescaling of O and the conversion of S into P's operand happen in
/// registers. K (row-major) and V (transposed) tiles of 64 keys are staged in shared memory as bf16.
inline constexpr int tc_rows = 64, tc_keys = 64, tc_threads = 128;

template <int Hs>
struct TcLayout {
  static constexpr int ld_k = Hs + 8;       // bf16 per K row (keys x dims)
  static constexpr int ld_v = tc_keys + 8;  // bf16 per V^T row (dims x keys)
  static constexpr std::size_t bytes = sizeof(__nv_bfloat16) * (tc_keys * ld_k + Hs * ld_v);
};

__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x = lo (low 16 bits)
  return *reinterpret_cast<const unsigned*>(&v);
}

/// d += a b: a 16x16 (row), b 16x8 (col), bf16 in, float32 accumulate.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <int Hs>
__global__ void __launch_bounds__(tc_threads) swa_forward_tc(const float* __restrict__ qkv, SegmentTable seg, KvPointers kv,
                                                             AttentionGeometry geo, float scale, bf16* __restrict__ y) {
  using L = TcLayout<Hs>;
  constexpr int KSteps = Hs / 16, KeyTiles = tc_keys / 8, DimTiles = Hs / 8;
  constexpr float log2e = 1.4426950408889634f;
  extern __shared__ __align__(16) unsigned char tc_smem[];
  auto* ks = reinterpret_cast<__nv_bfloat16*>(tc_smem);  // [tc_keys, ld_k]
  auto* vt = ks + tc_keys * L::ld_k;                     // [Hs, ld_v]
  __shared__ const float* tile_k[tc_keys];
  __shared__ const float* tile_v[tc_keys];

  const int p = blockIdx.z, h = blockIdx.y, tile0 = blockIdx.x * tc_rows, rows = seg.rows[p];
  if (tile0 >= rows) return;
  const int q_per_kv = geo.n_head / geo.n_kv_head, g = h / q_per_kv;
  const index_t width = static_cast<index_t>(geo.n_kv_head) * (q_per_kv + 2) * Hs;
  const index_t row0 = seg.row0[p];
  const long long first = seg.position[p];
  const KeyRows source = key_rows(qkv, seg, kv, geo, p, g);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, group = lane >> 2, tig = lane & 3;

  // This thread's query rows (the warp's rows group and group + 8) and its Q fragments, scaled by
  // 1/sqrt(hs) * log2(e) so that the softmax runs on exp2.
  const int r_lo = tile0 + warp * 16 + group, r_hi = r_lo + 8;
  unsigned qa[KSteps][4];
  {
    const float* q_base = qkv + (g * (q_per_kv + 2) + h % q_per_kv) * Hs;
    const float f = scale * log2e;
    auto q_at = [&](int r, int d) { return r < rows ? q_base[(row0 + r) * width + d] * f : 0.0f; };
#pragma unroll
    for (int kk = 0; kk < KSteps; ++kk) {
      const int d = kk * 16 + 2 * tig;
      qa[kk][0] = pack_bf16(q_at(r_lo, d), q_at(r_lo, d + 1));
      qa[kk][1] = pack_bf16(q_at(r_hi, d), q_at(r_hi, d + 1));
      qa[kk][2] = pack_bf16(q_at(r_lo, d + 8), q_at(r_lo, d + 9));
      qa[kk][3] = pack_bf16(q_at(r_hi, d + 8), q_at(r_hi, d + 9));
    }
  }
  const long long pos_lo_row = first + r_lo, pos_hi_row = first + r_hi;
  float o[DimTiles][4];
#pragma unroll
  for (int n = 0; n < DimTiles; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;  // l: this thread's share of the row sums

  const long long pos_hi = first + min(rows, tile0 + tc_rows) - 1;
  long long pos_lo = geo.window > 0 ? first + tile0 - geo.window + 1 : 0;
  if (pos_lo < 0) pos_lo = 0;
  for (long long j0 = pos_lo; j0 <= pos_hi; j0 += tc_keys) {
    __syncthreads();  // the previous tile is consumed
    if (threadIdx.x < tc_keys) {
      const long long j = j0 + threadIdx.x;
      if (j <= pos_hi) source.find(j, tile_k[threadIdx.x], tile_v[threadIdx.x]);
      else tile_k[threadIdx.x] = tile_v[threadIdx.x] = nullptr;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < tc_keys * Hs / 4; i += tc_threads) {  // 16-byte loads, 4 dims each
      const int c = i / (Hs / 4), d = 4 * (i % (Hs / 4));
      const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      const float4 kk = tile_k[c] ? *reinterpret_cast<const float4*>(tile_k[c] + d) : zero;
      const float4 vv = tile_v[c] ? *reinterpret_cast<const float4*>(tile_v[c] + d) : zero;
      *reinterpret_cast<uint2*>(ks + c * L::ld_k + d) = make_uint2(pack_bf16(kk.x, kk.y), pack_bf16(kk.z, kk.w));
      vt[(d + 0) * L::ld_v + c] = __float2bfloat16_rn(vv.x), vt[(d + 1) * L::ld_v + c] = __float2bfloat16_rn(vv.y);
      vt[(d + 2) * L::ld_v + c] = __float2bfloat16_rn(vv.z), vt[(d + 3) * L::ld_v + c] = __float2bfloat16_rn(vv.w);
    }
    __syncthreads();

    // S = Q K^T: 16 rows x 64 keys per warp, as 8 accumulator tiles of 8 keys.
    float sc[KeyTiles][4];
#pragma unroll
    for (int n = 0; n < KeyTiles; ++n) {
      sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
      const __nv_bfloat16* krow = ks + (n * 8 + group) * L::ld_k + 2 * tig;
#pragma unroll
      for (int kk = 0; kk < KSteps; ++kk)
        mma_bf16(sc[n], qa[kk], *reinterpret_cast<const unsigned*>(krow + kk * 16), *reinterpret_cast<const unsigned*>(krow + kk * 16 + 8));
    }
    // Mask (causal, window, tile end), then the online softmax of both rows.
    float max_lo = -INFINITY, max_hi = -INFINITY;
#pragma unroll
    for (int n = 0; n < KeyTiles; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const long long j = j0 + n * 8 + 2 * tig + (i & 1);
        const long long pos = i < 2 ? pos_lo_row : pos_hi_row;
        const bool visible = j <= pos && (geo.window <= 0 || j > pos - geo.window);
        sc[n][i] = visible ? sc[n][i] : -INFINITY;
        if (i < 2) max_lo = fmaxf(max_lo, sc[n][i]);
        else max_hi = fmaxf(max_hi, sc[n][i]);
      }
#pragma unroll
    for (int off = 1; off <= 2; off <<= 1) {
      max_lo = fmaxf(max_lo, __shfl_xor_sync(0xffffffffu, max_lo, off));
      max_hi = fmaxf(max_hi, __shfl_xor_sync(0xffffffffu, max_hi, off));
    }
    const float new_lo = fmaxf(m_lo, max_lo), new_hi = fmaxf(m_hi, max_hi);
    const float corr_lo = new_lo == -INFINITY ? 1.0f : exp2f(m_lo - new_lo);
    const float corr_hi = new_hi == -INFINITY ? 1.0f : exp2f(m_hi - new_hi);
    m_lo = new_lo, m_hi = new_hi;
    float sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
    for (int n = 0; n < KeyTiles; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float m = i < 2 ? m_lo : m_hi;
        const float e = sc[n][i] == -INFINITY ? 0.0f : exp2f(sc[n][i] - m);
        sc[n][i] = e;
        if (i < 2) sum_lo += e;
        else sum_hi += e;
      }
    l_lo = l_lo * corr_lo + sum_lo, l_hi = l_hi * corr_hi + sum_hi;
#pragma unroll
    for (int n = 0; n < DimTiles; ++n) o[n][0] *= corr_lo, o[n][1] *= corr_lo, o[n][2] *= corr_hi, o[n][3] *= corr_hi;
    // O += P V: P's A fragments are the S accumulators of two adjacent key tiles.
#pragma unroll
    for (int kc = 0; kc < tc_keys / 16; ++kc) {
      const unsigned pa[4] = {pack_bf16(sc[2 * kc][0], sc[2 * kc][1]), pack_bf16(sc[2 * kc][2], sc[2 * kc][3]),
                              pack_bf16(sc[2 * kc + 1][0], sc[2 * kc + 1][1]), pack_bf16(sc[2 * kc + 1][2], sc[2 * kc + 1][3])};
#pragma unroll
      for (int n = 0; n < DimTiles; ++n) {
        const __nv_bfloat16* vrow = vt + (n * 8 + group) * L::ld_v + kc * 16 + 2 * tig;
        mma_bf16(o[n], pa, *reinterpret_cast<const unsigned*>(vrow), *reinterpret_cast<const unsigned*>(vrow + 8));
      }
    }
  }
#pragma unroll
  for (int off = 1; off <= 2; off <<= 1) {
    l_lo += __shfl_xor_sync(0xffffffffu, l_lo, off);
    l_hi += __shfl_xor_sync(0xffffffffu, l_hi, off);
  }
  const float inv_lo = 1.0f / l_lo, inv_hi = 1.0f / l_hi;
#pragma unroll
  for (int n = 0; n < DimTiles; ++n) {
    const int d = n * 8 + 2 * tig;
    if (r_lo < rows) {
      bf16* out = y + ((row0 + r_lo) * geo.n_head + h) * Hs + d;
      out[0] = store_as<bf16>(o[n][0] * inv_lo), out[1] = store_as<bf16>(o[n][1] * inv_lo);
    }
    if (r_hi < rows) {
      bf16* out = y + ((row0 + r_hi) * geo.n_head + h) * Hs + d;
      out[0] = store_as<bf16>(o[n][2] * inv_hi), out[1] = store_as<bf16>(o[n][3] * inv_hi);
    }
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

/// Rows per sequence below which a chunk takes the split-key (decode) kernel.
inline constexpr int cuda_attention_split_below = 16;

/// Whether swa_forward runs these rows on the wgmma kernel (attention_wgmma.cuh): prefill-sized
/// chunks of bf16 models with head size 64 or 128, on an sm_90a build running on Hopper.
template <class A>
bool uses_wgmma_attention(const backend::Cuda& be, int max_rows, const cuda_kernels::AttentionGeometry& geo) {
  return std::is_same_v<A, bf16> && max_rows >= cuda_attention_split_below && (geo.head_size == 64 || geo.head_size == 128) &&
         wgmma_attention_available(be);
}

/// Floats of scratch swa_forward needs for these rows: the wgmma kernel's packed operands, or the
/// decode kernel's partial results, or nothing.
template <class A>
std::size_t attention_scratch_floats(const backend::Cuda& be, const cuda_kernels::SegmentTable& seg, int max_rows, index_t total_rows,
                                     const cuda_kernels::AttentionGeometry& geo) {
  if (uses_wgmma_attention<A>(be, max_rows, geo)) return (cuda_kernels::packed_bytes(cuda_kernels::packed_keys(seg, geo), geo) + 3) / 4;
  if (max_rows >= cuda_attention_split_below) return 0;
  return static_cast<std::size_t>(total_rows) * geo.n_head * attention_split(seg, geo).splits * (geo.head_size + 2);
}

/// The mma.sync tensor-core kernel (cuda_kernels::swa_forward_tc) on these rows: bf16 output,
/// head size 64 or 128.
inline void swa_forward_mma(const backend::Cuda& be, const float* qkv, const cuda_kernels::SegmentTable& seg, int max_rows,
                            const cuda_kernels::KvPointers& kv, const cuda_kernels::AttentionGeometry& geo, float scale, bf16* y) {
  using namespace cuda_kernels;
  require(geo.head_size == 64 || geo.head_size == 128, "attention (CUDA, mma.sync): head size ", geo.head_size, " is not 64 or 128");
  const dim3 grid(static_cast<unsigned>((max_rows + tc_rows - 1) / tc_rows), static_cast<unsigned>(geo.n_head),
                  static_cast<unsigned>(seg.count));
  auto launch = [&](auto hs) {
    constexpr int Hs = decltype(hs)::value;
    auto kernel = swa_forward_tc<Hs>;
    constexpr int shared = static_cast<int>(TcLayout<Hs>::bytes);
    cuda::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, shared),
                "cudaFuncSetAttribute (tensor-core attention shared memory)");
    kernel<<<grid, tc_threads, shared, be.stream()>>>(qkv, seg, kv, geo, scale, y);
  };
  if (geo.head_size == 64) launch(std::integral_constant<int, 64>{});
  else launch(std::integral_constant<int, 128>{});
  cuda::check_launch("swa_forward_tc kernel launch");
}

/// Attention of every stacked sequence's rows (queries and keys already rotated): y [T, H, hs] as A.
/// The caches are read, not written; call kv_append afterwards. `scratch` holds
/// attention_scratch_floats<A>(...) floats.
template <class A>
void swa_forward(const backend::Cuda& be, const float* qkv, const cuda_kernels::SegmentTable& seg, int max_rows,
                 const cuda_kernels::KvPointers& kv, const cuda_kernels::AttentionGeometry& geo, A* y, float* scratch) {
  using namespace cuda_kernels;
  require(geo.head_size >= 1 && geo.head_size <= cuda_attention_max_head_size, "attention (CUDA): head size ", geo.head_size,
          " is outside the supported 1..", cuda_attention_max_head_size);
  if (seg.count == 0 || max_rows <= 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(geo.head_size)));
  if (max_rows < cuda_attention_split_below) {
    attend_split_rows(be, qkv, seg, kv, geo, scale, y, scratch, {});
    return;
  }
  if constexpr (std::is_same_v<A, bf16>) {
    // Prefill-sized chunks of bf16 models run on the tensor cores: warpgroup products on Hopper,
    // else mma.sync.
    if (uses_wgmma_attention<A>(be, max_rows, geo)) {
      swa_forward_wgmma(be, qkv, seg, max_rows, kv, geo, scale, y, scratch);
      return;
    }
    if (geo.head_size == 64 || geo.head_size == 128) {
      swa_forward_mma(be, qkv, seg, max_rows, kv, geo, scale, y);
      return;
    }
  }
  const dim3 grid(static_cast<unsigned>((max_rows + attention_rows - 1) / attention_rows), static_cast<unsigned>(geo.n_head),
                  static_cast<unsigned>(seg.count));
  const int ld = geo.head_size + 1;
  const std::size_t shared = (static_cast<std::size_t>(attention_rows + 2 * attention_keys) * ld + attention_rows * attention_keys) * sizeof(float);
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
