// samba/ops/activations.hpp: pointwise functions shared by every backend's reference path.
#pragma once

#include <cmath>

namespace samba::ops {

/// silu(v) = v * sigmoid(v)  (SwiGLU, Mamba gate and conv activation).
inline float silu(float v) { return v / (1.0f + std::exp(-v)); }

/// softplus(v) = log(1 + exp(v)), with PyTorch's threshold: v > 20 returns v (SPEC.md, Mamba dt).
inline float softplus(float v) { return v > 20.0f ? v : std::log1p(std::exp(v)); }

}  // namespace samba::ops
