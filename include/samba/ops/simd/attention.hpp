// samba/ops/simd/attention.hpp: causal sliding-window GQA attention, flash style on the CPU
// (SPEC.md "SWA": query t sees keys t-w < j <= t; softmax(q.k / sqrt(hs)) v; online softmax as in
// FlashAttention, Dao et al. 2022, Alg. 1). A work item is a tile of up to `max_tile_rows` query
// rows (position, head) of one KV group. Keys are taken 64 at a time and transposed once per block,
// so that every row of the tile scores 16 keys per vector FMA with no horizontal sums; the
// exponentials are vector exps, and P.V accumulates into the tile's rows. Only blocks that meet
// some row's window are touched (cost O(T w), not O(T^2)); K/V are read in place per KV group.
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
inline constexpr index_t key_block = 64;       // keys scored before one softmax rescale
inline constexpr index_t max_tile_rows = 16;   // query rows sharing one transposed key block

/// Rows per tile from which transposing a key block pays off (decode has one or a few rows and
/// scores each key with a direct dot product instead).
inline constexpr index_t min_rows_to_transpose = 4;

inline float dot(const float* a, const float* b, index_t n) {
  const index_t step = static_cast<index_t>(lanes), vec_end = n - n % step;
  fvec acc(0.f);
  for (index_t i = 0; i < vec_end; i += step) acc = xsimd::fma(fvec::load_unaligned(a + i), fvec::load_unaligned(b + i), acc);
  float s = xsimd::hadd(acc);
  for (index_t i = vec_end; i < n; ++i) s += a[i] * b[i];
  return s;
}

/// scores[j] = scale * q . K[j] for j < padded (a multiple of lanes) from keys_t [hs, key_block]:
/// up to four vectors of keys at once, so that four FMA chains run side by side.
inline void score_transposed(const float* q, const float* keys_t, float* scores, index_t hs, index_t padded, float scale) {
  const index_t step = static_cast<index_t>(lanes);
  for (index_t j = 0; j < padded; j += 4 * step) {
    const index_t vecs = std::min<index_t>(4, (padded - j) / step);
    fvec a0(0.f), a1(0.f), a2(0.f), a3(0.f);
    const float* col = keys_t + j;
    for (index_t d = 0; d < hs; ++d, col += key_block) {
      const fvec qd(q[d]);
      a0 = xsimd::fma(qd, fvec::load_unaligned(col), a0);
      if (vecs > 1) a1 = xsimd::fma(qd, fvec::load_unaligned(col + step), a1);
      if (vecs > 2) a2 = xsimd::fma(qd, fvec::load_unaligned(col + 2 * step), a2);
      if (vecs > 3) a3 = xsimd::fma(qd, fvec::load_unaligned(col + 3 * step), a3);
    }
    (a0 * fvec(scale)).store_unaligned(scores + j);
    if (vecs > 1) (a1 * fvec(scale)).store_unaligned(scores + j + step);
    if (vecs > 2) (a2 * fvec(scale)).store_unaligned(scores + j + 2 * step);
    if (vecs > 3) (a3 * fvec(scale)).store_unaligned(scores + j + 3 * step);
  }
}

/// out[i, i + V*lanes) = out * rescale + sum_{lo <= j < hi} p[j] * values[j][i, ...): V vectors kept in
/// registers while the block's value rows stream past once.
template <int V>
inline void accumulate_value_chunk(float* out, float rescale, const float* p, const float* const* values, index_t lo,
                                   index_t hi, index_t i) {
  constexpr index_t step = static_cast<index_t>(lanes);
  fvec acc[V];
  for (int u = 0; u < V; ++u) acc[u] = fvec::load_unaligned(out + i + u * step) * fvec(rescale);
  for (index_t j = lo; j < hi; ++j) {
    const fvec pj(p[j]);
    const float* vj = values[j] + i;
    for (int u = 0; u < V; ++u) acc[u] = xsimd::fma(pj, fvec::load_unaligned(vj + u * step), acc[u]);
  }
  for (int u = 0; u < V; ++u) acc[u].store_unaligned(out + i + u * step);
}

