// samba/ops/cuda/selective_scan.cuh: Mamba's selective scan on the GPU (SPEC.md "Mamba":
// dt = softplus(dt_raw + bias); h_t = exp(dt*A) h_{t-1} + dt*B*x; y = (C.h + D*x) * silu(z)), with
// the dt softplus, the D skip and the z gate fused. One thread per channel keeps that channel's
// state in registers; B and C, shared by all channels of a token, are staged in shared memory.
// Decode steps and short chunks scan each sequence in one pass. A long prompt is cut into chunks of
// scan_chunk_rows tokens scanned in parallel: (1) each chunk's end state from a zero start and its
// summed dt, (2) a sequential pass over the chunks per channel turns those into each chunk's start
// state (h_start(c+1) = exp(A * sum dt_c) h_start(c) + h_end(c)), (3) every chunk rescanned from its
// start state for its outputs.
#pragma once

#include <cuda_runtime.h>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/device_buffer.hpp"
#include "samba/backend/cuda/launch.cuh"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/batch.cuh"

namespace samba::ops {

namespace cuda_kernels {

inline constexpr int scan_threads = 128;        // channels per block
inline constexpr int scan_stage_tokens = 64;    // tokens whose B and C are staged at once
inline constexpr int scan_chunk_rows = 128;     // tokens per chunk of the parallel prefill scan

/// What a scan launch does with each block's rows (grid.y picks a sequence or a chunk).
enum class ScanPass {
  sequence,      // a whole sequence from its state: outputs y and the new state
  chunk_ends,    // a chunk of the only sequence from zero: its end state and summed dt into `chunks`
  chunk_outputs  // a chunk from its start state (in `chunks`): outputs y
};

/// The scan's inputs: x, dt [T, E]; z rows of stride z_stride; B, C rows of stride bc_stride;
/// A [N, E]; d [E]; dt_bias [E] or null (dt already final).
struct ScanInputs {
  const float* x;
  const float* dt;
  const float* dt_bias;
  const float* a;
  const float* b;
  const float* c;
  index_t bc_stride;
  const float* d;
  const float* z;
  index_t z_stride;
};

/// MaxN: the largest state size this instantiation holds in registers; `state` <= MaxN.
/// chunks: [C, N, E] chunk states, then [C, E] summed dt (the two chunked passes).
template <int MaxN, ScanPass Pass, class Y>
__global__ void selective_scan(ScanInputs in, SegmentTable seg, StatePointers states, float* __restrict__ chunks, int chunk_count,
                               Y* __restrict__ y, index_t channels, int state) {
  extern __shared__ float staged[];  // [scan_stage_tokens, 2 * state]: B then C of each token
  const index_t e = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool active = e < channels;
  // The layer's parameters, read before waiting for the previous kernel (no kernel writes them).
  float decay_rate[MaxN];  // A[:, e]
#pragma unroll
  for (int k = 0; k < MaxN; ++k) decay_rate[k] = active && k < state ? in.a[k * channels + e] : 0.0f;
  const float skip = active ? in.d[e] : 0.0f, bias = active && in.dt_bias ? in.dt_bias[e] : 0.0f;
  cuda::allow_dependent_launch();
  cuda::wait_for_prior_grids();
  index_t row0, tokens;
  float* chunk_state = nullptr;
  if constexpr (Pass == ScanPass::sequence) {
    row0 = seg.row0[blockIdx.y], tokens = seg.rows[blockIdx.y];
  } else {
    row0 = seg.row0[0] + static_cast<index_t>(blockIdx.y) * scan_chunk_rows;
    const index_t end = seg.row0[0] + seg.rows[0];
    tokens = end - row0 < scan_chunk_rows ? end - row0 : scan_chunk_rows;
    chunk_state = chunks + static_cast<index_t>(blockIdx.y) * state * channels;
  }
  float s[MaxN];  // h[:, e]
#pragma unroll
  for (int k = 0; k < MaxN; ++k) {
    float start = 0.0f;
    if (active && k < state) {
      if constexpr (Pass == ScanPass::sequence) start = states.at[blockIdx.y][k * channels + e];
      else if constexpr (Pass == ScanPass::chunk_outputs) start = chunk_state[k * channels + e];
    }
    s[k] = start;
  }
  float dt_sum = 0.0f;
  for (index_t t0 = 0; t0 < tokens; t0 += scan_stage_tokens) {
    const int count = static_cast<int>(tokens - t0 < scan_stage_tokens ? tokens - t0 : scan_stage_tokens);
    __syncthreads();  // the previous stage's B and C are no longer read
    for (int i = threadIdx.x; i < count * 2 * state; i += blockDim.x) {
      const int tt = i / (2 * state), k = i % (2 * state);
      const float* src = (k < state ? in.b : in.c) + (row0 + t0 + tt) * in.bc_stride;
      staged[i] = src[k < state ? k : k - state];
    }
    __syncthreads();
    if (!active) continue;
    for (int tt = 0; tt < count; ++tt) {
      const index_t row = row0 + t0 + tt, at = row * channels + e;
      const float step = in.dt_bias ? softplus(in.dt[at] + bias) : in.dt[at], xv = in.x[at];
      const float* bt = staged + tt * 2 * state;
      dt_sum += step;
      float acc = 0.0f;
#pragma unroll
      for (int k = 0; k < MaxN; ++k) {
        if (k < state) {
          s[k] = expf(step * decay_rate[k]) * s[k] + step * bt[k] * xv;
          acc += s[k] * bt[state + k];
        }
      }
      if constexpr (Pass != ScanPass::chunk_ends) {
        const float zv = in.z[row * in.z_stride + e];
        y[at] = store_as<Y>((acc + skip * xv) * silu(zv));
      }
    }
  }
  if (!active) return;
  if constexpr (Pass == ScanPass::sequence) {
#pragma unroll
    for (int k = 0; k < MaxN; ++k)
      if (k < state) states.at[blockIdx.y][k * channels + e] = s[k];
  } else if constexpr (Pass == ScanPass::chunk_ends) {
#pragma unroll
    for (int k = 0; k < MaxN; ++k)
      if (k < state) chunk_state[k * channels + e] = s[k];
    chunks[static_cast<index_t>(chunk_count) * state * channels + static_cast<index_t>(blockIdx.y) * channels + e] = dt_sum;
  }
}

/// One thread per (channel, state element): walks the chunks in order, replacing each chunk's end
/// state (from zero) by its start state, and leaves the sequence's final state in `h`.
__global__ void scan_chunk_starts(const float* __restrict__ a, float* __restrict__ h, float* __restrict__ chunks, int chunk_count,
                                  index_t channels, int state) {
  const index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // k * E + e
  if (i >= channels * state) return;
  const index_t e = i % channels;
  const float* dt_sum = chunks + static_cast<index_t>(chunk_count) * state * channels;
  const float rate = a[i];
  float carry = h[i];
  constexpr int Ahead = 8;  // chunks whose end states and dt sums are loaded before they are used
  for (int c0 = 0; c0 < chunk_count; c0 += Ahead) {
    float end[Ahead], decay[Ahead];
#pragma unroll
    for (int j = 0; j < Ahead; ++j) {
      const int c = c0 + j;
      end[j] = c < chunk_count ? chunks[static_cast<index_t>(c) * state * channels + i] : 0.0f;
      decay[j] = c < chunk_count ? dt_sum[static_cast<index_t>(c) * channels + e] : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < Ahead; ++j) {
      const int c = c0 + j;
      if (c >= chunk_count) break;
      chunks[static_cast<index_t>(c) * state * channels + i] = carry;
      carry = expf(rate * decay[j]) * carry + end[j];
    }
  }
  h[i] = carry;
}

}  // namespace cuda_kernels

/// Chunks the parallel prefill scan cuts these rows into (0: they are scanned in one pass).
inline int scan_chunks(const cuda_kernels::SegmentTable& seg) {
  if (seg.count != 1 || seg.rows[0] <= 2 * cuda_kernels::scan_chunk_rows) return 0;
  return (seg.rows[0] + cuda_kernels::scan_chunk_rows - 1) / cuda_kernels::scan_chunk_rows;
}

/// Floats of scratch selective_scan needs for these rows.
inline std::size_t scan_scratch_floats(const cuda_kernels::SegmentTable& seg, index_t channels, index_t state) {
  return static_cast<std::size_t>(scan_chunks(seg)) * static_cast<std::size_t>(channels * (state + 1));
}

/// The batched scan (see cuda_kernels::selective_scan): rows of the sequences in `seg`, each from
/// and back to its state in `states`; y [T, E] as Y. `scratch` holds scan_scratch_floats(...).
template <class Y>
void selective_scan(const backend::Cuda& be, const cuda_kernels::ScanInputs& in, const cuda_kernels::SegmentTable& seg,
                    const cuda_kernels::StatePointers& states, Y* y, index_t channels, index_t state, float* scratch) {
  using namespace cuda_kernels;
  require(state >= 1 && state <= 64, "selective_scan (CUDA): d_state ", state, " is outside the supported 1..64");
  if (seg.count == 0 || channels <= 0) return;
  const unsigned channel_blocks = static_cast<unsigned>((channels + scan_threads - 1) / scan_threads);
  const std::size_t shared = static_cast<std::size_t>(scan_stage_tokens) * 2 * static_cast<std::size_t>(state) * sizeof(float);
  const int n = static_cast<int>(state), chunks = scan_chunks(seg);
  auto launch = [&](auto max_n, auto pass, unsigned blocks_y) {
    cuda::launch(be, cuda_kernels::selective_scan<decltype(max_n)::value, decltype(pass)::value, Y>, dim3(channel_blocks, blocks_y),
                 dim3(scan_threads), shared, "selective_scan kernel launch", in, seg, states, scratch, chunks, y, channels, n);
  };
  auto run = [&](auto max_n) {
    if (chunks == 0) {
      launch(max_n, std::integral_constant<ScanPass, ScanPass::sequence>{}, static_cast<unsigned>(seg.count));
      return;
    }
    launch(max_n, std::integral_constant<ScanPass, ScanPass::chunk_ends>{}, static_cast<unsigned>(chunks));
    const index_t elements = channels * state;
    scan_chunk_starts<<<static_cast<unsigned>((elements + 255) / 256), 256, 0, be.stream()>>>(in.a, states.at[0], scratch, chunks, channels, n);
    launch(max_n, std::integral_constant<ScanPass, ScanPass::chunk_outputs>{}, static_cast<unsigned>(chunks));
  };
  if (n <= 8) run(std::integral_constant<int, 8>{});
  else if (n <= 16) run(std::integral_constant<int, 16>{});
  else run(std::integral_constant<int, 64>{});
  cuda::check_launch("selective_scan kernel launch");
}

/// One sequence, the scalar selective_scan's contract with every pointer in device memory: x, dt
/// (final), z [T, E]; A [N, E]; B, C rows of stride `bc_stride`; d [E]; h [N, E] in/out; y [T, E].
/// Allocates its own scratch when the rows are long enough for the chunked scan.
inline void selective_scan(const backend::Cuda& be, const float* x, const float* dt, const float* a, const float* b,
                           const float* c, index_t bc_stride, const float* d, const float* z, float* h, float* y,
                           index_t tokens, index_t channels, index_t state) {
  require(tokens <= 0x7fffffff, "selective_scan (CUDA): ", tokens, " tokens in one call");
  if (tokens <= 0) return;
  cuda_kernels::SegmentTable seg;
  seg.count = 1, seg.row0[0] = 0, seg.rows[0] = static_cast<int>(tokens), seg.first[0] = 0;  // positions unused
  cuda_kernels::StatePointers states;
  states.at[0] = h;
  cuda::DeviceBuffer<float> scratch(scan_scratch_floats(seg, channels, state));
  selective_scan<float>(be, {x, dt, nullptr, a, b, c, bc_stride, d, z, channels}, seg, states, y, channels, state, scratch.data());
  be.synchronize();  // the scratch is freed on return
}

}  // namespace samba::ops
