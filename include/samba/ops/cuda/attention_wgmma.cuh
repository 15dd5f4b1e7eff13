// samba/ops/cuda/attention_wgmma.cuh: causal sliding-window attention of prefill chunks for bf16
// models on Hopper's warpgroup tensor cores (SPEC.md "SWA": query t sees keys j with
// t - w < j <= t; softmax(q.k / sqrt(hs)) v), FlashAttention style (Dao, "FlashAttention-2", online
// softmax over key tiles). Two steps:
//  1. pack_queries / pack_keys write the chunk's queries (scaled by log2(e) / sqrt(hs), so that the
//     softmax runs on exp2), and for each KV head the keys [Tk, hs] and transposed values [hs, Tk]
//     of the chunk and of the window before it (read from the KV cache) as contiguous bf16. Each
//     sequence's keys start at a multiple of 128 rows, placed so that its first query's own key
//     also sits at a multiple of 128: key tiles line up with query tiles.
//  2. swa_forward_wgmma: a block of three warpgroups takes 128 queries of one head. Warpgroup 0
//     produces: one of its threads has the tensor memory accelerator copy the queries, then each
//     step's 128-key tile of K and the tile before's V^T into one of three stages (128-byte
//     swizzle), each stage reused once the products that read it are done (shared-memory
//     barriers: "full" counts the copies' bytes, "empty" the consumers' arrivals). Warpgroups 1
//     and 2 consume, 64 queries each: S = Q K^T and O += P V are wgmma products (Q, K, V^T from
//     shared memory, P from registers, packed from the float32 S accumulators into operand
//     fragments); only the tiles on the diagonal and at the window's far edge are masked. The
//     softmax of one tile runs while the tensor cores compute the P V of the tile before, and the
//     two consumers take turns issuing their products, so that one's softmax runs under the
//     other's products (FlashAttention-3, Shah et al. 2024: Algorithm 2's intra-warpgroup overlap
//     and section 3.1's warp specialization and ping-pong scheduling). Query heads of a group read
//     their KV head's packed keys (no copies per query head).
// The kernel has a body only in device code for sm_90a; wgmma_attention_available() tells whether
// the running program has it.
#pragma once

#include <map>
#include <mutex>
#include <type_traits>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/device_buffer.hpp"
#include "samba/core/bf16_device.cuh"
#include "samba/core/types.hpp"
#include "samba/ops/cuda/attention_common.cuh"
#include "samba/ops/cuda/batch.cuh"
#include "samba/ops/cuda/tma.cuh"
#include "samba/ops/cuda/wgmma.cuh"

