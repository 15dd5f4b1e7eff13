// samba/ops/simd/elementwise.hpp: RMSNorm and the pointwise steps, vectorized with xsimd and
// split across threads for long inputs (SPEC.md "RMSNorm", "SwiGLU MLP", "Mamba" dt).
#pragma once

#include <cmath>

#include "samba/backend/simd.hpp"
#include "samba/ops/activations.hpp"
#include "samba/ops/simd/vector.hpp"

namespace samba::ops {

namespace simd {

/// Below this many elements a pointwise op runs on the calling thread.
inline constexpr index_t parallel_min_elements = 1 << 15;

/// Runs fn(lo, hi) over [0, n) in vector-aligned pieces, in parallel when n is large.
template <class F>
void pointwise(const backend::Simd& be, index_t n, F&& fn) {
  if (n < parallel_min_elements) fn(index_t{0}, n);
  else be.pool().parallel_for(n, fn, static_cast<index_t>(lanes) * 16);
}

inline fvec silu(fvec v) { return v / (fvec(1.0f) + fast_exp(-v)); }

}  // namespace simd

namespace simd {

/// Runs fn(lo, hi) over rows [0, tokens) of `dim` elements, in parallel when there are many.
template <class F>
void for_rows(const backend::Simd& be, index_t tokens, index_t dim, F&& fn) {
  if (tokens * dim < parallel_min_elements) fn(index_t{0}, tokens);
  else be.pool().parallel_for(tokens, fn);
}

/// out [dim] = x * rsqrt(sum_sq / dim + eps) * w: the second half of RMSNorm, given sum(x^2).
inline void scale_row(const float* x, const float* w, float* out, index_t dim, float sum_sq, float eps) {
  const index_t step = static_cast<index_t>(lanes), vec_end = dim - dim % step;
  const float inv_rms = 1.0f / std::sqrt(sum_sq / static_cast<float>(dim) + eps);
  for (index_t i = 0; i < vec_end; i += step)
    (fvec::load_unaligned(x + i) * fvec(inv_rms) * fvec::load_unaligned(w + i)).store_unaligned(out + i);
  for (index_t i = vec_end; i < dim; ++i) out[i] = x[i] * inv_rms * w[i];
}

}  // namespace simd

/// x [T, D], w [D], y [T, D] (y may alias x): y = x * rsqrt(mean(x^2) + eps) * w.
inline void rmsnorm(const backend::Simd& be, const float* x, const float* w, float* y, index_t tokens, index_t dim, float eps) {
  using simd::fvec;
  const index_t step = static_cast<index_t>(simd::lanes), vec_end = dim - dim % step;
  simd::for_rows(be, tokens, dim, [&](index_t lo, index_t hi) {
    for (index_t t = lo; t < hi; ++t) {
      const float* xt = x + t * dim;
      fvec acc(0.f);
      for (index_t i = 0; i < vec_end; i += step) {
        const fvec v = fvec::load_unaligned(xt + i);
        acc = xsimd::fma(v, v, acc);
      }
      float sum_sq = xsimd::hadd(acc);
      for (index_t i = vec_end; i < dim; ++i) sum_sq += xt[i] * xt[i];
      simd::scale_row(xt, w, y + t * dim, dim, sum_sq, eps);
    }
  });
}

/// x [T, D] += y; normed = rmsnorm(x) * w, in one pass per row (the residual add of a sublayer
/// fused with the next sublayer's pre-norm).
inline void add_rmsnorm(const backend::Simd& be, float* x, const float* y, const float* w, float* normed, index_t tokens,
                        index_t dim, float eps) {
  using simd::fvec;
  const index_t step = static_cast<index_t>(simd::lanes), vec_end = dim - dim % step;
  simd::for_rows(be, tokens, dim, [&](index_t lo, index_t hi) {
    for (index_t t = lo; t < hi; ++t) {
      float* xt = x + t * dim;
      const float* yt = y + t * dim;
      fvec acc(0.f);
      for (index_t i = 0; i < vec_end; i += step) {
        const fvec v = fvec::load_unaligned(xt + i) + fvec::load_unaligned(yt + i);
        v.store_unaligned(xt + i);
        acc = xsimd::fma(v, v, acc);
      }
      float sum_sq = xsimd::hadd(acc);
      for (index_t i = vec_end; i < dim; ++i) {
        xt[i] += yt[i];
        sum_sq += xt[i] * xt[i];
      }
      simd::scale_row(xt, w, normed + t * dim, dim, sum_sq, eps);
    }
  });
}

/// x [n] += y [n].
inline void add_inplace(const backend::Simd& be, float* x, const float* y, index_t n) {
  using simd::fvec;
  simd::pointwise(be, n, [&](index_t lo, index_t hi) {
    index_t i = lo;
    for (; i + static_cast<index_t>(simd::lanes) <= hi; i += simd::lanes)
      (fvec::load_unaligned(x + i) + fvec::load_unaligned(y + i)).store_unaligned(x + i);
    for (; i < hi; ++i) x[i] += y[i];
  });
}

/// gate [n] = silu(gate) * up.
inline void silu_mul(const backend::Simd& be, float* gate, const float* up, index_t n) {
  using simd::fvec;
  simd::pointwise(be, n, [&](index_t lo, index_t hi) {
    index_t i = lo;
    for (; i + static_cast<index_t>(simd::lanes) <= hi; i += simd::lanes)
      (simd::silu(fvec::load_unaligned(gate + i)) * fvec::load_unaligned(up + i)).store_unaligned(gate + i);
    for (; i < hi; ++i) gate[i] = ops::silu(gate[i]) * up[i];
  });
}

/// dt [T, E] = softplus(dt + bias[e]) with torch's threshold (v > 20 -> v).
inline void softplus_bias(const backend::Simd& be, float* dt, const float* bias, index_t tokens, index_t channels) {
  using simd::fvec;
  const index_t step = static_cast<index_t>(simd::lanes), vec_end = channels - channels % step;
  simd::for_rows(be, tokens, channels, [&](index_t lo, index_t hi) {
    for (index_t t = lo; t < hi; ++t) {
      float* d = dt + t * channels;
      for (index_t e = 0; e < vec_end; e += step) {
        const fvec v = fvec::load_unaligned(d + e) + fvec::load_unaligned(bias + e);
        xsimd::select(v > fvec(20.0f), v, xsimd::log1p(xsimd::exp(v))).store_unaligned(d + e);
      }
      for (index_t e = vec_end; e < channels; ++e) d[e] = ops::softplus(d[e] + bias[e]);
    }
  });
}

}  // namespace samba::ops
