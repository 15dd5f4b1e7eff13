// samba/ops/cuda/attention_common.cuh: what the CUDA attention kernels share: the geometry of a
// layer and where each key and value lives (SPEC.md "SWA": the chunk's own fused qkv rows, or the
// sequence's KV cache for older positions).
#pragma once

#include "samba/core/types.hpp"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops::cuda_kernels {

/// Geometry of one attention layer.
struct AttentionGeometry {
  int n_head, n_kv_head, head_size;
  int window;  // keys per query, itself included; -1 = full causal
};

/// Where key j (and its value) of one KV head lives: the chunk's own qkv rows for j >= first, else
/// the cache slot (a ring of `window` slots, or slot j for full attention).
struct KeyRows {
  const float* qkv;     // the chunk's rows, at this head's key columns
  index_t width;        // floats per qkv row
  const float* keys;    // the cache's rows of this KV head
  const float* values;
  long long first;      // position of the chunk's first row
  int window, head_size;

  __device__ __forceinline__ void find(long long j, const float*& k, const float*& v) const {
    if (j >= first) {
      k = qkv + (j - first) * width, v = k + head_size;
    } else {
      const long long slot = window > 0 ? j % window : j;
      k = keys + slot * head_size, v = values + slot * head_size;
    }
  }
};

__device__ __forceinline__ KeyRows key_rows(const float* qkv, const SegmentTable& seg, const KvPointers& kv, const AttentionGeometry& geo,
                                            int p, int g) {
  const int q_per_kv = geo.n_head / geo.n_kv_head, hs = geo.head_size;
  const index_t width = static_cast<index_t>(geo.n_kv_head) * (q_per_kv + 2) * hs;
  const long long slots = kv.slots[p];
  return {qkv + seg.row0[p] * width + (g * (q_per_kv + 2) + q_per_kv) * hs, width, kv.keys[p] + g * slots * hs,
          kv.values[p] + g * slots * hs, seg.position[p], geo.window, hs};
}

}  // namespace samba::ops::cuda_kernels

namespace samba::ops {

/// Head sizes the CUDA attention is built for.
inline constexpr index_t cuda_attention_max_head_size = 256;

}  // namespace samba::ops
