// samba/ops/simd/vector.hpp: the xsimd vector type the SIMD backend computes with, and bf16 loads.
#pragma once

#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "samba/core/dtype.hpp"

namespace samba::ops::simd {

using fvec = xsimd::batch<float>;            // widest float vector the compile flags allow
using uvec = xsimd::batch<std::uint32_t>;
inline constexpr std::size_t lanes = fvec::size;

/// bf16 pairs viewed as uint32 lanes: element 2i is the low half, 2i+1 the high half.
/// Returns the even elements (low halves) and the odd ones (high halves) as float32.
inline void load_bf16_pairs(const bf16* p, fvec& even, fvec& odd) {
  const uvec v = uvec::load_unaligned(reinterpret_cast<const std::uint32_t*>(p));
  even = xsimd::bitwise_cast<fvec>(v << 16);
  odd = xsimd::bitwise_cast<fvec>(v & uvec(0xffff0000u));
}

/// exp(x) in float32 for the scan's decay and SiLU: x = n ln2 + r (Cody-Waite, |r| <= ln2/2),
/// e^r by its degree-6 Taylor polynomial (truncation error < 1.3e-7 relative), 2^n added to the
/// exponent bits. Inputs are clamped to [-87.3, 88.0], so results never overflow and the smallest
/// is ~1e-38 instead of 0. About half the instructions of xsimd::exp, which also handles NaN
/// payloads and denormal results that these callers never need.
inline fvec fast_exp(fvec x) {
  x = xsimd::min(xsimd::max(x, fvec(-87.3f)), fvec(88.0f));
  const fvec n = xsimd::nearbyint(x * fvec(1.44269504088896341f));
  fvec r = xsimd::fnma(n, fvec(0.693359375f), x);   // ln2 high part (exact in float)
  r = xsimd::fnma(n, fvec(-2.12194440e-4f), r);     // ln2 low part
  fvec p = fvec(1.0f / 720.0f);
  p = xsimd::fma(p, r, fvec(1.0f / 120.0f));
  p = xsimd::fma(p, r, fvec(1.0f / 24.0f));
  p = xsimd::fma(p, r, fvec(1.0f / 6.0f));
  p = xsimd::fma(p, r, fvec(0.5f));
  p = xsimd::fma(p, r, fvec(1.0f));
  p = xsimd::fma(p, r, fvec(1.0f));
  const auto bits = (xsimd::batch_cast<std::int32_t>(n) + xsimd::batch<std::int32_t>(127)) << 23;
  return p * xsimd::bitwise_cast<fvec>(bits);
}

}  // namespace samba::ops::simd
