// samba/model/config_json.hpp: reads config.json in either format of SPEC.md: the official
// Samba trainer's Config field names (lit-gpt), or HF MambaForCausalLM (`model_type: mamba`).
// Fields absent from an official config take lit-gpt's defaults, so a config must state the
// choices this library depends on (RMSNorm, LLaMA MLP, no bias, sequential residual).
#pragma once

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "samba/core/error.hpp"
#include "samba/model/config.hpp"
#include "samba/model/layout.hpp"

namespace samba {

namespace detail {

/// Typed access to config.json fields with errors that name the file and the field.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& j, std::string file) : j_(j), file_(std::move(file)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  index_t integer(const char* key) const {
    const auto& v = at(key);
    if (v.is_number_integer()) return v.get<index_t>();
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && std::abs(v.get<double>()) < 1e15)
      return static_cast<index_t>(v.get<double>());
    fail(file_, ": field '", key, "' must be an integer, got ", v.dump());
  }
  index_t integer(const char* key, index_t fallback) const { return has(key) ? integer(key) : fallback; }

  /// A required integer in [min, max], checked before anything is sized from it.
  index_t bounded(const char* key, index_t min, index_t max) const {
    const index_t v = integer(key);
    if (v < min || v > max) fail(file_, ": ", key, " = ", v, " is outside [", min, ", ", max, "]");
    return v;
  }

  double number(const char* key) const {
    const auto& v = at(key);
    if (!v.is_number()) fail(file_, ": field '", key, "' must be a number, got ", v.dump());
    return v.get<double>();
  }
  double number(const char* key, double fallback) const { return has(key) ? number(key) : fallback; }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = at(key);
    if (!v.is_boolean()) fail(file_, ": field '", key, "' must be true or false, got ", v.dump());
    return v.get<bool>();
  }

  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const auto& v = at(key);
    if (!v.is_string()) fail(file_, ": field '", key, "' must be a string, got ", v.dump());
    return v.get<std::string>();
  }

  const nlohmann::json& at(const char* key) const {
    if (!has(key)) fail(file_, ": required field '", key, "' is missing");
    return j_.at(key);
  }
  const std::string& file() const { return file_; }

 private:
  const nlohmann::json& j_;
  std::string file_;
};

/// `attn_layer_pos` is a Python list literal in a string ("[1,5]", "[0,]") or a JSON array.
inline std::vector<index_t> parse_layer_list(const nlohmann::json& v, const std::string& file) {
  std::vector<index_t> out;
  if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_number_integer()) fail(file, ": attn_layer_pos entries must be integers");
      out.push_back(e.get<index_t>());
    }
    return out;
  }
  if (!v.is_string()) fail(file, ": attn_layer_pos must be a list or a string like \"[1,5]\"");
  std::string s = v.get<std::string>();
  const auto open = s.find('['), close = s.rfind(']');
  if (open == std::string::npos || close == std::string::npos || close < open)
    fail(file, ": attn_layer_pos \"", s, "\" is not a list like \"[1,5]\"");
  std::stringstream items(s.substr(open + 1, close - open - 1));
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    if (first == std::string::npos) continue;  // trailing comma: "[0,]"
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item.substr(first), &used);
    } catch (const std::exception&) {
      fail(file, ": attn_layer_pos \"", s, "\" holds a non-integer entry");
    }
    if (item.find_first_not_of(" \t", first + used) != std::string::npos)
      fail(file, ": attn_layer_pos \"", s, "\" holds a non-integer entry");
    out.push_back(value);
  }
  return out;
}

