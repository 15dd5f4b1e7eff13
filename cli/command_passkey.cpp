// cli/command_passkey.cpp: `samba passkey`: passkey retrieval (samba/eval/passkey.hpp) with a
// model directory that holds passkey.json and an ASCII tokenizer.json: K prompts of N tokens with
// random keys at random (or given) depths, each streamed through the model in chunks from a fresh
// state (memory does not grow with N), the answer read by greedy decoding. Progress per trial (and
// every 2^18 tokens inside one) on stderr; the last line of stdout is one JSON object with the totals and every trial.
#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <samba/eval/passkey.hpp>

#include "commands.hpp"
#include "integer_options.hpp"
#include "model_instance.hpp"
#include "process_stats.hpp"

namespace samba::cli {
namespace {

struct PasskeyOptions {
  std::string model_dir;
  long long context = 4096;
  long long trials = 10;
  std::uint64_t seed = 0;
  std::optional<double> depth;
  long long chunk = 4096;
  BackendOptions backend;
};

/// Tokens between progress lines inside a trial (a 1M-token prompt takes tens of seconds on a CPU).
constexpr long long progress_tokens = 1 << 18;

template <class ModelT>
nlohmann::ordered_json run(ModelT& model, const PasskeyOptions& o, const eval::PasskeyTask& task) {
  const ModelConfig& c = model.config();
  require(c.vocab_size >= 128, "samba passkey: the model's vocabulary (", c.vocab_size, ") does not cover ASCII");
  {  // the shortest prompt is the key sentence and the question with no filler
    const eval::PasskeyPrompt bare(task, 0, 0.0, std::string(static_cast<std::size_t>(task.digits), '1'));
    require(o.context >= bare.size(), "--context ", o.context, " is shorter than the key sentence and the question alone (", bare.size(),
            " tokens)");
  }
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> pick_depth(0.0, 1.0);
  long long correct = 0, tokens = 0;
  double seconds = 0.0;
  nlohmann::ordered_json trials = nlohmann::json::array();
  for (long long k = 0; k < o.trials; ++k) {
    std::uniform_int_distribution<long long> pick_key(0, 9);
    std::string key;
    for (int d = 0; d < task.digits; ++d) key += static_cast<char>('0' + (d == 0 ? 1 + pick_key(rng) % 9 : pick_key(rng)));
    const double depth = o.depth ? *o.depth : pick_depth(rng);
    eval::PasskeyPrompt prompt(task, o.context, depth, key);
    auto state = model.new_state();
    const auto start = std::chrono::steady_clock::now();
    std::vector<float> logits;
    long long streamed = 0, reported = 0;
    while (!prompt.done()) {
      const auto piece = eval::ascii_tokens(prompt.next(o.chunk), c.vocab_size);
      logits = model.forward(state, piece, prompt.done() ? LogitsFor::last : LogitsFor::none).data;
      streamed += static_cast<long long>(piece.size());
      if (streamed - reported >= progress_tokens && !prompt.done()) {
        reported = streamed;
        std::cerr << "samba passkey: trial " << k + 1 << "/" << o.trials << ": " << streamed << "/" << prompt.size() << " tokens\n";
      }
    }
    std::string answer;
    for (int d = 0; d < task.digits; ++d) {
      for (float v : logits) require(std::isfinite(v), "samba passkey: the model's logits are not finite (NaN or infinity)");
      const token_t next = argmax(logits, c.vocab_size);
      answer += next >= 32 && next < 127 ? static_cast<char>(next) : '?';
      if (d + 1 < task.digits) logits = model.step(state, next);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool ok = answer == key;
    correct += ok, tokens += prompt.size(), seconds += s;
    std::cerr << "samba passkey: trial " << k + 1 << "/" << o.trials << ": " << prompt.size() << " tokens, key at " << prompt.key_position()
              << " (depth " << depth << "), key " << key << ", answer " << answer << (ok ? " (correct)" : " (wrong)") << ", " << s
              << " s\n";
    trials.push_back({{"depth", depth}, {"key_position", prompt.key_position()}, {"key", key}, {"answer", answer}, {"correct", ok},
                      {"seconds", s}});
  }
  nlohmann::ordered_json j;
  j["model"] = c.name;
  j["backend"] = o.backend.backend;
  j["threads"] = model.backend().threads();
  j["dtype"] = o.backend.dtype;
  j["context"] = o.context;
  j["prompt_tokens"] = o.trials > 0 ? tokens / o.trials : 0;
  j["trials"] = o.trials;
  j["correct"] = correct;
  j["accuracy"] = o.trials > 0 ? static_cast<double>(correct) / static_cast<double>(o.trials) : 0.0;
  j["seed"] = o.seed;
  if (o.depth) j["depth"] = *o.depth;
  j["seconds"] = seconds;
  j["tokens_per_s"] = seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0;
  j["peak_rss_bytes"] = peak_rss_bytes();
  j["per_trial"] = trials;
  return j;
}

}  // namespace

void add_passkey_command(CLI::App& app) {
  auto o = std::make_shared<PasskeyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "passkey",
      "Passkey retrieval: prompts of --context tokens hiding a random key at a random (or --depth) position, streamed "
      "through the model in chunks; prints one JSON line (accuracy, tokens_per_s, peak_rss_bytes, every trial)");
  cmd->add_option("--model", o->model_dir, "Model directory: config.json, model.safetensors, tokenizer.json (ascii), passkey.json")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--context", o->context,
                  "Tokens per prompt (whole filler sentences: within one sentence of it, and at least the key sentence and "
                  "the question; default 4096)")
      ->check(integer_in(1, max_tokens));
  cmd->add_option("--trials", o->trials, "Prompts to try (default 10)")->check(integer_in(1, 1000000));
  cmd->add_option("--seed", o->seed, "Seed of the keys and depths (default 0)")->check(unsigned_64());
  cmd->add_option("--depth", o->depth, "Where the key goes, as a fraction of the filler in [0, 1] (default: random per trial)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--chunk", o->chunk, "Tokens per forward call while streaming the prompt (default 4096)")->check(integer_in(1, 1 << 30));
  add_backend_options(cmd, o->backend);
  cmd->callback([o] {
    eval::require_ascii_tokenizer(o->model_dir);
    const eval::PasskeyTask task = eval::load_passkey_task(o->model_dir + "/passkey.json");
    AnyModel model = load_any_model(o->model_dir, o->backend);
    const nlohmann::ordered_json result = std::visit([&](auto& m) { return run(m, *o, task); }, model);
    std::cout << result.dump() << std::endl;
  });
}

}  // namespace samba::cli
