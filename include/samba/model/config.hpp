// samba/model/config.hpp: the run-time description of a model: dimensions, the sequence of
// sublayers, and the tensor names each one reads from a checkpoint.
#pragma once

#include <string>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba {

/// The three kinds of sublayer. Each runs as `x = x + layer(rmsnorm(x))` (pre-norm residual).
enum class SublayerKind : std::uint8_t { mamba, attention, mlp };

/// Block patterns from SPEC.md; `any` (compile-time shapes only) accepts every pattern.
enum class Architecture : std::uint8_t { any, samba, mamba_swa_mlp, llama_swa, transformer_pp, mamba_only };

/// Which naming scheme the checkpoint uses.
enum class CheckpointFormat : std::uint8_t { official, hf_mamba };

inline const char* to_string(SublayerKind k) {
  switch (k) {
    case SublayerKind::mamba: return "mamba";
    case SublayerKind::attention: return "attention";
    case SublayerKind::mlp: return "mlp";
  }
  return "?";
}

inline const char* to_string(Architecture a) {
  switch (a) {
    case Architecture::any: return "any";
    case Architecture::samba: return "samba";
    case Architecture::mamba_swa_mlp: return "mamba-swa-mlp";
    case Architecture::llama_swa: return "llama-swa";
    case Architecture::transformer_pp: return "transformer++";
    case Architecture::mamba_only: return "mamba";
  }
  return "?";
}

/// Mamba v1 mixer: E = d_inner = expand * d_model, N = d_state, K = d_conv, R = dt_rank.
struct MambaDims {
  index_t d_model = 0;
  index_t d_inner = 0;
  index_t d_state = 16;
  index_t d_conv = 4;
  index_t dt_rank = 0;
  bool conv_bias = true;  // HF `use_conv_bias`; without it the conv has no bias tensor
};

/// Grouped-query attention: n_head query heads share n_kv_head key/value heads.
struct AttentionDims {
  index_t d_model = 0;
  index_t n_head = 0;
  index_t n_kv_head = 0;
  index_t head_size = 0;
  index_t rope_dims = 0;         // rotated dims per head (rotate-half); 0 = no positional encoding
  double rope_base = 10000.0;    // theta_i = base^(-2i/rope_dims)
  double position_scale = 1.0;   // RoPE position = token index * position_scale (1/condense_ratio)
};

/// SwiGLU MLP: out = w3(silu(w1 x) * (w2 x)), hidden width d_hidden.
struct MlpDims {
  index_t d_model = 0;
  index_t d_hidden = 0;
};

/// One sublayer in execution order.
struct SublayerSpec {
  SublayerKind kind = SublayerKind::mlp;
  std::string prefix;       // tensor name prefix of its weights, e.g. "transformer.h.0.attn."
  std::string norm;         // full name of its pre-norm weight
  index_t window = -1;      // attention only: keys per query, itself included; -1 = full causal
  bool ends_block = false;  // the residual stream after it is hidden.{block}
};

/// Largest block count accepted (checked before anything is sized from it).
inline constexpr index_t max_layers = 4096;

struct ModelConfig {
  std::string name;
  Architecture architecture = Architecture::samba;
  CheckpointFormat format = CheckpointFormat::official;
  index_t d_model = 0;
  index_t n_layer = 0;  // blocks, as the checkpoint counts them
  index_t vocab_size = 0;
  index_t padded_vocab_size = 0;  // rows of the embedding and of the logits
  float norm_eps = 1e-5f;
  bool tie_embeddings = true;
  MambaDims mamba;
  AttentionDims attention;
  MlpDims mlp;
  std::string embedding_name;
  std::string final_norm_name;
  std::string lm_head_name;  // unused when tied
  std::vector<SublayerSpec> sublayers;

  index_t count(SublayerKind kind) const {
    index_t n = 0;
    for (const auto& s : sublayers) n += s.kind == kind;
    return n;
  }

  /// The widest attention window a config may ask for (2^24 tokens): a window's ring buffer is
  /// allocated whole with each sequence; wider contexts are full attention (window -1).
  static constexpr index_t max_window = index_t{1} << 24;

  /// Checks every dimension; throws Error naming the first bad field.
  void validate() const {
    const std::string where = "model config '" + name + "'";
    auto positive = [&](index_t v, const char* field, index_t max) {
      require(v > 0 && v <= max, where, ": ", field, " = ", v, " is outside [1, ", max, "]");
    };
    positive(d_model, "d_model", 1 << 16);
    positive(n_layer, "n_layer", max_layers);
    positive(vocab_size, "vocab_size", 1 << 24);
    positive(padded_vocab_size, "padded_vocab_size", 1 << 24);
    require(padded_vocab_size >= vocab_size, where, ": padded_vocab_size ", padded_vocab_size, " < vocab_size ",
            vocab_size);
    require(norm_eps > 0.0f && norm_eps < 1.0f, where, ": norm_eps = ", norm_eps, " is outside (0, 1)");
    require(!sublayers.empty(), where, ": no sublayers");
    if (count(SublayerKind::mamba) > 0) {
      require(mamba.d_model == d_model, where, ": mamba d_model differs from d_model");
      positive(mamba.d_inner, "mamba d_inner", 1 << 18);
      positive(mamba.d_state, "mamba d_state", 1024);
      positive(mamba.d_conv, "mamba d_conv", 64);
      positive(mamba.dt_rank, "mamba dt_rank", 1 << 16);
    }
    if (count(SublayerKind::attention) > 0) {
      const auto& a = attention;
      require(a.d_model == d_model, where, ": attention d_model differs from d_model");
      positive(a.n_head, "n_head", 1024);
      positive(a.n_kv_head, "n_query_groups", 1024);
      positive(a.head_size, "head_size", 4096);
      require(a.n_head % a.n_kv_head == 0, where, ": n_head ", a.n_head, " is not a multiple of n_query_groups ",
              a.n_kv_head);
      require(a.rope_dims >= 0 && a.rope_dims <= a.head_size && a.rope_dims % 2 == 0, where, ": rotary dims ",
              a.rope_dims, " must be even and at most head_size ", a.head_size);
      require(a.rope_base > 1.0 && a.position_scale > 0.0, where, ": bad RoPE base or condense ratio");
      for (const auto& s : sublayers)
        if (s.kind == SublayerKind::attention)
          require(s.window == -1 || (s.window >= 1 && s.window <= max_window), where, ": attention window ", s.window,
                  " must be -1 (full attention) or in [1, ", max_window, "]");
    }
    if (count(SublayerKind::mlp) > 0) {
      require(mlp.d_model == d_model, where, ": mlp d_model differs from d_model");
      positive(mlp.d_hidden, "intermediate_size", 1 << 20);
    }
  }
};

}  // namespace samba
