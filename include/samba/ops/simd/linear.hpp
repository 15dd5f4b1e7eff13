// samba/ops/simd/linear.hpp: y = x W^T on the SIMD backend (SPEC.md: every projection is an
// nn.Linear without bias). Few tokens (decode): a bandwidth-bound GEMV that streams each weight
// row once for all tokens. Many tokens (prefill): a GEMM per thread on its slice of output
// columns, through the BLAS when SAMBA_USE_CBLAS, else Eigen; bf16 weights are widened to
// float32 one block of rows at a time.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "samba/backend/simd.hpp"
#include "samba/core/dtype.hpp"
#include "samba/ops/simd/vector.hpp"

namespace samba::ops {

namespace simd {

/// Token counts up to this use the GEMV kernel (once per token, weights hot in cache after the
/// first); more use the GEMM.
inline constexpr index_t gemv_max_tokens = 1;
/// Rows of a bf16 matrix widened to float32 at a time for the GEMM.
inline constexpr index_t widen_rows = 128;

/// One token: y[o] (+)= W[o, :] . x for o in [o_begin, o_end), four rows at a time so that each x
/// load feeds four independent FMA chains; the weights are streamed exactly once.
inline void gemv_one(const float* x, const float* w, float* y, index_t in, index_t o_begin, index_t o_end, bool accumulate) {
  const index_t step = static_cast<index_t>(lanes), vec_end = in - in % step;
  auto finish = [&](index_t o, fvec acc) {
    float s = xsimd::hadd(acc);
    for (index_t i = vec_end; i < in; ++i) s += w[o * in + i] * x[i];
    y[o] = accumulate ? y[o] + s : s;
  };
  index_t o = o_begin;
  for (; o + 4 <= o_end; o += 4) {
    const float *w0 = w + o * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
    fvec a0(0.f), a1(0.f), a2(0.f), a3(0.f);
    for (index_t i = 0; i < vec_end; i += step) {
      const fvec xv = fvec::load_unaligned(x + i);
      a0 = xsimd::fma(fvec::load_unaligned(w0 + i), xv, a0);
      a1 = xsimd::fma(fvec::load_unaligned(w1 + i), xv, a1);
      a2 = xsimd::fma(fvec::load_unaligned(w2 + i), xv, a2);
      a3 = xsimd::fma(fvec::load_unaligned(w3 + i), xv, a3);
    }
    finish(o, a0), finish(o + 1, a1), finish(o + 2, a2), finish(o + 3, a3);
  }
  for (; o < o_end; ++o) {
    fvec a(0.f);
    for (index_t i = 0; i < vec_end; i += step) a = xsimd::fma(fvec::load_unaligned(w + o * in + i), fvec::load_unaligned(x + i), a);
    finish(o, a);
  }
}

/// The same for bf16 rows; x_even / x_odd [in/2] hold the token's even and odd elements, matching
/// the low and high halves of each 32-bit pair of weights.
inline void gemv_one(const float* x, const float* x_even, const float* x_odd, const bf16* w, float* y, index_t in,
                     index_t o_begin, index_t o_end, bool accumulate) {
  const index_t step = static_cast<index_t>(lanes), half = in / 2, vec_end = half - half % step;  // in pairs
  auto finish = [&](index_t o, fvec acc) {
    float s = xsimd::hadd(acc);
    for (index_t i = 2 * vec_end; i < in; ++i) s += to_float(w[o * in + i]) * x[i];
    y[o] = accumulate ? y[o] + s : s;
  };
  index_t o = o_begin;
  for (; o + 4 <= o_end; o += 4) {
    const bf16* rows[4] = {w + o * in, w + (o + 1) * in, w + (o + 2) * in, w + (o + 3) * in};
    fvec a[4] = {fvec(0.f), fvec(0.f), fvec(0.f), fvec(0.f)};
    for (index_t i = 0; i < vec_end; i += step) {
      const fvec xe = fvec::load_unaligned(x_even + i), xo = fvec::load_unaligned(x_odd + i);
      for (int r = 0; r < 4; ++r) {
        fvec even, odd;
        load_bf16_pairs(rows[r] + 2 * i, even, odd);
        a[r] = xsimd::fma(even, xe, xsimd::fma(odd, xo, a[r]));
      }
    }
    for (int r = 0; r < 4; ++r) finish(o + r, a[r]);
  }
  for (; o < o_end; ++o) {
    fvec a(0.f);
    for (index_t i = 0; i < vec_end; i += step) {
      fvec even, odd;
      load_bf16_pairs(w + o * in + 2 * i, even, odd);
      a = xsimd::fma(even, fvec::load_unaligned(x_even + i), xsimd::fma(odd, fvec::load_unaligned(x_odd + i), a));
    }
    finish(o, a);
  }
}

/// y[:, cols] (+)= x [T, in] * W[cols, in]^T for float W; y has row stride `ldy`.
inline void gemm_slice(const float* x, const float* w, float* y, index_t tokens, index_t in, index_t cols, index_t ldy,
                       bool accumulate) {
#if SAMBA_USE_CBLAS
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(tokens), static_cast<int>(cols), static_cast<int>(in),
              1.0f, x, static_cast<int>(in), w, static_cast<int>(in), accumulate ? 1.0f : 0.0f, y, static_cast<int>(ldy));
#else
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowMajor> X(x, tokens, in);
  const Eigen::Map<const RowMajor> Wm(w, cols, in);
  Eigen::Map<RowMajor, 0, Eigen::OuterStride<>> Y(y, tokens, cols, Eigen::OuterStride<>(ldy));
  if (accumulate) Y.noalias() += X * Wm.transpose();
  else Y.noalias() = X * Wm.transpose();
#endif
}

}  // namespace simd

/// x [T, in], W [out, in] (float or bf16), y [T, out]; overwrites y or adds to it.
template <class W>
void linear(const backend::Simd& be, const float* x, const W* w, float* y, index_t tokens, index_t in, index_t out,
            bool accumulate = false) {
  if (tokens <= 0 || out <= 0) return;
  if (tokens <= simd::gemv_max_tokens) {
    if constexpr (std::is_same_v<W, bf16>) {
      const index_t half = in / 2;
      std::vector<float> even(static_cast<std::size_t>(half)), odd(even.size());  // [in/2] each
      for (index_t i = 0; i < half; ++i) even[i] = x[2 * i], odd[i] = x[2 * i + 1];
      be.pool().parallel_for(out, [&](index_t lo, index_t hi) {
        simd::gemv_one(x, even.data(), odd.data(), w, y, in, lo, hi, accumulate);
      }, 16, in);
    } else {
      be.pool().parallel_for(out, [&](index_t lo, index_t hi) { simd::gemv_one(x, w, y, in, lo, hi, accumulate); }, 16, in);
    }
    return;
  }
  be.pool().parallel_for(out, [&](index_t lo, index_t hi) {
    if constexpr (std::is_same_v<W, bf16>) {
      std::vector<float> block(static_cast<std::size_t>(simd::widen_rows * in));  // [rows, in] widened
      for (index_t r0 = lo; r0 < hi; r0 += simd::widen_rows) {
        const index_t rows = std::min(simd::widen_rows, hi - r0);
        for (index_t k = 0; k < rows * in; ++k) block[k] = to_float(w[r0 * in + k]);
        simd::gemm_slice(x, block.data(), y + r0, tokens, in, rows, out, accumulate);
      }
    } else {
      simd::gemm_slice(x, w + lo * in, y + lo, tokens, in, hi - lo, out, accumulate);
    }
  }, 64, tokens * in);
}

}  // namespace samba::ops
