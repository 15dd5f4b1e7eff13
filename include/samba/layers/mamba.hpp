// samba/layers/mamba.hpp: the Mamba (v1) mixer, exactly as SPEC.md "Mamba" writes it:
// in_proj -> causal conv + SiLU -> x_proj -> dt (softplus) -> selective scan (D skip, silu(z) gate) -> out_proj.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "samba/backend/scalar.hpp"
#include "samba/core/workspace.hpp"
#include "samba/layers/parameter.hpp"
#include "samba/layers/segment.hpp"
#include "samba/layers/weight_matrix.hpp"
#include "samba/model/config.hpp"
#include "samba/ops/elementwise.hpp"
#include "samba/ops/causal_conv1d.hpp"
#include "samba/ops/linear.hpp"
#include "samba/ops/selective_scan.hpp"

namespace samba {

/// Compile-time extents of a Mamba mixer (samba::dynamic = taken from the checkpoint).
struct MambaShape {
  index_t d_model = dynamic;
  index_t d_inner = dynamic;  // E = expand * d_model
  index_t d_state = dynamic;  // N
  index_t d_conv = dynamic;   // K
  index_t dt_rank = dynamic;  // R
};

/// Per-sequence decode state of one Mamba layer: constant size, whatever the context length.
struct MambaState {
  std::vector<float> conv;  // [K-1, E] last K-1 conv inputs (pre-activation), oldest first
  std::vector<float> ssm;   // [N, E] h, state-major so that channels are contiguous
};

/// W: storage type of the projection matrices (float, bf16 or q8); small vectors stay float.
template <MambaShape S = MambaShape{}, class Backend = backend::Scalar, class W = float>
class MambaLayer {
  static_assert(S.d_model >= 0 && S.d_inner >= 0 && S.d_state >= 0 && S.d_conv >= 0 && S.dt_rank >= 0,
                "MambaLayer: extents must be positive or samba::dynamic");

 public:
  using State = MambaState;

  explicit MambaLayer(const MambaDims& dims) : dims_(dims) {
    check_extent(S.d_model, dims.d_model, "MambaLayer", "d_model");
    check_extent(S.d_inner, dims.d_inner, "MambaLayer", "d_inner");
    check_extent(S.d_state, dims.d_state, "MambaLayer", "d_state");
    check_extent(S.d_conv, dims.d_conv, "MambaLayer", "d_conv");
    check_extent(S.dt_rank, dims.dt_rank, "MambaLayer", "dt_rank");
    for_each_parameter([](std::string_view, const Shape& shape, auto& w, ParamRole) { allocate(w, shape); });
    conv_b_.assign(static_cast<std::size_t>(d_inner()), 0.0f);  // stays zero when the checkpoint has no conv bias
    prepare();
  }

  constexpr index_t d_model() const { return pick(S.d_model, dims_.d_model); }
  constexpr index_t d_inner() const { return pick(S.d_inner, dims_.d_inner); }
  constexpr index_t d_state() const { return pick(S.d_state, dims_.d_state); }
  constexpr index_t d_conv() const { return pick(S.d_conv, dims_.d_conv); }
  constexpr index_t dt_rank() const { return pick(S.dt_rank, dims_.dt_rank); }

  State new_state() const {
    return {std::vector<float>(static_cast<std::size_t>((d_conv() - 1) * d_inner()), 0.0f),
            std::vector<float>(static_cast<std::size_t>(d_inner() * d_state()), 0.0f)};
  }

  /// Recomputes values derived from the weights (A = -exp(A_log), transposed to [N, E]);
  /// call after changing weights.
  void prepare() {
    const index_t e = d_inner(), n = d_state();
    a_.resize(a_log_.size());
    for (index_t c = 0; c < e; ++c)
      for (index_t k = 0; k < n; ++k) a_[k * e + c] = -std::exp(a_log_[c * n + k]);
  }

  /// u [T, D] -> out [T, D], continuing from `state` and leaving it after the last token;
  /// activations live in `ws`.
  void forward(const Backend& be, State& state, const float* u, float* out, index_t tokens, Workspace& ws) const {
    const Segment<State> one{&state, tokens};
    forward(be, std::span<const Segment<State>>(&one, 1), u, out, ws);
  }

  /// The same with scratch memory of its own (allocated for this call).
  void forward(const Backend& be, State& state, const float* u, float* out, index_t tokens) const {
    Workspace ws;
    forward(be, state, u, out, tokens, ws);
  }

