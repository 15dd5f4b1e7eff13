// samba/ops/rope.hpp: rotary position embedding, rotate-half (NeoX) form over the first `rope_dims`
// of each head (SPEC.md "SWA": o1 = x1 cos - x2 sin, o2 = x1 sin + x2 cos, theta_i = base^(-2i/rd)).
#pragma once

#include <cmath>

#include "samba/backend/scalar.hpp"
#include "samba/core/types.hpp"

namespace samba::ops {

/// x [T, heads, head_size] rotated in place; token t sits at position (first_position + t) * position_scale.
/// Angles are formed in double so that positions far past 2^24 keep their precision.
inline void rope(const backend::Scalar&, float* x, index_t tokens, index_t heads, index_t head_size, index_t rope_dims,
                 index_t first_position, double base, double position_scale) {
  const index_t half = rope_dims / 2;
  for (index_t t = 0; t < tokens; ++t) {
    const double position = static_cast<double>(first_position + t) * position_scale;
    for (index_t i = 0; i < half; ++i) {
      const double theta = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(rope_dims));
      const double angle = position * theta;
      const double c = std::cos(angle), s = std::sin(angle);
      for (index_t h = 0; h < heads; ++h) {
        float* v = x + (t * heads + h) * head_size;
        const double x1 = v[i], x2 = v[i + half];
        v[i] = static_cast<float>(x1 * c - x2 * s);
        v[i + half] = static_cast<float>(x1 * s + x2 * c);
      }
    }
  }
}

}  // namespace samba::ops
