// bench/gpu/bench_cuda_attention.cu: the CUDA sliding-window attention kernels alone, on the
// shapes bench/gpu/peer_flex_attention.py gives FlexAttention (batch 1, bf16, 18 query heads,
// 18 KV heads of 128, window 2048, one chunk of T tokens from position 0; --heads, --kv-heads,
// --head-size and --window change them). Google Benchmark with CUDA-event timing (manual time):
//   BM_Wgmma/T      the sm_90a warpgroup kernel on packed operands (what FlexAttention is compared with)
//   BM_WgmmaPack/T  the pack kernels that turn the float32 qkv rows into those operands
//   BM_MmaSync/T    the mma.sync kernel (GPUs without wgmma), reading the float32 qkv rows itself
// Counters: tokens, tflops (4 H hs * keys seen, the peer's count), and for BM_Wgmma the relative L2
// distance between its output and the mma.sync kernel's (an independent implementation) on the
// same inputs. Needs a GPU; BM_Wgmma* report an error where the wgmma kernel is not available.
//   build/bin/bench_cuda_attention --benchmark_filter='BM_Wgmma/' --benchmark_format=json
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <samba/backend/cuda/device_buffer.hpp>
#include <samba/ops/cuda/attention.cuh>
#include <string>
#include <vector>

#include "cuda_event_timing.hpp"

using namespace samba;
using bench::gpu;
using bench::time_with_events;
namespace k = ops::cuda_kernels;

namespace {

k::AttentionGeometry geometry{18, 18, 128, 2048};

long long keys_seen(long long t, int window) {
  if (window <= 0 || t <= window) return t * (t + 1) / 2;
  return static_cast<long long>(window) * (window + 1) / 2 + (t - window) * window;
}

/// p[i] uniform in [-1, 1), a splitmix64 hash of (seed, i).
__global__ void fill_uniform(float* p, std::size_t n, std::uint64_t seed) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n; i += std::size_t{gridDim.x} * blockDim.x) {
    std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull, z = (z ^ (z >> 27)) * 0x94d049bb133111ebull, z ^= z >> 31;
    p[i] = static_cast<float>(static_cast<double>(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
}

/// One chunk of T rows from position 0: random qkv rows, outputs, packed scratch.
struct Problem {
  int rows;
  k::SegmentTable seg;
  k::KvPointers kv{};
  cuda::DeviceBuffer<long long> position{std::span<const long long>(std::vector<long long>{0})};
  cuda::DeviceBuffer<float> qkv, cache;
  cuda::DeviceBuffer<bf16> y;
  cuda::DeviceBuffer<unsigned char> packed;

  Problem(const backend::Cuda& gpu, int t) : rows(t) {
    const k::AttentionGeometry& g = geometry;
    seg.count = 1, seg.row0[0] = 0, seg.rows[0] = t, seg.first[0] = 0, seg.position = position.data();
    const std::size_t width = static_cast<std::size_t>(g.n_kv_head) * (g.n_head / g.n_kv_head + 2) * g.head_size;
    qkv = cuda::DeviceBuffer<float>(width * t);
    fill_uniform<<<1024, 256, 0, gpu.stream()>>>(qkv.data(), qkv.size(), 0x9e3779b97f4a7c15ull);
    cuda::check_launch("fill_uniform kernel launch");
    cache = cuda::DeviceBuffer<float>(static_cast<std::size_t>(g.n_kv_head) * g.head_size);  // never read: no earlier positions
    kv.keys[0] = kv.values[0] = cache.data(), kv.slots[0] = 1;
    y = cuda::DeviceBuffer<bf16>(static_cast<std::size_t>(t) * g.n_head * g.head_size);
    if (ops::wgmma_attention_available(gpu)) packed = cuda::DeviceBuffer<unsigned char>(k::packed_bytes(k::packed_keys(seg, g), g));
  }
  float scale() const { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(geometry.head_size))); }
};

void set_counters(benchmark::State& state, int t) {
  const double flops = 4.0 * geometry.n_head * geometry.head_size * static_cast<double>(keys_seen(t, geometry.window));
  state.counters["tokens"] = t;
  state.counters["tflops"] = benchmark::Counter(flops / 1e12, benchmark::Counter::kIsIterationInvariantRate);
}

