// samba/core/bf16_device.cuh: samba::bf16 and float32 on the device: loads widen to float32,
// stores round to nearest even (the same rounding as f32_to_bf16 on the host).
#pragma once

#include <cuda_bf16.h>

#include "samba/core/dtype.hpp"

namespace samba {

__device__ __forceinline__ float load_float(float v) { return v; }
__device__ __forceinline__ float load_float(bf16 v) { return __uint_as_float(static_cast<unsigned>(v.bits) << 16); }

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
