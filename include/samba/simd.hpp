// samba/simd.hpp: the CPU SIMD backend (xsimd kernels, BLAS or Eigen products, a thread pool).
// Include it with samba.hpp and use backend::Simd as the Model's backend:
//   samba::Model<shape, samba::backend::Simd> model(config, samba::backend::Simd(threads));
// Link the samba::simd CMake target (it brings xsimd, Eigen, threads and, if found, OpenBLAS).
#pragma once

#include "samba/backend/simd.hpp"
#include "samba/ops/simd/attention.hpp"
#include "samba/ops/simd/causal_conv1d.hpp"
#include "samba/ops/simd/elementwise.hpp"
#include "samba/ops/simd/linear.hpp"
#include "samba/ops/simd/selective_scan.hpp"
