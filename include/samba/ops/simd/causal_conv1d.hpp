// samba/ops/simd/causal_conv1d.hpp: Mamba's depthwise causal conv + SiLU, vectorized across
// channels (SPEC.md "Mamba": x = silu(b[e] + sum_k W[e,k] x[t-K+1+k, e])).
#pragma once

#include <algorithm>
#include <vector>

#include "samba/backend/simd.hpp"
#include "samba/ops/simd/elementwise.hpp"

namespace samba::ops {

/// x [T, E]; history [K-1, E] updated to the last K-1 inputs; w [E, K]; b [E]; y [T, E].
inline void causal_conv1d_silu(const backend::Simd& be, const float* x, float* history, const float* w, const float* b,
                               float* y, index_t tokens, index_t channels, index_t kernel) {
  using simd::fvec;
  const index_t h = kernel - 1, step = static_cast<index_t>(simd::lanes);
  // The input with its history in front: [K-1 + T, E], and the taps transposed to [K, E].
  std::vector<float> padded(static_cast<std::size_t>((h + tokens) * channels));
  std::copy_n(history, h * channels, padded.data());
  std::copy_n(x, tokens * channels, padded.data() + h * channels);
  std::vector<float> taps(static_cast<std::size_t>(kernel * channels));
  for (index_t e = 0; e < channels; ++e)
    for (index_t k = 0; k < kernel; ++k) taps[k * channels + e] = w[e * kernel + k];
  const index_t vec_end = channels - channels % step;
  auto run = [&](index_t t_lo, index_t t_hi) {
    for (index_t t = t_lo; t < t_hi; ++t) {
      const float* in = padded.data() + t * channels;  // row t of padded = input t - (K-1)
      for (index_t e = 0; e < vec_end; e += step) {
        fvec acc = fvec::load_unaligned(b + e);
        for (index_t k = 0; k < kernel; ++k)
          acc = xsimd::fma(fvec::load_unaligned(taps.data() + k * channels + e), fvec::load_unaligned(in + k * channels + e), acc);
        simd::silu(acc).store_unaligned(y + t * channels + e);
      }
      for (index_t e = vec_end; e < channels; ++e) {
        float acc = b[e];
        for (index_t k = 0; k < kernel; ++k) acc += taps[k * channels + e] * in[k * channels + e];
        y[t * channels + e] = ops::silu(acc);
      }
    }
  };
  if (tokens * channels * kernel < simd::parallel_min_elements) run(0, tokens);
  else be.pool().parallel_for(tokens, run);
  std::copy_n(padded.data() + tokens * channels, h * channels, history);
}

}  // namespace samba::ops
