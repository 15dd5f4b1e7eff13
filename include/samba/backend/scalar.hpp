// samba/backend/scalar.hpp: the scalar reference backend, plain loops in float32 storage with
// double accumulators. It is the numeric ground truth every faster backend is tested against.
#pragma once

namespace samba::backend {

/// Policy tag: selects the reference overloads in samba::ops.
/// Faster backends derive from it (xsimd style), so any op they do not overload falls back here.
struct Scalar {
  static constexpr const char* name = "scalar";
};

}  // namespace samba::backend
