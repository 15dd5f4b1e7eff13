// samba/ops/cuda/decode_step.cuh: a whole decode step of one sequence in one persistent kernel
// (SPEC.md "Block structure": every sublayer's products, conv, scan and attention in order). The
// step is a program of phases in device memory, each the work of one of the step's kernels
// (gemv.cuh, causal_conv1d.cuh, selective_scan.cuh, attention_decode.cuh) run by the same kernel
// bodies; the blocks stay resident and a phase waits only for the arrivals of every block at the
// phase before (a grid-wide barrier split into arrive and wait). Between the two a block issues
// what does not depend on the phase before (a product's first weight loads, a scan's dt_proj
// rows, a conv's weights), so that the memory stays busy across the boundaries that separate
// kernels of their own by a drain and a launch. Compile with nvcc.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "samba/backend/cuda.hpp"
#include "samba/ops/cuda/attention_decode.cuh"
#include "samba/ops/cuda/causal_conv1d.cuh"
#include "samba/ops/cuda/gemv.cuh"
#include "samba/ops/cuda/selective_scan.cuh"

namespace samba::ops {

namespace cuda_kernels {

/// Threads of a persistent block: those of the fused products, which move most of the bytes.
inline constexpr int step_threads = gemv_threads;
/// Keys a warp of the attention phase scores at once, and the keys a block scores per round of loads.
inline constexpr int step_attend_batch = 4;
inline constexpr int step_attend_round = step_threads / 32 * step_attend_batch;
/// Largest state size and head size a persistent step holds in registers.
inline constexpr int step_max_state = 16;
inline constexpr int step_max_head_size = 128;

/// What a phase runs.
enum class StepPhaseKind : int {
  gemv_norm_store,   // GemvIn::rmsnorm, GemvOut::store (in_proj, qkv, the head)
  gemv_store,        // GemvIn::vector, GemvOut::store (x_proj)
  gemv_cast_store,   // GemvIn::cast, GemvOut::store (dt_proj above the scan's rank)
  gemv_accumulate,   // GemvIn::vector, GemvOut::accumulate (out_proj, o_proj, down)
  gemv_norm_swiglu,  // GemvIn::rmsnorm, GemvOut::swiglu (gate_up)
  conv,              // conv_step_channel over the channels
  scan,              // scan_block over the channel blocks, one token
  attend             // attend_block over (split, head), merged by the last split of each head
};

/// A decode row's causal conv: x [channels] (the in_proj output's x half), history [K-1, channels],
/// weights w [channels, K], b [channels]; y [channels] float32 and y_cast [channels] of the
/// activation type (or null).
struct StepConv {
  const float* x;
  float* history;
  const float* w;
  const float* b;
  float* y;
  void* y_cast;
  index_t channels;
  int kernel;
};

/// A decode row's scan from and back to state [N, channels]; y [channels] of the activation type.
struct StepScan {
  ScanInputs in;
  float* state;
  void* y;
  index_t channels;
  int n;
};

/// A decode row's attention (rotation and cache append included): partial [H, splits, hs + 2]
/// when splits > 1, tickets [H] counting each head's finished splits; y [H, hs] of the activation
/// type.
struct StepAttend {
  AttendSequence seq;
  AttentionGeometry geo;
  float scale;
  StepRotation rotation;
  float* partial;
  unsigned* tickets;
  int splits, keys;
  void* y;
};

/// One phase: its kind says which member of the union holds its arguments. Trivially copyable,
/// so that the program is uploaded (and copied into shared memory) as bytes.
template <class W>
struct StepPhase {
  StepPhase() : kind(StepPhaseKind::gemv_store), gemv{} {}
  StepPhaseKind kind;
  union {
    GemvArgs<W> gemv;
    StepConv conv;
    StepScan scan;
    StepAttend attend;
  };
};

/// The wait of a phase: until every block has arrived at the phase before (null: the first phase).
/// One thread polls the count past the L1 and, once it is complete, acquires the blocks' writes
/// for the whole block (the barrier after it orders the block's reads behind the fence).
struct PhaseWait {
  const unsigned* arrived;
  unsigned blocks;
  __device__ __forceinline__ void operator()() const {
    if (arrived && threadIdx.x == 0) {
      unsigned seen;
      for (;;) {
        asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];" : "=r"(seen) : "l"(arrived) : "memory");
        if (seen >= blocks) break;
      }
      asm volatile("fence.acq_rel.gpu;" ::: "memory");
    }
    __syncthreads();
  }
};

/// This block is done with its phase: its writes are released with its count.
__device__ __forceinline__ void arrive(unsigned* arrived) {
  __syncthreads();
  if (threadIdx.x == 0) asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(arrived) : "memory");
}

