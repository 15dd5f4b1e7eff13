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

#include <cstdint>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/device_buffer.hpp"
#include "samba/backend/cuda/launch.cuh"
#include "samba/core/bf16_device.cuh"
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
/// A [N, E]; d [E]; dt_bias [E] or null (dt already final). With dt_proj set, dt is not read:
/// dt_raw[t, e] = dt_low[t, :dt_rank] (rounded to the weights' type W, as the product's input
/// would be) . dt_proj[e, :], with dt_low rows of stride dt_low_stride and dt_proj [E, dt_rank] of W.
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
  const float* dt_low = nullptr;
  index_t dt_low_stride = 0;
  const void* dt_proj = nullptr;
  int dt_rank = 0;
};

/// row . v over n elements: row of W (16-byte loads where aligned), v in shared memory as float.
template <class W>
__device__ __forceinline__ float dot_row(const W* row, const float* v, int n) {
  constexpr int per = 16 / static_cast<int>(sizeof(W));
  float acc = 0.0f;
  int j = 0;
  if (reinterpret_cast<std::uintptr_t>(row) % 16 == 0)
    for (; j + per <= n; j += per) {
      const uint4 q = *reinterpret_cast<const uint4*>(row + j);
      const unsigned words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        if constexpr (sizeof(W) == 4) {
          acc = fmaf(__uint_as_float(words[i]), v[j + i], acc);
        } else {
          acc = fmaf(low_bf16(words[i]), v[j + 2 * i], acc);
          acc = fmaf(high_bf16(words[i]), v[j + 2 * i + 1], acc);
        }
      }
    }
  for (; j < n; ++j) acc = fmaf(load_float(row[j]), v[j], acc);
  return acc;
}

/// Whether a block copies its channels' dt_proj rows [channels, rank] of W into shared memory with
/// 16-byte copies (rows and start 16-byte aligned), or reads them from global memory.
template <class W>
__host__ __device__ inline bool scan_copies_dt_rows(const void* dt_proj, int rank) {
  return rank > 0 && (static_cast<std::size_t>(rank) * sizeof(W)) % 16 == 0 && reinterpret_cast<std::uintptr_t>(dt_proj) % 16 == 0;
}

/// MaxN: the largest state size this instantiation holds in registers; `state` <= MaxN. W: the
/// type of in.dt_proj. chunks: [C, N, E] chunk states, then [C, E] summed dt (the two chunked
/// passes).
template <int MaxN, ScanPass Pass, class Y, class W>
__global__ void selective_scan(ScanInputs in, SegmentTable seg, StatePointers states, float* __restrict__ chunks, int chunk_count,
                               Y* __restrict__ y, index_t channels, int state) {
  extern __shared__ __align__(16) unsigned char scan_shared[];
  const index_t e0 = static_cast<index_t>(blockIdx.x) * blockDim.x, e = e0 + threadIdx.x;
  const bool active = e < channels;
  const int rank = in.dt_proj ? in.dt_rank : 0, width = 2 * state + rank;
  const W* dt_rows = static_cast<const W*>(in.dt_proj) + e0 * rank;  // dt_proj[e0:, :]
  const bool copy_rows = scan_copies_dt_rows<W>(in.dt_proj, rank);
  const W* dt_row = (copy_rows ? reinterpret_cast<const W*>(scan_shared) : dt_rows) + threadIdx.x * rank;  // dt_proj[e, :]
  // [scan_stage_tokens, 2 * state + rank]: B, C and (with dt_proj) the rounded dt_low of each token,
  // behind the block's dt_proj rows [blockDim.x, rank] where they are copied.
  float* staged = reinterpret_cast<float*>(scan_shared + (copy_rows ? static_cast<std::size_t>(blockDim.x) * rank * sizeof(W) : 0));
  // The layer's parameters, read before waiting for the previous kernel (no kernel writes them):
  // the block's dt_proj rows copied to shared memory (coalesced, asynchronous).
  if (copy_rows) {
    const index_t rows = channels - e0 < blockDim.x ? channels - e0 : blockDim.x;
    const index_t chunks = rows * rank * static_cast<index_t>(sizeof(W)) / 16;
    for (index_t i = threadIdx.x; i < chunks; i += blockDim.x)
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(static_cast<unsigned>(__cvta_generic_to_shared(scan_shared + 16 * i))),
                   "l"(reinterpret_cast<const char*>(dt_rows) + 16 * i)
                   : "memory");
    asm volatile("cp.async.commit_group;" ::: "memory");
  }
  float decay_rate[MaxN];  // A[:, e]
