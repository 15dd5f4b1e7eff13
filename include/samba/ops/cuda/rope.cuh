// samba/ops/cuda/rope.cuh: rotary position embedding on the GPU, rotate-half form over the first
// rope_dims of each head (SPEC.md "SWA": o1 = x1 cos - x2 sin, o2 = x1 sin + x2 cos,
// theta_i = base^(-2i/rd)), applied in place to the query and key heads of fused qkv rows.
// Angles are formed in double, as on the host, so that positions far past 2^24 keep their precision.
// A decode step rotates and appends its keys to the cache in one kernel (rope_append).
#pragma once

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/launch.cuh"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops {

namespace cuda_kernels {

/// One block per stacked row; qkv rows [G, q_per_kv + 2, hs] (every head but the values rotates).
/// Each thread forms the angle of a pair once and rotates that pair in every head.
__global__ void rope_qk(float* __restrict__ qkv, SegmentTable seg, int n_kv_head, int q_per_kv, int head_size, int rope_dims,
                        double base, double position_scale) {
  const int row = blockIdx.x;
  int p = 0;
  while (p + 1 < seg.count && row >= seg.row0[p + 1]) ++p;
  const double position = static_cast<double>(seg.position[p] + (row - seg.row0[p])) * position_scale;
  const int half = rope_dims / 2;
  float* x = qkv + static_cast<index_t>(row) * n_kv_head * (q_per_kv + 2) * head_size;
  for (int pair = threadIdx.x; pair < half; pair += blockDim.x) {
    const double angle = position * pow(base, -2.0 * pair / rope_dims);
    double sd, cd;
    sincos(angle, &sd, &cd);
    const float s = static_cast<float>(sd), c = static_cast<float>(cd);
    for (int g = 0; g < n_kv_head; ++g)
      for (int within = 0; within <= q_per_kv; ++within) {  // the q heads of the group, then its key
        float* v = x + (g * (q_per_kv + 2) + within) * head_size;
        const float x1 = v[pair], x2 = v[pair + half];
        v[pair] = x1 * c - x2 * s;
        v[pair + half] = x1 * s + x2 * c;
      }
  }
}

/// Heads a rope_append thread holds in registers at once (their loads in flight together).
inline constexpr int rope_append_heads = 8;

/// grid (KV group, sequence) of a decode step (one row each): rope_qk on the group's query heads
/// and key, then its key and value written into the cache slot of the row's position (slot
/// j % window, or j for full attention). The slot held position j - window, which no query of this
/// step sees, so the attention that follows may read the cache. A thread owns one rotated pair
/// and loads it from up to rope_append_heads heads before it stores any. rope_dims 0: the append alone.
__global__ void rope_append(float* __restrict__ qkv, SegmentTable seg, KvPointers kv, int n_kv_head, int q_per_kv, int head_size,
                            int window, int rope_dims, double base, double position_scale) {
  cuda::allow_dependent_launch();
  cuda::wait_for_prior_grids();
  const int g = blockIdx.x, p = blockIdx.y;
  const long long j = seg.position[p];
  const double position = static_cast<double>(j) * position_scale;
  const int half = rope_dims / 2, heads = q_per_kv + 1;  // the group's query heads, then its key
  float* x = qkv + (static_cast<index_t>(seg.row0[p]) * n_kv_head + g) * (q_per_kv + 2) * head_size;  // [q_per_kv + 2, hs]
  const long long slots = kv.slots[p], slot = window > 0 ? j % window : j;
  float* key = kv.keys[p] + (g * slots + slot) * head_size;      // [hs]
  float* value = kv.values[p] + (g * slots + slot) * head_size;  // [hs]
  for (int pair = threadIdx.x; pair < half; pair += blockDim.x) {
    double sd, cd;
    sincos(position * pow(base, -2.0 * pair / rope_dims), &sd, &cd);
    const float s = static_cast<float>(sd), c = static_cast<float>(cd);
    for (int h0 = 0; h0 < heads; h0 += rope_append_heads) {
      float x1[rope_append_heads], x2[rope_append_heads];
#pragma unroll
      for (int i = 0; i < rope_append_heads; ++i)
        if (h0 + i < heads) x1[i] = x[(h0 + i) * head_size + pair], x2[i] = x[(h0 + i) * head_size + pair + half];
#pragma unroll
      for (int i = 0; i < rope_append_heads; ++i)
        if (h0 + i < heads) {
          float* v = x + (h0 + i) * head_size;
          const float o1 = x1[i] * c - x2[i] * s, o2 = x1[i] * s + x2[i] * c;
          v[pair] = o1, v[pair + half] = o2;
          if (h0 + i == q_per_kv) key[pair] = o1, key[pair + half] = o2;
        }
    }
  }
  const float* k_in = x + q_per_kv * head_size;  // the key's dims past rope_dims stay as they are
  for (int d = threadIdx.x; d < head_size; d += blockDim.x) {
    if (d >= rope_dims) key[d] = k_in[d];
    value[d] = k_in[head_size + d];
  }
}

}  // namespace cuda_kernels

/// Rotates the query and key heads of qkv [T, G, q_per_kv + 2, hs] in place; row r of sequence p
/// sits at position (seg.position[p] + r - seg.row0[p]) * position_scale.
inline void rope_qk(const backend::Cuda& be, float* qkv, const cuda_kernels::SegmentTable& seg, index_t total_rows, index_t n_kv_head,
                    index_t q_per_kv, index_t head_size, index_t rope_dims, double base, double position_scale) {
  if (total_rows <= 0 || rope_dims <= 0) return;
  cuda_kernels::rope_qk<<<static_cast<unsigned>(total_rows), 64, 0, be.stream()>>>(
      qkv, seg, static_cast<int>(n_kv_head), static_cast<int>(q_per_kv), static_cast<int>(head_size), static_cast<int>(rope_dims),
      base, position_scale);
  cuda::check_launch("rope_qk kernel launch");
}

/// A decode step's rope_qk and kv_append in one launch (see cuda_kernels::rope_append): every
/// sequence of `seg` has exactly one row.
inline void rope_append(const backend::Cuda& be, float* qkv, const cuda_kernels::SegmentTable& seg, const cuda_kernels::KvPointers& kv,
                        index_t n_kv_head, index_t q_per_kv, index_t head_size, index_t window, index_t rope_dims, double base,
                        double position_scale) {
  if (seg.count == 0) return;
  cuda::launch(be, cuda_kernels::rope_append, dim3(static_cast<unsigned>(n_kv_head), static_cast<unsigned>(seg.count)), dim3(64), 0,
               "rope_append kernel launch", qkv, seg,
               kv, static_cast<int>(n_kv_head), static_cast<int>(q_per_kv), static_cast<int>(head_size), static_cast<int>(window),
               static_cast<int>(rope_dims), base, position_scale);
}

}  // namespace samba::ops
