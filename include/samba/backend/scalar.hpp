// samba/backend/scalar.hpp: the scalar reference backend, plain loops in float32 storage with
// double accumulators. It is the numeric ground truth every faster backend is tested against.
#pragma once

namespace samba::ops {
/// Base of every backend policy. Layers call ops unqualified (`linear(backend, ...)`), so
/// argument-dependent lookup searches samba::ops through this base and picks the most derived
/// backend's overload; an op a backend does not provide falls back to its base's (xsimd style).
struct Dispatch {};
}  // namespace samba::ops

namespace samba::backend {

/// Policy: the reference overloads in samba::ops. Stateless.
struct Scalar : ops::Dispatch {
  static constexpr const char* name = "scalar";
  int threads() const { return 1; }
};

}  // namespace samba::backend
