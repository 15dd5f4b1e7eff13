// samba/model/layout.hpp: the sublayer sequence of each architecture and the checkpoint names of
// its tensors (SPEC.md "Block structure" and "Checkpoint names").
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "samba/model/config.hpp"

namespace samba {

/// How the official (lit-gpt) code lays out its blocks.
struct OfficialLayout {
  index_t n_layer = 0;
  index_t mb_per_layer = -1;                // block i has a Mamba mixer if i % mb_per_layer == 0 (when > 0)
  bool has_attn_layer_pos = false;          // when set, it overrides mb_per_layer:
  std::vector<index_t> attn_layer_pos;      //   blocks not listed use Mamba
  bool mamba_swa_mlp = false;               // block = Mamba, SWA, MLP, each with its own norm
  bool mamba_only = false;                  // `mamba: true`: every block is a Mamba MBlock, no MLP
  bool mlp = true;                          // blocks carry an MLP after the mixer
  index_t window = -1;                      // local_window
  index_t full_per_layer = 1000000;         // block i attends fully when i % full_per_layer == full_per_layer - 1
};

inline std::vector<SublayerSpec> official_sublayers(const OfficialLayout& l) {
  std::vector<SublayerSpec> out;
  for (index_t i = 0; i < l.n_layer; ++i) {
    const std::string h = "transformer.h." + std::to_string(i) + ".";
    const bool local = l.full_per_layer <= 0 || i % l.full_per_layer < l.full_per_layer - 1;
    const index_t window = local ? l.window : -1;
    if (l.mamba_only) {
      out.push_back({SublayerKind::mamba, h + "mixer.", h + "norm.weight", -1, true});
      continue;
    }
    if (l.mamba_swa_mlp) {
      out.push_back({SublayerKind::mamba, h + "mb.", h + "norm_m.weight", -1, false});
      out.push_back({SublayerKind::attention, h + "attn.", h + "norm_attn.weight", window, false});
      out.push_back({SublayerKind::mlp, h + "mlp.", h + "norm_2.weight", -1, true});
      continue;
    }
    const bool use_mamba = l.has_attn_layer_pos
                               ? std::find(l.attn_layer_pos.begin(), l.attn_layer_pos.end(), i) == l.attn_layer_pos.end()
                               : l.mb_per_layer > 0 && i % l.mb_per_layer == 0;
    if (use_mamba)
      out.push_back({SublayerKind::mamba, h + "attn.", h + "norm_1.weight", -1, !l.mlp});
    else
      out.push_back({SublayerKind::attention, h + "attn.", h + "norm_1.weight", window, !l.mlp});
    if (l.mlp) out.push_back({SublayerKind::mlp, h + "mlp.", h + "norm_2.weight", -1, true});
  }
  return out;
}

/// HF MambaForCausalLM: `backbone.layers.{i}` = norm + mixer.
inline std::vector<SublayerSpec> hf_mamba_sublayers(index_t n_layer) {
  std::vector<SublayerSpec> out;
  for (index_t i = 0; i < n_layer; ++i) {
    const std::string p = "backbone.layers." + std::to_string(i) + ".";
    out.push_back({SublayerKind::mamba, p + "mixer.", p + "norm.weight", -1, true});
  }
  return out;
}

/// The architecture a sublayer sequence implements (for display and compile-time shape checks).
inline Architecture classify(const OfficialLayout& l, const std::vector<SublayerSpec>& subs) {
  if (l.mamba_only) return Architecture::mamba_only;
  if (l.mamba_swa_mlp) return Architecture::mamba_swa_mlp;
  const bool any_mamba = std::any_of(subs.begin(), subs.end(), [](auto& s) { return s.kind == SublayerKind::mamba; });
  if (any_mamba) return Architecture::samba;
  const bool all_full = std::all_of(subs.begin(), subs.end(), [](auto& s) {
    return s.kind != SublayerKind::attention || s.window == -1;
  });
  return all_full ? Architecture::transformer_pp : Architecture::llama_swa;
}

/// Official tensor names for the embedding, the final norm and the head.
inline void set_official_names(ModelConfig& c) {
  c.embedding_name = "transformer.wte.weight";
  c.final_norm_name = "transformer.ln_f.weight";
  c.lm_head_name = "lm_head.weight";
}

inline void set_hf_mamba_names(ModelConfig& c) {
  c.embedding_name = "backbone.embeddings.weight";
  c.final_norm_name = "backbone.norm_f.weight";
  c.lm_head_name = "lm_head.weight";
}

}  // namespace samba