namespace samba::ops {

namespace cuda_kernels {

inline constexpr int wg_rows = 128;     // queries per block
inline constexpr int wg_keys = 128;     // keys per tile
inline constexpr int wg_producer_threads = 128;  // one warpgroup that brings the operands
inline constexpr int wg_consumer_threads = 256;  // two warpgroups of 64 query rows each
inline constexpr int wg_threads = wg_producer_threads + wg_consumer_threads;
// Registers a thread of the producer and of the consumer warpgroups holds (setmaxnreg): together
// no more than the 64K of a multiprocessor, which one block of wg_threads threads is launched with.
inline constexpr int wg_producer_registers = 24, wg_consumer_registers = 240;
static_assert(wg_producer_threads * wg_producer_registers + wg_consumer_threads * wg_consumer_registers <= 65536);
inline constexpr int pack_keys_per_block = 64;

/// Where each sequence's packed keys are (host-computed from the chunk's positions).
struct PackedKeys {
  int key0[max_batch];             // first packed key row of sequence p (a multiple of wg_keys)
  int keys[max_batch];             // its packed key rows (a multiple of wg_rows)
  long long position0[max_batch];  // the position of its first packed row (< 0: rows before the sequence, zero)
  int key_rows = 0;                // Tk: packed key rows of all sequences (the transposed values' row stride)
  int query_rows = 0;              // rows of each head's packed queries (the chunk's rows + one tile)
};

/// The packed layout of these sequences: sequence p packs the keys of its window before the chunk
/// (rounded up to whole tiles) and its chunk rows (rounded up likewise).
inline PackedKeys packed_keys(const SegmentTable& seg, const AttentionGeometry& geo) {
  PackedKeys pk;
  long long key = 0, rows = 0;
  for (int p = 0; p < seg.count; ++p) {
    const long long first = seg.first[p];
    const long long before = geo.window > 0 ? std::min<long long>(first, geo.window - 1) : first;
    const long long before_tiles = (before + wg_rows - 1) / wg_rows * wg_rows;
    const long long own = (static_cast<long long>(seg.rows[p]) + wg_rows - 1) / wg_rows * wg_rows;
    require(key + before_tiles + own <= 0x7fffffff, "attention (CUDA): ", key + before_tiles + own, " packed keys in one chunk");
    pk.key0[p] = static_cast<int>(key), pk.keys[p] = static_cast<int>(before_tiles + own), pk.position0[p] = first - before_tiles;
    key += before_tiles + own;
    rows = std::max<long long>(rows, seg.row0[p] + seg.rows[p]);
  }
  pk.key_rows = static_cast<int>(key), pk.query_rows = static_cast<int>(rows + wg_rows);
  return pk;
}

/// Bytes of the packed operands: queries [H, query_rows, hs], keys [G, Tk, hs], values [G, hs, Tk].
inline std::size_t packed_bytes(const PackedKeys& pk, const AttentionGeometry& geo) {
  const std::size_t hs = static_cast<std::size_t>(geo.head_size);
  return sizeof(bf16) * hs * (static_cast<std::size_t>(geo.n_head) * pk.query_rows + 2 * static_cast<std::size_t>(geo.n_kv_head) * pk.key_rows);
}

/// grid (query_rows): q [H, query_rows, hs] = bf16(qkv query * factor); rows past the chunk are zero.
__global__ void pack_queries(const float* __restrict__ qkv, int total_rows, AttentionGeometry geo, float factor, int query_rows,
                             bf16* __restrict__ q) {
  const int r = blockIdx.x, hs = geo.head_size, q_per_kv = geo.n_head / geo.n_kv_head;
  const index_t width = static_cast<index_t>(geo.n_kv_head) * (q_per_kv + 2) * hs;
  for (int i = threadIdx.x; i < geo.n_head * hs; i += blockDim.x) {
    const int h = i / hs, d = i % hs, g = h / q_per_kv;
    const float v = r < total_rows ? qkv[r * width + (g * (q_per_kv + 2) + h % q_per_kv) * hs + d] * factor : 0.0f;
    q[(static_cast<index_t>(h) * query_rows + r) * hs + d] = store_as<bf16>(v);
  }
}

/// grid (key blocks of pack_keys_per_block, G, sequences): keys k [G, Tk, hs] and values
/// transposed vt [G, hs, Tk] of packed rows [i0, i0 + 64) of sequence p, from the chunk's qkv rows
/// or the KV cache; rows with no key (before position 0, older than the cache holds, past the
/// chunk) are zero. Shared memory: 64 x (hs + 1) floats.
__global__ void pack_keys(const float* __restrict__ qkv, SegmentTable seg, KvPointers kv, AttentionGeometry geo, PackedKeys pk,
                          bf16* __restrict__ k, bf16* __restrict__ vt) {
  extern __shared__ float staged_values[];  // [64, hs + 1]
  __shared__ const float* key_at[pack_keys_per_block];
  __shared__ const float* value_at[pack_keys_per_block];
  const int p = blockIdx.z, g = blockIdx.y, i0 = blockIdx.x * pack_keys_per_block, hs = geo.head_size, ld = hs + 1;
  if (i0 >= pk.keys[p]) return;
  const KeyRows source = key_rows(qkv, seg, kv, geo, p, g);
  const long long first = seg.first[p];
  if (threadIdx.x < pack_keys_per_block) {
    const long long j = pk.position0[p] + i0 + threadIdx.x;
    const bool held = j >= 0 && j < first + seg.rows[p] && (j >= first || geo.window <= 0 || j > first - geo.window);
    const float *kr = nullptr, *vr = nullptr;
    if (held) source.find(j, kr, vr);
    key_at[threadIdx.x] = kr, value_at[threadIdx.x] = vr;
  }
  __syncthreads();
  const index_t row0 = static_cast<index_t>(g) * pk.key_rows + pk.key0[p] + i0;
  for (int e = threadIdx.x; e < pack_keys_per_block * hs; e += blockDim.x) {
    const int r = e / hs, d = e % hs;
    k[(row0 + r) * hs + d] = store_as<bf16>(key_at[r] ? key_at[r][d] : 0.0f);
    staged_values[r * ld + d] = value_at[r] ? value_at[r][d] : 0.0f;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < hs * (pack_keys_per_block / 8); e += blockDim.x) {  // 8 keys (16 bytes) per store
    const int d = e / (pack_keys_per_block / 8), c = 8 * (e % (pack_keys_per_block / 8));
    unsigned words[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const __nv_bfloat162 two = __floats2bfloat162_rn(staged_values[(c + 2 * i) * ld + d], staged_values[(c + 2 * i + 1) * ld + d]);
      words[i] = *reinterpret_cast<const unsigned*>(&two);
    }
    *reinterpret_cast<uint4*>(vt + (static_cast<index_t>(g) * hs + d) * pk.key_rows + pk.key0[p] + i0 + c) =
        make_uint4(words[0], words[1], words[2], words[3]);
  }
}

template <int Hs>
struct WgmmaTiles {
  static constexpr unsigned q_bytes = wg_rows * Hs * 2;  // [128 queries, Hs]
  static constexpr unsigned k_bytes = wg_keys * Hs * 2;  // [128 keys, Hs]
  static constexpr unsigned v_bytes = Hs * wg_keys * 2;  // [Hs, 128 keys]
  static constexpr unsigned stage_bytes = k_bytes + v_bytes;
  static constexpr int stages = 3;
  static constexpr std::size_t shared_bytes = q_bytes + stages * stage_bytes + 1024;  // + room to align to 1024
};

__device__ __forceinline__ float fast_exp2(float v) {
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
}

/// A key's offset from a tile's first key, clamped to [-1, wg_keys] (before the tile, in it, after it).
__device__ __forceinline__ int tile_offset(long long offset) {
  return static_cast<int>(offset < -1 ? -1 : offset > wg_keys ? wg_keys : offset);
}

__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x = lo (low 16 bits)
  return *reinterpret_cast<const unsigned*>(&v);
}

/// grid (query tiles of wg_rows, H, sequences), wg_threads threads; y [T, H, Hs]. q_map, k_map and
/// v_map are tensor maps of the packed q [H, query_rows, Hs], k [G, Tk, Hs] and vt [G, Hs, Tk] read
/// in boxes of 64 columns (attention_wgmma builds them).
template <int Hs>
__global__ void __launch_bounds__(wg_threads, 1)
    swa_forward_wgmma(const __grid_constant__ CUtensorMap q_map, const __grid_constant__ CUtensorMap k_map,
                      const __grid_constant__ CUtensorMap v_map, SegmentTable seg, PackedKeys pk, AttentionGeometry geo,
                      bf16* __restrict__ y) {
#if SAMBA_WGMMA_DEVICE_CODE
  using namespace wgmma;
  using namespace tma;
  using L = WgmmaTiles<Hs>;
  constexpr int Acc = Hs / 2;  // O accumulators per thread
  extern __shared__ unsigned char wgmma_smem[];
  __shared__ alignas(8) std::uint64_t barriers[2 * L::stages + 1];  // full [stages], empty [stages], queries
  const unsigned base = (shared_address(wgmma_smem) + 1023u) & ~1023u;
  const unsigned qs = base, stages = base + L::q_bytes;
  const unsigned full0 = shared_address(barriers), empty0 = full0 + 8 * L::stages, queries_full = full0 + 16 * L::stages;
  const int p = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * wg_rows, rows = seg.rows[p];
  if (q0 >= rows) return;
  const int g = h / (geo.n_head / geo.n_kv_head);
  const long long q_pos = seg.first[p] + q0, key_pos0 = pk.position0[p];
  const int diagonal = static_cast<int>(q_pos - key_pos0);  // packed index of the first query's key: a tile boundary
  int oldest = geo.window > 0 ? diagonal - geo.window + 1 : 0;
  if (oldest < 0) oldest = 0;
  const int tile_lo = oldest / wg_keys, tile_hi = diagonal / wg_keys;
  // Step i (0 .. tiles) reads the keys of tile tile_lo + i and the values of tile tile_lo + i - 1,
  // both from stage i % 3: S of one tile is computed while the P V of the tile before runs.
  const int tiles = tile_hi - tile_lo + 1;
  auto stage = [&](int i) { return stages + static_cast<unsigned>(i % L::stages) * L::stage_bytes; };
  auto full = [&](int i) { return full0 + 8u * static_cast<unsigned>(i % L::stages); };    // step i's operands have landed
  auto empty = [&](int i) { return empty0 + 8u * static_cast<unsigned>(i % L::stages); };  // step i's products are done
  auto parity = [](int i) { return static_cast<unsigned>(i / L::stages) & 1u; };          // of step i's phase of its stage

  if (threadIdx.x == 0) {
    for (int i = 0; i < L::stages; ++i) barrier_init(full(i), 1), barrier_init(empty(i), wg_consumer_threads);
    barrier_init(queries_full, 1);
    barrier_init_fence();
  }
  __syncthreads();

  // Warpgroup 0 produces: one thread has the copy engine bring the queries, then each step's keys
  // and values into its stage as soon as the products of the step before that used the stage are done.
  if (threadIdx.x < wg_producer_threads) {
    registers_decrease<wg_producer_registers>();
    if (threadIdx.x == 0) {
      barrier_arrive_expect(queries_full, L::q_bytes);
      for (int c = 0; c < Hs / 64; ++c) load_box(qs + c * (wg_rows * 128), q_map, queries_full, 64 * c, seg.row0[p] + q0, h);
      for (int i = 0; i <= tiles; ++i) {
        if (i >= L::stages) barrier_wait(empty(i), parity(i) ^ 1u);
        barrier_arrive_expect(full(i), (i < tiles ? L::k_bytes : 0u) + (i > 0 ? L::v_bytes : 0u));
        if (i < tiles)
          for (int c = 0; c < Hs / 64; ++c)
            load_box(stage(i) + c * (wg_keys * 128), k_map, full(i), 64 * c, pk.key0[p] + (tile_lo + i) * wg_keys, g);
        if (i > 0)
          for (int c = 0; c < wg_keys / 64; ++c)
            load_box(stage(i) + L::k_bytes + c * (Hs * 128), v_map, full(i), pk.key0[p] + (tile_lo + i - 1) * wg_keys + 64 * c, 0, g);
      }
    }
    return;
  }

  // Warpgroups 1 and 2 consume, 64 query rows each. They take turns issuing their products
  // (named barriers 1 and 2), so that one's softmax runs while the other's products keep the
  // tensor cores busy (FlashAttention-3, Shah et al. 2024, section 3.1: ping-pong scheduling).
  registers_increase<wg_consumer_registers>();
  const int tid = threadIdx.x - wg_producer_threads, group = tid / 128, warp = (tid / 32) % 4, lane = tid % 32;
  const int my_turn = 1 + group, other_turn = 2 - group;
  if (group == 1) named_arrive<wg_consumer_threads>(1);  // group 0 issues first

  // This thread's accumulator rows within the block's 128: r0 and r0 + 8 (wgmma's m64 layout).
  const int r0 = group * 64 + warp * 16 + lane / 4, col = 2 * (lane % 4);
  const long long row_pos[2] = {q_pos + r0, q_pos + r0 + 8};
  const long long last_pos = q_pos + wg_rows - 1;
  float o[Acc];
#pragma unroll
  for (int i = 0; i < Acc; ++i) o[i] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};  // l: this thread's share of the row sums
  unsigned pa[8][4];  // P of the tile before, as the A fragments of its eight 16-key steps (bf16x2)
  float s[64];        // S of this warpgroup's 64 rows and a tile's 128 keys

