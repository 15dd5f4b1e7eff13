// samba/model/cuda/chunk_support.cuh: what the CUDA model's forward pass of a chunk uses around
// its kernels: the layout of the chunk's scratch memory, pinned host buffers for its inputs and
// logits, and the CUDA graph of the last decode step. Compile with nvcc.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/device_buffer.hpp"
#include "samba/core/types.hpp"

namespace samba {

namespace cuda_detail {

/// Offsets of the arrays of one chunk's scratch memory, 256-byte aligned.
class ScratchPlan {
 public:
  template <class T>
  std::size_t take(index_t count) {
    const std::size_t at = bytes_;
    bytes_ += (static_cast<std::size_t>(count) * sizeof(T) + 255) / 256 * 256;
    return at;
  }
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t bytes_ = 0;
};

template <class T>
T* at(cuda::DeviceBuffer<std::byte>& buffer, std::size_t offset) {
  return reinterpret_cast<T*>(buffer.data() + offset);
}

/// Pinned host buffers for a chunk's inputs (mapped, so that a kernel reads them) and its logits.
struct Staging {
  int* tokens = nullptr;
  long long* positions = nullptr;
  float* logits = nullptr;
  std::size_t token_capacity = 0, position_capacity = 0, logit_capacity = 0;

  Staging() = default;
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  ~Staging() {
    cudaFreeHost(tokens);
    cudaFreeHost(positions);
    cudaFreeHost(logits);
  }
  template <class T>
  static void grow(T*& buffer, std::size_t& capacity, index_t count) {
    const auto n = static_cast<std::size_t>(count > 0 ? count : 1);
    if (n <= capacity) return;
    cudaFreeHost(buffer);
    buffer = nullptr, capacity = 0;
    cuda::check(cudaHostAlloc(reinterpret_cast<void**>(&buffer), n * sizeof(T), cudaHostAllocMapped), "cudaHostAlloc (staging)");
    capacity = n;
  }
  void reserve(index_t token_count, index_t sequences, index_t logit_count) {
    grow(tokens, token_capacity, token_count);
    grow(positions, position_capacity, sequences);
    grow(logits, logit_capacity, logit_count);
  }
};

/// The CUDA graph of the last decode step and what its launches were bound to.
class StepGraph {
 public:
  StepGraph() = default;
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;
  ~StepGraph() {
    if (exec_) cudaGraphExecDestroy(exec_);
  }

  /// Launches the graph of `enqueue` on the backend's stream, capturing it first unless `key`
  /// matches the last capture.
  template <class Enqueue>
  void run(const backend::Cuda& be, const std::vector<std::uintptr_t>& key, Enqueue&& enqueue) {
    if (!exec_ || key != key_) {
      cuda::check(cudaStreamBeginCapture(be.stream(), cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
      cudaGraph_t graph = nullptr;
      try {
        enqueue();
      } catch (...) {
        cudaStreamEndCapture(be.stream(), &graph);
        if (graph) cudaGraphDestroy(graph);
        (void)cudaGetLastError();
        throw;
      }
      cuda::check(cudaStreamEndCapture(be.stream(), &graph), "cudaStreamEndCapture");
      if (exec_) cudaGraphExecDestroy(exec_), exec_ = nullptr;
      const cudaError_t made = cudaGraphInstantiate(&exec_, graph, 0);
      cudaGraphDestroy(graph);
      cuda::check(made, "cudaGraphInstantiate");
      key_ = key;
    }
    cuda::check(cudaGraphLaunch(exec_, be.stream()), "cudaGraphLaunch");
  }

 private:
  cudaGraphExec_t exec_ = nullptr;
  std::vector<std::uintptr_t> key_;
};

}  // namespace cuda_detail

}  // namespace samba
