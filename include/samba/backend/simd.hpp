// samba/backend/simd.hpp: the CPU SIMD backend: xsimd kernels (architecture fixed by the compiler
// flags, e.g. -march=native), matrix products through a BLAS (SAMBA_USE_CBLAS) or Eigen, and a
// thread pool. Ops it does not overload fall back to the scalar reference (it derives from Scalar).
#pragma once

#include <memory>

#include "samba/backend/scalar.hpp"
#include "samba/config.hpp"
#include "samba/core/thread_pool.hpp"

#if SAMBA_USE_CBLAS
#include <cblas.h>
#endif

namespace samba::backend {

class Simd : public Scalar {
 public:
  static constexpr const char* name = "simd";

  /// threads: worker threads in all (0 = the cores available). Copies share the pool.
  explicit Simd(int threads = 0) : pool_(std::make_shared<ThreadPool>(threads)) {
#if SAMBA_USE_CBLAS
    // All parallelism comes from our pool; each thread calls the BLAS on its own slice.
    openblas_set_num_threads(1);
#endif
  }

  int threads() const { return pool_->size(); }
  ThreadPool& pool() const { return *pool_; }

 private:
  std::shared_ptr<ThreadPool> pool_;
};

}  // namespace samba::backend
