// bench/gpu/cuda_event_timing.hpp: Google Benchmark iterations timed with CUDA events on the
// backend's stream (manual time), for the GPU benchmarks: launched from the host, or captured into
// a CUDA graph (as decode steps run), so that the host's launch cost drops out.
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

/// Times `run` captured once into a CUDA graph (kernels with programmatic dependent launch become
/// programmatic edges), the graph launched once per iteration; `graph` false: time_with_events.
template <class Run>
void time_with_events(benchmark::State& state, bool graph, Run&& run) {
  if (!graph) {
    time_with_events(state, run);
    return;
  }
  run();  // warm-up outside the capture (module load, shared-memory attributes)
  gpu().synchronize();
  cudaGraph_t captured = nullptr;
  cudaGraphExec_t exec = nullptr;
  cuda::check(cudaStreamBeginCapture(gpu().stream(), cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  run();
  cuda::check(cudaStreamEndCapture(gpu().stream(), &captured), "cudaStreamEndCapture");
  cuda::check(cudaGraphInstantiate(&exec, captured, 0), "cudaGraphInstantiate");
  time_with_events(state, [&] { cuda::check(cudaGraphLaunch(exec, gpu().stream()), "cudaGraphLaunch"); });
  cudaGraphExecDestroy(exec), cudaGraphDestroy(captured);
}

}  // namespace samba::bench
