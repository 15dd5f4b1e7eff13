// tests/cuda/cuda_test_support.hpp: what the CUDA test programs share: their main()'s frame.
#pragma once

#include <cstdio>
#include <exception>
#include <samba/backend/cuda/error.hpp>

namespace samba::test {

/// Runs a CUDA test program's checks: exit code 77 (ctest's "skipped") where there is no GPU, 1
/// when `checks` throws (the error printed), else 0 when `failures()` is 0 afterwards.
template <class Checks, class Failures>
int run_cuda_checks(Checks&& checks, Failures&& failures) {
  if (cuda::device_count() == 0) {
    std::puts("no CUDA device: skipped");
    return 77;
  }
  try {
    checks();
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  return failures() == 0 ? 0 : 1;
}

}  // namespace samba::test
