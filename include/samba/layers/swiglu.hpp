// samba/layers/swiglu.hpp: the LLaMA MLP, out = w3(silu(w1 x) * (w2 x)) (SPEC.md "SwiGLU MLP").
#pragma once

#include <vector>

#include "samba/backend/scalar.hpp"
#include "samba/core/workspace.hpp"
#include "samba/layers/parameter.hpp"
#include "samba/layers/weight_matrix.hpp"
#include "samba/model/config.hpp"
#include "samba/ops/elementwise.hpp"
#include "samba/ops/linear.hpp"

namespace samba {

/// Compile-time extents of a SwiGLU MLP (samba::dynamic = taken from the checkpoint).
struct MlpShape {
  index_t d_model = dynamic;
  index_t d_hidden = dynamic;
};

/// W: storage type of the matrices (float, bf16 or q8).
template <MlpShape S = MlpShape{}, class Backend = backend::Scalar, class W = float>
class SwiGLU {
  static_assert(S.d_model >= 0 && S.d_hidden >= 0, "SwiGLU: extents must be positive or samba::dynamic");

 public:
  using State = void;  // stateless

  explicit SwiGLU(const MlpDims& dims) : dims_(dims) {
    check_extent(S.d_model, dims.d_model, "SwiGLU", "d_model");
    check_extent(S.d_hidden, dims.d_hidden, "SwiGLU", "d_hidden");
    for_each_parameter([](std::string_view, const Shape& shape, auto& w, ParamRole) { allocate(w, shape); });
  }

  constexpr index_t d_model() const {
    if constexpr (S.d_model != dynamic) return S.d_model;
    else return dims_.d_model;
  }
  constexpr index_t d_hidden() const {
    if constexpr (S.d_hidden != dynamic) return S.d_hidden;
    else return dims_.d_hidden;
  }

  /// x [T, D] -> out [T, D]; activations live in `ws`.
  void forward(const Backend& be, const float* x, float* out, index_t tokens, Workspace& ws) const {
    const index_t d = d_model(), i = d_hidden();
    const Workspace::Frame frame(ws);
    float* gate = ws.floats(tokens * i);  // [T, I]
    float* up = ws.floats(tokens * i);    // [T, I]
    linear(be, x, view(w1_), gate, tokens, d, i);
    linear(be, x, view(w2_), up, tokens, d, i);
    silu_mul(be, gate, up, tokens * i);
    linear(be, gate, view(w3_), out, tokens, i, d);
  }

  /// The same with scratch memory of its own (allocated for this call).
  void forward(const Backend& be, const float* x, float* out, index_t tokens) const {
    Workspace ws;
    forward(be, x, out, tokens, ws);
  }

  template <class F>
  void for_each_parameter(F&& f) {
    f("swiglu.w1.weight", Shape{d_hidden(), d_model()}, w1_, ParamRole::matrix);
    f("swiglu.w2.weight", Shape{d_hidden(), d_model()}, w2_, ParamRole::matrix);
    f("swiglu.w3.weight", Shape{d_model(), d_hidden()}, w3_, ParamRole::matrix);
  }

 private:
  MlpDims dims_;
  Matrix<W> w1_;  // [I, D] gate
  Matrix<W> w2_;  // [I, D] up
  Matrix<W> w3_;  // [D, I] down
};

}  // namespace samba
