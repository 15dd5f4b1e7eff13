// bench/bench_ops.cpp: each operation on both backends at the shapes of samba-421m (D 1536,
// E 3072, N 16, 12 heads of 128, window 2048) and mamba-1.4b (D 2048, E 4096).
//   build/bin/bench_ops [--benchmark_filter=scan]
// Counters: FLOP/s ("flops") for products, bytes/s of weights for GEMV, tokens/s elsewhere.
#include <benchmark/benchmark.h>

#include <samba/samba.hpp>
#include <samba/simd.hpp>

#include <random>

using namespace samba;

namespace {

std::vector<float> random_values(std::size_t n, float scale = 1.0f, std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

template <class W>
std::vector<W> weights(std::size_t n) {
  auto f = random_values(n, 0.02f, 2);
  std::vector<W> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = from_float<W>(f[i]);
  return w;
}

/// The backend for a benchmark: scalar, or simd with range(…) threads.
template <class Backend>
Backend make_backend(int threads) {
  if constexpr (std::is_same_v<Backend, backend::Simd>) return Backend(threads);
  else return Backend{};
}

// y [T, out] = x [T, in] W^T. Args: tokens, in, out, threads.
template <class Backend, class W>
void BM_linear(benchmark::State& state) {
  const index_t T = state.range(0), in = state.range(1), out = state.range(2);
  const Backend be = make_backend<Backend>(static_cast<int>(state.range(3)));
  const auto x = random_values(static_cast<std::size_t>(T * in));
  const auto w = weights<W>(static_cast<std::size_t>(out * in));
  std::vector<float> y(static_cast<std::size_t>(T * out));
  for (auto _ : state) {
    ops::linear(be, x.data(), w.data(), y.data(), T, in, out);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["flops"] = benchmark::Counter(2.0 * static_cast<double>(T * in * out), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_bytes"] =
      benchmark::Counter(static_cast<double>(in * out * static_cast<index_t>(sizeof(W))), benchmark::Counter::kIsIterationInvariantRate);
}

// Selective scan over T tokens of E channels, d_state 16. Args: tokens, channels, threads.
template <class Backend>
void BM_selective_scan(benchmark::State& state) {
  const index_t T = state.range(0), E = state.range(1), N = 16;
  const Backend be = make_backend<Backend>(static_cast<int>(state.range(2)));
  const auto x = random_values(static_cast<std::size_t>(T * E)), z = random_values(x.size(), 1.0f, 3);
  std::vector<float> dt(x.size()), a(static_cast<std::size_t>(E * N)), d(static_cast<std::size_t>(E), 1.0f);
  for (std::size_t i = 0; i < dt.size(); ++i) dt[i] = 0.001f + 0.1f * std::abs(z[i]);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = -static_cast<float>(i % N + 1);
  const auto bc = random_values(static_cast<std::size_t>(T * 2 * N), 1.0f, 4);
  std::vector<float> h(static_cast<std::size_t>(E * N)), y(x.size());
  for (auto _ : state) {
    ops::selective_scan(be, x.data(), dt.data(), a.data(), bc.data(), bc.data() + N, 2 * N, d.data(), z.data(), h.data(), y.data(),
                        T, E, N);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["tokens"] = benchmark::Counter(static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["state_updates"] = benchmark::Counter(static_cast<double>(T * E * N), benchmark::Counter::kIsIterationInvariantRate);
}

// Causal depthwise conv (K 4) + SiLU. Args: tokens, channels, threads.
template <class Backend>
void BM_causal_conv1d(benchmark::State& state) {
  const index_t T = state.range(0), E = state.range(1), K = 4;
  const Backend be = make_backend<Backend>(static_cast<int>(state.range(2)));
  const auto x = random_values(static_cast<std::size_t>(T * E)), w = random_values(static_cast<std::size_t>(E * K));
  const auto b = random_values(static_cast<std::size_t>(E));
  std::vector<float> history(static_cast<std::size_t>((K - 1) * E)), y(x.size());
  for (auto _ : state) {
    ops::causal_conv1d_silu(be, x.data(), history.data(), w.data(), b.data(), y.data(), T, E, K);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["tokens"] = benchmark::Counter(static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate);
}

// Sliding-window attention, 12 heads of 128, after `earlier` cached positions. Args: tokens, window, kv heads, threads.
template <class Backend>
void BM_attention(benchmark::State& state) {
  const index_t T = state.range(0), window = state.range(1), G = state.range(2), H = 12, hs = 128, earlier = 2048;
  const Backend be = make_backend<Backend>(static_cast<int>(state.range(3)));
  KvCache cache(window, G, hs);
  const auto old = random_values(static_cast<std::size_t>(earlier * G * hs));
  cache.append(old.data(), old.data(), earlier);
  const auto q = random_values(static_cast<std::size_t>(T * H * hs)), k = random_values(static_cast<std::size_t>(T * G * hs));
  std::vector<float> y(q.size());
  for (auto _ : state) {
    ops::attention(be, q.data(), k.data(), k.data(), cache, earlier, y.data(), T, ops::AttentionShape{H, G, hs, window});
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["tokens"] = benchmark::Counter(static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["flops"] =
      benchmark::Counter(4.0 * static_cast<double>(T * H * hs * std::min(window, earlier)), benchmark::Counter::kIsIterationInvariantRate);
}

// RMSNorm and the SwiGLU product over [T, D]. Args: tokens, dim, threads.
template <class Backend>
void BM_rmsnorm(benchmark::State& state) {
  const index_t T = state.range(0), D = state.range(1);
  const Backend be = make_backend<Backend>(static_cast<int>(state.range(2)));
  const auto x = random_values(static_cast<std::size_t>(T * D)), w = random_values(static_cast<std::size_t>(D));
  std::vector<float> y(x.size());
  for (auto _ : state) {
    ops::rmsnorm(be, x.data(), w.data(), y.data(), T, D, 1e-5f);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["bytes"] = benchmark::Counter(8.0 * static_cast<double>(T * D), benchmark::Counter::kIsIterationInvariantRate);
}

template <class Backend>
void BM_swiglu_product(benchmark::State& state) {
  const index_t n = state.range(0) * state.range(1);
  const Backend be = make_backend<Backend>(static_cast<int>(state.range(2)));
  auto gate = random_values(static_cast<std::size_t>(n));
  const auto up = random_values(static_cast<std::size_t>(n));
  for (auto _ : state) {
    ops::silu_mul(be, gate.data(), up.data(), n);
    benchmark::DoNotOptimize(gate.data());
  }
  state.counters["bytes"] = benchmark::Counter(12.0 * static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

// Decode GEMV (1 token) and prefill GEMM (512 tokens): in_proj of samba-421m and of mamba-1.4b.
// Decode GEMVs whose weights exceed the L3 cache (the LM head of samba-421m: 32000 x 1536) measure DRAM streaming.
BENCHMARK(BM_linear<backend::Simd, float>)->ArgsProduct({{1}, {1536}, {6144}, {1, 2}})->Args({1, 2048, 8192, 2})->Args({1, 1536, 32000, 2})->UseRealTime();
BENCHMARK(BM_linear<backend::Simd, bf16>)->ArgsProduct({{1}, {1536}, {6144}, {1, 2}})->Args({1, 2048, 8192, 2})->ArgsProduct({{1}, {1536}, {32000, 64000}, {1, 2}})->UseRealTime();
BENCHMARK(BM_linear<backend::Simd, float>)->ArgsProduct({{512}, {1536}, {6144}, {1, 2}})->UseRealTime();
BENCHMARK(BM_linear<backend::Simd, bf16>)->Args({512, 1536, 6144, 2})->UseRealTime();
BENCHMARK(BM_linear<backend::Scalar, float>)->Args({1, 1536, 6144, 1})->Args({16, 1536, 6144, 1})->UseRealTime();

BENCHMARK(BM_selective_scan<backend::Scalar>)->Args({512, 3072, 1})->UseRealTime();
BENCHMARK(BM_selective_scan<backend::Simd>)->ArgsProduct({{512}, {3072}, {1, 2}})->Args({1, 4096, 2})->UseRealTime();

BENCHMARK(BM_causal_conv1d<backend::Scalar>)->Args({512, 3072, 1})->UseRealTime();
BENCHMARK(BM_causal_conv1d<backend::Simd>)->ArgsProduct({{512}, {3072}, {1, 2}})->UseRealTime();

BENCHMARK(BM_attention<backend::Scalar>)->Args({64, 2048, 12, 1})->UseRealTime();
BENCHMARK(BM_attention<backend::Simd>)->ArgsProduct({{64}, {2048}, {1, 12}, {1, 2}})->Args({1, 2048, 12, 2})->UseRealTime();

BENCHMARK(BM_rmsnorm<backend::Scalar>)->Args({512, 1536, 1})->UseRealTime();
BENCHMARK(BM_rmsnorm<backend::Simd>)->ArgsProduct({{512}, {1536}, {1, 2}})->UseRealTime();
BENCHMARK(BM_swiglu_product<backend::Scalar>)->Args({512, 4096, 1})->UseRealTime();
BENCHMARK(BM_swiglu_product<backend::Simd>)->ArgsProduct({{512}, {4096}, {1, 2}})->UseRealTime();

BENCHMARK_MAIN();
