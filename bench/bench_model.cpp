// bench/bench_model.cpp: end-to-end prefill and decode of the samba-mini preset (compile-time
// shape) on both backends and both weight types. Bigger presets: `samba bench --preset NAME`.
#include <benchmark/benchmark.h>

#include <samba/samba.hpp>
#include <samba/simd.hpp>

using namespace samba;

namespace {

template <class Backend, class W>
Model<presets::samba_mini, Backend, W> make_model(int threads) {
  Backend be = [&] {
    if constexpr (std::is_same_v<Backend, backend::Simd>) return Backend(threads);
    else return Backend{};
  }();
  Model<presets::samba_mini, Backend, W> model(presets::config("samba-mini"), std::move(be));
  randomize(model, 1);
  return model;
}

std::vector<token_t> prompt_of(index_t n) {
  std::vector<token_t> p(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) p[i] = static_cast<token_t>((i * 7919) % 32000);
  return p;
}

// Prefill of range(0) tokens (logits of the last position only). Arg 1: threads.
template <class Backend, class W>
void BM_prefill(benchmark::State& state) {
  const auto model = make_model<Backend, W>(static_cast<int>(state.range(1)));
  const auto prompt = prompt_of(state.range(0));
  for (auto _ : state) {
    SequenceState s = model.new_state();
    benchmark::DoNotOptimize(model.forward(s, prompt, LogitsFor::last).data.data());
  }
  state.counters["tokens"] = benchmark::Counter(static_cast<double>(prompt.size()), benchmark::Counter::kIsIterationInvariantRate);
}

// One decode step after a 256-token prompt. Arg 1: threads.
template <class Backend, class W>
void BM_decode(benchmark::State& state) {
  const auto model = make_model<Backend, W>(static_cast<int>(state.range(1)));
  SequenceState s = model.new_state();
  model.forward(s, prompt_of(256), LogitsFor::none);
  token_t next = 1;
  for (auto _ : state) next = argmax(model.step(s, next), 32000);
  state.counters["tokens"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_prefill<backend::Scalar, float>)->Args({128, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_prefill<backend::Simd, float>)->ArgsProduct({{512}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_prefill<backend::Simd, bf16>)->Args({512, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_decode<backend::Scalar, float>)->Args({0, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_decode<backend::Simd, float>)->ArgsProduct({{0}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_decode<backend::Simd, bf16>)->Args({0, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