#pragma unroll
  for (int k = 0; k < MaxN; ++k) decay_rate[k] = active && k < state ? in.a[k * channels + e] : 0.0f;
  const float skip = active ? in.d[e] : 0.0f, bias = active && in.dt_bias ? in.dt_bias[e] : 0.0f;
  cuda::allow_dependent_launch();
  cuda::wait_for_prior_grids();
  if (copy_rows) asm volatile("cp.async.wait_all;" ::: "memory");  // published by the staging's __syncthreads
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
    for (int i = threadIdx.x; i < count * width; i += blockDim.x) {
      const int tt = i / width, k = i % width;
      const index_t row = row0 + t0 + tt;
      if (k < 2 * state) staged[i] = (k < state ? in.b : in.c)[row * in.bc_stride + (k < state ? k : k - state)];
      else staged[i] = load_float(store_as<W>(in.dt_low[row * in.dt_low_stride + k - 2 * state]));
    }
    __syncthreads();
    if (!active) continue;
    for (int tt = 0; tt < count; ++tt) {
      const index_t row = row0 + t0 + tt, at = row * channels + e;
      const float* bt = staged + tt * width;
      const float raw = rank > 0 ? dot_row(dt_row, bt + 2 * state, rank) : in.dt[at];
      const float step = in.dt_bias ? softplus(raw + bias) : raw, xv = in.x[at];
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

/// Largest dt_rank the scan projects itself (its dt_low rows are staged in shared memory).
inline constexpr int scan_max_dt_rank = 160;

/// The batched scan (see cuda_kernels::selective_scan): rows of the sequences in `seg`, each from
/// and back to its state in `states`; y [T, E] as Y; W: the type of in.dt_proj, which only scans
/// in one pass take (no chunked scan: a prompt's dt comes from a product). `scratch` holds
/// scan_scratch_floats(...).
template <class Y, class W = float>
void selective_scan(const backend::Cuda& be, const cuda_kernels::ScanInputs& in, const cuda_kernels::SegmentTable& seg,
                    const cuda_kernels::StatePointers& states, Y* y, index_t channels, index_t state, float* scratch) {
  using namespace cuda_kernels;
  require(state >= 1 && state <= 64, "selective_scan (CUDA): d_state ", state, " is outside the supported 1..64");
  if (seg.count == 0 || channels <= 0) return;
  const int n = static_cast<int>(state), chunks = scan_chunks(seg);
  const int rank = in.dt_proj ? in.dt_rank : 0;
  require(rank == 0 || (chunks == 0 && rank >= 1 && rank <= scan_max_dt_rank && in.dt_low),
          "selective_scan (CUDA): dt_proj inside the scan needs a one-pass scan, dt_low and a rank of 1..", scan_max_dt_rank, " (got ",
          rank, ")");
  const unsigned channel_blocks = static_cast<unsigned>((channels + scan_threads - 1) / scan_threads);
  const std::size_t shared = static_cast<std::size_t>(scan_stage_tokens) * static_cast<std::size_t>(2 * state + rank) * sizeof(float) +
                             (scan_copies_dt_rows<W>(in.dt_proj, rank) ? static_cast<std::size_t>(scan_threads) * rank * sizeof(W) : 0);
  auto launch = [&](auto max_n, auto pass, unsigned blocks_y) {
    auto kernel = cuda_kernels::selective_scan<decltype(max_n)::value, decltype(pass)::value, Y, W>;
    cuda::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)),
                "cudaFuncSetAttribute (selective_scan shared memory)");
    cuda::launch(be, kernel, dim3(channel_blocks, blocks_y), dim3(scan_threads), shared, "selective_scan kernel launch", in, seg, states,
                 scratch, chunks, y, channels, n);
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
