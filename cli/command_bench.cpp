// cli/command_bench.cpp: `samba bench`: prefill and decode speed of a preset (or checkpoint)
// with seeded random weights; progress on stderr, one JSON object per --prompt length on stdout.
#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <samba/perf/roofline.hpp>

#include "commands.hpp"
#include "integer_options.hpp"
#include "model_instance.hpp"
#include "path_options.hpp"
#include "process_stats.hpp"
#include "state_support.hpp"

namespace samba::cli {
namespace {

struct BenchOptions {
  std::string preset = "samba-421m";
  std::string model_dir;
  std::vector<long long> prompts{512};  // one run per length, same weights
  long long generate = 64;
  long long batch = 1;
  long long context = 0;  // --context: positions already consumed (zeros), cuda only
  std::uint64_t seed = 0;
  bool calibrate = false;
  BackendOptions backend;
};

/// Bytes of weights one decode step reads: every matrix and vector once, the embedding as the head
/// (V_pad x D) when tied; plus one embedding row.
template <class ModelT>
double decode_weight_bytes(ModelT& model) {
  double bytes = 0.0;
  const auto& c = model.config();
  model.for_each_parameter([&](const std::string& name, const Shape& shape, auto& storage, ParamRole) {
    const double size = static_cast<double>(storage_bytes(storage));
    if (name == c.embedding_name) bytes += c.tie_embeddings ? size : size / static_cast<double>(shape[0]);
    else bytes += size;
  });
  return bytes;
}

/// 2 FLOP per non-embedding weight per token (the measure); the head counts only when it
/// is computed, i.e. not during a prefill that returns the last position's logits alone.
template <class ModelT>
double prefill_flops_per_token(ModelT& model) {
  double weights = 0.0;
  const auto& c = model.config();
  model.for_each_parameter([&](const std::string& name, const Shape& shape, auto&, ParamRole) {
    if (name != c.embedding_name && name != c.lm_head_name) weights += static_cast<double>(element_count(shape));
  });
  return 2.0 * weights;
}

/// Tokens of a long prompt fed to forward() at a time, so that progress can be reported and the
/// prompt itself never has to be held in memory (ids are drawn piece by piece).
constexpr long long prompt_piece = 65536;

template <class ModelT>
nlohmann::ordered_json run_bench(ModelT& model, const BenchOptions& o, long long prompt) {
  const ModelConfig& c = model.config();
  std::mt19937_64 rng(o.seed + 1);
  std::uniform_int_distribution<token_t> pick(0, static_cast<token_t>(c.vocab_size - 1));
  double prefill_s = 0.0, decode_s = 0.0;
  bool finite = true;
  std::vector<typename ModelT::State> states;
  std::vector<token_t> next;
  for (long long b = 0; b < o.batch; ++b) {
    states.push_back(model.new_state());
    if (o.context > 0) start_at_context<ModelT>(states.back(), o.context, prompt + o.generate + 1);
    std::vector<float> logits;
    std::vector<token_t> piece;
    const auto start = std::chrono::steady_clock::now();
    for (long long done = 0; done < prompt;) {
      piece.resize(static_cast<std::size_t>(std::min(prompt_piece, prompt - done)));
      for (auto& t : piece) t = pick(rng);
      done += static_cast<long long>(piece.size());
      logits = model.forward(states.back(), piece, done == prompt ? LogitsFor::last : LogitsFor::none).data;
      if (prompt > prompt_piece) {
        const double s = perf::seconds_since(start);
        std::cerr << "samba bench: sequence " << b + 1 << "/" << o.batch << ": " << done << "/" << prompt << " prompt tokens, "
                  << s << " s, " << static_cast<double>(done) / s << " tokens/s, peak RSS " << (peak_rss_bytes() >> 20) << " MiB\n";
      }
    }
    const double p = perf::seconds_since(start);
    prefill_s += p;
    for (float v : logits) finite = finite && std::isfinite(v);
    std::cerr << "samba bench: sequence " << b + 1 << "/" << o.batch << ": prefill " << prompt << " tokens in " << p << " s\n";
    next.push_back(argmax(logits, c.vocab_size));
  }
  // Decode: all sequences advance together, one batched step per token (each weight read once per step).
  std::vector<typename ModelT::State*> batch;
  for (auto& s : states) batch.push_back(&s);
  const auto start = std::chrono::steady_clock::now();
  for (long long g = 0; g < o.generate; ++g) {
    const Tensor<float> logits = model.step(batch, next);
    for (long long b = 0; b < o.batch; ++b) {
      const std::span<const float> row(logits.ptr() + b * logits.dim(1), static_cast<std::size_t>(logits.dim(1)));
      next[static_cast<std::size_t>(b)] = argmax(row, c.vocab_size);
      if (g + 1 == o.generate)
        for (float v : row) finite = finite && std::isfinite(v);
    }
  }
  decode_s = perf::seconds_since(start);
  if (o.generate > 0)
    std::cerr << "samba bench: decode " << o.generate << " steps of " << o.batch << " sequence(s) in " << decode_s << " s\n";
  const double prompt_tokens = static_cast<double>(prompt * o.batch), generated = static_cast<double>(o.generate * o.batch);
  nlohmann::ordered_json j;
  j["preset"] = o.model_dir.empty() ? o.preset : c.name;
  j["backend"] = o.backend.backend;
  j["threads"] = model.backend().threads();
  j["dtype"] = o.backend.dtype;
  j["params"] = model.parameter_count();
  j["prompt_tokens"] = prompt;
  j["generate_tokens"] = o.generate;
  j["batch"] = o.batch;
  if (o.context > 0) j["context"] = o.context;
  if (o.backend.backend == "cuda") j["cuda_graphs"] = o.backend.cuda_graphs;
  j["prefill_s"] = prefill_s;
  j["decode_s"] = decode_s;
  j["prefill_tokens_per_s"] = prefill_s > 0 ? prompt_tokens / prefill_s : 0.0;
  j["decode_tokens_per_s"] = decode_s > 0 ? generated / decode_s : 0.0;
  j["peak_rss_bytes"] = peak_rss_bytes();
  j["state_bytes"] = state_bytes(states.front());
  j["scratch_bytes"] = scratch_bytes(states.front());
  j["logits_finite"] = finite;
  j["prefill_flops_per_s"] = prefill_s > 0 ? prefill_flops_per_token(model) * prompt_tokens / prefill_s : 0.0;
  // A batched step reads each weight once for all sequences: bytes per step times steps.
  j["decode_weight_bytes_per_s"] = decode_s > 0 ? decode_weight_bytes(model) * static_cast<double>(o.generate) / decode_s : 0.0;
  return j;
}

void run(const BenchOptions& o) {
  for (long long p : o.prompts) require(p >= 1, "--prompt lengths must be at least 1, got ", p);
  require(o.context == 0 || o.backend.backend == "cuda", "--context runs on the cuda backend only");
  ModelConfig config = o.model_dir.empty() ? presets::config(o.preset) : load_model_config(o.model_dir + "/config.json");
  std::cerr << "samba bench: " << config.name << ", " << o.backend.backend << " backend, " << o.backend.dtype
            << " weights, random (seed " << o.seed << ")\n";
  std::optional<AnyModel> model = random_any_model(config, o.backend, o.seed);
  std::vector<nlohmann::ordered_json> results;
  for (long long prompt : o.prompts) results.push_back(std::visit([&](auto& m) { return run_bench(m, o, prompt); }, *model));
  auto print = [&] {
    for (const auto& r : results) std::cout << r.dump() << std::endl;
  };
#if SAMBA_HAVE_CUDA
  if (o.calibrate && o.backend.backend == "cuda") {
    model.reset();  // free the GPU memory of the weights first
    std::cerr << "samba bench: measuring the GPU's read bandwidth and cuBLAS's " << o.backend.dtype << " product rate\n";
    const GpuCeilings gpu = measure_gpu_ceilings(backend::Cuda(o.backend.device), o.backend.dtype);
    for (auto& result : results) {
      result["machine_read_bytes_per_s"] = gpu.read_bytes_per_s;
      result["machine_gemm_flops_per_s"] = gpu.gemm_flops_per_s;
      result["machine_gemm_engine"] = "cuBLAS " + o.backend.dtype;
      result["decode_bandwidth_fraction"] = result["decode_weight_bytes_per_s"].get<double>() / gpu.read_bytes_per_s;
      result["prefill_gemm_fraction"] = result["prefill_flops_per_s"].get<double>() / gpu.gemm_flops_per_s;
    }
    print();
    return;
  }
#endif
  if (o.calibrate) {
    const int threads = results.front()["threads"].get<int>();
    model.reset();  // free the weights before the calibration buffers
    const backend::Simd be(threads);
    std::cerr << "samba bench: measuring read bandwidth and SGEMM on " << threads << " thread(s)\n";
    const double bandwidth = perf::read_bandwidth(be);
    const perf::GemmRate gemm = perf::sgemm_rate(be);
    for (auto& result : results) {
      result["machine_read_bytes_per_s"] = bandwidth;
      result["machine_sgemm_flops_per_s"] = gemm.flops_per_s;
      result["machine_sgemm_engine"] = gemm.engine;
      result["decode_bandwidth_fraction"] = result["decode_weight_bytes_per_s"].get<double>() / bandwidth;
      result["prefill_sgemm_fraction"] = result["prefill_flops_per_s"].get<double>() / gemm.flops_per_s;
    }
  }
  print();
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prefill and decode speed with seeded random weights "
                                              "(stdout: one JSON object per line, one line per --prompt length)");
  std::string names;
  for (const auto& e : presets::all) names += std::string(names.empty() ? "" : ", ") + e.name;
  auto* preset = cmd->add_option("--preset", o->preset, "Model shape: " + names)->capture_default_str();
  cmd->add_option("--model", o->model_dir, "Take the shape from this checkpoint's config.json instead (weights stay random)")
      ->excludes(preset)
      ->check(non_empty_path());
  cmd->add_option("--prompt", o->prompts,
                  "Prompt tokens per sequence (any length: processed in chunks, progress every 65536 tokens); a "
                  "comma-separated list runs each length in turn with the same weights (peak_rss_bytes is the process's "
                  "peak so far: compare memory across lengths in separate runs)")
      ->capture_default_str()
      ->delimiter(',')
      ->check(integer_in(1, max_tokens));
  cmd->add_option("--generate", o->generate, "Tokens decoded per sequence after the prompt")
      ->capture_default_str()
      ->check(integer_in(0, max_tokens));
  cmd->add_option("--batch", o->batch,
                  "Independent sequences: each prompt is processed in turn, then all are decoded together in batched "
                  "steps")
      ->capture_default_str()
      ->check(integer_in(1, 1 << 20));
  cmd->add_option("--context", o->context,
                  "Start every sequence at this position, as if that many tokens (all zeros in the state) came before "
                  "the prompt: decode timing at a long context without its prefill (cuda backend only)")
      ->capture_default_str()
      ->check(integer_in(0, max_tokens));
  cmd->add_option("--seed", o->seed, "Seed of the random weights and prompts")->capture_default_str()->check(unsigned_64());
  cmd->add_flag("--calibrate", o->calibrate,
                "Also measure the machine's read bandwidth and SGEMM rate on the same threads (with --backend cuda: "
                "the GPU's read bandwidth and cuBLAS's product rate for --dtype) and report the fractions reached");
  add_backend_options(cmd, o->backend);
  cmd->callback([o] { run(*o); });
}

}  // namespace samba::cli