  // S = Q K^T of the keys in stage `ks` (issued, not committed).
  auto issue_scores = [&](unsigned ks) {
#pragma unroll
    for (int kk = 0; kk < Hs / 16; ++kk)
      wgmma_m64n128k16_ss(s, descriptor(qs + (kk / 4) * (wg_rows * 128) + group * 64 * 128 + (kk % 4) * 32),
                          descriptor(ks + (kk / 4) * (wg_keys * 128) + (kk % 4) * 32), kk > 0);
  };
  // O += P V of the values in stage `vs` (issued, not committed).
  auto issue_values = [&](unsigned vs) {
#pragma unroll
    for (int kk = 0; kk < 8; ++kk) {
      const std::uint64_t desc = descriptor(vs + (kk / 4) * (Hs * 128) + (kk % 4) * 32);
      if constexpr (Hs == 128) wgmma_m64n128k16_rs(o, pa[kk], desc, 1);
      else wgmma_m64n64k16_rs(o, pa[kk], desc, 1);
    }
  };
  // Whether key tile `tile` crosses the diagonal, the window's edge or position 0 (and so needs a mask).
  auto needs_mask = [&](int tile) {
    const long long key_pos = key_pos0 + static_cast<long long>(tile) * wg_keys;
    return key_pos + wg_keys - 1 > q_pos || key_pos < 0 || (geo.window > 0 && key_pos <= last_pos - geo.window);
  };
  // The online softmax of S for key tile `tile` (masked where Mask::value): updates m and l, and
  // replaces S by its exponentials; returns each row's factor for the O accumulated so far in
  // `correction`. Straight-line code either way: a branch here, while a product is in flight, would
  // make ptxas serialize every wgmma of the kernel.
  auto softmax = [&](int tile, auto mask, float (&correction)[2]) {
    if constexpr (decltype(mask)::value) {
      // Key k of the tile (k = 8 (e / 4) + col + e % 2) is visible to row r iff lo[r] <= k <= hi[r].
      const long long key_pos = key_pos0 + static_cast<long long>(tile) * wg_keys;
      int lo[2], hi[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const long long t = row_pos[r];
        const long long oldest_key = geo.window > 0 && t - geo.window + 1 > 0 ? t - geo.window + 1 : 0;
        lo[r] = tile_offset(oldest_key - key_pos) - col;
        hi[r] = tile_offset(t - key_pos) - col;
      }
#pragma unroll
      for (int e = 0; e < 64; ++e) {
        const int k = 8 * (e >> 2) + (e & 1), r = (e >> 1) & 1;
        if (k < lo[r] || k > hi[r]) s[e] = -INFINITY;
      }
    }
    // The four threads of a quad hold one row's 128 keys.
    float top[2] = {m[0], m[1]};
#pragma unroll
    for (int e = 0; e < 64; ++e) top[(e >> 1) & 1] = fmaxf(top[(e >> 1) & 1], s[e]);
    float shift[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      top[r] = fmaxf(top[r], __shfl_xor_sync(0xffffffffu, top[r], 1));
      top[r] = fmaxf(top[r], __shfl_xor_sync(0xffffffffu, top[r], 2));
      shift[r] = top[r] == -INFINITY ? 0.0f : top[r];  // a row with nothing visible yet stays at zero
      correction[r] = fast_exp2(m[r] - shift[r]);
      m[r] = top[r];
    }
#pragma unroll
    for (int e = 0; e < 64; ++e) {
      s[e] = fast_exp2(s[e] - shift[(e >> 1) & 1]);
      sum[(e >> 1) & 1] += s[e];
    }
    l[0] = l[0] * correction[0] + sum[0], l[1] = l[1] * correction[1] + sum[1];
  };
  // P's A fragments are the S accumulators (now exponentials) of each 16-key step, paired into bf16x2.
  auto pack_p = [&] {
#pragma unroll
    for (int kk = 0; kk < 8; ++kk)
#pragma unroll
      for (int j = 0; j < 4; ++j) pa[kk][j] = pack_bf16x2(s[8 * kk + 2 * j], s[8 * kk + 2 * j + 1]);
  };

