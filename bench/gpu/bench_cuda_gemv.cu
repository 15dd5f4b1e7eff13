// bench/gpu/bench_cuda_gemv.cu: the fused decode GEMV (ops/cuda/gemv.cuh) on the products of a
// samba-1.3b decode step, bf16 weights, reported as a fraction of the device's read bandwidth
// measured by the same program (perf::device_read_bandwidth). Google Benchmark, CUDA-event timing:
//   BM_Gemv/P/R/G      product P of the step (see the `product` label) for R rows, launched once
//                      on each of enough copies of its weights that none is read from the L2
//   BM_DecodeStep/R/G  every product of one step in the model's order (2.65 GB of weights), each
//                      launched as a decode step launches it: what the step's products reach
// G 0: launched from the host one by one; G 1: captured into a CUDA graph, as decode steps run
// (no host launch cost: the figure to compare with a step).
// Counters: weight_gb, tb_per_s and bandwidth_fraction (tb_per_s over the measured read rate).
// Needs a GPU.  build/bin/bench_cuda_gemv --benchmark_filter=BM_DecodeStep
#include <benchmark/benchmark.h>

#include <cstdio>
#include <samba/backend/cuda/device_buffer.hpp>
#include <samba/model/shape.hpp>
#include <samba/ops/cuda/gemv.cuh>
#include <samba/perf/cuda_roofline.cuh>
#include <string>
#include <vector>

#include "cuda_event_timing.hpp"

using namespace samba;
using bench::gpu;
using bench::time_with_events;
namespace k = ops::cuda_kernels;
using In = k::GemvIn;
using Out = k::GemvOut;

