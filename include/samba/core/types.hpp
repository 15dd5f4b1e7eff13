// samba/core/types.hpp: index type, the `dynamic` extent marker and shape helpers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace samba {

/// Signed index type for every size and offset (avoids unsigned wrap-around in loops).
using index_t = std::int64_t;

/// Marks an extent that is known only at run time (like Eigen::Dynamic).
inline constexpr index_t dynamic = 0;

/// A compile-time extent `fixed` agrees with a run-time value when it is dynamic or equal.
constexpr bool extent_matches(index_t fixed, index_t runtime) {
  return fixed == dynamic || fixed == runtime;
}

/// A token id.
using token_t = std::int32_t;

using Shape = std::vector<index_t>;

inline index_t element_count(const Shape& shape) {
  index_t n = 1;
  for (index_t d : shape) n *= d;
  return n;
}

inline std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace samba
