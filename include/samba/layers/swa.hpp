// samba/layers/swa.hpp: grouped-query attention with RoPE (or none) and a sliding window or full
// causal mask (SPEC.md "Sliding-window attention"). Fused qkv rows are grouped per KV group g:
// [q_{g,0} .. q_{g,q_per_kv-1}, k_g, v_g], head_size rows each.
#pragma once

#include <vector>

#include "samba/backend/scalar.hpp"
#include "samba/core/kv_cache.hpp"
#include "samba/core/workspace.hpp"
#include "samba/layers/parameter.hpp"
#include "samba/layers/segment.hpp"
#include "samba/layers/weight_matrix.hpp"
#include "samba/model/config.hpp"
#include "samba/ops/attention.hpp"
#include "samba/ops/linear.hpp"
#include "samba/ops/rope.hpp"

namespace samba {

/// Compile-time extents of an attention layer (samba::dynamic = taken from the checkpoint).
/// `window` = dynamic takes it from the checkpoint; -1 means full causal attention.
struct AttentionShape {
  index_t d_model = dynamic;
  index_t n_head = dynamic;
  index_t n_kv_head = dynamic;
  index_t head_size = dynamic;
  index_t window = dynamic;
};

/// W: storage type of the projection matrices (float, bf16 or q8).
template <AttentionShape S = AttentionShape{}, class Backend = backend::Scalar, class W = float>
class SwaLayer {
  static_assert(S.d_model >= 0 && S.n_head >= 0 && S.n_kv_head >= 0 && S.head_size >= 0,
                "SwaLayer: extents must be positive or samba::dynamic");
  static_assert(S.window >= -1, "SwaLayer: window must be positive, -1 (full causal) or samba::dynamic");
  static_assert(S.n_head == dynamic || S.n_kv_head == dynamic || S.n_head % (S.n_kv_head == dynamic ? 1 : S.n_kv_head) == 0,
                "SwaLayer: n_head must be a multiple of n_kv_head (query groups)");

 public:
  using State = KvCache;

  SwaLayer(const AttentionDims& dims, index_t window) : dims_(dims), window_(window) {
    check_extent(S.d_model, dims.d_model, "SwaLayer", "d_model");
    check_extent(S.n_head, dims.n_head, "SwaLayer", "n_head");
    check_extent(S.n_kv_head, dims.n_kv_head, "SwaLayer", "n_kv_head");
    check_extent(S.head_size, dims.head_size, "SwaLayer", "head_size");
    check_extent(S.window, window, "SwaLayer", "window");
    require(window == -1 || window >= 1, "SwaLayer: window ", window, " must be >= 1 or -1");
    require(dims.n_kv_head > 0 && dims.n_head % dims.n_kv_head == 0, "SwaLayer: n_head ", dims.n_head,
            " is not a multiple of n_kv_head ", dims.n_kv_head);
    for_each_parameter([](std::string_view, const Shape& shape, auto& w, ParamRole) { allocate(w, shape); });
  }

  constexpr index_t d_model() const { return pick(S.d_model, dims_.d_model); }
  constexpr index_t n_head() const { return pick(S.n_head, dims_.n_head); }
  constexpr index_t n_kv_head() const { return pick(S.n_kv_head, dims_.n_kv_head); }
  constexpr index_t head_size() const { return pick(S.head_size, dims_.head_size); }
  constexpr index_t window() const { return pick(S.window, window_); }

  State new_state() const { return KvCache(window(), n_kv_head(), head_size()); }

  /// x [T, D] at positions [cache.end(), cache.end() + T) -> out [T, D]; appends the chunk's keys/values.
  /// Activations live in `ws`.
  void forward(const Backend& be, State& cache, const float* x, float* out, index_t tokens, Workspace& ws) const {
    const Segment<State> one{&cache, tokens};
    forward(be, std::span<const Segment<State>>(&one, 1), x, out, ws);
  }

  /// The same with scratch memory of its own (allocated for this call).
  void forward(const Backend& be, State& cache, const float* x, float* out, index_t tokens) const {
    Workspace ws;
    forward(be, cache, x, out, tokens, ws);
  }

  /// Several sequences' rows stacked: x [T, D] -> out [T, D]; each segment's rows continue its own
  /// cache (positions from its end()); the projections run once over all rows.
  void forward(const Backend& be, std::span<const Segment<State>> segments, const float* x, float* out, Workspace& ws) const {
    const index_t d = d_model(), h = n_head(), g = n_kv_head(), hs = head_size();
    const index_t q_per_kv = h / g, rows = (h + 2 * g) * hs;
    index_t tokens = 0;
    for (const auto& seg : segments) tokens += seg.rows;
    const Workspace::Frame frame(ws);
    float* qkv = ws.floats(tokens * rows);  // [T, G, q_per_kv + 2, hs]
    float* q = ws.floats(tokens * h * hs);  // [T, H, hs]
    float* k = ws.floats(tokens * g * hs);  // [T, G, hs]
    float* v = ws.floats(tokens * g * hs);  // [T, G, hs]
    float* y = ws.floats(tokens * h * hs);  // [T, H, hs]
    linear(be, x, view(attn_), qkv, tokens, d, rows);
    for (index_t t = 0; t < tokens; ++t)
      for (index_t gi = 0; gi < g; ++gi) {
        const float* group = qkv + (t * g + gi) * (q_per_kv + 2) * hs;
        std::copy_n(group, q_per_kv * hs, q + (t * h + gi * q_per_kv) * hs);
        std::copy_n(group + q_per_kv * hs, hs, k + (t * g + gi) * hs);
        std::copy_n(group + (q_per_kv + 1) * hs, hs, v + (t * g + gi) * hs);
      }
    index_t row = 0;
    for (const auto& seg : segments) {
      KvCache& cache = *seg.state;
      const index_t first = cache.end(), n = seg.rows;
      float *qs = q + row * h * hs, *ks = k + row * g * hs, *vs = v + row * g * hs;
      if (dims_.rope_dims > 0) {
        rope(be, qs, n, h, hs, dims_.rope_dims, first, dims_.rope_base, dims_.position_scale);
        rope(be, ks, n, g, hs, dims_.rope_dims, first, dims_.rope_base, dims_.position_scale);
      }
      attention(be, qs, ks, vs, cache, first, y + row * h * hs, n, ops::AttentionShape{h, g, hs, window()});
      cache.append(ks, vs, n);
      row += n;
    }
    linear(be, y, view(proj_), out, tokens, h * hs, d);
  }

  template <class F>
  void for_each_parameter(F&& f) {
    const index_t d = d_model(), h = n_head(), g = n_kv_head(), hs = head_size();
    f("attn.weight", Shape{(h + 2 * g) * hs, d}, attn_, ParamRole::matrix);
    f("proj.weight", Shape{d, h * hs}, proj_, ParamRole::matrix);
  }

 private:
  static constexpr index_t pick(index_t fixed, index_t runtime) { return fixed != dynamic ? fixed : runtime; }

  AttentionDims dims_;
  index_t window_;
  Matrix<W> attn_;  // [(H + 2G) * hs, D] fused qkv, grouped per KV group
  Matrix<W> proj_;  // [D, H * hs]
};

}  // namespace samba
