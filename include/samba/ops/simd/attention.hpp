// samba/ops/simd/attention.hpp: causal sliding-window GQA attention with an online softmax over
// blocks of keys (SPEC.md "SWA": query t sees keys t-w < j <= t; softmax(q.k / sqrt(hs)) v).
// Only keys inside the window are touched (cost O(T w), not O(T^2)); query heads read their KV
// group's rows directly (no copy per head); work is split over (token, head) pairs.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "samba/backend/simd.hpp"
#include "samba/core/kv_cache.hpp"
#include "samba/ops/attention.hpp"
#include "samba/ops/simd/vector.hpp"

namespace samba::ops {

namespace simd {
inline constexpr index_t key_block = 64;  // keys scored before one softmax rescale

inline float dot(const float* a, const float* b, index_t n) {
  const index_t step = static_cast<index_t>(lanes), vec_end = n - n % step;
  fvec acc(0.f);
  for (index_t i = 0; i < vec_end; i += step) acc = xsimd::fma(fvec::load_unaligned(a + i), fvec::load_unaligned(b + i), acc);
  float s = xsimd::hadd(acc);
  for (index_t i = vec_end; i < n; ++i) s += a[i] * b[i];
  return s;
}

/// out [n] = out * scale + sum_j p[j] * rows[j][:n]
inline void scale_add_rows(float* out, float scale, const float* p, const float* const* rows, index_t count, index_t n) {
  const index_t step = static_cast<index_t>(lanes), vec_end = n - n % step;
  for (index_t i = 0; i < vec_end; i += step) {
    fvec acc = fvec::load_unaligned(out + i) * fvec(scale);
    for (index_t j = 0; j < count; ++j) acc = xsimd::fma(fvec(p[j]), fvec::load_unaligned(rows[j] + i), acc);
    acc.store_unaligned(out + i);
  }
  for (index_t i = vec_end; i < n; ++i) {
    float acc = out[i] * scale;
    for (index_t j = 0; j < count; ++j) acc += p[j] * rows[j][i];
    out[i] = acc;
  }
}
}  // namespace simd

/// Same contract as the scalar attention: q [T, H, hs]; k, v [T, G, hs] of the chunk at positions
/// [first, first + T); keys before `first` come from `cache`; y [T, H, hs].
inline void attention(const backend::Simd& be, const float* q, const float* k, const float* v, const KvCache& cache,
                      index_t first, float* y, index_t tokens, const AttentionShape& s) {
  const index_t width = s.n_kv_head * s.head_size, q_per_kv = s.n_head / s.n_kv_head, hs = s.head_size;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  auto key_of = [&](index_t j, index_t g) { return j >= first ? k + (j - first) * width + g * hs : cache.key(j, g); };
  auto value_of = [&](index_t j, index_t g) { return j >= first ? v + (j - first) * width + g * hs : cache.value(j, g); };
  // Items are ordered head-major, so one thread runs consecutive queries of a head, whose keys
  // and values stay in its cache from one query to the next.
  be.pool().parallel_for(tokens * s.n_head, [&](index_t lo, index_t hi) {
    float scores[simd::key_block];
    const float* values[simd::key_block];
    for (index_t item = lo; item < hi; ++item) {
      const index_t h = item / tokens, t = item % tokens, g = h / q_per_kv;
      const index_t position = first + t;
      const index_t oldest = s.window > 0 ? std::max<index_t>(0, position - s.window + 1) : 0;
      const float* qh = q + (t * s.n_head + h) * hs;
      float* out = y + (t * s.n_head + h) * hs;
      std::fill_n(out, hs, 0.0f);
      float running_max = -INFINITY, running_sum = 0.0f;
      for (index_t j0 = oldest; j0 <= position; j0 += simd::key_block) {
        const index_t count = std::min(simd::key_block, position + 1 - j0);
        float block_max = -INFINITY;
        for (index_t j = 0; j < count; ++j) {
          scores[j] = simd::dot(qh, key_of(j0 + j, g), hs) * scale;
          values[j] = value_of(j0 + j, g);
          block_max = std::max(block_max, scores[j]);
        }
        const float new_max = std::max(running_max, block_max);
        const float rescale = std::exp(running_max - new_max);  // 0 on the first block
        float block_sum = 0.0f;
        for (index_t j = 0; j < count; ++j) block_sum += (scores[j] = std::exp(scores[j] - new_max));
        simd::scale_add_rows(out, rescale, scores, values, count, hs);
        running_sum = running_sum * rescale + block_sum;
        running_max = new_max;
      }
      const float inv = 1.0f / running_sum;
      for (index_t i = 0; i < hs; ++i) out[i] *= inv;
    }
  }, 1, 4 * hs * std::min<index_t>(s.window > 0 ? s.window : first + tokens, first + tokens));
}

}  // namespace samba::ops