// The phases are calls, not inlined, so that each gets the block's registers to itself. One block
// per multiprocessor (128 registers a thread): at two (64 registers) the products spilled and the
// step ran at 520-624 tokens/s against 725-744 (samba-1.3b, bf16, H200).
template <class W, GemvIn In, GemvOut Out>
__device__ __noinline__ void gemv_phase(const GemvArgs<W>& args, unsigned char* shared, const PhaseWait& wait) {
  const GemvArgs<W> a = args;  // in registers: the loops read them every step
  const int units = a.out / (Out == GemvOut::swiglu ? 2 : 1), blocks = min(units, static_cast<int>(gridDim.x));
  if (static_cast<int>(blockIdx.x) < blocks) gemv_block<W, In, Out, 1>(a, static_cast<int>(blockIdx.x), blocks, shared, wait);
}

template <class W, int K>
__device__ __noinline__ void conv_phase(const StepConv& args, const PhaseWait& wait) {
  const StepConv c = args;
  for (index_t e0 = static_cast<index_t>(blockIdx.x) * step_threads; e0 < c.channels; e0 += static_cast<index_t>(gridDim.x) * step_threads) {
    const index_t e = e0 + threadIdx.x;
    conv_step_channel<K, W>(c.x, c.history, c.w, c.b, c.y, static_cast<W*>(c.y_cast), c.channels, e, e < c.channels, wait);
  }
}

template <class W, int MaxN>
__device__ __noinline__ void scan_phase(const StepScan& args, unsigned char* shared, const PhaseWait& wait) {
  const StepScan s = args;
  const int channel_blocks = static_cast<int>((s.channels + scan_threads - 1) / scan_threads);
  for (int b = static_cast<int>(blockIdx.x); b < channel_blocks; b += static_cast<int>(gridDim.x)) {
    __syncthreads();  // the block's previous channels no longer read the shared memory
    scan_block<MaxN, ScanPass::sequence, W, W>(s.in, ScanRows{0, 1, s.state}, static_cast<W*>(s.y), s.channels, s.n, b, shared, wait);
  }
}

template <class W, int MaxHs>
__device__ __noinline__ void attend_phase(const StepAttend& args, const PhaseWait& wait) {
  const StepAttend a = args;
  __shared__ bool last_split;
  W* y = static_cast<W*>(a.y);
  const int units = a.splits * a.geo.n_head;
  for (int u = static_cast<int>(blockIdx.x); u < units; u += static_cast<int>(gridDim.x)) {
    __syncthreads();  // the block's previous unit no longer reads the shared memory
    const int h = u / a.splits, split = u % a.splits;
    attend_block<MaxHs, W, step_threads, step_attend_batch>(a.seq, 0, 0, split, h, a.geo, a.scale, a.partial, a.splits, a.keys, y, a.rotation,
                                                            wait);
    if (a.splits == 1) continue;
    // The last of the head's splits to finish merges them (its partial results were published
    // before it counted itself).
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last_split = atomicAdd(a.tickets + h, 1u) == static_cast<unsigned>(a.splits - 1);
    __syncthreads();
    if (last_split) {
      __threadfence();
      merge_head(a.partial, a.splits, a.geo, y, h, 0);
    }
  }
}

template <class W>
__device__ __forceinline__ void run_phase(const StepPhase<W>& p, unsigned char* shared, const PhaseWait& wait) {
  switch (p.kind) {
    case StepPhaseKind::gemv_norm_store: gemv_phase<W, GemvIn::rmsnorm, GemvOut::store>(p.gemv, shared, wait); break;
    case StepPhaseKind::gemv_store: gemv_phase<W, GemvIn::vector, GemvOut::store>(p.gemv, shared, wait); break;
    case StepPhaseKind::gemv_cast_store: gemv_phase<W, GemvIn::cast, GemvOut::store>(p.gemv, shared, wait); break;
    case StepPhaseKind::gemv_accumulate: gemv_phase<W, GemvIn::vector, GemvOut::accumulate>(p.gemv, shared, wait); break;
    case StepPhaseKind::gemv_norm_swiglu: gemv_phase<W, GemvIn::rmsnorm, GemvOut::swiglu>(p.gemv, shared, wait); break;
    case StepPhaseKind::conv:
      switch (p.conv.kernel) {
        case 2: conv_phase<W, 2>(p.conv, wait); break;
        case 3: conv_phase<W, 3>(p.conv, wait); break;
        case 4: conv_phase<W, 4>(p.conv, wait); break;
        case 5: conv_phase<W, 5>(p.conv, wait); break;
        case 6: conv_phase<W, 6>(p.conv, wait); break;
        case 7: conv_phase<W, 7>(p.conv, wait); break;
        default: conv_phase<W, 8>(p.conv, wait); break;
      }
      break;
    case StepPhaseKind::scan:
      if (p.scan.n <= 8) scan_phase<W, 8>(p.scan, shared, wait);
      else scan_phase<W, step_max_state>(p.scan, shared, wait);
      break;
    case StepPhaseKind::attend:
      if (p.attend.geo.head_size <= 32) attend_phase<W, 32>(p.attend, wait);
      else if (p.attend.geo.head_size <= 64) attend_phase<W, 64>(p.attend, wait);
      else attend_phase<W, step_max_head_size>(p.attend, wait);
      break;
  }
}

