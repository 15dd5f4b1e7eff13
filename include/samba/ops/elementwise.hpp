// samba/ops/elementwise.hpp: the pointwise steps between the matrix products (reference versions).
#pragma once

#include "samba/backend/scalar.hpp"
#include "samba/core/types.hpp"
#include "samba/ops/activations.hpp"

namespace samba::ops {

/// x [n] += y [n]: the residual add of every sublayer.
inline void add_inplace(const backend::Scalar&, float* x, const float* y, index_t n) {
  for (index_t i = 0; i < n; ++i) x[i] += y[i];
}

/// gate [n] = silu(gate) * up: the SwiGLU product (SPEC.md "SwiGLU MLP").
inline void silu_mul(const backend::Scalar&, float* gate, const float* up, index_t n) {
  for (index_t i = 0; i < n; ++i) gate[i] = silu(gate[i]) * up[i];
}

/// dt [T, E] = softplus(dt + bias[e]): Mamba's step size (SPEC.md "Mamba").
inline void softplus_bias(const backend::Scalar&, float* dt, const float* bias, index_t tokens, index_t channels) {
  for (index_t t = 0; t < tokens; ++t)
    for (index_t e = 0; e < channels; ++e) dt[t * channels + e] = softplus(dt[t * channels + e] + bias[e]);
}

}  // namespace samba::ops
