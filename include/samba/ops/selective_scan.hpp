// samba/ops/selective_scan.hpp: Mamba's selective SSM recurrence with D skip and z gating
// (SPEC.md "Mamba": h_t = exp(dt*A) h_{t-1} + dt*B*x; y = C.h + D*x; y *= silu(z)).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "samba/backend/scalar.hpp"
#include "samba/core/types.hpp"
#include "samba/ops/activations.hpp"

namespace samba::ops {

/// x, dt, z [T, E] (dt after softplus); A [N, E] (= -exp(A_log), transposed); B, C with row stride
/// `bc_stride` ([T, >=N] views into x_proj's output); d [E]; h [N, E] state in/out; y [T, E].
/// A and h are stored state-major ([N, E]) so that channels are contiguous for vector backends.
inline void selective_scan(const backend::Scalar&, const float* x, const float* dt, const float* a, const float* b,
                           const float* c, index_t bc_stride, const float* d, const float* z, float* h, float* y,
                           index_t tokens, index_t channels, index_t state) {
  std::vector<double> acc(static_cast<std::size_t>(channels));  // [E] C.h per channel
  for (index_t t = 0; t < tokens; ++t) {
    const float* bt = b + t * bc_stride;
    const float* ct = c + t * bc_stride;
    const float* dtt = dt + t * channels;
    const float* xt = x + t * channels;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (index_t n = 0; n < state; ++n) {
      float* hn = h + n * channels;
      const float* an = a + n * channels;
      for (index_t e = 0; e < channels; ++e) {
        hn[e] = std::exp(dtt[e] * an[e]) * hn[e] + dtt[e] * bt[n] * xt[e];
        acc[e] += static_cast<double>(hn[e]) * ct[n];
      }
    }
    for (index_t e = 0; e < channels; ++e)
      y[t * channels + e] = (static_cast<float>(acc[e]) + d[e] * xt[e]) * silu(z[t * channels + e]);
  }
}

}  // namespace samba::ops