inline ModelConfig official_config(const JsonFields& f) {
  const std::string& file = f.file();
  auto refuse_unless = [&](bool ok, const char* what) {
    if (!ok) fail(file, ": unsupported configuration: ", what);
  };
  // `mamba: true` models are Mamba MBlocks only: their norm is chosen by `rms_norm` alone, and
  // the MLP, bias and residual fields do not apply (the trainer leaves its defaults there).
  const bool mamba_only = f.boolean("mamba", false);
  refuse_unless(f.boolean("rms_norm", true), "rms_norm must be true");
  if (!mamba_only) {
    const std::string norm_class = f.string("_norm_class", "LayerNorm");
    refuse_unless(norm_class == "RMSNorm" || norm_class == "FusedRMSNorm", "_norm_class must be RMSNorm or FusedRMSNorm");
    if (f.boolean("mlp", true))
      refuse_unless(f.string("_mlp_class", "GptNeoxMLP") == "LLaMAMLP", "_mlp_class must be LLaMAMLP (SwiGLU)");
    refuse_unless(!f.boolean("bias", true), "bias must be false");
    refuse_unless(!f.boolean("parallel_residual", true), "parallel_residual must be false");
  }
  refuse_unless(!f.boolean("shared_attention_norm", false), "shared_attention_norm must be false");
  refuse_unless(!f.boolean("sc_attn", false), "sc_attn (short-conv attention) is not implemented");
  refuse_unless(!f.boolean("use_mega", false), "use_mega is not implemented");
  refuse_unless(!f.boolean("abl_mamba", false), "abl_mamba (an MLP in place of Mamba) is not implemented");
  refuse_unless(f.integer("ret_per_layer", -1) <= 0, "RetNet layers (ret_per_layer) are not implemented");
  refuse_unless(f.integer("gla_per_layer", -1) <= 0, "GLA layers (gla_per_layer) are not implemented");

  ModelConfig c;
  c.format = CheckpointFormat::official;
  c.name = f.string("name", "samba");
  c.d_model = f.integer("n_embd");
  c.n_layer = f.bounded("n_layer", 1, max_layers);
  const index_t n_head = f.integer("n_head");
  require(n_head > 0, file, ": n_head must be positive");
  c.vocab_size = f.integer("vocab_size");
  const index_t multiple = f.integer("padding_multiple", 512);
  require(multiple > 0, file, ": padding_multiple must be positive");
  c.padded_vocab_size = f.integer("padded_vocab_size", (c.vocab_size + multiple - 1) / multiple * multiple);
  c.norm_eps = static_cast<float>(f.number("norm_eps", 1e-5));

  OfficialLayout layout;
  layout.n_layer = c.n_layer;
  layout.mb_per_layer = f.integer("mb_per_layer", -1);
  layout.mamba_swa_mlp = f.boolean("mamba_swa_mlp", false);
  layout.mamba_only = mamba_only;
  layout.mlp = f.boolean("mlp", true);
  layout.window = f.integer("local_window", -1);
  layout.full_per_layer = f.integer("full_per_layer", 1000000);
  if (f.has("attn_layer_pos")) {
    layout.has_attn_layer_pos = true;
    layout.attn_layer_pos = parse_layer_list(f.at("attn_layer_pos"), file);
  }
  require(layout.window == -1 || (layout.window >= 1 && layout.window <= ModelConfig::max_window), file,
          ": local_window must be -1 (full attention) or in [1, ", ModelConfig::max_window, "], got ", layout.window);
  c.sublayers = official_sublayers(layout);
  c.architecture = classify(layout, c.sublayers);
  const bool mamba_init = f.boolean("mamba_init", false) || layout.mamba_only;
  c.tie_embeddings = f.boolean("tie_embeddings", mamba_init);
  set_official_names(c);

  // The official Mamba mixer uses mamba_ssm's defaults: d_state 16, d_conv 4, expand 2, dt_rank ceil(D/16).
  c.mamba = {c.d_model, 2 * c.d_model, 16, 4, (c.d_model + 15) / 16, true};
  const index_t head_size = f.integer("head_size", c.d_model / n_head);
  const double rotary = f.number("rotary_percentage", 0.25);
  const index_t condense = f.integer("condense_ratio", 1);
  require(condense >= 1, file, ": condense_ratio must be >= 1");
  require(rotary >= 0.0 && rotary <= 1.0, file, ": rotary_percentage must be in [0, 1]");
  c.attention.d_model = c.d_model;
  c.attention.n_head = n_head;
  c.attention.n_kv_head = f.integer("n_query_groups", n_head);
  c.attention.head_size = head_size;
  c.attention.rope_dims = f.boolean("nope", false) ? 0 : static_cast<index_t>(rotary * static_cast<double>(head_size));
  c.attention.position_scale = 1.0 / static_cast<double>(condense);
  c.mlp = {c.d_model, layout.mlp ? f.integer("intermediate_size") : 0};
  return c;
}

inline ModelConfig hf_mamba_config(const JsonFields& f) {
  const std::string& file = f.file();
  if (f.boolean("use_bias", false)) fail(file, ": unsupported configuration: use_bias (projection biases) must be false");
  ModelConfig c;
  c.format = CheckpointFormat::hf_mamba;
  c.architecture = Architecture::mamba_only;
  c.name = f.string("_name_or_path", "mamba");
  c.d_model = f.integer("hidden_size");
  c.n_layer = f.bounded("num_hidden_layers", 1, max_layers);
  c.vocab_size = f.integer("vocab_size");
  c.padded_vocab_size = c.vocab_size;
  c.norm_eps = static_cast<float>(f.number("layer_norm_epsilon", 1e-5));
  c.tie_embeddings = f.boolean("tie_word_embeddings", true);
  const index_t expand = f.integer("expand", 2);
  c.mamba.d_model = c.d_model;
  c.mamba.d_inner = f.integer("intermediate_size", expand * c.d_model);
  c.mamba.d_state = f.integer("state_size", 16);
  c.mamba.d_conv = f.integer("conv_kernel", 4);
  const bool auto_rank = f.has("time_step_rank") && f.at("time_step_rank").is_string();
  if (auto_rank && f.at("time_step_rank").get<std::string>() != "auto")
    fail(file, ": field 'time_step_rank' must be an integer or \"auto\"");
  c.mamba.dt_rank = f.has("time_step_rank") && !auto_rank ? f.integer("time_step_rank") : (c.d_model + 15) / 16;
  c.mamba.conv_bias = f.boolean("use_conv_bias", true);
  c.sublayers = hf_mamba_sublayers(c.n_layer);
  set_hf_mamba_names(c);
  return c;
}

}  // namespace detail

/// Parses a config.json text (`file` names it in errors) and validates the result.
inline ModelConfig parse_model_config(const std::string& text, const std::string& file) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(file, ": not valid JSON: ", e.what());
  }
  if (!j.is_object()) fail(file, ": not a JSON object");
  const detail::JsonFields fields(j, file);
  ModelConfig c;
  if (fields.has("model_type")) {
    const std::string type = fields.string("model_type", "");
    if (type != "mamba") fail(file, ": model_type '", type, "' is not supported (expected 'mamba' or an official Samba config)");
    c = detail::hf_mamba_config(fields);
  } else if (fields.has("n_embd")) {
    c = detail::official_config(fields);
  } else {
    fail(file, ": neither an official Samba config (no 'n_embd') nor an HF Mamba config (no 'model_type')");
  }
  c.validate();
  return c;
}

/// Reads and parses `path` (a config.json).
inline ModelConfig load_model_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return parse_model_config(text.str(), path);
}

}  // namespace samba
