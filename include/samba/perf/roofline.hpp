// samba/perf/roofline.hpp: measures this machine's limits on the cores the SIMD backend uses, so
// that speed can be reported as a fraction of them (memory read bandwidth for decode, the
// fastest available SGEMM for prefill).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "samba/backend/simd.hpp"
#include "samba/core/huge_page_allocator.hpp"
#include "samba/ops/simd/linear.hpp"
#include "samba/ops/simd/vector.hpp"

namespace samba::perf {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Best-of-`repeats` read bandwidth in bytes/s: every thread of the backend sums its part of a
/// buffer far larger than the caches (the access pattern of a bandwidth-bound GEMV), allocated
/// like the weights (huge pages where the OS gives them).
inline double read_bandwidth(const backend::Simd& be, std::size_t bytes = std::size_t{1} << 30, int repeats = 5) {
  using ops::simd::fvec;
  const index_t step = static_cast<index_t>(ops::simd::lanes) * 4;
  const index_t n = static_cast<index_t>(bytes / sizeof(float)) / step * step;
  huge_page_vector<float> buffer(static_cast<std::size_t>(n), 1.0f);
  std::atomic<double> sink{0.0};
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    be.pool().parallel_for(n, [&](index_t lo, index_t hi) {
      fvec a(0.f), b(0.f), c(0.f), d(0.f);
      const float* p = buffer.data();
      for (index_t i = lo; i < hi; i += step) {
        a += fvec::load_unaligned(p + i);
        b += fvec::load_unaligned(p + i + ops::simd::lanes);
        c += fvec::load_unaligned(p + i + 2 * ops::simd::lanes);
        d += fvec::load_unaligned(p + i + 3 * ops::simd::lanes);
      }
      sink.store(sink.load() + xsimd::hadd(a + b + c + d));
    }, step);
    best = std::min(best, seconds_since(start));
  }
  return static_cast<double>(n) * sizeof(float) / best;
}

struct GemmRate {
  double flops_per_s = 0.0;
  const char* engine = "";
};

/// Best SGEMM rate (FLOP/s) for an n x n x n product on the backend's thread count: OpenBLAS with
/// its own threading when available, and this library's own linear(); the faster one is returned.
inline GemmRate sgemm_rate(const backend::Simd& be, index_t n = 2048, int repeats = 3) {
  std::vector<float> a(static_cast<std::size_t>(n * n), 0.5f), b(a.size(), 0.25f), c(a.size());
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  GemmRate best;
  auto time = [&](auto&& product, const char* engine) {
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      product();
      const double rate = flops / seconds_since(start);
      if (rate > best.flops_per_s) best = {rate, engine};
    }
  };
#if SAMBA_USE_CBLAS
  openblas_set_num_threads(be.threads());
  time([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(n), static_cast<int>(n), 1.0f,
                a.data(), static_cast<int>(n), b.data(), static_cast<int>(n), 0.0f, c.data(), static_cast<int>(n));
  }, "openblas");
  openblas_set_num_threads(1);
#endif
  time([&] { ops::linear(be, a.data(), b.data(), c.data(), n, n, n); }, "samba");
  return best;
}

}  // namespace samba::perf
