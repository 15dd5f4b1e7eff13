// tests/cuda/test_cuda_attention.cu: the CUDA attention kernels (the float32 SIMT kernel, the bf16
// tensor-core kernels, wgmma and mma.sync, and the split-key decode kernel) against the scalar
// reference, for windows shorter and longer than the chunk and than a 128-key tile, full
// attention, grouped queries, keys partly in the cache, and several sequences stacked in one
// launch; and decode steps whose rotation and cache append run inside the attention kernel
// (attend_step), output and caches both. Exits 77 (skipped) where there is no GPU.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <samba/backend/cuda/device_buffer.hpp>
#include <samba/ops/attention.hpp>
#include <samba/ops/rope.hpp>
#include <samba/ops/cuda/attention.cuh>
#include <string>
#include <utility>
#include <vector>

#include "../test_support.hpp"
#include "cuda_test_support.hpp"

using namespace samba;

namespace {

int failures = 0;

struct Case {
  index_t heads, groups, head_size, window, cached, rows;
};

/// One sequence: `cached` earlier positions in its cache, then `rows` new ones.
struct Sequence {
  std::vector<float> q, k, v;  // [rows, H, hs], [rows, G, hs] x2
  KvCache cache;
  std::vector<float> want;     // [rows, H, hs] from the scalar reference
};

Sequence make_sequence(const Case& c, std::uint64_t seed) {
  Sequence s{test::random_vector(c.rows * c.heads * c.head_size, seed), test::random_vector(c.rows * c.groups * c.head_size, seed + 1),
             test::random_vector(c.rows * c.groups * c.head_size, seed + 2), KvCache(c.window, c.groups, c.head_size), {}};
  const auto old_k = test::random_vector(c.cached * c.groups * c.head_size, seed + 3), old_v = test::random_vector(old_k.size(), seed + 4);
  s.cache.append(old_k.data(), old_v.data(), c.cached);
  s.want.resize(s.q.size());
  ops::attention(backend::Scalar{}, s.q.data(), s.k.data(), s.v.data(), s.cache, c.cached, s.want.data(), c.rows,
                 ops::AttentionShape{c.heads, c.groups, c.head_size, c.window});
  return s;
}

/// Which kernel a bf16 run takes: the dispatcher's choice (wgmma on Hopper builds for sm_90a), or
/// the mma.sync kernel, which other GPUs run.
enum class Path { dispatch, mma_sync };

/// The sequences on the device as the kernels see them: the fused qkv rows [T, G, q_per_kv + 2, hs],
/// each sequence's cache (its live positions in their slots), the segment table.
struct GpuInputs {
  ops::cuda_kernels::SegmentTable seg;
  ops::cuda_kernels::KvPointers kv;
  std::vector<cuda::DeviceBuffer<float>> keys, values;  // [G, slots, hs] per sequence
  std::vector<std::vector<float>> host_keys, host_values;  // what was uploaded into them
  cuda::DeviceBuffer<long long> positions;
  cuda::DeviceBuffer<float> qkv;
  index_t slots = 0;
};

GpuInputs upload(const Case& c, const std::vector<Sequence>& seqs) {
  const index_t qpk = c.heads / c.groups, hs = c.head_size;
  GpuInputs in;
  std::vector<float> qkv;
  in.seg.count = static_cast<int>(seqs.size());
  in.slots = c.window > 0 ? c.window : std::max<index_t>(c.cached + c.rows, 1);
  for (std::size_t p = 0; p < seqs.size(); ++p) {
    const Sequence& s = seqs[p];
    in.seg.row0[p] = static_cast<int>(p * c.rows), in.seg.rows[p] = static_cast<int>(c.rows), in.seg.first[p] = c.cached;
    for (index_t t = 0; t < c.rows; ++t)
      for (index_t g = 0; g < c.groups; ++g) {
        for (index_t j = 0; j < qpk; ++j) {
          const float* src = s.q.data() + (t * c.heads + g * qpk + j) * hs;
          qkv.insert(qkv.end(), src, src + hs);
        }
        qkv.insert(qkv.end(), s.k.data() + (t * c.groups + g) * hs, s.k.data() + (t * c.groups + g + 1) * hs);
        qkv.insert(qkv.end(), s.v.data() + (t * c.groups + g) * hs, s.v.data() + (t * c.groups + g + 1) * hs);
      }
    std::vector<float> hk(c.groups * in.slots * hs, 0.0f), hv(hk.size(), 0.0f);
    for (index_t j = c.cached - s.cache.live_positions(); j < c.cached; ++j)
      for (index_t g = 0; g < c.groups; ++g) {
        const index_t slot = c.window > 0 ? j % c.window : j;
        std::copy_n(s.cache.key(j, g), hs, hk.begin() + (g * in.slots + slot) * hs);
        std::copy_n(s.cache.value(j, g), hs, hv.begin() + (g * in.slots + slot) * hs);
      }
    in.keys.emplace_back(std::span<const float>(hk)), in.values.emplace_back(std::span<const float>(hv));
    in.host_keys.push_back(std::move(hk)), in.host_values.push_back(std::move(hv));
    in.kv.keys[p] = in.keys.back().data(), in.kv.values[p] = in.values.back().data(), in.kv.slots[p] = in.slots;
  }
  const std::vector<long long> first(in.seg.first, in.seg.first + in.seg.count);
  in.positions = cuda::DeviceBuffer<long long>{std::span<const long long>(first)};
  in.seg.position = in.positions.data();
  in.qkv = cuda::DeviceBuffer<float>{std::span<const float>(qkv)};
  return in;
}

template <class A>
std::vector<float> to_floats(const cuda::DeviceBuffer<A>& d) {
  std::vector<A> y(d.size());
  d.download(y);
  std::vector<float> out;
  for (const A& v : y) out.push_back(to_float(v));
  return out;
}

template <class A>
std::vector<float> run_gpu(const backend::Cuda& gpu, const Case& c, std::vector<Sequence>& seqs, Path path = Path::dispatch) {
  const index_t hs = c.head_size;
  GpuInputs in = upload(c, seqs);
  const auto& seg = in.seg;
  const auto& kv = in.kv;
  float* d_qkv = in.qkv.data();
  cuda::DeviceBuffer<A> d_y(seqs.size() * c.rows * c.heads * hs);
  const ops::cuda_kernels::AttentionGeometry geo{static_cast<int>(c.heads), static_cast<int>(c.groups), static_cast<int>(hs), static_cast<int>(c.window)};
  cuda::DeviceBuffer<float> scratch(ops::attention_scratch_floats<A>(gpu, seg, static_cast<int>(c.rows), static_cast<index_t>(seqs.size()) * c.rows, geo));
  if constexpr (std::is_same_v<A, bf16>) {
    if (path == Path::mma_sync)
      ops::swa_forward_mma(gpu, d_qkv, seg, static_cast<int>(c.rows), kv, geo,
                           static_cast<float>(1.0 / std::sqrt(static_cast<double>(hs))), d_y.data());
    else
      ops::swa_forward(gpu, d_qkv, seg, static_cast<int>(c.rows), kv, geo, d_y.data(), scratch.data());
  } else {
    ops::swa_forward(gpu, d_qkv, seg, static_cast<int>(c.rows), kv, geo, d_y.data(), scratch.data());
  }
  gpu.synchronize();
  return to_floats(d_y);
}

void check(const backend::Cuda& gpu, const Case& c, std::size_t sequences) {
  std::vector<Sequence> seqs;
  std::vector<float> want;
  for (std::size_t p = 0; p < sequences; ++p) {
    seqs.push_back(make_sequence(c, 100 * p + 7));
    want.insert(want.end(), seqs.back().want.begin(), seqs.back().want.end());
  }
  char what[160];
  std::snprintf(what, sizeof what, "H %lld G %lld hs %lld window %lld, %lld cached + %lld rows, %zu sequence(s)", (long long)c.heads,
                (long long)c.groups, (long long)c.head_size, (long long)c.window, (long long)c.cached, (long long)c.rows, sequences);
  const auto f32 = run_gpu<float>(gpu, c, seqs);
  const auto b16 = run_gpu<bf16>(gpu, c, seqs);
  const double e32 = test::rel_l2(f32, want), e16 = test::rel_l2(b16, want);
  // Prefill-sized bf16 chunks with head size 64 or 128 also through the mma.sync kernel, which the
  // dispatcher leaves to GPUs without wgmma.
  const bool tensor_cores = c.rows >= ops::cuda_attention_split_below && (c.head_size == 64 || c.head_size == 128);
  const double e_mma = tensor_cores ? test::rel_l2(run_gpu<bf16>(gpu, c, seqs, Path::mma_sync), want) : 0.0;
  const bool ok = e32 < 1e-5 && e16 < 2e-2 && e_mma < 2e-2;
  std::printf("%-4s %-76s f32 %.2g bf16 %.2g", ok ? "ok" : "FAIL", what, e32, e16);
  if (tensor_cores) {
    const ops::cuda_kernels::AttentionGeometry geo{static_cast<int>(c.heads), static_cast<int>(c.groups), static_cast<int>(c.head_size),
                                                   static_cast<int>(c.window)};
    const bool wgmma = ops::uses_wgmma_attention<bf16>(gpu, static_cast<int>(c.rows), geo);
    std::printf(" (%s) mma.sync %.2g", wgmma ? "wgmma" : "mma.sync", e_mma);
  }
  std::printf("\n");
  failures += ok ? 0 : 1;
}

/// A decode step through attend_step (rotation, cache append and attention in one kernel, rows not
/// yet rotated) against the scalar reference: ops::rope at the step's position, then
/// ops::attention; afterwards every cache holds the rotated key and the value in the slot of the
/// step's position and all else as it was. c.rows must be 1.
void check_step(const backend::Cuda& gpu, const Case& c, std::size_t sequences, ops::cuda_kernels::RopeParams rope) {
  const index_t hs = c.head_size;
  std::vector<Sequence> seqs;
  std::vector<float> want;
  std::vector<std::vector<float>> rotated_keys;  // per sequence [G, hs]
  for (std::size_t p = 0; p < sequences; ++p) {
    seqs.push_back(make_sequence(c, 100 * p + 11));
    Sequence& s = seqs.back();
    std::vector<float> q = s.q, k = s.k, y(q.size());
    ops::rope(backend::Scalar{}, q.data(), 1, c.heads, hs, rope.dims, c.cached, rope.base, rope.position_scale);
    ops::rope(backend::Scalar{}, k.data(), 1, c.groups, hs, rope.dims, c.cached, rope.base, rope.position_scale);
    ops::attention(backend::Scalar{}, q.data(), k.data(), s.v.data(), s.cache, c.cached, y.data(), 1,
                   ops::AttentionShape{c.heads, c.groups, hs, c.window});
    want.insert(want.end(), y.begin(), y.end());
    rotated_keys.push_back(std::move(k));
  }
  const ops::cuda_kernels::AttentionGeometry geo{static_cast<int>(c.heads), static_cast<int>(c.groups), static_cast<int>(hs), static_cast<int>(c.window)};
  const auto run = [&]<class A>(A) {
    GpuInputs in = upload(c, seqs);
    cuda::DeviceBuffer<float> scratch(ops::attention_scratch_floats<A>(gpu, in.seg, 1, static_cast<index_t>(sequences), geo));
    cuda::DeviceBuffer<A> d_y(sequences * c.heads * hs);
    ops::attend_step(gpu, in.qkv.data(), in.seg, in.kv, geo, rope, d_y.data(), scratch.data());
    gpu.synchronize();
    double cache_error = 0.0;  // the caches against their images with the step appended
    for (std::size_t p = 0; p < sequences; ++p) {
      const index_t slot = c.window > 0 ? c.cached % c.window : c.cached;
      for (index_t g = 0; g < c.groups; ++g) {
        std::copy_n(rotated_keys[p].data() + g * hs, hs, in.host_keys[p].begin() + (g * in.slots + slot) * hs);
        std::copy_n(seqs[p].v.data() + g * hs, hs, in.host_values[p].begin() + (g * in.slots + slot) * hs);
      }
      std::vector<float> keys(in.host_keys[p].size()), values(keys.size());
      in.keys[p].download(keys), in.values[p].download(values);
      cache_error = std::max({cache_error, test::rel_l2(keys, in.host_keys[p]), test::rel_l2(values, in.host_values[p])});
    }
    return std::pair{test::rel_l2(to_floats(d_y), want), cache_error};
  };
  const auto [e32, c32] = run(float{});
  const auto [e16, c16] = run(bf16{});
  const bool ok = e32 < 1e-5 && e16 < 2e-2 && c32 < 1e-6 && c16 < 1e-6;
  char what[160];
  std::snprintf(what, sizeof what, "step: H %lld G %lld hs %lld window %lld, %lld cached, rope %d dims, %zu sequence(s)", (long long)c.heads,
                (long long)c.groups, (long long)hs, (long long)c.window, (long long)c.cached, rope.dims, sequences);
  std::printf("%-4s %-76s f32 %.2g bf16 %.2g cache %.2g\n", ok ? "ok" : "FAIL", what, e32, e16, std::max(c32, c16));
  failures += ok ? 0 : 1;
}

}  // namespace

