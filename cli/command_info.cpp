// cli/command_info.cpp: `samba info`: a model's configuration, parameter count and memory needs.
#include <iomanip>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "model_instance.hpp"
#include "path_options.hpp"

namespace samba::cli {
namespace {

struct InfoOptions {
  std::string model_dir;
  std::string preset;
};

std::string human_bytes(index_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  std::ostringstream out;
  out << std::fixed << std::setprecision(u ? 1 : 0) << v << " " << units[u];
  return out.str();
}

/// The sublayer sequence in compact form, e.g. "mamba mlp attention(w=2048) mlp x6".
std::string describe_pattern(const ModelConfig& c) {
  std::vector<std::string> names;
  for (const auto& s : c.sublayers)
    names.push_back(s.kind == SublayerKind::attention ? (s.window > 0 ? "swa(w=" + std::to_string(s.window) + ")" : "attention(full)")
                                                      : to_string(s.kind));
  for (std::size_t period = 1; period <= names.size(); ++period) {
    if (names.size() % period) continue;
    bool repeats = true;
    for (std::size_t i = period; i < names.size() && repeats; ++i) repeats = names[i] == names[i - period];
    if (!repeats) continue;
    std::string out;
    for (std::size_t i = 0; i < period; ++i) out += (i ? " " : "") + names[i];
    return "[" + out + "] x" + std::to_string(names.size() / period);
  }
  return "";
}

void run_info(const InfoOptions& o) {
  require(o.model_dir.empty() != o.preset.empty(), "give exactly one of --model or --preset");
  ModelConfig c;
  std::map<std::string, index_t> file_dtypes;
  if (!o.model_dir.empty()) {
    // Loading everything proves the checkpoint is complete; the reference backend needs no threads.
    const AnyModel model = load_any_model(o.model_dir, BackendOptions{"scalar", 1, "f32"});
    c = std::visit([](const auto& m) { return m.config(); }, model);
    const io::SafetensorsFile file(o.model_dir + "/model.safetensors");
    for (const auto& t : file.tensors()) file_dtypes[std::string(dtype_name(t.dtype))] += element_count(t.shape);
  } else {
    c = presets::config(o.preset);
  }
  const MemoryEstimate m = estimate_memory(c);
  std::cout << "name:            " << c.name << "\n"
            << "architecture:    " << to_string(c.architecture) << " ("
            << (c.format == CheckpointFormat::official ? "official Samba names" : "HF Mamba names") << ")\n"
            << "blocks:          " << c.n_layer << ", sublayers " << describe_pattern(c) << "\n"
            << "d_model:         " << c.d_model << "\n"
            << "vocab:           " << c.vocab_size << " (padded to " << c.padded_vocab_size << "), head "
            << (c.tie_embeddings ? "tied to the embedding" : "untied") << "\n";
  if (c.count(SublayerKind::mamba))
    std::cout << "mamba:           d_inner " << c.mamba.d_inner << ", d_state " << c.mamba.d_state << ", d_conv " << c.mamba.d_conv
              << ", dt_rank " << c.mamba.dt_rank << "\n";
  if (c.count(SublayerKind::attention))
    std::cout << "attention:       " << c.attention.n_head << " heads of " << c.attention.head_size << ", "
              << c.attention.n_kv_head << " KV head(s), "
              << (c.attention.rope_dims ? "RoPE over " + std::to_string(c.attention.rope_dims) + " dims" : std::string("no RoPE"))
              << "\n";
  if (c.count(SublayerKind::mlp)) std::cout << "mlp:             SwiGLU, hidden " << c.mlp.d_hidden << "\n";
  std::cout << "norm_eps:        " << c.norm_eps << "\n"
            << "parameters:      " << m.parameters << "\n";
  for (const auto& [dtype, count] : file_dtypes) std::cout << "stored as:       " << dtype << " (" << count << " values)\n";
  std::cout << "weights in RAM:  " << human_bytes(m.weight_bytes) << " (float32)\n"
            << "state/sequence:  " << human_bytes(m.state_bytes);
  if (m.state_bytes_per_token) std::cout << " + " << human_bytes(m.state_bytes_per_token) << " per token of context (full attention)";
  else std::cout << ", constant in context length";
  std::cout << "\n";
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Print a model's configuration, parameter count and memory needs");
  auto* model = cmd->add_option("--model", options->model_dir, "Checkpoint directory (config.json + model.safetensors)")->check(non_empty_path());
  std::string names;
  for (const auto& e : presets::all) names += std::string(names.empty() ? "" : ", ") + e.name;
  auto* preset = cmd->add_option("--preset", options->preset, "A built-in preset instead of a checkpoint: " + names);
  model->excludes(preset);
  cmd->callback([options] { run_info(*options); });
}

}  // namespace samba::cli
