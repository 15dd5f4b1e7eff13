// samba/model/memory.hpp: what a model needs in memory, from its config alone.
#pragma once

#include "samba/model/config.hpp"

namespace samba {

struct MemoryEstimate {
  index_t parameters = 0;              // stored tensors (the tied head counted once)
  index_t weight_bytes = 0;            // float32 weights as the scalar backend holds them
  index_t state_bytes = 0;             // per sequence, independent of context length
  index_t state_bytes_per_token = 0;   // per sequence and token of context (full-attention layers only)
};

inline MemoryEstimate estimate_memory(const ModelConfig& c) {
  MemoryEstimate m;
  const index_t D = c.d_model;
  const auto& mb = c.mamba;
  const auto& at = c.attention;
  m.parameters = c.padded_vocab_size * D * (c.tie_embeddings ? 1 : 2) + D;  // wte (+ head), ln_f
  for (const auto& s : c.sublayers) {
    m.parameters += D;  // pre-norm
    switch (s.kind) {
      case SublayerKind::mamba: {
        const index_t E = mb.d_inner, N = mb.d_state, K = mb.d_conv, R = mb.dt_rank;
        m.parameters += 2 * E * D + E * K + (mb.conv_bias ? E : 0) + (R + 2 * N) * E + E * R + E + E * N + E + D * E;
        m.state_bytes += static_cast<index_t>(sizeof(float)) * ((K - 1) * E + E * N);
        break;
      }
      case SublayerKind::attention: {
        const index_t kv = at.n_kv_head * at.head_size;
        m.parameters += (at.n_head + 2 * at.n_kv_head) * at.head_size * D + D * at.n_head * at.head_size;
        if (s.window > 0)
          m.state_bytes += static_cast<index_t>(sizeof(float)) * 2 * s.window * kv;
        else
          m.state_bytes_per_token += static_cast<index_t>(sizeof(float)) * 2 * kv;
        break;
      }
      case SublayerKind::mlp: m.parameters += 3 * c.mlp.d_hidden * D; break;
    }
  }
  m.weight_bytes = m.parameters * static_cast<index_t>(sizeof(float));
  return m;
}

}  // namespace samba
