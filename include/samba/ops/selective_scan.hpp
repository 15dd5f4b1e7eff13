// samba/ops/selective_scan.hpp: Mamba's selective SSM recurrence with D skip and z gating
// (SPEC.md "Mamba": h_t = exp(dt*A) h_{t-1} + dt*B*x; y = C.h + D*x; y *= silu(z)).
#pragma once

#include <cmath>

#include "samba/backend/scalar.hpp"
#include "samba/ops/activations.hpp"

namespace samba::ops {

/// x, dt, z [T, E] (dt after softplus); A [E, N] (= -exp(A_log)); B, C with row stride `bc_stride`
/// ([T, >=N] views into x_proj's output); d [E]; h [E, N] state in/out; y [T, E].
inline void selective_scan(const backend::Scalar&, const float* x, const float* dt, const float* a, const float* b,
                           const float* c, index_t bc_stride, const float* d, const float* z, float* h, float* y,
                           index_t tokens, index_t channels, index_t state) {
  for (index_t t = 0; t < tokens; ++t) {
    const float* bt = b + t * bc_stride;
    const float* ct = c + t * bc_stride;
    for (index_t e = 0; e < channels; ++e) {
      const float dte = dt[t * channels + e];
      const float xe = x[t * channels + e];
      float* he = h + e * state;
      double acc = 0.0;
      for (index_t n = 0; n < state; ++n) {
        he[n] = std::exp(dte * a[e * state + n]) * he[n] + dte * bt[n] * xe;
        acc += static_cast<double>(he[n]) * ct[n];
      }
      const float ye = static_cast<float>(acc) + d[e] * xe;
      y[t * channels + e] = ye * silu(z[t * channels + e]);
    }
  }
}

}  // namespace samba::ops
