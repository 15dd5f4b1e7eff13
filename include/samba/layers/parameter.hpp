// samba/layers/parameter.hpp: how layers expose their weights. Each layer has
// `for_each_parameter(f)` calling f(name_suffix, shape, storage, role) for every tensor, in
// checkpoint naming; loading, random initialisation, counting and saving all walk this one list.
#pragma once

#include <string_view>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba {

/// What a tensor is for; random initialisation draws each role from its own distribution.
enum class ParamRole : std::uint8_t { matrix, embedding, norm, conv_weight, conv_bias, dt_bias, a_log, d_skip };

/// Sizes `storage` (float or bf16 elements) for a tensor of `shape`, zero-filled.
template <class T>
void allocate(std::vector<T>& storage, const Shape& shape) {
  storage.assign(static_cast<std::size_t>(element_count(shape)), T{});
}

/// A compile-time extent must agree with the run-time one: throws Error naming the field.
inline void check_extent(index_t fixed, index_t runtime, std::string_view layer, std::string_view field) {
  require(extent_matches(fixed, runtime), layer, ": ", field, " is ", runtime,
          " at run time but the layer type was compiled for ", fixed);
}

}  // namespace samba