  barrier_wait(queries_full, 0);

  // Step 0: S of the first tile alone.
  float correction[2];
  barrier_wait(full(0), parity(0));
  named_sync<wg_consumer_threads>(my_turn);
  fence_operands(s);
  fence();
  issue_scores(stage(0));
  commit();
  named_arrive<wg_consumer_threads>(other_turn);
  wait<0>();
  fence_operands(s);
  barrier_arrive(empty(0));
  softmax(tile_lo, std::true_type{}, correction);  // O is zero: nothing to correct
  pack_p();

  // Steps 1 .. tiles - 1: S of tile tile_lo + i is computed, then its softmax runs while the P V of
  // the tile before does; P (registers the product reads) and O are touched only after it is done.
  auto overlapped_step = [&](int i, auto mask) {
    named_sync<wg_consumer_threads>(my_turn);
    fence_operands(s);
    fence_operands(o);
    fence();
    issue_scores(stage(i));
    commit();
    issue_values(stage(i) + L::k_bytes);
    commit();
    named_arrive<wg_consumer_threads>(other_turn);
    wait<1>();  // S is done; P V may still run
    fence_operands(s);
    softmax(tile_lo + i, mask, correction);
    // ptxas moves a wgmma wait up past independent arithmetic (here to just after the S wait, which
    // would put the softmax behind P V again); a memory fence is what it does not move it across.
    asm volatile("fence.acq_rel.cta;\n" ::: "memory");
    wait<0>();
    fence_operands(o);
    barrier_arrive(empty(i));
    pack_p();
#pragma unroll
    for (int e = 0; e < Acc; ++e) o[e] *= correction[(e >> 1) & 1];
  };
  for (int i = 1; i < tiles; ++i) {
    barrier_wait(full(i), parity(i));
    if (needs_mask(tile_lo + i)) overlapped_step(i, std::true_type{});
    else overlapped_step(i, std::false_type{});
  }

