// samba/ops/cuda/attention_decode.cuh: the attention of decode rows on the GPU, flash-decoding
// style (SPEC.md "SWA": query t sees keys j with t-w < j <= t; softmax(q.k / sqrt(hs)) v): each
// row's keys are cut into splits, a block per (split, head, row) scores its keys with an online
// softmax per warp, and merge_splits combines the splits where a row has several. A decode step
// (attend_step) also rotates its rows and appends them to the caches inside the same kernel.
// Chunks of many rows per sequence take the kernels of attention.cuh.
#pragma once

#include <algorithm>
#include <cmath>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/launch.cuh"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/attention_common.cuh"
#include "samba/ops/cuda/batch.cuh"
#include "samba/ops/cuda/rope.cuh"

namespace samba::ops {

namespace cuda_kernels {

/// The split-key kernel's two shapes: blocks of 8 warps that score 8 keys each at once (64 keys a
/// round of loads), for launches of few blocks (few sequences: more warps per split, more loads in
/// flight), and blocks of 4 warps that score 4 keys each at once over 128 keys, for launches of
/// many (many sequences at long contexts, where the smaller blocks keep more of them resident). A
/// launch with many rows gives each block a multiple of its keys (attention_split).
inline constexpr int split_threads_wide = 256, split_batch_wide = 8, split_keys_wide = split_threads_wide / 32 * split_batch_wide;
inline constexpr int split_threads_narrow = 128, split_batch_narrow = 4, split_keys_narrow = 128;
/// Blocks of a wide-block launch above which the narrow blocks serve it (measured on an H200:
/// batch 16 at 16K-64K positions ran 1.26-1.45x faster on the narrow blocks, batch 1 and batch 16
/// at short contexts 1.08-1.18x faster on the wide ones).
inline constexpr long long split_wide_blocks_max = 1024;
/// Blocks of a split-key launch above which its splits grow (up to split_keys_max keys each).
inline constexpr long long split_blocks_max = 8192;
inline constexpr int split_keys_max = 16 * split_keys_narrow;

/// What a decode step's attention does before it attends. active: the step has one row per
/// sequence whose query and key are not rotated yet and whose key and value are not in the cache;
/// the kernel rotates them (rope_qk's math, SPEC.md "SWA") and appends the key and value.
struct StepRotation {
  bool active = false;
  RopeParams rope;
};

/// grid (key splits, heads, stacked rows): one query row of one head against `keys` of its keys
/// (flash-decoding): each warp scores keys in turn (lanes over the head's dims) with its own
/// online softmax; the block merges its warps and writes (max, sum, o[hs]) for merge_splits, or,
/// when one split holds all of the row's keys (splits == 1), the normalized output y [T, H, hs]
/// as A itself. partial [T, H, splits, hs + 2]. With step.active the block rotates its query
/// (and, in the split holding the row's own key, that key) in shared memory first; that split's
/// block of the group's first head writes the key and value into the cache slot of the row's
/// position, which held position - window, a key no query of the step sees.
template <int MaxHs, class A, int Threads, int Batch>
__global__ void __launch_bounds__(Threads) attend_split(const float* __restrict__ qkv, SegmentTable seg, KvPointers kv,
                                                              AttentionGeometry geo, float scale, float* __restrict__ partial, int splits,
                                                              int keys, A* __restrict__ y, StepRotation step) {
  constexpr int Dpl = MaxHs / 32, Warps = Threads / 32;
  __shared__ float warp_max[Warps], warp_sum[Warps], warp_out[Warps][MaxHs];
  __shared__ float fresh[3][MaxHs];  // step.active: the rotated query, and the row's own key (rotated) and value
  const int split = blockIdx.x, h = blockIdx.y, row = blockIdx.z, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int p = 0;
  while (p + 1 < seg.count && row >= seg.row0[p + 1]) ++p;
  const int hs = geo.head_size, q_per_kv = geo.n_head / geo.n_kv_head, g = h / q_per_kv;
  // Before waiting: a prefetch of the head's first cache rows and of the row's position, so that
  // their address translations (and lines) are at hand when the kernel reads them. Prefetches
  // return nothing, so they may touch what the previous kernel still writes.
  if (threadIdx.x < 2)
    asm volatile("prefetch.global.L2 [%0];" ::"l"((threadIdx.x == 0 ? kv.keys[p] : kv.values[p]) + g * kv.slots[p] * hs));
  else if (threadIdx.x == 2)
    asm volatile("prefetch.global.L2 [%0];" ::"l"(seg.position + p));
  cuda::allow_dependent_launch();
  cuda::wait_for_prior_grids();
  const KeyRows source = key_rows(qkv, seg, kv, geo, p, g);
  const long long pos = seg.position[p] + (row - seg.row0[p]);
  long long lo = geo.window > 0 ? pos - geo.window + 1 : 0;
  if (lo < 0) lo = 0;
  const long long begin = lo + static_cast<long long>(split) * keys;
  const long long end = min(pos + 1, begin + keys);
  const float* q_row = qkv + static_cast<index_t>(row) * source.width + (g * (q_per_kv + 2) + h % q_per_kv) * hs;
  // step.active: the row's own key (in the last split holding keys) is scored from `fresh` after
  // the loop, by the warp whose turn it would have been.
  const bool own_key = step.active && begin <= pos && pos < end;
  if (step.active) {
    const float* k_row = source.qkv;  // the row's key, then its value (the chunk's only row)
    const int half = step.rope.dims / 2;
    for (int d = threadIdx.x; d < hs; d += Threads) {
      if (d >= step.rope.dims) {
        fresh[0][d] = q_row[d];
        if (own_key) fresh[1][d] = k_row[d];
      }
      if (own_key) fresh[2][d] = k_row[hs + d];
    }
    for (int pair = threadIdx.x; pair < half; pair += Threads) {
      const float q1 = q_row[pair], q2 = q_row[pair + half];
      const float k1 = own_key ? k_row[pair] : 0.0f, k2 = own_key ? k_row[pair + half] : 0.0f;
      float sn, cs;
      rope_sin_cos(static_cast<double>(pos) * step.rope.position_scale, pair, step.rope.dims, step.rope.base, sn, cs);
      fresh[0][pair] = q1 * cs - q2 * sn, fresh[0][pair + half] = q1 * sn + q2 * cs;
      fresh[1][pair] = k1 * cs - k2 * sn, fresh[1][pair + half] = k1 * sn + k2 * cs;
    }
    __syncthreads();
    if (own_key && h % q_per_kv == 0) {
      const long long slot = geo.window > 0 ? pos % geo.window : pos;
      float* key = kv.keys[p] + (g * kv.slots[p] + slot) * hs;      // [hs]
      float* value = kv.values[p] + (g * kv.slots[p] + slot) * hs;  // [hs]
      for (int d = threadIdx.x; d < hs; d += Threads) key[d] = fresh[1][d], value[d] = fresh[2][d];
    }
  }
  float q[Dpl], o[Dpl];
#pragma unroll
  for (int k = 0; k < Dpl; ++k) {
    const int d = lane + 32 * k;
    q[k] = d < hs ? (step.active ? fresh[0][d] : q_row[d]) * scale : 0.0f;
    o[k] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  // A warp scores Batch keys at once, so that their loads overlap.
  const long long loop_end = own_key ? pos : end;
  for (long long j = begin + warp; j < loop_end; j += Warps * Batch) {
    const float *kr[Batch], *vr[Batch];
    float dot[Batch];
#pragma unroll
    for (int b = 0; b < Batch; ++b) {
      const long long jb = j + b * Warps;
      dot[b] = 0.0f;
      if (jb < loop_end) source.find(jb, kr[b], vr[b]);
      else kr[b] = vr[b] = nullptr;
    }
    // Keys and values loaded together (values need not wait for the scores).
    float kx[Batch][Dpl], vx[Batch][Dpl];
#pragma unroll
    for (int b = 0; b < Batch; ++b)
#pragma unroll
      for (int k = 0; k < Dpl; ++k) {
        const bool in = kr[b] && lane + 32 * k < hs;
        kx[b][k] = in ? kr[b][lane + 32 * k] : 0.0f, vx[b][k] = in ? vr[b][lane + 32 * k] : 0.0f;
      }
#pragma unroll
    for (int b = 0; b < Batch; ++b)
#pragma unroll
      for (int k = 0; k < Dpl; ++k) dot[b] += q[k] * kx[b][k];
    float top = m;
#pragma unroll
    for (int b = 0; b < Batch; ++b) {
      for (int off = 16; off > 0; off >>= 1) dot[b] += __shfl_xor_sync(0xffffffffu, dot[b], off);
      if (kr[b]) top = fmaxf(top, dot[b]);
    }
    const float correction = expf(m - top);
    l *= correction;
#pragma unroll
    for (int k = 0; k < Dpl; ++k) o[k] *= correction;
#pragma unroll
    for (int b = 0; b < Batch; ++b) {
      if (!kr[b]) continue;
      const float e = expf(dot[b] - top);
      l += e;
#pragma unroll
      for (int k = 0; k < Dpl; ++k) o[k] += e * vx[b][k];
    }
    m = top;
  }
  if (own_key && warp == (pos - begin) % Warps) {
    float dot = 0.0f;
#pragma unroll
    for (int k = 0; k < Dpl; ++k)
      if (lane + 32 * k < hs) dot += q[k] * fresh[1][lane + 32 * k];
    for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    const float top = fmaxf(m, dot), correction = expf(m - top), e = expf(dot - top);
    l = l * correction + e;
#pragma unroll
    for (int k = 0; k < Dpl; ++k)
      if (lane + 32 * k < hs) o[k] = o[k] * correction + e * fresh[2][lane + 32 * k];
    m = top;
  }
  if (lane == 0) warp_max[warp] = m, warp_sum[warp] = l;
#pragma unroll
  for (int k = 0; k < Dpl; ++k) warp_out[warp][lane + 32 * k] = o[k];
  __syncthreads();
  float top = -INFINITY, total = 0.0f;
  for (int w = 0; w < Warps; ++w) top = fmaxf(top, warp_max[w]);
  for (int w = 0; w < Warps; ++w)
    if (warp_max[w] != -INFINITY) total += warp_sum[w] * expf(warp_max[w] - top);
  float* out = partial + ((static_cast<index_t>(row) * geo.n_head + h) * splits + split) * (hs + 2);
  A* y_row = y + (static_cast<index_t>(row) * geo.n_head + h) * hs;
  for (int d = threadIdx.x; d < hs; d += Threads) {
    float acc = 0.0f;
    for (int w = 0; w < Warps; ++w)
      if (warp_max[w] != -INFINITY) acc += warp_out[w][d] * expf(warp_max[w] - top);
    if (splits == 1) y_row[d] = store_as<A>(acc / total);
    else out[2 + d] = acc;
  }
  if (threadIdx.x == 0 && splits > 1) out[0] = top, out[1] = total;
}

/// grid (heads, stacked rows): merges a row's key splits (softmax-weighted) into y [T, H, hs] as A.
template <class A>
__global__ void merge_splits(const float* __restrict__ partial, int splits, AttentionGeometry geo, A* __restrict__ y) {
  cuda::allow_dependent_launch();
  cuda::wait_for_prior_grids();
  const int h = blockIdx.x, row = blockIdx.y, hs = geo.head_size;
  const float* in = partial + (static_cast<index_t>(row) * geo.n_head + h) * splits * (hs + 2);
  float top = -INFINITY;
  for (int s = 0; s < splits; ++s) top = fmaxf(top, in[s * (hs + 2)]);
  float total = 0.0f;
  for (int s = 0; s < splits; ++s)
    if (in[s * (hs + 2)] != -INFINITY) total += in[s * (hs + 2) + 1] * expf(in[s * (hs + 2)] - top);
  for (int d = threadIdx.x; d < hs; d += blockDim.x) {
    float acc = 0.0f;
    for (int s = 0; s < splits; ++s)
      if (in[s * (hs + 2)] != -INFINITY) acc += in[s * (hs + 2) + 2 + d] * expf(in[s * (hs + 2)] - top);
    y[(static_cast<index_t>(row) * geo.n_head + h) * hs + d] = store_as<A>(acc / total);
  }
}

}  // namespace cuda_kernels

/// How the decode kernel splits each row's keys: `splits` blocks of `keys` keys per row and head.
struct AttentionSplit {
  int splits, keys, threads;  // threads: cuda_kernels::split_threads_wide or split_threads_narrow
};

/// Wide blocks of split_keys_wide keys, enough for the longest row's, where that launch has at most
/// split_wide_blocks_max blocks; else narrow blocks of split_keys_narrow keys, made longer
/// (doubling) while the launch would have more than split_blocks_max blocks.
inline AttentionSplit attention_split(const cuda_kernels::SegmentTable& seg, const cuda_kernels::AttentionGeometry& geo) {
  using namespace cuda_kernels;
  long long keys = 1, rows = 0;
  for (int p = 0; p < seg.count; ++p) {
    const long long newest = seg.first[p] + seg.rows[p];  // keys of the last row
    keys = std::max(keys, geo.window > 0 ? std::min<long long>(newest, geo.window) : newest);
    rows += seg.rows[p];
  }
  const auto splits_of = [&](int per_split) { return (keys + per_split - 1) / per_split; };
  const auto blocks = [&](int per_split) { return splits_of(per_split) * geo.n_head * rows; };
  if (blocks(split_keys_wide) <= split_wide_blocks_max) return {static_cast<int>(splits_of(split_keys_wide)), split_keys_wide, split_threads_wide};
  AttentionSplit s{0, split_keys_narrow, split_threads_narrow};
  while (s.keys < split_keys_max && blocks(s.keys) > split_blocks_max) s.keys *= 2;
  s.splits = static_cast<int>(splits_of(s.keys));
  return s;
}

/// The split-key decode kernel (cuda_kernels::attend_split) on rows of fewer than
/// cuda_attention_split_below per sequence, merged by merge_splits where a row's keys take several
/// blocks.
template <class A>
void attend_split_rows(const backend::Cuda& be, const float* qkv, const cuda_kernels::SegmentTable& seg, const cuda_kernels::KvPointers& kv,
                       const cuda_kernels::AttentionGeometry& geo, float scale, A* y, float* scratch, const cuda_kernels::StepRotation& step) {
  using namespace cuda_kernels;
  const AttentionSplit split = attention_split(seg, geo);
  const int splits = split.splits, keys = split.keys;
  const int total_rows = seg.row0[seg.count - 1] + seg.rows[seg.count - 1];
  const dim3 grid(static_cast<unsigned>(splits), static_cast<unsigned>(geo.n_head), static_cast<unsigned>(total_rows));
  auto launch = [&](auto max_hs) {
    constexpr int Hs = decltype(max_hs)::value;
    if (split.threads == split_threads_wide)
      cuda::launch(be, attend_split<Hs, A, split_threads_wide, split_batch_wide>, grid, dim3(split_threads_wide), 0,
                   "attend_split kernel launch", qkv, seg, kv, geo, scale, scratch, splits, keys, y, step);
    else
      cuda::launch(be, attend_split<Hs, A, split_threads_narrow, split_batch_narrow>, grid, dim3(split_threads_narrow), 0,
                   "attend_split kernel launch", qkv, seg, kv, geo, scale, scratch, splits, keys, y, step);
  };
  if (geo.head_size <= 32) launch(std::integral_constant<int, 32>{});
  else if (geo.head_size <= 64) launch(std::integral_constant<int, 64>{});
  else if (geo.head_size <= 128) launch(std::integral_constant<int, 128>{});
  else launch(std::integral_constant<int, 256>{});
  if (splits > 1)  // else attend_split wrote y
    cuda::launch(be, merge_splits<A>, dim3(static_cast<unsigned>(geo.n_head), static_cast<unsigned>(total_rows)), dim3(128), 0,
                 "merge_splits kernel launch", static_cast<const float*>(scratch), splits, geo, y);
}

/// A decode step's attention, one row per sequence whose query and key are not rotated yet: rotates
/// them (rope_qk's math, `rope.dims` 0: none), appends each row's key and value to its cache and
/// attends, in one kernel (cuda_kernels::attend_split with an active StepRotation), so that the
/// step needs no rotation or append kernels of its own. qkv is left as it was; y [T, H, hs] as A;
/// `scratch` holds /// attention_scratch_floats<A>(be, seg, 1, seg.count, geo) floats (attention.cuh).
template <class A>
void attend_step(const backend::Cuda& be, const float* qkv, const cuda_kernels::SegmentTable& seg, const cuda_kernels::KvPointers& kv,
                 const cuda_kernels::AttentionGeometry& geo, const cuda_kernels::RopeParams& rope, A* y, float* scratch) {
  require(geo.head_size >= 1 && geo.head_size <= cuda_attention_max_head_size, "attention (CUDA): head size ", geo.head_size,
          " is outside the supported 1..", cuda_attention_max_head_size);
  require(rope.dims >= 0 && rope.dims <= geo.head_size && rope.dims % 2 == 0, "attention (CUDA): rotary dims ", rope.dims,
          " must be even and at most the head size ", geo.head_size);
  for (int p = 0; p < seg.count; ++p)
    require(seg.rows[p] == 1 && seg.row0[p] == p, "attend_step (CUDA): sequence ", p, " has ", seg.rows[p], " rows, not one");
  if (seg.count == 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(geo.head_size)));
  attend_split_rows(be, qkv, seg, kv, geo, scale, y, scratch, cuda_kernels::StepRotation{true, rope});
}

}  // namespace samba::ops