std::vector<float> download(const cuda::DeviceBuffer<bf16>& y) {
  std::vector<bf16> h(y.size());
  y.download(h);
  std::vector<float> out;
  out.reserve(h.size());
  for (bf16 v : h) out.push_back(to_float(v));
  return out;
}

void BM_Wgmma(benchmark::State& state) {
  if (!ops::wgmma_attention_available(gpu())) return state.SkipWithError("no wgmma kernel (needs an sm_90a build on compute capability 9.0)");
  Problem pr(gpu(), static_cast<int>(state.range(0)));
  const ops::PackedAttention packed = ops::pack_attention(gpu(), pr.qkv.data(), pr.seg, pr.kv, geometry, pr.scale(), pr.packed.data());
  time_with_events(state, [&] { ops::attention_wgmma(gpu(), packed, pr.seg, pr.rows, geometry, pr.y.data()); });
  set_counters(state, pr.rows);
  // The same inputs through the mma.sync kernel: how far apart the two bf16 results are.
  const std::vector<float> ours = download(pr.y);
  ops::swa_forward_mma(gpu(), pr.qkv.data(), pr.seg, pr.rows, pr.kv, geometry, pr.scale(), pr.y.data());
  gpu().synchronize();
  const std::vector<float> other = download(pr.y);
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < ours.size(); ++i) diff += (ours[i] - other[i]) * double(ours[i] - other[i]), norm += double(other[i]) * other[i];
  state.counters["rel_l2_vs_mma_sync"] = std::sqrt(diff / norm);
}

void BM_WgmmaPack(benchmark::State& state) {
  if (!ops::wgmma_attention_available(gpu())) return state.SkipWithError("no wgmma kernel (needs an sm_90a build on compute capability 9.0)");
  Problem pr(gpu(), static_cast<int>(state.range(0)));
  time_with_events(state, [&] { ops::pack_attention(gpu(), pr.qkv.data(), pr.seg, pr.kv, geometry, pr.scale(), pr.packed.data()); });
  state.counters["tokens"] = pr.rows;
}

void BM_MmaSync(benchmark::State& state) {
  Problem pr(gpu(), static_cast<int>(state.range(0)));
  time_with_events(state, [&] { ops::swa_forward_mma(gpu(), pr.qkv.data(), pr.seg, pr.rows, pr.kv, geometry, pr.scale(), pr.y.data()); });
  set_counters(state, pr.rows);
}

void lengths(benchmark::internal::Benchmark* b) {
  for (long long t = 4096; t <= 131072; t *= 2) b->Arg(t);
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_Wgmma)->Apply(lengths);
BENCHMARK(BM_WgmmaPack)->Apply(lengths);
BENCHMARK(BM_MmaSync)->Apply(lengths);

/// Takes --heads=N --kv-heads=N --head-size=N --window=N out of argv (the rest goes to Google Benchmark).
bool take_shape_flags(int& argc, char** argv) {
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    int* target = nullptr;
    const char* value = nullptr;
    for (auto [flag, field] : {std::pair{"--heads=", &geometry.n_head}, std::pair{"--kv-heads=", &geometry.n_kv_head},
                               std::pair{"--head-size=", &geometry.head_size}, std::pair{"--window=", &geometry.window}})
      if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) target = field, value = argv[i] + std::strlen(flag);
    if (!target) {
      argv[kept++] = argv[i];
      continue;
    }
    char* end = nullptr;
    const long v = std::strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || v < -1 || v == 0 || v > 4096) {
      std::fprintf(stderr, "bench_cuda_attention: bad value in %s\n", argv[i]);
      return false;
    }
    *target = static_cast<int>(v);
  }
  argc = kept;
  if (geometry.n_head % geometry.n_kv_head != 0 || (geometry.head_size != 64 && geometry.head_size != 128)) {
    std::fprintf(stderr, "bench_cuda_attention: --heads must be a multiple of --kv-heads, and --head-size 64 or 128\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (!take_shape_flags(argc, argv)) return 2;
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "bench_cuda_attention: no CUDA device\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::AddCustomContext("heads", std::to_string(geometry.n_head));
  benchmark::AddCustomContext("kv_heads", std::to_string(geometry.n_kv_head));
  benchmark::AddCustomContext("head_size", std::to_string(geometry.head_size));
  benchmark::AddCustomContext("window", std::to_string(geometry.window));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