namespace {

constexpr ModelShape shape = presets::samba_1_3b;

/// One product of the step: its input transform and output, its size, how often a step runs it.
struct Product {
  const char* name;
  In input;
  Out output;
  int in, out, per_step;
};

const std::vector<Product>& products() {
  const int D = shape.d_model, E = shape.d_inner, R = shape.dt_rank, N = shape.d_state, I = shape.d_mlp;
  const int qkv = (shape.n_head + 2 * shape.n_kv_head) * shape.head_size, blocks = shape.n_layer / 2;
  static const std::vector<Product> list{
      {"in_proj", In::rmsnorm, Out::store, D, 2 * E, blocks},        {"x_proj", In::vector, Out::store, E, R + 2 * N, blocks},
      {"dt_proj", In::cast, Out::store, R, E, blocks},               {"out_proj", In::vector, Out::accumulate, E, D, blocks},
      {"qkv", In::rmsnorm, Out::store, D, qkv, blocks},              {"o_proj", In::vector, Out::accumulate, shape.n_head * shape.head_size, D, blocks},
      {"gate_up", In::rmsnorm, Out::swiglu, D, 2 * I, 2 * blocks},   {"down", In::vector, Out::accumulate, I, D, 2 * blocks},
      {"head", In::rmsnorm, Out::store, D, static_cast<int>(shape.padded_vocab_size), 1}};
  return list;
}

double read_bandwidth() {
  static const double rate = perf::device_read_bandwidth(gpu());
  return rate;
}

/// Inputs and outputs wide enough for every product, and weights filled at random.
struct Buffers {
  static constexpr int widest = 1 << 16;
  cuda::DeviceBuffer<float> xf{std::size_t{k::gemv_max_rows} * widest}, gain{std::size_t{widest}}, y{std::size_t{k::gemv_max_rows} * widest};
  cuda::DeviceBuffer<bf16> x{std::size_t{k::gemv_max_rows} * widest}, y_act{std::size_t{k::gemv_max_rows} * widest};
  Buffers() {
    perf::cuda_kernels::fill_random<<<256, 256, 0, gpu().stream()>>>(xf.data(), xf.size(), 3u);
    perf::cuda_kernels::fill_random<<<256, 256, 0, gpu().stream()>>>(gain.data(), gain.size(), 4u);
    perf::cuda_kernels::fill_random<<<256, 256, 0, gpu().stream()>>>(x.data(), x.size(), 5u);
    perf::cuda_kernels::fill_random<<<256, 256, 0, gpu().stream()>>>(y.data(), y.size(), 6u);
    cuda::check_launch("fill_random kernel launch");
  }
};

cuda::DeviceBuffer<bf16> random_weights(std::size_t n, unsigned seed) {
  cuda::DeviceBuffer<bf16> w(n);
  perf::cuda_kernels::fill_random<<<1024, 256, 0, gpu().stream()>>>(w.data(), n, seed);
  cuda::check_launch("fill_random kernel launch");
  return w;
}

/// Launches product `p` on weights `w` for `rows` rows, as a decode step does.
void launch(const Product& p, const bf16* w, int rows, Buffers& b) {
  k::GemvArgs<bf16> a;
  a.x = b.x.data(), a.xf = b.xf.data(), a.gain = b.gain.data(), a.eps = 1e-5f, a.ldx = p.in, a.w = w;
  a.y = b.y.data(), a.y_act = b.y_act.data(), a.ldy = p.output == Out::swiglu ? p.out / 2 : p.out;
  a.rows = rows, a.in = p.in, a.out = p.out;
  const auto run = [&]<In I, Out O>() { ops::gemv<I, O>(gpu(), a); };
  if (p.input == In::rmsnorm && p.output == Out::store) run.operator()<In::rmsnorm, Out::store>();
  else if (p.input == In::rmsnorm && p.output == Out::swiglu) run.operator()<In::rmsnorm, Out::swiglu>();
  else if (p.input == In::vector && p.output == Out::store) run.operator()<In::vector, Out::store>();
  else if (p.input == In::vector && p.output == Out::accumulate) run.operator()<In::vector, Out::accumulate>();
  else if (p.input == In::cast && p.output == Out::store) run.operator()<In::cast, Out::store>();
  else throw Error("bench_cuda_gemv: no such product mode");
}

void set_counters(benchmark::State& state, double bytes_per_iteration) {
  state.counters["weight_gb"] = bytes_per_iteration / 1e9;
  state.counters["tb_per_s"] = benchmark::Counter(bytes_per_iteration / 1e12, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bandwidth_fraction"] = benchmark::Counter(bytes_per_iteration / read_bandwidth(), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Gemv(benchmark::State& state) {
  const Product& p = products().at(static_cast<std::size_t>(state.range(0)));
  const int rows = static_cast<int>(state.range(1));
  const bool graph = state.range(2) != 0;
  state.SetLabel(p.name);
  const std::size_t n = static_cast<std::size_t>(p.in) * p.out, bytes = n * sizeof(bf16);
  const std::size_t copies = ((std::size_t{512} << 20) + bytes - 1) / bytes;  // 512 MiB: far beyond the L2
  std::vector<cuda::DeviceBuffer<bf16>> weights;
  for (std::size_t c = 0; c < copies; ++c) weights.push_back(random_weights(n, static_cast<unsigned>(c + 7)));
  Buffers b;
  time_with_events(state, graph, [&] {
    for (const auto& w : weights) launch(p, w.data(), rows, b);
  });
  set_counters(state, static_cast<double>(copies * bytes));
}

void BM_DecodeStep(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  const bool graph = state.range(1) != 0;
  // The step's products in the model's order: Mamba blocks and attention blocks alternate, each
  // followed by an MLP; the head last.
  const auto& list = products();
  std::vector<int> order;
  for (int block = 0; block < shape.n_layer; ++block) {
    if (block % 2 == 0) order.insert(order.end(), {0, 1, 2, 3});
    else order.insert(order.end(), {4, 5});
    order.insert(order.end(), {6, 7});
  }
  order.push_back(8);
  std::vector<cuda::DeviceBuffer<bf16>> weights;
  double bytes = 0.0;
  for (int i : order) {
    const std::size_t n = static_cast<std::size_t>(list[i].in) * list[i].out;
    weights.push_back(random_weights(n, static_cast<unsigned>(weights.size() + 101)));
    bytes += static_cast<double>(n * sizeof(bf16));
  }
  Buffers b;
  time_with_events(state, graph, [&] {
    for (std::size_t j = 0; j < order.size(); ++j) launch(list[order[j]], weights[j].data(), rows, b);
  });
  set_counters(state, bytes);
  state.counters["products"] = static_cast<double>(order.size());
}

void product_args(benchmark::internal::Benchmark* b) {
  for (int graph : {0, 1})
    for (int rows : {1, 4})
      for (int p = 0; p < 9; ++p) b->Args({p, rows, graph});
  b->UseManualTime()->Unit(benchmark::kMicrosecond);
}
BENCHMARK(BM_Gemv)->Apply(product_args);
BENCHMARK(BM_DecodeStep)->ArgsProduct({{1, 2, 4}, {0, 1}})->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "bench_cuda_gemv: no CUDA device\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::AddCustomContext("read_bandwidth_tb_per_s", std::to_string(read_bandwidth() / 1e12));
  benchmark::AddCustomContext("preset", "samba-1.3b");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
