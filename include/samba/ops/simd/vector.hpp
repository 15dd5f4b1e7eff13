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

}  // namespace samba::ops::simd