/// out [hs] = out * rescale + sum_{lo <= j < hi} p[j] * values[j][:hs].
inline void accumulate_values(float* out, float rescale, const float* p, const float* const* values, index_t lo, index_t hi,
                              index_t hs) {
  const index_t step = static_cast<index_t>(lanes), vec_end = hs - hs % step;
  index_t i = 0;
  for (; i + 8 * step <= vec_end; i += 8 * step) accumulate_value_chunk<8>(out, rescale, p, values, lo, hi, i);
  for (; i + 4 * step <= vec_end; i += 4 * step) accumulate_value_chunk<4>(out, rescale, p, values, lo, hi, i);
  for (; i < vec_end; i += step) accumulate_value_chunk<1>(out, rescale, p, values, lo, hi, i);
  for (; i < hs; ++i) {
    float acc = out[i] * rescale;
    for (index_t j = lo; j < hi; ++j) acc += p[j] * values[j][i];
    out[i] = acc;
  }
}

/// One tile's running state: rows [R] of (max, sum) and the unnormalised output [R, hs].
struct AttentionTile {
  std::vector<float> keys_t;       // [hs, key_block] the block's keys, transposed
  std::vector<const float*> values;  // [key_block] the block's value rows
  std::vector<float> scores;       // [key_block] one row's scores, then probabilities
  std::vector<float> out;          // [R, hs]
  std::vector<float> row_max, row_sum;  // [R]
};
}  // namespace simd

