// samba/ops/cuda/rope.cuh: rotary position embedding on the GPU, rotate-half form over the first
// rope_dims of each head (SPEC.md "SWA": o1 = x1 cos - x2 sin, o2 = x1 sin + x2 cos,
// theta_i = base^(-2i/rd)), applied in place to the query and key heads of fused qkv rows.
// Angles are formed in double, as on the host, so that positions far past 2^24 keep their precision.
// A decode step's rotation runs inside its attention kernel (attention_decode.cuh, attend_step),
// which shares rope_sin_cos with rope_qk.
#pragma once

#include "samba/backend/cuda.hpp"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops {

namespace cuda_kernels {

/// The rotation of one layer's heads.
struct RopeParams {
  int dims = 0;  // rotated dims per head (0: none)
  double base = 10000.0, position_scale = 1.0;
};

/// sin and cos of pair `pair`'s angle at `position` (already scaled): theta_pair = base^(-2 pair / dims).
__device__ __forceinline__ void rope_sin_cos(double position, int pair, int dims, double base, float& s, float& c) {
  double sd, cd;
  sincos(position * pow(base, -2.0 * pair / dims), &sd, &cd);
  s = static_cast<float>(sd), c = static_cast<float>(cd);
}

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
    float s, c;
    rope_sin_cos(position, pair, rope_dims, base, s, c);
    for (int g = 0; g < n_kv_head; ++g)
      for (int within = 0; within <= q_per_kv; ++within) {  // the q heads of the group, then its key
        float* v = x + (g * (q_per_kv + 2) + within) * head_size;
        const float x1 = v[pair], x2 = v[pair + half];
        v[pair] = x1 * c - x2 * s;
        v[pair + half] = x1 * s + x2 * c;
      }
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

}  // namespace samba::ops