  // The last step: P V of the last tile. Group 1's turn is the last one: it hands none back.
  barrier_wait(full(tiles), parity(tiles));
  named_sync<wg_consumer_threads>(my_turn);
  fence_operands(o);
  fence();
  issue_values(stage(tiles) + L::k_bytes);
  commit();
  named_arrive_if<wg_consumer_threads>(group == 0, other_turn);
  wait<0>();
  fence_operands(o);

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    l[r] = 1.0f / l[r];
  }
#pragma unroll
  for (int i = 0; i < Acc; i += 2) {
    const int row = r0 + 8 * ((i >> 1) & 1), d = 8 * (i >> 2) + col;
    if (q0 + row >= rows) continue;
    const float scale = l[(i >> 1) & 1];
    *reinterpret_cast<unsigned*>(y + ((static_cast<index_t>(seg.row0[p]) + q0 + row) * geo.n_head + h) * Hs + d) =
        pack_bf16x2(o[i] * scale, o[i + 1] * scale);
  }
#else
  __trap();  // built without sm_90a device code: wgmma_attention_available() is false
#endif
}

__global__ void wgmma_probe(int* available) { *available = SAMBA_WGMMA_DEVICE_CODE; }

}  // namespace cuda_kernels

/// Whether this program runs the wgmma attention on the backend's device: compute capability 9.0
/// and device code for sm_90a (asked once per device).
inline bool wgmma_attention_available(const backend::Cuda& be) {
  if (be.compute_capability() != 90) return false;
  static std::mutex mutex;
  static std::map<int, bool> known;
  const std::lock_guard lock(mutex);
  if (const auto it = known.find(be.device()); it != known.end()) return it->second;
  cuda::DeviceBuffer<int> flag(1);
  cuda_kernels::wgmma_probe<<<1, 1, 0, be.stream()>>>(flag.data());
  cuda::check_launch("wgmma_probe kernel launch");
  be.synchronize();
  int available = 0;
  flag.download(std::span<int>(&available, 1));
  return known[be.device()] = available == 1;
}

