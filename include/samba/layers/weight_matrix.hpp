// samba/layers/weight_matrix.hpp: how a layer stores a weight matrix for each storage type W:
// float32, bfloat16, or int8 with one float32 scale per row (w[o, i] = scale[o] * q[o, i],
// symmetric, scale = max_i |w[o, i]| / 127). Kernels receive a view: a pointer for float and
// bf16, a Q8View for int8.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "samba/core/dtype.hpp"
#include "samba/core/huge_page_allocator.hpp"
#include "samba/core/types.hpp"

namespace samba {

/// Storage tag: int8 weights with per-row float32 scales.
struct q8 {};

struct Q8View {
  const std::int8_t* q;  // [rows, cols]
  const float* scale;    // [rows]
};

template <class W>
struct Matrix {
  huge_page_vector<W> values;  // [rows, cols] row-major
  index_t cols = 0;
};

template <>
struct Matrix<q8> {
  huge_page_vector<std::int8_t> values;  // [rows, cols]
  std::vector<float> scales;        // [rows]
  index_t cols = 0;
};

template <class W>
const W* view(const Matrix<W>& m) {
  return m.values.data();
}
inline Q8View view(const Matrix<q8>& m) { return {m.values.data(), m.scales.data()}; }

/// Sizes a matrix of `shape` (rows = product of all but the last extent), zero-filled.
template <class W>
void allocate(Matrix<W>& m, const Shape& shape) {
  m.cols = shape.back();
  m.values.assign(static_cast<std::size_t>(element_count(shape)), {});
  if constexpr (std::is_same_v<W, q8>) m.scales.assign(static_cast<std::size_t>(element_count(shape) / m.cols), 0.0f);
}

/// Stores float32 values (rounding to bf16, or quantizing to int8 per row).
template <class W>
void assign_from_float(Matrix<W>& m, const std::vector<float>& src) {
  if constexpr (std::is_same_v<W, q8>) {
    const std::size_t cols = static_cast<std::size_t>(m.cols);
    for (std::size_t r = 0; r < m.scales.size(); ++r) {
      const float* row = src.data() + r * cols;
      float absmax = 0.0f;
      for (std::size_t i = 0; i < cols; ++i) absmax = std::max(absmax, std::abs(row[i]));
      const float scale = absmax / 127.0f, inv = absmax > 0.0f ? 127.0f / absmax : 0.0f;
      m.scales[r] = scale;
      for (std::size_t i = 0; i < cols; ++i)
        m.values[r * cols + i] = static_cast<std::int8_t>(std::lround(std::clamp(row[i] * inv, -127.0f, 127.0f)));
    }
  } else {
    for (std::size_t i = 0; i < src.size(); ++i) m.values[i] = from_float<W>(src[i]);
  }
}

/// Row r as float32 into out [cols] (the embedding gather).
template <class W>
void row_to_float(const Matrix<W>& m, index_t r, float* out) {
  for (index_t i = 0; i < m.cols; ++i) {
    if constexpr (std::is_same_v<W, q8>) out[i] = m.scales[r] * static_cast<float>(m.values[r * m.cols + i]);
    else out[i] = to_float(m.values[r * m.cols + i]);
  }
}

/// Bytes a matrix occupies (what a decode step streams).
template <class W>
std::size_t storage_bytes(const Matrix<W>& m) {
  if constexpr (std::is_same_v<W, q8>) return m.values.size() + m.scales.size() * sizeof(float);
  else return m.values.size() * sizeof(W);
}
inline std::size_t storage_bytes(const std::vector<float>& v) { return v.size() * sizeof(float); }

}  // namespace samba
