// samba/ops/attention.hpp: causal sliding-window grouped-query attention over a KV cache
// (SPEC.md "SWA": query t sees keys j with t-w < j <= t; softmax(q.k / sqrt(hs)) v, fp32 softmax).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "samba/backend/scalar.hpp"
#include "samba/core/kv_cache.hpp"
#include "samba/core/types.hpp"

namespace samba::ops {

struct AttentionShape {
  index_t n_head;      // query heads
  index_t n_kv_head;   // key/value heads; query head h uses kv head h / (n_head / n_kv_head)
  index_t head_size;
  index_t window;      // keys per query, itself included; -1 = full causal
};

/// q [T, H, hs]; k, v [T, G, hs] of the chunk at positions [first, first + T); `cache` holds the
/// positions before `first` (cache.end() == first); y [T, H, hs]. The cache is not modified.
inline void attention(const backend::Scalar&, const float* q, const float* k, const float* v, const KvCache& cache,
                      index_t first, float* y, index_t tokens, const AttentionShape& s) {
  const index_t width = s.n_kv_head * s.head_size;
  const index_t q_per_kv = s.n_head / s.n_kv_head;
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.head_size));
  // Key / value of KV head g at position j: from the chunk [T, G, hs] or from the cache.
  auto key_of = [&](index_t j, index_t g) { return j >= first ? k + (j - first) * width + g * s.head_size : cache.key(j, g); };
  auto value_of = [&](index_t j, index_t g) { return j >= first ? v + (j - first) * width + g * s.head_size : cache.value(j, g); };
  std::vector<double> scores;
  std::vector<double> out(static_cast<std::size_t>(s.head_size));
  for (index_t t = 0; t < tokens; ++t) {
    const index_t position = first + t;
    const index_t oldest = s.window > 0 ? std::max<index_t>(0, position - s.window + 1) : 0;
    scores.resize(static_cast<std::size_t>(position - oldest + 1));
    for (index_t h = 0; h < s.n_head; ++h) {
      const index_t g = h / q_per_kv;
      const float* qh = q + (t * s.n_head + h) * s.head_size;
      double max_score = -INFINITY;
      for (index_t j = oldest; j <= position; ++j) {
        const float* kj = key_of(j, g);
        double dot = 0.0;
        for (index_t i = 0; i < s.head_size; ++i) dot += static_cast<double>(qh[i]) * kj[i];
        scores[j - oldest] = dot * scale;
        max_score = std::max(max_score, dot * scale);
      }
      double sum = 0.0;
      for (auto& sc : scores) sum += (sc = std::exp(sc - max_score));
      std::fill(out.begin(), out.end(), 0.0);
      for (index_t j = oldest; j <= position; ++j) {
        const float* vj = value_of(j, g);
        const double p = scores[j - oldest] / sum;
        for (index_t i = 0; i < s.head_size; ++i) out[i] += p * vj[i];
      }
      float* yh = y + (t * s.n_head + h) * s.head_size;
      for (index_t i = 0; i < s.head_size; ++i) yh[i] = static_cast<float>(out[i]);
    }
  }
}

}  // namespace samba::ops