/// The persistent step: every block runs every phase of `program` in order (its share of the
/// phase's work, or none). arrived [phases] and the attention tickets start at zero. Each phase's
/// descriptor is loaded into registers while the phase before runs and stored to shared memory
/// behind it, so that a block starts the next phase's loads without a trip to the cache.
template <class W>
__global__ void __launch_bounds__(step_threads, 1) decode_step(const StepPhase<W>* __restrict__ program, int phases, unsigned* arrived) {
  extern __shared__ __align__(16) unsigned char step_shared[];
  constexpr int words = static_cast<int>(sizeof(StepPhase<W>) / 4);
  static_assert(sizeof(StepPhase<W>) % 4 == 0 && words <= step_threads && std::is_trivially_copyable_v<StepPhase<W>>);
  __shared__ __align__(16) unsigned current[2][words];  // the phase running and the next, copied from the program
  const auto word = [&](int i) { return threadIdx.x < words && i < phases ? reinterpret_cast<const unsigned*>(program + i)[threadIdx.x] : 0u; };
  if (threadIdx.x < words) current[0][threadIdx.x] = word(0);
  __syncthreads();
  for (int i = 0; i < phases; ++i) {
    const unsigned next = word(i + 1);
    run_phase(*reinterpret_cast<const StepPhase<W>*>(current[i & 1]), step_shared, PhaseWait{i > 0 ? arrived + i - 1 : nullptr, gridDim.x});
    if (threadIdx.x < words) current[(i + 1) & 1][threadIdx.x] = next;
    arrive(arrived + i);  // its barrier also publishes the next descriptor to the block
  }
}

}  // namespace cuda_kernels

/// Whether a persistent step serves a model of these sizes (its phases hold a Mamba state of at
/// most step_max_state, heads of at most step_max_head_size in registers).
inline bool decode_step_serves(index_t d_state, index_t head_size) {
  return d_state <= cuda_kernels::step_max_state && head_size <= cuda_kernels::step_max_head_size;
}

/// Dynamic shared memory a phase needs (a product's staged input and partial sums; a scan's
/// dt_proj rows and one token's B, C and dt_low).
template <class W>
std::size_t step_phase_shared(const cuda_kernels::StepPhase<W>& p) {
  using namespace cuda_kernels;
  using Kind = StepPhaseKind;
  switch (p.kind) {
    case Kind::gemv_norm_store:
    case Kind::gemv_store:
    case Kind::gemv_cast_store:
    case Kind::gemv_accumulate:
    case Kind::gemv_norm_swiglu:
      return gemv_partial_offset(static_cast<std::size_t>(p.gemv.in) * sizeof(W)) + static_cast<std::size_t>(gemv_warps) * 2 * 2 * sizeof(float);
    case Kind::scan: {
      const int rank = p.scan.in.dt_proj ? p.scan.in.dt_rank : 0;
      return (scan_copies_dt_rows<W>(p.scan.in.dt_proj, rank) ? static_cast<std::size_t>(scan_threads) * rank * sizeof(W) : 0) +
             static_cast<std::size_t>(2 * p.scan.n + rank) * sizeof(float);
    }
    default: return 0;
  }
}

/// Blocks of a persistent step with `shared` bytes of dynamic shared memory that the device holds
/// at once (0: none fits).
template <class W>
int decode_step_blocks(const backend::Cuda& be, std::size_t shared) {
  auto kernel = cuda_kernels::decode_step<W>;
  cuda::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)),
              "cudaFuncSetAttribute (decode_step shared memory)");
  int per_sm = 0;
  cuda::check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, cuda_kernels::step_threads, shared),
              "cudaOccupancyMaxActiveBlocksPerMultiprocessor (decode_step)");
  return per_sm * be.multiprocessors();
}

/// Splits of an attention phase over `keys` keys: one per round of a block's loads, at most one
/// block per (split, head) of the `blocks` resident.
inline int step_attend_splits(long long keys, int heads, int blocks) {
  const long long rounds = (keys + cuda_kernels::step_attend_round - 1) / cuda_kernels::step_attend_round;
  return static_cast<int>(std::clamp<long long>(rounds, 1, std::max(1, blocks / heads)));
}

/// Runs `phases` phases of `program` (device memory) on `blocks` resident blocks (decode_step_blocks
/// with the same `shared`); arrived [phases] and every attention phase's tickets must be zero. A
/// cooperative launch, so that the driver guarantees the blocks are resident together.
template <class W>
void decode_step(const backend::Cuda& be, const cuda_kernels::StepPhase<W>* program, int phases, unsigned* arrived, int blocks,
                 std::size_t shared) {
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(static_cast<unsigned>(blocks)), config.blockDim = dim3(cuda_kernels::step_threads);
  config.dynamicSmemBytes = shared, config.stream = be.stream();
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeCooperative;
  attribute.val.cooperative = 1;
  config.attrs = &attribute, config.numAttrs = 1;
  cuda::check(cudaLaunchKernelEx(&config, cuda_kernels::decode_step<W>, program, phases, arrived), "decode_step kernel launch");
}

}  // namespace samba::ops
