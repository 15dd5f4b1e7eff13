// cli/command_logits.cpp: `samba logits`: logits for every position of every input row, the first
// N tokens of a row through the parallel prefill and the rest one at a time through the step path.
#include <chrono>
#include <iostream>

#include "commands.hpp"
#include "integer_options.hpp"
#include "model_instance.hpp"
#include "path_options.hpp"

namespace samba::cli {
namespace {

struct LogitsOptions {
  std::string model_dir;
  std::string input;
  std::string output;
  long long prefill = -1;  // -1: the whole row
  bool hidden = false;
  BackendOptions backend;
};

template <class ModelT>
void run_logits(const ModelT& model, const LogitsOptions& o) {
  const io::SafetensorsFile input(o.input);
  const Tensor<std::int64_t> ids = input.read_i64("input_ids");
  require(ids.rank() == 2, o.input, ": input_ids must have shape [B, T], got ", to_string(ids.shape));
  const index_t B = ids.dim(0), T = ids.dim(1), V = model.padded_vocab_size(), D = model.d_model();
  const index_t vocab = model.config().vocab_size;
  for (std::size_t i = 0; i < ids.data.size(); ++i)
    require(ids.data[i] >= 0 && ids.data[i] < vocab, o.input, ": input_ids[", static_cast<index_t>(i) / std::max<index_t>(T, 1),
            ", ", static_cast<index_t>(i) % std::max<index_t>(T, 1), "] = ", ids.data[i], " is outside the vocabulary [0, ", vocab, ")");
  const index_t prefill = o.prefill < 0 ? T : o.prefill;
  require(prefill <= T, "--prefill ", prefill, " exceeds the ", T, " tokens of each row");

  Tensor<float> logits({B, T, V});
  std::vector<Tensor<float>> hidden;  // hidden.{block} [B, T, D]
  const auto start = std::chrono::steady_clock::now();
  for (index_t b = 0; b < B; ++b) {
    std::vector<token_t> row(static_cast<std::size_t>(T));
    for (index_t t = 0; t < T; ++t) row[t] = static_cast<token_t>(ids.data[b * T + t]);
    auto state = model.new_state();
    HiddenObserver observer;
    if (o.hidden)
      observer = [&](index_t block, index_t first, const float* x, index_t tokens) {
        if (static_cast<index_t>(hidden.size()) <= block) hidden.resize(block + 1, Tensor<float>({B, T, D}));
        std::copy_n(x, tokens * D, hidden[block].ptr() + (b * T + first) * D);
      };
    const Tensor<float> head = model.forward(state, std::span<const token_t>(row.data(), prefill), LogitsFor::all, observer);
    std::copy(head.data.begin(), head.data.end(), logits.ptr() + b * T * V);
    for (index_t t = prefill; t < T; ++t) {
      const Tensor<float> one = model.forward(state, std::span<const token_t>(row.data() + t, 1), LogitsFor::all, observer);
      std::copy(one.data.begin(), one.data.end(), logits.ptr() + (b * T + t) * V);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<io::TensorToWrite> out{io::tensor_to_write("logits", DType::f32, logits)};
  std::vector<std::string> names;
  for (std::size_t i = 0; i < hidden.size(); ++i) names.push_back("hidden." + std::to_string(i));
  for (std::size_t i = 0; i < hidden.size(); ++i) out.push_back(io::tensor_to_write(names[i], DType::f32, hidden[i]));
  io::write_safetensors(o.output, out);
  std::cerr << "samba: wrote " << o.output << ": logits " << to_string(logits.shape) << ", " << B * T << " tokens in "
            << seconds << " s (" << (seconds > 0 ? static_cast<double>(B * T) / seconds : 0.0) << " tokens/s)\n";
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto options = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand("logits", "Compute logits for token ids read from a safetensors file");
  cmd->add_option("--model", options->model_dir, "Checkpoint directory (config.json + model.safetensors)")->required()->check(non_empty_path());
  cmd->add_option("--input", options->input, "safetensors file with `input_ids` (int64 or int32, [B, T])")->required()->check(non_empty_path());
  cmd->add_option("--output", options->output, "safetensors file to write `logits` (float32, [B, T, V_pad]) to")
      ->required()
      ->check(non_empty_path());
  cmd->add_option("--prefill", options->prefill,
                  "Tokens of each row run through the parallel prefill; the rest go one at a time through the "
                  "decode step (default: all of them)")
      ->check(integer_in(0, max_tokens));
  cmd->add_flag("--hidden", options->hidden, "Also write the residual stream after each block as `hidden.{i}` [B, T, D]");
  add_backend_options(cmd, options->backend);
  cmd->callback([options] {
    require_writable_path(options->output, "--output");
    const AnyModel model = load_any_model(options->model_dir, options->backend);
    std::visit([&](const auto& m) { run_logits(m, *options); }, model);
  });
}

}  // namespace samba::cli
