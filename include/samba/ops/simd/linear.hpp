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

/// Token counts up to this (a decode step, or a batched step of several sequences) use the GEMV
/// kernels, which stream each weight row once for all tokens; more use the GEMM. Measured on
/// samba-421m decode steps (2 threads): float32 rows cross over between 8 and 16 tokens; bf16 and
/// int8 rows, which the GEMM must widen first, between 32 and 64 (through the GEMM, 2 bf16 tokens
/// were slower than 1 through the GEMV).
template <class WView>
inline constexpr index_t gemv_max_tokens = std::is_same_v<WView, const float*> ? 8 : 32;
/// Tokens dotted with a row per pass; a larger batch makes further passes over the row, which is
/// then in L1.
inline constexpr int gemv_tokens_per_pass = 4;
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

/// `lanes` int8 weights as float32 (sign-extend, convert).
inline fvec widen_int8(const std::int8_t* p) {
  alignas(64) std::int32_t tmp[lanes];
  for (std::size_t l = 0; l < lanes; ++l) tmp[l] = p[l];  // compiles to one sign-extending load
  return xsimd::batch_cast<float>(xsimd::batch<std::int32_t>::load_aligned(tmp));
}

/// The same for int8 rows with per-row scales: 16 weights widened per vector.
inline void gemv_one(const float* x, Q8View w, float* y, index_t in, index_t o_begin, index_t o_end, bool accumulate) {
  const index_t step = static_cast<index_t>(lanes);
  const auto widen = widen_int8;
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

/// Weights of one row read two vectors at a time, `lo` and `hi`, for the multi-token GEMV; the
/// tokens are rearranged to match (see split_tokens): chunk c of a row pairs with x_lo[c*lanes..]
/// and x_hi[c*lanes..].
struct RowChunksF32 {
  const float* w;
  void load(index_t row, index_t in, index_t c, fvec& lo, fvec& hi) const {
    const float* p = w + row * in + 2 * c * static_cast<index_t>(lanes);
    lo = fvec::load_unaligned(p), hi = fvec::load_unaligned(p + lanes);
  }
  float at(index_t row, index_t in, index_t i) const { return w[row * in + i]; }
  float scale(index_t) const { return 1.0f; }
  const char* address(index_t row, index_t in, index_t c) const {
    return reinterpret_cast<const char*>(w + row * in + 2 * c * static_cast<index_t>(lanes));
  }
};
struct RowChunksBf16 {  // lo = even elements, hi = odd elements of the chunk
  const bf16* w;
  void load(index_t row, index_t in, index_t c, fvec& lo, fvec& hi) const {
    load_bf16_pairs(w + row * in + 2 * c * static_cast<index_t>(lanes), lo, hi);
  }
  float at(index_t row, index_t in, index_t i) const { return to_float(w[row * in + i]); }
  float scale(index_t) const { return 1.0f; }
  const char* address(index_t row, index_t in, index_t c) const {
    return reinterpret_cast<const char*>(w + row * in + 2 * c * static_cast<index_t>(lanes));
  }
};
struct RowChunksQ8 {
  Q8View w;
  void load(index_t row, index_t in, index_t c, fvec& lo, fvec& hi) const {
    const std::int8_t* p = w.q + row * in + 2 * c * static_cast<index_t>(lanes);
    lo = widen_int8(p), hi = widen_int8(p + lanes);
  }
  float at(index_t row, index_t in, index_t i) const { return static_cast<float>(w.q[row * in + i]); }
  float scale(index_t row) const { return w.scale[row]; }
  const char* address(index_t row, index_t in, index_t c) const {
    return reinterpret_cast<const char*>(w.q + row * in + 2 * c * static_cast<index_t>(lanes));
  }
};

/// x [T, in] rearranged for RowChunks: lo/hi [T, chunks * lanes] (chunks = in / (2 lanes)); `pairs`
/// selects the bf16 layout (lo = even elements, hi = odd ones) over the f32/int8 one (lo = first
/// half of each 2-lane chunk, hi = second half).
inline void split_tokens(const float* x, index_t tokens, index_t in, bool pairs, float* lo, float* hi) {
  const index_t step = static_cast<index_t>(lanes), chunks = in / (2 * step), n = chunks * step;
  for (index_t t = 0; t < tokens; ++t)
    for (index_t c = 0; c < chunks; ++c)
      for (index_t l = 0; l < step; ++l) {
        const index_t base = t * in + 2 * c * step;
        lo[t * n + c * step + l] = pairs ? x[base + 2 * l] : x[base + l];
        hi[t * n + c * step + l] = pairs ? x[base + 2 * l + 1] : x[base + step + l];
      }
}

/// NB tokens (NB <= gemv_tokens_per_pass): y[t, o] (+)= W[o, :] . x[t, :] for o in [o_begin, o_end),
/// each row streamed once for all NB tokens (Eq. y = x W^T).
template <int NB, class Rows>
void gemv_tokens(const Rows& rows, const float* x, const float* lo, const float* hi, float* y, index_t in, index_t out,
                 index_t o_begin, index_t o_end, bool accumulate) {
  const index_t step = static_cast<index_t>(lanes), chunks = in / (2 * step), n = chunks * step;
  for (index_t o = o_begin; o < o_end; ++o) {
    fvec a[NB], b[NB];
    for (int t = 0; t < NB; ++t) a[t] = b[t] = fvec(0.f);
    for (index_t c = 0; c < chunks; ++c) {
      if (c % 2 == 0) __builtin_prefetch(rows.address(o, in, c) + gemv_prefetch_bytes);
      fvec wl, wh;
      rows.load(o, in, c, wl, wh);
      for (int t = 0; t < NB; ++t) {
        a[t] = xsimd::fma(wl, fvec::load_unaligned(lo + t * n + c * step), a[t]);
        b[t] = xsimd::fma(wh, fvec::load_unaligned(hi + t * n + c * step), b[t]);
      }
    }
    const float sc = rows.scale(o);
    for (int t = 0; t < NB; ++t) {
      float s = xsimd::hadd(a[t] + b[t]);
      for (index_t i = 2 * n; i < in; ++i) s += rows.at(o, in, i) * x[t * in + i];
      s *= sc;
      float& dst = y[t * out + o];
      dst = accumulate ? dst + s : s;
    }
  }
}

/// 2..gemv_max_tokens tokens: passes of up to gemv_tokens_per_pass tokens over each block of rows.
template <class Rows>
void gemv_multi(const Rows& rows, const float* x, const float* lo, const float* hi, float* y, index_t tokens, index_t in,
                index_t out, index_t o_begin, index_t o_end, bool accumulate) {
  const index_t n = in / (2 * static_cast<index_t>(lanes)) * static_cast<index_t>(lanes);
  constexpr index_t block = 16;  // rows per block: small enough to stay in L1/L2 between passes
  for (index_t r0 = o_begin; r0 < o_end; r0 += block) {
    const index_t r1 = std::min(o_end, r0 + block);
    for (index_t t0 = 0; t0 < tokens; t0 += gemv_tokens_per_pass) {
      const index_t nb = std::min<index_t>(gemv_tokens_per_pass, tokens - t0);
      const float *xt = x + t0 * in, *lt = lo + t0 * n, *ht = hi + t0 * n;
      float* yt = y + t0 * out;
      switch (nb) {
        case 1: gemv_tokens<1>(rows, xt, lt, ht, yt, in, out, r0, r1, accumulate); break;
        case 2: gemv_tokens<2>(rows, xt, lt, ht, yt, in, out, r0, r1, accumulate); break;
        case 3: gemv_tokens<3>(rows, xt, lt, ht, yt, in, out, r0, r1, accumulate); break;
        default: gemv_tokens<4>(rows, xt, lt, ht, yt, in, out, r0, r1, accumulate); break;
      }
    }
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
  if (tokens > 1 && tokens <= simd::gemv_max_tokens<WView>) {
    constexpr bool pairs = std::is_same_v<WView, const bf16*>;
    const index_t n = in / (2 * static_cast<index_t>(simd::lanes)) * static_cast<index_t>(simd::lanes);
    std::vector<float> lo(static_cast<std::size_t>(tokens * n)), hi(lo.size());  // [T, n] each
    simd::split_tokens(x, tokens, in, pairs, lo.data(), hi.data());
    auto rows = [&] {
      if constexpr (std::is_same_v<WView, const float*>) return simd::RowChunksF32{w};
      else if constexpr (pairs) return simd::RowChunksBf16{w};
      else return simd::RowChunksQ8{w};
    }();
    be.pool().parallel_for(out, [&](index_t o_lo, index_t o_hi) {
      simd::gemv_multi(rows, x, lo.data(), hi.data(), y, tokens, in, out, o_lo, o_hi, accumulate);
    }, 16, in * tokens);
    return;
  }
  if (tokens == 1) {
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
