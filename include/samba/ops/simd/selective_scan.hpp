// samba/ops/simd/selective_scan.hpp: Mamba's selective scan vectorized across channels
// (SPEC.md "Mamba": h_t = exp(dt A) h_{t-1} + dt B x; y = (C.h + D x) silu(z)).
// Each task owns a tile of `lanes` channels and keeps the tile's N state vectors in registers for
// the whole chunk of tokens; exp is evaluated in vector form; tiles are spread across threads.
#pragma once

#include <array>
#include <utility>

#include "samba/backend/simd.hpp"
#include "samba/ops/selective_scan.hpp"
#include "samba/ops/simd/elementwise.hpp"

namespace samba::ops {

namespace simd {

/// Largest d_state whose tile state is kept in a local array of vectors.
inline constexpr index_t scan_max_state = 64;

/// One tile of channels [e0, e0 + lanes). NFixed > 0 fixes the state size at compile time, so the
/// state loop unrolls and h lives in registers; NFixed == 0 handles any state <= scan_max_state.
template <int NFixed>
void scan_tile(const float* x, const float* dt, const float* a, const float* b, const float* c, index_t bc_stride,
               const float* d, const float* z, float* h, float* y, index_t tokens, index_t channels, index_t n_state,
               index_t e0) {
  constexpr int cap = NFixed > 0 ? NFixed : static_cast<int>(scan_max_state);
  const int n_count = NFixed > 0 ? NFixed : static_cast<int>(n_state);
  // The state stays in registers; A is re-read from L1 each step (holding it too would spill).
  std::array<fvec, cap> state;
  for (int n = 0; n < n_count; ++n) state[n] = fvec::load_unaligned(h + n * channels + e0);  // h [N, E]
  const fvec skip = fvec::load_unaligned(d + e0);
  for (index_t t = 0; t < tokens; ++t) {
    const index_t row = t * channels + e0;
    const fvec dtv = fvec::load_unaligned(dt + row), xv = fvec::load_unaligned(x + row);
    const fvec dtx = dtv * xv;
    const float* bt = b + t * bc_stride;
    const float* ct = c + t * bc_stride;
    fvec acc[4] = {skip * xv, fvec(0.f), fvec(0.f), fvec(0.f)};  // C.h in four partial sums
    auto update = [&](int n) {
      const fvec decay = fast_exp(dtv * fvec::load_unaligned(a + n * channels + e0));
      state[n] = xsimd::fma(decay, state[n], dtx * fvec(bt[n]));
      acc[n & 3] = xsimd::fma(state[n], fvec(ct[n]), acc[n & 3]);
    };
    if constexpr (NFixed > 0) {
      // Unrolled at compile time so that the state array is promoted to registers.
      [&]<int... I>(std::integer_sequence<int, I...>) { (update(I), ...); }(std::make_integer_sequence<int, NFixed>{});
    } else {
      for (int n = 0; n < n_count; ++n) update(n);
    }
    (((acc[0] + acc[1]) + (acc[2] + acc[3])) * silu(fvec::load_unaligned(z + row))).store_unaligned(y + row);
  }
  for (int n = 0; n < n_count; ++n) state[n].store_unaligned(h + n * channels + e0);
}

}  // namespace simd

/// Same contract as the scalar selective_scan: x, dt, z [T, E]; A [N, E]; B, C rows of stride
/// `bc_stride`; d [E]; h [N, E] in/out; y [T, E].
inline void selective_scan(const backend::Simd& be, const float* x, const float* dt, const float* a, const float* b,
                           const float* c, index_t bc_stride, const float* d, const float* z, float* h, float* y,
                           index_t tokens, index_t channels, index_t state) {
  if (state > simd::scan_max_state) {  // beyond the tile's local arrays: the reference handles it
    selective_scan(static_cast<const backend::Scalar&>(be), x, dt, a, b, c, bc_stride, d, z, h, y, tokens, channels, state);
    return;
  }
  const index_t step = static_cast<index_t>(simd::lanes), tiles = channels / step;
  be.pool().parallel_for(tiles, [&](index_t lo, index_t hi) {
    for (index_t tile = lo; tile < hi; ++tile) {
      if (state == 16)
        simd::scan_tile<16>(x, dt, a, b, c, bc_stride, d, z, h, y, tokens, channels, state, tile * step);
      else
        simd::scan_tile<0>(x, dt, a, b, c, bc_stride, d, z, h, y, tokens, channels, state, tile * step);
    }
  }, 1, tokens * state * step * 8);
  // Channels past the last full tile (E not a multiple of the vector width).
  for (index_t e = tiles * step; e < channels; ++e) {
    for (index_t t = 0; t < tokens; ++t) {
      const float dte = dt[t * channels + e], xe = x[t * channels + e];
      float acc = 0.0f;
      for (index_t n = 0; n < state; ++n) {
        float& hn = h[n * channels + e];
        hn = std::exp(dte * a[n * channels + e]) * hn + dte * b[t * bc_stride + n] * xe;
        acc += hn * c[t * bc_stride + n];
      }
      y[t * channels + e] = (acc + d[e] * xe) * ops::silu(z[t * channels + e]);
    }
  }
}

}  // namespace samba::ops
