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
#include "samba/layers/weight_matrix.hpp"
#include "samba/ops/simd/vector.hpp"

namespace samba::ops {

namespace simd {

/// Token counts up to this use the GEMV kernel (once per token, weights hot in cache after the
/// first); more use the GEMM.
inline constexpr index_t gemv_max_tokens = 1;
/// Rows of a bf16 matrix widened to float32 at a time for the GEMM.
inline constexpr index_t widen_rows = 128;

/// Bytes ahead of the current position that the GEMV asks the cache to fetch: rows are read as one
/// sequential stream (the next row follows the current one), which the hardware prefetcher and
/// this hint keep near DRAM bandwidth. Interleaving several rows measured 25-40% slower; on the
/// 2-core Zen 4 machine 4 KiB ahead beat 1, 2 and 8 KiB, with one hint per 128 bytes read (a
/// hint per cache line costs more issue slots than it saves).
inline constexpr int gemv_prefetch_bytes = 4096;

/// One token: y[o] (+)= W[o, :] . x for o in [o_begin, o_end); each row is streamed once, front to
/// back, into four independent accumulators.
inline void gemv_one(const float* x, const float* w, float* y, index_t in, index_t o_begin, index_t o_end, bool accumulate) {
  const index_t step = static_cast<index_t>(lanes);
  for (index_t o = o_begin; o < o_end; ++o) {
    const float* row = w + o * in;
    fvec a0(0.f), a1(0.f), a2(0.f), a3(0.f);
    index_t i = 0;
    for (; i + 4 * step <= in; i += 4 * step) {
      __builtin_prefetch(reinterpret_cast<const char*>(row + i) + gemv_prefetch_bytes);        // 256 bytes per
      __builtin_prefetch(reinterpret_cast<const char*>(row + i) + gemv_prefetch_bytes + 128);  // iteration
      a0 = xsimd::fma(fvec::load_unaligned(row + i), fvec::load_unaligned(x + i), a0);
      a1 = xsimd::fma(fvec::load_unaligned(row + i + step), fvec::load_unaligned(x + i + step), a1);
      a2 = xsimd::fma(fvec::load_unaligned(row + i + 2 * step), fvec::load_unaligned(x + i + 2 * step), a2);
      a3 = xsimd::fma(fvec::load_unaligned(row + i + 3 * step), fvec::load_unaligned(x + i + 3 * step), a3);
    }
    for (; i + step <= in; i += step) a0 = xsimd::fma(fvec::load_unaligned(row + i), fvec::load_unaligned(x + i), a0);
    float s = xsimd::hadd((a0 + a1) + (a2 + a3));
    for (; i < in; ++i) s += row[i] * x[i];
    y[o] = accumulate ? y[o] + s : s;
  }
}

/// The same for bf16 rows; x_even / x_odd [in/2] hold the token's even and odd elements, matching
/// the low and high halves of each 32-bit pair of weights.
inline void gemv_one(const float* x, const float* x_even, const float* x_odd, const bf16* w, float* y, index_t in,
                     index_t o_begin, index_t o_end, bool accumulate) {
  const index_t step = static_cast<index_t>(lanes), half = in / 2;  // positions in pairs
  for (index_t o = o_begin; o < o_end; ++o) {
    const bf16* row = w + o * in;
    fvec a0(0.f), a1(0.f), a2(0.f), a3(0.f), even, odd;
    index_t i = 0;
    for (; i + 2 * step <= half; i += 2 * step) {
      __builtin_prefetch(reinterpret_cast<const char*>(row + 2 * i) + gemv_prefetch_bytes);  // 128 bytes per iteration
      load_bf16_pairs(row + 2 * i, even, odd);
      a0 = xsimd::fma(even, fvec::load_unaligned(x_even + i), a0);
      a1 = xsimd::fma(odd, fvec::load_unaligned(x_odd + i), a1);
      load_bf16_pairs(row + 2 * (i + step), even, odd);
      a2 = xsimd::fma(even, fvec::load_unaligned(x_even + i + step), a2);
      a3 = xsimd::fma(odd, fvec::load_unaligned(x_odd + i + step), a3);
    }
    for (; i + step <= half; i += step) {
      load_bf16_pairs(row + 2 * i, even, odd);
      a0 = xsimd::fma(even, fvec::load_unaligned(x_even + i), a0);
      a1 = xsimd::fma(odd, fvec::load_unaligned(x_odd + i), a1);
    }
    float s = xsimd::hadd((a0 + a1) + (a2 + a3));
    for (index_t k = 2 * i; k < in; ++k) s += to_float(row[k]) * x[k];
    y[o] = accumulate ? y[o] + s : s;
  }
}

/// The same for int8 rows with per-row scales: 16 weights widened per vector (sign-extend, convert).
inline void gemv_one(const float* x, Q8View w, float* y, index_t in, index_t o_begin, index_t o_end, bool accumulate) {
  using ivec = xsimd::batch<std::int32_t>;
  const index_t step = static_cast<index_t>(lanes);
  auto widen = [](const std::int8_t* p) {
    alignas(64) std::int32_t tmp[lanes];
    for (std::size_t l = 0; l < lanes; ++l) tmp[l] = p[l];  // compiles to one sign-extending load
    return xsimd::batch_cast<float>(ivec::load_aligned(tmp));
  };
  for (index_t o = o_begin; o < o_end; ++o) {
    const std::int8_t* row = w.q + o * in;
    fvec a0(0.f), a1(0.f), a2(0.f), a3(0.f);
    index_t i = 0;
    for (; i + 4 * step <= in; i += 4 * step) {
      if (i % 128 == 0) __builtin_prefetch(row + i + gemv_prefetch_bytes);  // 64 bytes per iteration
      a0 = xsimd::fma(widen(row + i), fvec::load_unaligned(x + i), a0);
      a1 = xsimd::fma(widen(row + i + step), fvec::load_unaligned(x + i + step), a1);
      a2 = xsimd::fma(widen(row + i + 2 * step), fvec::load_unaligned(x + i + 2 * step), a2);
      a3 = xsimd::fma(widen(row + i + 3 * step), fvec::load_unaligned(x + i + 3 * step), a3);
    }
    for (; i + step <= in; i += step) a0 = xsimd::fma(widen(row + i), fvec::load_unaligned(x + i), a0);
    float s = xsimd::hadd((a0 + a1) + (a2 + a3));
    for (; i < in; ++i) s += static_cast<float>(row[i]) * x[i];
    s *= w.scale[o];
    y[o] = accumulate ? y[o] + s : s;
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

namespace simd {

/// x [T, in], W [out, in] as `const float*`, `const bf16*` or Q8View, y [T, out].
template <class WView>
void linear_impl(const backend::Simd& be, const float* x, WView w, float* y, index_t tokens, index_t in, index_t out,
                 bool accumulate) {
  if (tokens <= 0 || out <= 0) return;
  if (tokens <= simd::gemv_max_tokens) {
    if constexpr (std::is_same_v<WView, const bf16*>) {
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
    if constexpr (!std::is_same_v<WView, const float*>) {  // bf16 or int8: widen a block of rows at a time
      std::vector<float> block(static_cast<std::size_t>(simd::widen_rows * in));  // [rows, in] widened
      for (index_t r0 = lo; r0 < hi; r0 += simd::widen_rows) {
        const index_t rows = std::min(simd::widen_rows, hi - r0);
        if constexpr (std::is_same_v<WView, Q8View>) {
          for (index_t r = 0; r < rows; ++r)
            for (index_t k = 0; k < in; ++k)
              block[r * in + k] = w.scale[r0 + r] * static_cast<float>(w.q[(r0 + r) * in + k]);
        } else {
          for (index_t k = 0; k < rows * in; ++k) block[k] = to_float(w[r0 * in + k]);
        }
        simd::gemm_slice(x, block.data(), y + r0, tokens, in, rows, out, accumulate);
      }
    } else {
      simd::gemm_slice(x, w + lo * in, y + lo, tokens, in, hi - lo, out, accumulate);
    }
  }, 64, tokens * in);
}

}  // namespace simd

/// x [T, in], W [out, in] (float or bf16), y [T, out]; overwrites y or adds to it.
template <class W>
void linear(const backend::Simd& be, const float* x, const W* w, float* y, index_t tokens, index_t in, index_t out,
            bool accumulate = false) {
  static_assert(std::is_same_v<W, float> || std::is_same_v<W, bf16>, "linear: weights must be float, bf16 or a Q8View");
  simd::linear_impl<const W*>(be, x, w, y, tokens, in, out, accumulate);
}

/// The same with int8 rows and per-row scales.
inline void linear(const backend::Simd& be, const float* x, Q8View w, float* y, index_t tokens, index_t in, index_t out,
                   bool accumulate = false) {
  simd::linear_impl<Q8View>(be, x, w, y, tokens, in, out, accumulate);
}

}  // namespace samba::ops