int main() {
  return test::run_cuda_checks(
      [] {
        const backend::Cuda gpu;
        check(gpu, {4, 4, 128, 64, 0, 300}, 1);     // window shorter than the chunk (tensor cores, hs 128)
        check(gpu, {4, 2, 128, 100, 150, 130}, 2);  // grouped queries, keys in the cache and the chunk, two sequences
        check(gpu, {8, 1, 64, 37, 90, 77}, 1);      // one KV head, hs 64, an odd window
        check(gpu, {2, 2, 64, -1, 70, 200}, 2);     // full attention
        check(gpu, {4, 2, 128, 2048, 500, 1}, 3);   // decode steps (the split-key kernel for both types): 8 wide splits
        check(gpu, {4, 4, 64, -1, 3000, 3}, 2);     // a few rows against full attention: 24 narrow splits of 128 keys
        check(gpu, {8, 2, 64, -1, 9000, 4}, 3);     // many rows at a long context: 71 narrow splits
        check(gpu, {16, 4, 64, -1, 9000, 4}, 3);    // more than 8192 blocks of 128 keys: 36 splits of 256
        check(gpu, {2, 1, 128, 300, 1000, 1}, 1);   // a ring buffer that has wrapped
        check(gpu, {4, 2, 64, 64, 30, 1}, 2);       // every key in one split
        check(gpu, {4, 4, 32, 16, 20, 40}, 1);      // a head size without a tensor-core kernel
        // Several 128-query tiles and key tiles: windows shorter than, equal to and longer than a tile,
        // windows that reach back into the cache, a full cache, one-key windows, stacked sequences.
        check(gpu, {4, 4, 128, 256, 300, 700}, 1);
        check(gpu, {8, 2, 64, 100, 0, 1000}, 1);
        check(gpu, {4, 4, 128, 128, 130, 257}, 2);
        check(gpu, {2, 1, 128, -1, 400, 300}, 2);
        check(gpu, {2, 2, 64, 1, 10, 40}, 1);
        check(gpu, {6, 3, 128, 2048, 3000, 600}, 3);
        // Decode steps whose rotation and cache append run inside the attention kernel.
        check_step(gpu, {4, 2, 128, 2048, 500, 1}, 3, {128, 10000.0, 1.0});  // 8 splits merged, every dim rotated
        check_step(gpu, {2, 1, 128, 300, 1000, 1}, 1, {64, 500000.0, 0.25});  // a wrapped ring, half the dims, condensed positions
        check_step(gpu, {4, 4, 64, -1, 3000, 1}, 2, {64, 10000.0, 1.0});     // full attention
        check_step(gpu, {4, 2, 64, 64, 30, 1}, 2, {0, 10000.0, 1.0});        // one split, no rotation (the append alone)
        check_step(gpu, {4, 4, 32, 16, 20, 1}, 1, {16, 10000.0, 1.0});       // head size 32
        check_step(gpu, {2, 2, 64, 64, 0, 1}, 1, {64, 10000.0, 1.0});        // the first position: no cached keys
      },
      [] { return failures; });
}
