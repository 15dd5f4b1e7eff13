// samba/ops/causal_conv1d.hpp: Mamba's depthwise causal conv + SiLU (SPEC.md "Mamba",
// x = silu(b[e] + sum_k W[e,k] x[t-K+1+k, e])), continuing from a history of the last K-1 inputs.
#pragma once

#include <algorithm>
#include <vector>

#include "samba/backend/scalar.hpp"
#include "samba/core/types.hpp"
#include "samba/ops/activations.hpp"

namespace samba::ops {

/// x [T, E] pre-activation inputs; history [K-1, E] (oldest first; zeros at sequence start),
/// updated to the last K-1 inputs; w [E, K]; b [E]; y [T, E] = silu(conv).
inline void causal_conv1d_silu(const backend::Scalar&, const float* x, float* history, const float* w, const float* b,
                               float* y, index_t tokens, index_t channels, index_t kernel) {
  const index_t h = kernel - 1;  // history length
  // Input at relative time s (s < 0 reads the history, s >= 0 the chunk).
  auto input = [&](index_t s, index_t e) { return s < 0 ? history[(h + s) * channels + e] : x[s * channels + e]; };
  for (index_t t = 0; t < tokens; ++t) {
    for (index_t e = 0; e < channels; ++e) {
      double acc = b[e];
      for (index_t k = 0; k < kernel; ++k) acc += static_cast<double>(w[e * kernel + k]) * input(t - h + k, e);
      y[t * channels + e] = silu(static_cast<float>(acc));
    }
  }
  // New history: the last K-1 inputs of (old history ++ chunk).
  std::vector<float> next(static_cast<std::size_t>(h * channels));
  for (index_t s = 0; s < h; ++s)
    for (index_t e = 0; e < channels; ++e) next[s * channels + e] = input(tokens - h + s, e);
  std::copy(next.begin(), next.end(), history);
}

}  // namespace samba::ops