  /// Several sequences' rows stacked: u [T, D] -> out [T, D], T = the segments' rows in all; the
  /// projections run once over all rows, the conv and the scan per segment on its own state.
  void forward(const Backend& be, std::span<const Segment<State>> segments, const float* u, float* out, Workspace& ws) const {
    const index_t d = d_model(), e = d_inner(), n = d_state(), r = dt_rank(), k = d_conv();
    const index_t proj = r + 2 * n;
    index_t tokens = 0;
    for (const auto& seg : segments) tokens += seg.rows;
    const Workspace::Frame frame(ws);
    float* xz = ws.floats(tokens * 2 * e);  // [T, 2E] in_proj(u)
    float* x = ws.floats(tokens * e);       // [T, E] conv input
    float* z = ws.floats(tokens * e);       // [T, E] gate
    float* xc = ws.floats(tokens * e);      // [T, E] silu(conv(x))
    float* dbc = ws.floats(tokens * proj);  // [T, R + 2N] x_proj(xc)
    float* dt_low = ws.floats(tokens * r);  // [T, R]
    float* dt = ws.floats(tokens * e);      // [T, E]
    float* y = ws.floats(tokens * e);       // [T, E]
    linear(be, u, view(in_proj_), xz, tokens, d, 2 * e);
    for (index_t t = 0; t < tokens; ++t) {
      std::copy_n(xz + t * 2 * e, e, x + t * e);
      std::copy_n(xz + t * 2 * e + e, e, z + t * e);
    }
    index_t row = 0;
    for (const auto& seg : segments) {
      causal_conv1d_silu(be, x + row * e, seg.state->conv.data(), conv_w_.data(), conv_b_.data(), xc + row * e, seg.rows, e, k);
      row += seg.rows;
    }
    linear(be, xc, view(x_proj_), dbc, tokens, e, proj);
    // dt = softplus(dt_proj(dt_low) + bias); dt_low = dbc[:, :R] (row stride R + 2N).
    for (index_t t = 0; t < tokens; ++t) std::copy_n(dbc + t * proj, r, dt_low + t * r);
    linear(be, dt_low, view(dt_proj_w_), dt, tokens, r, e);
    softplus_bias(be, dt, dt_proj_b_.data(), tokens, e);
    row = 0;
    for (const auto& seg : segments) {
      const index_t o = row * e;
      selective_scan(be, xc + o, dt + o, a_.data(), dbc + row * proj + r, dbc + row * proj + r + n, proj, d_.data(), z + o,
                     seg.state->ssm.data(), y + o, seg.rows, e, n);
      row += seg.rows;
    }
    linear(be, y, view(out_proj_), out, tokens, e, d);
  }

  template <class F>
  void for_each_parameter(F&& f) {
    const index_t d = d_model(), e = d_inner(), n = d_state(), k = d_conv(), r = dt_rank();
    f("in_proj.weight", Shape{2 * e, d}, in_proj_, ParamRole::matrix);
    f("conv1d.weight", Shape{e, 1, k}, conv_w_, ParamRole::conv_weight);
    if (dims_.conv_bias) f("conv1d.bias", Shape{e}, conv_b_, ParamRole::conv_bias);
    f("x_proj.weight", Shape{r + 2 * n, e}, x_proj_, ParamRole::matrix);
    f("dt_proj.weight", Shape{e, r}, dt_proj_w_, ParamRole::matrix);
    f("dt_proj.bias", Shape{e}, dt_proj_b_, ParamRole::dt_bias);
    f("A_log", Shape{e, n}, a_log_, ParamRole::a_log);
    f("D", Shape{e}, d_, ParamRole::d_skip);
    f("out_proj.weight", Shape{d, e}, out_proj_, ParamRole::matrix);
  }

 private:
  static constexpr index_t pick(index_t fixed, index_t runtime) { return fixed != dynamic ? fixed : runtime; }

  MambaDims dims_;
  Matrix<W> in_proj_;        // [2E, D]  rows [0, E) -> x, [E, 2E) -> z
  std::vector<float> conv_w_;     // [E, 1, K]
  std::vector<float> conv_b_;     // [E] (zeros when dims.conv_bias is false)
  Matrix<W> x_proj_;         // [R + 2N, E] -> dt_low, B, C
  Matrix<W> dt_proj_w_;      // [E, R]
  std::vector<float> dt_proj_b_;  // [E]
  std::vector<float> a_log_;      // [E, N]
  std::vector<float> d_;          // [E]
  Matrix<W> out_proj_;       // [D, E]
  std::vector<float> a_;          // [N, E] derived: -exp(A_log), transposed
};

}  // namespace samba
