// samba/core/tensor.hpp: a small owning tensor (row-major) used at the library's edges:
// logits, hidden states, token ids.
#pragma once

#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba {

template <class T>
struct Tensor {
  Shape shape;         // row-major extents
  std::vector<T> data;  // element_count(shape) values

  Tensor() = default;
  explicit Tensor(Shape s, T fill = T{}) : shape(std::move(s)), data(static_cast<std::size_t>(element_count(shape)), fill) {}

  index_t rank() const { return static_cast<index_t>(shape.size()); }
  index_t dim(index_t i) const { return shape.at(static_cast<std::size_t>(i)); }
  index_t size() const { return static_cast<index_t>(data.size()); }
  T* ptr() { return data.data(); }
  const T* ptr() const { return data.data(); }
};

}  // namespace samba
