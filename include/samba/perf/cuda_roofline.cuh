// samba/perf/cuda_roofline.cuh: the GPU's own ceilings, measured on the same device in the same
// run as a benchmark so that results are reported as fractions of them: the rate at which a kernel
// reads HBM, and cuBLAS's matrix-product rate for a data type.
#pragma once

#include <cuda_runtime.h>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/device_buffer.hpp"
#include "samba/core/bf16_device.cuh"
#include "samba/ops/cuda/linear.cuh"

namespace samba::perf {

namespace cuda_kernels {
/// Reads n float4s, one sum per thread (written only if impossible, so the reads cannot be dropped).
__global__ void read_all(const float4* __restrict__ data, std::size_t n, float* __restrict__ sink) {
  float acc = 0.0f;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float4 v = data[i];
    acc += v.x + v.y + v.z + v.w;
  }
  if (acc == -1.0f) *sink = acc;
}

/// data[i] = a pseudo-random value in [-1, 1) (products of zeros run faster than real ones).
template <class W>
__global__ void fill_random(W* data, std::size_t n, unsigned seed) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    unsigned h = static_cast<unsigned>(i) * 2654435761u ^ seed;
    h ^= h >> 15, h *= 2246822519u, h ^= h >> 13;
    data[i] = store_as<W>(static_cast<float>(h & 0xffffu) / 32768.0f - 1.0f);
  }
}
}  // namespace cuda_kernels

/// Milliseconds of `body` (queued on the backend's stream), the best of `repeats` after one warm-up.
template <class Body>
double best_ms(const backend::Cuda& be, int repeats, Body&& body) {
  cudaEvent_t start, stop;
  cuda::check(cudaEventCreate(&start), "cudaEventCreate");
  cuda::check(cudaEventCreate(&stop), "cudaEventCreate");
  body();
  float best = 1e30f;
  for (int r = 0; r < repeats; ++r) {
    cuda::check(cudaEventRecord(start, be.stream()), "cudaEventRecord");
    body();
    cuda::check(cudaEventRecord(stop, be.stream()), "cudaEventRecord");
    cuda::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.0f;
    cuda::check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    best = ms < best ? ms : best;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return best;
}

/// Bytes per second a kernel reads from device memory (a 2 GiB buffer, far beyond the L2).
inline double device_read_bandwidth(const backend::Cuda& be) {
  const std::size_t n = (std::size_t{2} << 30) / sizeof(float4);
  cuda::DeviceBuffer<float4> data(n);
  cuda::check(cudaMemset(data.data(), 0, n * sizeof(float4)), "cudaMemset");
  cuda::DeviceBuffer<float> sink(1);
  const int sms = be.multiprocessors();
  const double ms = best_ms(be, 5, [&] {
    cuda_kernels::read_all<<<static_cast<unsigned>(sms * 8), 512, 0, be.stream()>>>(data.data(), n, sink.data());
    cuda::check_launch("read_all kernel launch");
  });
  return static_cast<double>(n * sizeof(float4)) / (ms * 1e-3);
}

/// cuBLAS's rate (FLOP/s) for an n x n x n product of W (float: exact float32; bf16: float32
/// accumulation), through the same call the CUDA backend's linear() makes.
template <class W>
double gemm_rate(const backend::Cuda& be, index_t n = 8192) {
  cuda::DeviceBuffer<W> a(static_cast<std::size_t>(n * n)), b(static_cast<std::size_t>(n * n));
  cuda::DeviceBuffer<float> c(static_cast<std::size_t>(n * n));
  cuda_kernels::fill_random<<<1024, 256, 0, be.stream()>>>(a.data(), a.size(), 1u);
  cuda_kernels::fill_random<<<1024, 256, 0, be.stream()>>>(b.data(), b.size(), 2u);
  cuda::check_launch("fill_random kernel launch");
  const double ms = best_ms(be, 5, [&] { ops::linear(be, a.data(), n, b.data(), c.data(), n, n, n, n); });
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / (ms * 1e-3);
}

}  // namespace samba::perf
