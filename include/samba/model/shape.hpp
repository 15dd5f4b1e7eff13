// samba/model/shape.hpp: compile-time model shapes. A ModelShape is a structural type used as a
// template argument: every extent is a number or samba::dynamic (taken from the checkpoint).
// Fully fixed shapes are the presets of SPEC.md's table; `ModelShape{}` accepts any checkpoint.
#pragma once

#include "samba/layers/mamba.hpp"
#include "samba/layers/swa.hpp"
#include "samba/layers/swiglu.hpp"
#include "samba/model/config.hpp"
#include "samba/model/layout.hpp"

namespace samba {

struct ModelShape {
  Architecture architecture = Architecture::any;
  index_t n_layer = dynamic;       // blocks
  index_t d_model = dynamic;       // D
  index_t n_head = dynamic;        // query heads
  index_t n_kv_head = dynamic;     // G, key/value heads (n_query_groups)
  index_t head_size = dynamic;     // hs
  index_t d_mlp = dynamic;         // I, SwiGLU hidden width
  index_t window = dynamic;        // SWA window; -1 = full causal
  index_t vocab_size = dynamic;    // V
  index_t padded_vocab_size = dynamic;  // V_pad
  index_t d_state = dynamic;       // N
  index_t d_conv = dynamic;        // K
  index_t d_inner = dynamic;       // E = expand * D
  index_t dt_rank = dynamic;       // R

  constexpr MambaShape mamba() const { return {d_model, d_inner, d_state, d_conv, dt_rank}; }
  constexpr AttentionShape attention() const { return {d_model, n_head, n_kv_head, head_size, window}; }
  constexpr MlpShape mlp() const { return {d_model, d_mlp}; }

