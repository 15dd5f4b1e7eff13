// samba/layers/rmsnorm.hpp: RMSNorm (SPEC.md "RMSNorm"), the pre-norm of every sublayer and ln_f.
#pragma once

#include "samba/backend/scalar.hpp"
#include "samba/layers/parameter.hpp"
#include "samba/ops/rmsnorm.hpp"

namespace samba {

template <index_t Dim = dynamic, class Backend = backend::Scalar>
class RMSNorm {
  static_assert(Dim >= 0, "RMSNorm: Dim must be positive or samba::dynamic");

 public:
  RMSNorm(index_t dim, float eps) : dim_(dim), eps_(eps) {
    check_extent(Dim, dim, "RMSNorm", "dim");
    allocate(weight_, {dim});
  }

  constexpr index_t dim() const {
    if constexpr (Dim != dynamic) return Dim;
    else return dim_;
  }
  float eps() const { return eps_; }

  /// x [T, D] -> y [T, D] (y may alias x).
  void forward(const Backend& be, const float* x, float* y, index_t tokens) const {
    rmsnorm(be, x, weight_.data(), y, tokens, dim(), eps_);
  }

  /// x [T, D] += y, then normed = this norm of x (the residual add fused with the norm).
  void add_forward(const Backend& be, float* x, const float* y, float* normed, index_t tokens) const {
    add_rmsnorm(be, x, y, weight_.data(), normed, tokens, dim(), eps_);
  }

  template <class F>
  void for_each_parameter(F&& f) {
    f("weight", Shape{dim()}, weight_, ParamRole::norm);
  }

 private:
  index_t dim_;
  float eps_;
  std::vector<float> weight_;  // [D]
};

}  // namespace samba
