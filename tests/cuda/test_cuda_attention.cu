// tests/cuda/test_cuda_attention.cu: the CUDA attention kernels (the float32 SIMT kernel, the bf16
// tensor-core kernels, wgmma and mma.sync, and the split-key decode kernel) against the scalar
// reference, for windows shorter and longer than the chunk and than a 128-key tile, full
// attention, grouped queries, keys partly in the cache, and several sequences stacked in one
// launch. Exits 77 (skipped) where there is no GPU.
#include <cmath>
#include <cstdio>
#include <samba/backend/cuda/device_buffer.hpp>
#include <samba/ops/attention.hpp>
#include <samba/ops/cuda/attention.cuh>
#include <string>
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

template <class A>
std::vector<float> run_gpu(const backend::Cuda& gpu, const Case& c, std::vector<Sequence>& seqs, Path path = Path::dispatch) {
  namespace k = ops::cuda_kernels;
  const index_t qpk = c.heads / c.groups, hs = c.head_size, width = c.groups * (qpk + 2) * hs;
  std::vector<float> qkv;
  k::SegmentTable seg;
  k::KvPointers kv;
  std::vector<cuda::DeviceBuffer<float>> keys, values;
  seg.count = static_cast<int>(seqs.size());
  for (std::size_t p = 0; p < seqs.size(); ++p) {
    const Sequence& s = seqs[p];
    seg.row0[p] = static_cast<int>(p * c.rows), seg.rows[p] = static_cast<int>(c.rows), seg.first[p] = c.cached;
    for (index_t t = 0; t < c.rows; ++t)
      for (index_t g = 0; g < c.groups; ++g) {
        for (index_t j = 0; j < qpk; ++j) {
          const float* src = s.q.data() + (t * c.heads + g * qpk + j) * hs;
          qkv.insert(qkv.end(), src, src + hs);
        }
        qkv.insert(qkv.end(), s.k.data() + (t * c.groups + g) * hs, s.k.data() + (t * c.groups + g + 1) * hs);
        qkv.insert(qkv.end(), s.v.data() + (t * c.groups + g) * hs, s.v.data() + (t * c.groups + g + 1) * hs);
      }
    const index_t slots = c.window > 0 ? c.window : std::max<index_t>(c.cached, 1);
    std::vector<float> hk(c.groups * slots * hs, 0.0f), hv(hk.size(), 0.0f);
    for (index_t j = c.cached - s.cache.live_positions(); j < c.cached; ++j)
      for (index_t g = 0; g < c.groups; ++g) {
        const index_t slot = c.window > 0 ? j % c.window : j;
        std::copy_n(s.cache.key(j, g), hs, hk.begin() + (g * slots + slot) * hs);
        std::copy_n(s.cache.value(j, g), hs, hv.begin() + (g * slots + slot) * hs);
      }
    keys.emplace_back(std::span<const float>(hk)), values.emplace_back(std::span<const float>(hv));
    kv.keys[p] = keys.back().data(), kv.values[p] = values.back().data(), kv.slots[p] = slots;
  }
  (void)width;
  const std::vector<long long> first(seg.first, seg.first + seg.count);
  cuda::DeviceBuffer<long long> positions{std::span<const long long>(first)};
  seg.position = positions.data();
  cuda::DeviceBuffer<float> d_qkv{std::span<const float>(qkv)};
  cuda::DeviceBuffer<A> d_y(seqs.size() * c.rows * c.heads * hs);
  const k::AttentionGeometry geo{static_cast<int>(c.heads), static_cast<int>(c.groups), static_cast<int>(hs), static_cast<int>(c.window)};
  cuda::DeviceBuffer<float> scratch(ops::attention_scratch_floats<A>(gpu, seg, static_cast<int>(c.rows), static_cast<index_t>(seqs.size()) * c.rows, geo));
  if constexpr (std::is_same_v<A, bf16>) {
    if (path == Path::mma_sync)
      ops::swa_forward_mma(gpu, d_qkv.data(), seg, static_cast<int>(c.rows), kv, geo,
                           static_cast<float>(1.0 / std::sqrt(static_cast<double>(hs))), d_y.data());
    else
      ops::swa_forward(gpu, d_qkv.data(), seg, static_cast<int>(c.rows), kv, geo, d_y.data(), scratch.data());
  } else {
    ops::swa_forward(gpu, d_qkv.data(), seg, static_cast<int>(c.rows), kv, geo, d_y.data(), scratch.data());
  }
  gpu.synchronize();
  std::vector<A> y(d_y.size());
  d_y.download(y);
  std::vector<float> out;
  for (const A& v : y) out.push_back(to_float(v));
  return out;
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
      },
      [] { return failures; });
}
