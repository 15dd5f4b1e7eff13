// bench/gpu/cuda_event_timing.hpp: Google Benchmark iterations timed with CUDA events on the
// backend's stream (manual time), for the GPU benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <samba/backend/cuda.hpp>

namespace samba::bench {

/// One backend for the whole benchmark program.
inline const backend::Cuda& gpu() {
  static const backend::Cuda instance;
  return instance;
}

/// Times `run` with CUDA events, one launch sequence per iteration, after one warm-up call.
template <class Run>
void time_with_events(benchmark::State& state, Run&& run) {
  cudaEvent_t start, stop;
  cuda::check(cudaEventCreate(&start), "cudaEventCreate");
  cuda::check(cudaEventCreate(&stop), "cudaEventCreate");
  run();  // warm-up (module load, shared-memory attributes)
  gpu().synchronize();
  for (auto _ : state) {
    cuda::check(cudaEventRecord(start, gpu().stream()), "cudaEventRecord");
    run();
    cuda::check(cudaEventRecord(stop, gpu().stream()), "cudaEventRecord");
    cuda::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.0f;
    cuda::check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms / 1e3);
  }
  cudaEventDestroy(start), cudaEventDestroy(stop);
}

}  // namespace samba::bench
