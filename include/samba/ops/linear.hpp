// samba/ops/linear.hpp: y = x W^T, the nn.Linear of every projection (no bias anywhere in Samba).
#pragma once

#include "samba/backend/scalar.hpp"
#include "samba/config.hpp"
#include "samba/core/dtype.hpp"
#include "samba/core/types.hpp"
#include "samba/layers/weight_matrix.hpp"

namespace samba::ops {

/// x [T, in], W [out, in] row-major (float or bf16), y [T, out]. Overwrites y, or adds to it when `accumulate`.
template <class W>
void linear(const backend::Scalar&, const float* SAMBA_RESTRICT x, const W* SAMBA_RESTRICT w, float* SAMBA_RESTRICT y,
            index_t tokens, index_t in, index_t out, bool accumulate = false) {
  for (index_t t = 0; t < tokens; ++t) {
    const float* xt = x + t * in;
    float* yt = y + t * out;
    for (index_t o = 0; o < out; ++o) {
      const W* wo = w + o * in;
      double acc = 0.0;
      for (index_t i = 0; i < in; ++i) acc += static_cast<double>(xt[i]) * to_float(wo[i]);
      yt[o] = accumulate ? yt[o] + static_cast<float>(acc) : static_cast<float>(acc);
    }
  }
}

/// The same with int8 rows and per-row scales: y[t, o] = scale[o] * sum_i x[t, i] q[o, i].
inline void linear(const backend::Scalar&, const float* SAMBA_RESTRICT x, Q8View w, float* SAMBA_RESTRICT y, index_t tokens,
                   index_t in, index_t out, bool accumulate = false) {
  for (index_t t = 0; t < tokens; ++t) {
    const float* xt = x + t * in;
    float* yt = y + t * out;
    for (index_t o = 0; o < out; ++o) {
      const std::int8_t* qo = w.q + o * in;
      double acc = 0.0;
      for (index_t i = 0; i < in; ++i) acc += static_cast<double>(xt[i]) * qo[i];
      const float v = static_cast<float>(acc * w.scale[o]);
      yt[o] = accumulate ? yt[o] + v : v;
    }
  }
}

}  // namespace samba::ops