/// The packed operands of one attention call (in the caller's scratch memory).
struct PackedAttention {
  bf16* q;                          // [H, query_rows, hs]
  bf16* k;                          // [G, Tk, hs]
  bf16* vt;                         // [G, hs, Tk]
  cuda_kernels::PackedKeys layout;
};

/// Packs the queries, keys and transposed values of these rows (and of the windows before them,
/// from the caches) into `packed`, which holds packed_bytes(packed_keys(seg, geo), geo) bytes.
inline PackedAttention pack_attention(const backend::Cuda& be, const float* qkv, const cuda_kernels::SegmentTable& seg,
                                      const cuda_kernels::KvPointers& kv, const cuda_kernels::AttentionGeometry& geo, float scale,
                                      void* packed) {
  using namespace cuda_kernels;
  PackedAttention out;
  out.layout = packed_keys(seg, geo);
  const PackedKeys& pk = out.layout;
  const int total_rows = seg.row0[seg.count - 1] + seg.rows[seg.count - 1];
  out.q = static_cast<bf16*>(packed);
  out.k = out.q + static_cast<std::size_t>(geo.n_head) * pk.query_rows * geo.head_size;
  out.vt = out.k + static_cast<std::size_t>(geo.n_kv_head) * pk.key_rows * geo.head_size;
  constexpr float log2e = 1.4426950408889634f;
  pack_queries<<<static_cast<unsigned>(pk.query_rows), 256, 0, be.stream()>>>(qkv, total_rows, geo, scale * log2e, pk.query_rows, out.q);
  cuda::check_launch("pack_queries kernel launch");
  int max_keys = 0;
  for (int p = 0; p < seg.count; ++p) max_keys = std::max(max_keys, pk.keys[p]);
  const dim3 key_grid(static_cast<unsigned>(max_keys / pack_keys_per_block), static_cast<unsigned>(geo.n_kv_head),
                      static_cast<unsigned>(seg.count));
  pack_keys<<<key_grid, 256, pack_keys_per_block * (geo.head_size + 1) * sizeof(float), be.stream()>>>(qkv, seg, kv, geo, pk, out.k,
                                                                                                          out.vt);
  cuda::check_launch("pack_keys kernel launch");
  return out;
}

