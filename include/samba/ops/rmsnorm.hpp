// samba/ops/rmsnorm.hpp: y = x * rsqrt(mean(x^2) + eps) * w  (SPEC.md "RMSNorm", fp32).
#pragma once

#include <cmath>

#include "samba/backend/scalar.hpp"
#include "samba/config.hpp"
#include "samba/core/types.hpp"

namespace samba::ops {

/// x [T, D], w [D], y [T, D] (y may alias x).
inline void rmsnorm(const backend::Scalar&, const float* x, const float* SAMBA_RESTRICT w, float* y, index_t tokens,
                    index_t dim, float eps) {
  for (index_t t = 0; t < tokens; ++t) {
    const float* xt = x + t * dim;
    float* yt = y + t * dim;
    double sum_sq = 0.0;
    for (index_t i = 0; i < dim; ++i) sum_sq += static_cast<double>(xt[i]) * xt[i];
    const float inv_rms = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(dim) + eps));
    for (index_t i = 0; i < dim; ++i) yt[i] = xt[i] * inv_rms * w[i];
  }
}

/// Residual add fused with the next sublayer's pre-norm: x [T, D] += y; normed = rmsnorm(x) * w.
/// One pass over x instead of two.
inline void add_rmsnorm(const backend::Scalar& be, float* x, const float* y, const float* SAMBA_RESTRICT w, float* normed,
                        index_t tokens, index_t dim, float eps) {
  for (index_t i = 0; i < tokens * dim; ++i) x[i] += y[i];
  rmsnorm(be, x, w, normed, tokens, dim, eps);
}

}  // namespace samba::ops
