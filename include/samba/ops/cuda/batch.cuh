// samba/ops/cuda/batch.cuh: how CUDA kernels see a chunk of several sequences. Their rows are
// stacked ([T, ...] with T = the rows of all sequences); each sequence has its own first row, row
// count, first position and state. The tables are passed by value as kernel parameters, so a
// launch needs no upload of its own.
#pragma once

#include <cuda_runtime.h>

#include "samba/core/bf16_device.cuh"

namespace samba::ops::cuda_kernels {

/// Sequences one launch serves at most (kernel parameters are limited to 4 KiB on older drivers).
inline constexpr int max_batch = 64;

/// The sequences of a chunk, stacked.
struct SegmentTable {
  int count = 0;
  int row0[max_batch];                  // first stacked row of each sequence
  int rows[max_batch];                  // its row count
  long long first[max_batch];           // sequence position of its first row, as the host knows it (launch sizes)
  const long long* position = nullptr;  // the same positions in device memory, which kernels read, so that
                                        // a captured decode step replays at new positions
};

/// One float array of state per sequence (a Mamba layer's conv or SSM state).
struct StatePointers {
  float* at[max_batch];
};

/// A KV cache per sequence: keys and values [G, slots, head_size]; position j lives in slot
/// j % slots for a window (slots = window), in slot j for full attention (slots = capacity).
struct KvPointers {
  float* keys[max_batch];
  float* values[max_batch];
  long long slots[max_batch];
};

__device__ __forceinline__ float silu(float v) { return v / (1.0f + expf(-v)); }
/// log(1 + exp(v)), PyTorch's threshold 20 (as ops/activations.hpp).
__device__ __forceinline__ float softplus(float v) { return v > 20.0f ? v : log1pf(expf(v)); }

}  // namespace samba::ops::cuda_kernels