/// y [T, H, hs] = the attention of the packed operands (head size 64 or 128; see
/// cuda_kernels::swa_forward_wgmma). wgmma_attention_available(be) must hold.
inline void attention_wgmma(const backend::Cuda& be, const PackedAttention& packed, const cuda_kernels::SegmentTable& seg, int max_rows,
                            const cuda_kernels::AttentionGeometry& geo, bf16* y) {
  using namespace cuda_kernels;
  const dim3 grid(static_cast<unsigned>((max_rows + wg_rows - 1) / wg_rows), static_cast<unsigned>(geo.n_head),
                  static_cast<unsigned>(seg.count));
  require(geo.head_size == 64 || geo.head_size == 128, "attention (CUDA, wgmma): head size ", geo.head_size, " is not 64 or 128");
  // Tensor maps of q [H, query_rows, hs], k [G, Tk, hs] and vt [G, hs, Tk], innermost dimension
  // first, read in boxes of 64 columns by the kernel's tiles of rows.
  const PackedKeys& pk = packed.layout;
  const std::uint64_t head = static_cast<std::uint64_t>(geo.head_size), bytes = sizeof(bf16);
  const std::uint64_t heads = static_cast<std::uint64_t>(geo.n_head), groups = static_cast<std::uint64_t>(geo.n_kv_head);
  const std::uint64_t query_rows = static_cast<std::uint64_t>(pk.query_rows), key_rows = static_cast<std::uint64_t>(pk.key_rows);
  const auto box_rows = static_cast<std::uint32_t>(wg_rows), box_keys = static_cast<std::uint32_t>(wg_keys);
  const CUtensorMap q_map = tma::bf16_tensor_map_3d(packed.q, {head, query_rows, heads}, {head * bytes, query_rows * head * bytes}, {64, box_rows, 1});
  const CUtensorMap k_map = tma::bf16_tensor_map_3d(packed.k, {head, key_rows, groups}, {head * bytes, key_rows * head * bytes}, {64, box_keys, 1});
  const CUtensorMap v_map = tma::bf16_tensor_map_3d(packed.vt, {key_rows, head, groups}, {key_rows * bytes, head * key_rows * bytes},
                                                    {64, static_cast<std::uint32_t>(head), 1});
  auto launch = [&](auto hs) {
    constexpr int Hs = decltype(hs)::value;
    auto kernel = cuda_kernels::swa_forward_wgmma<Hs>;
    constexpr int shared = static_cast<int>(WgmmaTiles<Hs>::shared_bytes);
    cuda::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, shared),
                "cudaFuncSetAttribute (wgmma attention shared memory)");
    kernel<<<grid, wg_threads, shared, be.stream()>>>(q_map, k_map, v_map, seg, packed.layout, geo, y);
  };
  if (geo.head_size == 64) launch(std::integral_constant<int, 64>{});
  else launch(std::integral_constant<int, 128>{});
  cuda::check_launch("swa_forward_wgmma kernel launch");
}

/// Attention of prefill-sized chunks of a bf16 model with head size 64 or 128 on the wgmma kernel:
/// packs the operands into `packed` (packed_bytes(...) bytes), then runs swa_forward_wgmma.
inline void swa_forward_wgmma(const backend::Cuda& be, const float* qkv, const cuda_kernels::SegmentTable& seg, int max_rows,
                              const cuda_kernels::KvPointers& kv, const cuda_kernels::AttentionGeometry& geo, float scale, bf16* y,
                              void* packed) {
  attention_wgmma(be, pack_attention(be, qkv, seg, kv, geo, scale, packed), seg, max_rows, geo, y);
}

}  // namespace samba::ops
