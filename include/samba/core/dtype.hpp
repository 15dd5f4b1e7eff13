// samba/core/dtype.hpp: element types found in checkpoints and their conversion to float32.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace samba {

/// Every safetensors dtype; the library computes with the floating ones and reads ids as integers.
enum class DType : std::uint8_t { f64, f32, bf16, f16, i64, i32, i16, i8, u8, boolean };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f64: return 8;
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::i64: return 8;
    case DType::i32: return 4;
    case DType::i16: return 2;
    case DType::i8: return 1;
    case DType::u8: return 1;
    case DType::boolean: return 1;
  }
  return 0;
}

/// The safetensors spelling of a dtype ("F32", "BF16", ...).
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f64: return "F64";
    case DType::f32: return "F32";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::i16: return "I16";
    case DType::i8: return "I8";
    case DType::u8: return "U8";
    case DType::boolean: return "BOOL";
  }
  return "?";
}

/// Parses a safetensors dtype name; false when the name is not one of ours.
constexpr bool parse_dtype(std::string_view name, DType& out) {
  for (DType t : {DType::f64, DType::f32, DType::bf16, DType::f16, DType::i64, DType::i32, DType::i16,
                  DType::i8, DType::u8, DType::boolean}) {
    if (dtype_name(t) == name) {
      out = t;
      return true;
    }
  }
  return false;
}

/// bfloat16 bits -> float32: the top 16 bits of an IEEE float32.
inline float bf16_to_f32(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

/// float32 -> bfloat16 bits, round to nearest even (NaN stays NaN).
inline std::uint16_t f32_to_bf16(float value) {
  auto u = std::bit_cast<std::uint32_t>(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

/// A bfloat16 weight: the top 16 bits of a float32. Storage only; arithmetic happens in float32.
struct bf16 {
  std::uint16_t bits = 0;
};

inline float to_float(float v) { return v; }
inline float to_float(bf16 v) { return bf16_to_f32(v.bits); }

/// Converts a float32 to the storage type W (float or bf16, rounding to nearest even).
template <class W>
W from_float(float v) {
  if constexpr (std::is_same_v<W, bf16>) return bf16{f32_to_bf16(v)};
  else return v;
}

/// IEEE binary16 bits -> float32 (subnormals, infinities and NaN included).
inline float f16_to_f32(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

}  // namespace samba