  /// True when every extent is fixed, so a ModelConfig can be built from the shape alone.
  constexpr bool is_complete() const {
    return architecture != Architecture::any && n_layer > 0 && d_model > 0 && vocab_size > 0 && padded_vocab_size > 0 &&
           (architecture == Architecture::mamba_only ||
            (n_head > 0 && n_kv_head > 0 && head_size > 0 && d_mlp > 0 && window != dynamic)) &&
           (architecture == Architecture::llama_swa || architecture == Architecture::transformer_pp ||
            (d_state > 0 && d_conv > 0 && d_inner > 0 && dt_rank > 0));
  }
};

/// A Samba-family shape with the official Mamba defaults (N 16, K 4, E = 2D, R = ceil(D/16)).
constexpr ModelShape official_shape(Architecture arch, index_t n_layer, index_t d_model, index_t n_head, index_t n_kv_head,
                                    index_t d_mlp, index_t window, index_t vocab = 32000, index_t padded = 32000) {
  ModelShape s;
  s.architecture = arch;
  s.n_layer = n_layer;
  s.d_model = d_model;
  s.n_head = n_head;
  s.n_kv_head = n_kv_head;
  s.head_size = d_model / n_head;
  s.d_mlp = d_mlp;
  s.window = window;
  s.vocab_size = vocab;
  s.padded_vocab_size = padded;
  if (arch != Architecture::llama_swa && arch != Architecture::transformer_pp) {
    s.d_state = 16;
    s.d_conv = 4;
    s.d_inner = 2 * d_model;
    s.dt_rank = (d_model + 15) / 16;
  }
  return s;
}

/// An HF MambaForCausalLM shape (E = 2D, N 16, K 4, R = ceil(D/16)).
constexpr ModelShape hf_mamba_shape(index_t n_layer, index_t d_model, index_t vocab) {
  ModelShape s;
  s.architecture = Architecture::mamba_only;
  s.n_layer = n_layer;
  s.d_model = d_model;
  s.vocab_size = vocab;
  s.padded_vocab_size = vocab;
  s.d_state = 16;
  s.d_conv = 4;
  s.d_inner = 2 * d_model;
  s.dt_rank = (d_model + 15) / 16;
  return s;
}

/// Builds the run-time config of a complete shape, with official (lit-gpt) or HF Mamba names.
inline ModelConfig config_from_shape(const ModelShape& s, const std::string& name,
                                     CheckpointFormat format = CheckpointFormat::official) {
  require(s.is_complete(), "config_from_shape: shape '", name, "' leaves extents dynamic");
  ModelConfig c;
  c.name = name;
  c.architecture = s.architecture;
  c.d_model = s.d_model;
  c.n_layer = s.n_layer;
  c.vocab_size = s.vocab_size;
  c.padded_vocab_size = s.padded_vocab_size;
  c.mamba = {s.d_model, s.d_inner, s.d_state, s.d_conv, s.dt_rank, true};
  c.attention.d_model = s.d_model;
  c.attention.n_head = s.n_head;
  c.attention.n_kv_head = s.n_kv_head;
  c.attention.head_size = s.head_size;
  c.attention.rope_dims = s.head_size;
  c.mlp = {s.d_model, s.d_mlp};
  OfficialLayout layout;
  layout.n_layer = s.n_layer;
  layout.window = s.window;
  switch (s.architecture) {
    case Architecture::samba: layout.mb_per_layer = 2; break;
    case Architecture::mamba_swa_mlp: layout.mamba_swa_mlp = true; break;
    case Architecture::mamba_only: layout.mamba_only = true; break;
    default: break;
  }
  c.tie_embeddings = s.architecture != Architecture::llama_swa && s.architecture != Architecture::transformer_pp;
  if (format == CheckpointFormat::hf_mamba) {
    require(s.architecture == Architecture::mamba_only, "config_from_shape: HF names exist only for Mamba models");
    c.format = format;
    c.sublayers = hf_mamba_sublayers(s.n_layer);
    set_hf_mamba_names(c);
  } else {
    c.sublayers = official_sublayers(layout);
    set_official_names(c);
  }
  c.validate();
  return c;
}

/// The presets: SPEC.md's table of official configurations, plus samba-mini and its Transformer++ twin.
namespace presets {
inline constexpr ModelShape samba_421m = official_shape(Architecture::samba, 12, 1536, 12, 12, 4096, 2048);
inline constexpr ModelShape samba_421m_mqa = official_shape(Architecture::samba, 12, 1536, 12, 1, 4608, 2048);
inline constexpr ModelShape samba_421m_gqa2 = official_shape(Architecture::samba, 12, 1536, 12, 2, 4608, 2048);
inline constexpr ModelShape samba_421m_gqa4 = official_shape(Architecture::samba, 12, 1536, 12, 4, 4608, 2048);
inline constexpr ModelShape samba_1_3b = official_shape(Architecture::samba, 18, 2304, 18, 18, 6144, 2048);
/// The Transformer++ baseline of samba-1.3b's shape: full causal attention in every layer.
inline constexpr ModelShape transformer_1_3b = official_shape(Architecture::transformer_pp, 18, 2304, 18, 18, 6144, -1);
inline constexpr ModelShape mamba_swa_mlp_400m = official_shape(Architecture::mamba_swa_mlp, 8, 1536, 12, 12, 4096, 2048);
inline constexpr ModelShape llama_438m_swa = official_shape(Architecture::llama_swa, 12, 1536, 12, 12, 4096, 2048);
inline constexpr ModelShape llama_438m = official_shape(Architecture::transformer_pp, 12, 1536, 12, 12, 4096, -1);
/// Samba pattern, D 256, 4 layers, 4 heads of 64, 1 KV head, MLP 768, window 2048.
inline constexpr ModelShape samba_mini = official_shape(Architecture::samba, 4, 256, 4, 1, 768, 2048);
/// The Transformer++ baseline of samba-mini's shape: full causal attention in every layer.
inline constexpr ModelShape transformer_mini = official_shape(Architecture::transformer_pp, 4, 256, 4, 1, 768, -1);
/// HF state-spaces/mamba-130m and mamba-1.4b shapes (vocab 50280), for side-by-side runs with other engines.
inline constexpr ModelShape mamba_130m = hf_mamba_shape(24, 768, 50280);
inline constexpr ModelShape mamba_1_4b = hf_mamba_shape(48, 2048, 50280);

struct Entry {
  const char* name;
  ModelShape shape;
  CheckpointFormat format = CheckpointFormat::official;
};
inline constexpr Entry all[] = {
    {"samba-421m", samba_421m},         {"samba-421m-mqa", samba_421m_mqa},
    {"samba-421m-gqa2", samba_421m_gqa2}, {"samba-421m-gqa4", samba_421m_gqa4},
    {"samba-1.3b", samba_1_3b},         {"transformer-1.3b", transformer_1_3b},
    {"mamba-swa-mlp-400m", mamba_swa_mlp_400m},
    {"llama-438m-swa", llama_438m_swa}, {"llama-438m", llama_438m},
    {"samba-mini", samba_mini},         {"transformer-mini", transformer_mini},
    {"mamba-130m", mamba_130m, CheckpointFormat::hf_mamba},
    {"mamba-1.4b", mamba_1_4b, CheckpointFormat::hf_mamba},
};

/// The run-time config of a preset by name; throws Error listing the names when unknown.
inline ModelConfig config(const std::string& name) {
  for (const auto& e : all)
    if (name == e.name) return config_from_shape(e.shape, e.name, e.format);
  std::string known;
  for (const auto& e : all) known += std::string(known.empty() ? "" : ", ") + e.name;
  fail("unknown preset '", name, "' (known: ", known, ")");
}
}  // namespace presets

}  // namespace samba