/// Same contract as the scalar attention: q [T, H, hs]; k, v [T, G, hs] of the chunk at positions
/// [first, first + T); keys before `first` come from `cache`; y [T, H, hs].
inline void attention(const backend::Simd& be, const float* q, const float* k, const float* v, const KvCache& cache,
                      index_t first, float* y, index_t tokens, const AttentionShape& s) {
  using simd::fvec;
  const index_t step = static_cast<index_t>(simd::lanes), kb = simd::key_block;
  const index_t width = s.n_kv_head * s.head_size, q_per_kv = s.n_head / s.n_kv_head, hs = s.head_size;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  auto key_of = [&](index_t j, index_t g) { return j >= first ? k + (j - first) * width + g * hs : cache.key(j, g); };
  auto value_of = [&](index_t j, index_t g) { return j >= first ? v + (j - first) * width + g * hs : cache.value(j, g); };
  auto oldest_of = [&](index_t position) { return s.window > 0 ? std::max<index_t>(0, position - s.window + 1) : 0; };

  // Rows of a group are (t, head-in-group) pairs, t-major; tiles are cut so that every thread gets
  // a few of them even for one token (decode).
  const index_t group_rows = tokens * q_per_kv;
  const index_t threads = be.threads();
  const index_t tile_rows = std::clamp<index_t>((group_rows * s.n_kv_head + 4 * threads - 1) / (4 * threads), 1, simd::max_tile_rows);
  const index_t tiles_per_group = (group_rows + tile_rows - 1) / tile_rows;
  const index_t keys_per_query = std::min<index_t>(s.window > 0 ? s.window : first + tokens, first + tokens);

  be.pool().parallel_for(s.n_kv_head * tiles_per_group, [&](index_t lo, index_t hi) {
    simd::AttentionTile tile;
    if (tile_rows >= simd::min_rows_to_transpose) tile.keys_t.resize(static_cast<std::size_t>(hs * kb));
    tile.values.resize(static_cast<std::size_t>(kb));
    tile.scores.resize(static_cast<std::size_t>(kb));
    tile.out.resize(static_cast<std::size_t>(tile_rows * hs));
    tile.row_max.resize(static_cast<std::size_t>(tile_rows));
    tile.row_sum.resize(static_cast<std::size_t>(tile_rows));
    for (index_t item = lo; item < hi; ++item) {
      const index_t g = item / tiles_per_group, r0 = (item % tiles_per_group) * tile_rows;
      const index_t rows = std::min(tile_rows, group_rows - r0);
      const index_t t_first = r0 / q_per_kv, t_last = (r0 + rows - 1) / q_per_kv;
      std::fill(tile.out.begin(), tile.out.end(), 0.0f);
      std::fill(tile.row_max.begin(), tile.row_max.end(), -INFINITY);
      std::fill(tile.row_sum.begin(), tile.row_sum.end(), 0.0f);
      for (index_t j0 = oldest_of(first + t_first); j0 <= first + t_last; j0 += kb) {
        const index_t count = std::min(kb, first + t_last + 1 - j0);
        const index_t padded = (count + step - 1) / step * step;
        const bool transposed = rows >= simd::min_rows_to_transpose;
        for (index_t j = 0; j < count; ++j) tile.values[j] = value_of(j0 + j, g);
        if (transposed) {
          // keys_t[d, j] = K[j0 + j, d]; the padding columns are zero.
          for (index_t j = 0; j < count; ++j) {
            const float* key = key_of(j0 + j, g);
            for (index_t d = 0; d < hs; ++d) tile.keys_t[d * kb + j] = key[d];
          }
          for (index_t j = count; j < padded; ++j)
            for (index_t d = 0; d < hs; ++d) tile.keys_t[d * kb + j] = 0.0f;
        }
        for (index_t r = 0; r < rows; ++r) {
          const index_t t = (r0 + r) / q_per_kv, h = g * q_per_kv + (r0 + r) % q_per_kv, position = first + t;
          // This row's keys in the block: [lo_j, hi_j) relative to j0.
          const index_t lo_j = std::max<index_t>(0, oldest_of(position) - j0), hi_j = std::min(count, position + 1 - j0);
          if (lo_j >= hi_j) continue;
          const float* qh = q + (t * s.n_head + h) * hs;
          float* sc = tile.scores.data();
          if (transposed) {
            simd::score_transposed(qh, tile.keys_t.data(), sc, hs, padded, scale);
          } else {
            for (index_t j = lo_j; j < hi_j; ++j) sc[j] = simd::dot(qh, key_of(j0 + j, g), hs) * scale;
          }
          float block_max = -INFINITY;
          for (index_t j = lo_j; j < hi_j; ++j) block_max = std::max(block_max, sc[j]);
          const float new_max = std::max(tile.row_max[r], block_max);
          const float rescale = std::exp(tile.row_max[r] - new_max);  // 0 on the row's first block
          // p = exp(score - max) inside the row's keys, 0 outside.
          float block_sum = 0.0f;
          for (index_t j = 0; j < padded; j += step) {
            alignas(64) float lane_index[simd::lanes];
            for (std::size_t l = 0; l < simd::lanes; ++l) lane_index[l] = static_cast<float>(j + static_cast<index_t>(l));
            const fvec idx = fvec::load_aligned(lane_index);
            const auto inside = (idx >= fvec(static_cast<float>(lo_j))) && (idx < fvec(static_cast<float>(hi_j)));
            const fvec p = xsimd::select(inside, simd::fast_exp(fvec::load_unaligned(sc + j) - fvec(new_max)), fvec(0.f));
            p.store_unaligned(sc + j);
            block_sum += xsimd::hadd(p);
          }
          tile.row_sum[r] = tile.row_sum[r] * rescale + block_sum;
          tile.row_max[r] = new_max;
          simd::accumulate_values(tile.out.data() + r * hs, rescale, sc, tile.values.data(), lo_j, hi_j, hs);
        }
      }
      for (index_t r = 0; r < rows; ++r) {
        const index_t t = (r0 + r) / q_per_kv, h = g * q_per_kv + (r0 + r) % q_per_kv;
        const float inv = 1.0f / tile.row_sum[r];
        const float* o = tile.out.data() + r * hs;
        float* yh = y + (t * s.n_head + h) * hs;
        for (index_t i = 0; i < hs; ++i) yh[i] = o[i] * inv;
      }
    }
  }, 1, 4 * hs * keys_per_query * std::max<index_t>(1, tile_rows));
}

}  // namespace samba::ops
