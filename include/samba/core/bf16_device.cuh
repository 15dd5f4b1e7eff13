// samba/core/bf16_device.cuh: samba::bf16 and float32 on the device: loads widen to float32,
// stores round to nearest even (the same rounding as f32_to_bf16 on the host).
#pragma once

#include <cuda_bf16.h>

#include "samba/core/dtype.hpp"

namespace samba {

__device__ __forceinline__ float load_float(float v) { return v; }
__device__ __forceinline__ float load_float(bf16 v) { return __uint_as_float(static_cast<unsigned>(v.bits) << 16); }

/// The bf16 values in the low and the high half of a 32-bit word (two packed bf16, the first
/// element low: how 16-byte loads of bf16 rows arrive), widened to float32.
__device__ __forceinline__ float low_bf16(unsigned word) { return __uint_as_float(word << 16); }
__device__ __forceinline__ float high_bf16(unsigned word) { return __uint_as_float(word & 0xffff0000u); }

template <class A>
__device__ __forceinline__ A store_as(float v);
template <>
__device__ __forceinline__ float store_as<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ bf16 store_as<bf16>(float v) {
  return bf16{__bfloat16_as_ushort(__float2bfloat16_rn(v))};
}

}  // namespace samba
