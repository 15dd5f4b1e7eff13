// samba/model/model.hpp: a Samba-family language model composed of sublayers, each run as
// `x = x + layer(rmsnorm(x))`, between a token embedding and a final RMSNorm + LM head
// (SPEC.md "Block structure"). The shape S fixes extents at compile time (or leaves them dynamic);
// the backend policy picks the kernels.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "samba/backend/scalar.hpp"
#include "samba/core/tensor.hpp"
#include "samba/core/workspace.hpp"
#include "samba/layers/mamba.hpp"
#include "samba/layers/rmsnorm.hpp"
#include "samba/layers/segment.hpp"
#include "samba/layers/swa.hpp"
#include "samba/layers/swiglu.hpp"
#include "samba/layers/weight_matrix.hpp"
#include "samba/model/config.hpp"
#include "samba/model/shape.hpp"
#include "samba/ops/elementwise.hpp"
#include "samba/ops/linear.hpp"

namespace samba {

/// Which positions of a forward pass produce logits.
enum class LogitsFor : std::uint8_t { all, last, none };

/// Called after each block with the residual stream x [T, D] (the golden `hidden.{block}`) of the
/// chunk whose first token sits at sequence position `first`; a long forward pass calls it once
/// per block and chunk.
using HiddenObserver = std::function<void(index_t block, index_t first, const float* x, index_t tokens)>;

/// Tokens a forward pass processes at once by default: long enough for the matrix products to run
/// near GEMM speed, short enough that activations stay a few tens of MiB.
inline constexpr index_t default_chunk_tokens = 512;

/// Refuses ids outside [0, vocab) before anything runs: throws Error naming the first bad one.
inline void check_token_ids(std::span<const token_t> tokens, index_t vocab) {
  for (std::size_t t = 0; t < tokens.size(); ++t)
    require(tokens[t] >= 0 && tokens[t] < vocab, "token id ", tokens[t], " at position ", t, " is outside the vocabulary [0, ", vocab, ")");
}

/// How a forward pass of `tokens` splits into chunks of at most `chunk_tokens`: calls
/// chunk(begin, count, logit_rows, out_row) for each, where logit_rows are the rows of logits the
/// chunk produces (all of its rows, its last one for the prompt's end, or none) and out_row the
/// first row of the result they go to. Returns the result's rows.
template <class Chunk>
index_t for_each_chunk(index_t tokens, index_t chunk_tokens, LogitsFor which, Chunk&& chunk) {
  for (index_t begin = 0; begin < tokens; begin += chunk_tokens) {
    const index_t n = std::min(chunk_tokens, tokens - begin);
    const bool last_chunk = begin + n == tokens;
    const index_t rows = which == LogitsFor::all ? n : (which == LogitsFor::last && last_chunk ? 1 : 0);
    chunk(begin, n, rows, which == LogitsFor::all ? begin : 0);
  }
  return which == LogitsFor::all ? tokens : (which == LogitsFor::last && tokens > 0 ? 1 : 0);
}

/// Everything one sequence carries between calls; its size does not grow with the context for
/// Samba, SWA and Mamba models (full-attention layers keep every key and value).
struct SequenceState {
  index_t position = 0;                 // tokens consumed so far
  std::vector<MambaState> mamba;        // one per Mamba sublayer
  std::vector<KvCache> attention;       // one per attention sublayer
  Workspace scratch;                    // activations of the chunk in flight (not part of the state: copies start empty)
};

/// Bytes a sequence's state holds (Mamba states and KV caches; not its scratch).
inline std::size_t state_bytes(const SequenceState& s) {
  std::size_t n = 0;
  for (const auto& m : s.mamba) n += (m.conv.size() + m.ssm.size()) * sizeof(float);
  for (const auto& kv : s.attention) n += kv.bytes();
  return n;
}

/// S: compile-time shape; Backend: kernel policy (an object: it may own threads);
/// W: storage type of the matrices and the embedding (float, bf16, or q8: int8 with per-row
/// scales), computed in float32.
template <ModelShape S = ModelShape{}, class Backend = backend::Scalar, class W = float>
class Model {
  static_assert(S.n_layer >= 0 && S.vocab_size >= 0 && S.padded_vocab_size >= 0, "Model: extents must be positive or samba::dynamic");
  static_assert(S.vocab_size == dynamic || S.padded_vocab_size == dynamic || S.padded_vocab_size >= S.vocab_size,
                "Model: padded_vocab_size must be at least vocab_size");
  static_assert(S.d_model == dynamic || S.n_head == dynamic || S.head_size == dynamic || S.n_head * S.head_size > 0,
                "Model: heads need a positive head_size");

 public:
  using Mamba = MambaLayer<S.mamba(), Backend, W>;
  using Attention = SwaLayer<S.attention(), Backend, W>;
  using Mlp = SwiGLU<S.mlp(), Backend, W>;
  using Norm = RMSNorm<S.d_model, Backend>;
  using State = SequenceState;  // what one sequence carries between calls
  using backend_type = Backend;
  using weight_type = W;
  static constexpr ModelShape shape = S;

  /// Builds a model with zero weights; fill them through for_each_parameter (see load.hpp, random_init.hpp).
  explicit Model(ModelConfig config, Backend backend = Backend{})
      : config_(std::move(config)), backend_(std::move(backend)), final_norm_(config_.d_model, config_.norm_eps) {
    config_.validate();
    check_shape();
    allocate(embedding_, {config_.padded_vocab_size, config_.d_model});
    if (!config_.tie_embeddings) allocate(lm_head_, {config_.padded_vocab_size, config_.d_model});
    for (const auto& spec : config_.sublayers) {
      Sublayer sub{spec.kind, 0, Norm(config_.d_model, config_.norm_eps)};
      switch (spec.kind) {
        case SublayerKind::mamba: sub.index = push(mambas_, Mamba(config_.mamba)); break;
        case SublayerKind::attention: sub.index = push(attentions_, Attention(config_.attention, spec.window)); break;
        case SublayerKind::mlp: sub.index = push(mlps_, Mlp(config_.mlp)); break;
      }
      sublayers_.push_back(std::move(sub));
    }
  }

  const ModelConfig& config() const { return config_; }
  const Backend& backend() const { return backend_; }
  index_t d_model() const { return pick(S.d_model, config_.d_model); }
  index_t padded_vocab_size() const { return pick(S.padded_vocab_size, config_.padded_vocab_size); }

  SequenceState new_state() const {
    SequenceState s;
    for (const auto& m : mambas_) s.mamba.push_back(m.new_state());
    for (const auto& a : attentions_) s.attention.push_back(a.new_state());
    return s;
  }

  /// Runs `tokens` after whatever `state` has consumed (a prefill, or several chunks of one),
  /// `chunk_tokens()` at a time, so memory is bounded by the chunk and the window, not the prompt.
  /// Returns logits [T, V_pad] (LogitsFor::all), [1, V_pad] (last) or [0, V_pad] (none).
  /// Bad tokens are refused before anything runs; if a forward pass throws later (e.g. out of
  /// memory), the state may be partly advanced: discard it.
  Tensor<float> forward(SequenceState& state, std::span<const token_t> tokens, LogitsFor which = LogitsFor::all,
                        const HiddenObserver& observer = {}) const {
    check_state(state);
    check_token_ids(tokens, config_.vocab_size);
    const index_t T = static_cast<index_t>(tokens.size()), V = padded_vocab_size();
    Tensor<float> logits({for_each_chunk(T, chunk_tokens_, which, [](index_t, index_t, index_t, index_t) {}), V});
    for_each_chunk(T, chunk_tokens_, which, [&](index_t begin, index_t n, index_t rows, index_t out_row) {
      const ChunkPart part{&state, n};
      forward_chunk(std::span<const ChunkPart>(&part, 1), tokens.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(n)),
                    rows, logits.ptr() + out_row * V, observer);
    });
    return logits;
  }

  /// One decode step for several independent sequences, each at its own position: consumes
  /// tokens[b] in *states[b] and returns logits [B, V_pad]. Every weight is read once per step
  /// for all of them. The states must be distinct; scratch memory comes from states[0].
  Tensor<float> step(std::span<SequenceState* const> states, std::span<const token_t> tokens) const {
    require(states.size() == tokens.size(), "batched step: ", states.size(), " states but ", tokens.size(), " tokens");
    std::vector<ChunkPart> parts;
    parts.reserve(states.size());
    for (std::size_t b = 0; b < states.size(); ++b) {
      require(states[b] != nullptr, "batched step: state ", b, " is null");
      check_state(*states[b]);
      for (std::size_t c = 0; c < b; ++c) require(states[c] != states[b], "batched step: states ", c, " and ", b, " are the same sequence");
      parts.push_back({states[b], 1});
    }
    check_token_ids(tokens, config_.vocab_size);
    const index_t B = static_cast<index_t>(tokens.size());
    Tensor<float> logits({B, padded_vocab_size()});
    if (B > 0) forward_chunk(parts, tokens, B, logits.ptr(), {});
    return logits;
  }

  /// Tokens per chunk of a forward pass (default_chunk_tokens unless set).
  index_t chunk_tokens() const { return chunk_tokens_; }
  /// Sets the chunk length; set it before sharing the model between threads.
  void set_chunk_tokens(index_t n) {
    require(n >= 1, "chunk length must be at least 1 token, got ", n);
    chunk_tokens_ = n;
  }

  /// One decode step: consumes `token`, returns its logits [V_pad].
  std::vector<float> step(SequenceState& state, token_t token) const {
    return forward(state, std::span<const token_t>(&token, 1), LogitsFor::last).data;
  }

  /// Visits every tensor with its checkpoint name: f(name, shape, storage, role), where storage
  /// is a std::vector<float> (norms, biases, A_log, D, conv) or a Matrix<W> (matrices, embedding).
  template <class F>
  void for_each_parameter(F&& f) {
    f(config_.embedding_name, Shape{config_.padded_vocab_size, config_.d_model}, embedding_, ParamRole::embedding);
    for (std::size_t i = 0; i < sublayers_.size(); ++i) {
      const SublayerSpec& spec = config_.sublayers[i];
      Sublayer& sub = sublayers_[i];
      sub.norm.for_each_parameter([&](std::string_view, const Shape& s, auto& w, ParamRole r) { f(spec.norm, s, w, r); });
      auto prefixed = [&](std::string_view suffix, const Shape& s, auto& w, ParamRole r) {
        f(spec.prefix + std::string(suffix), s, w, r);
      };
      switch (sub.kind) {
        case SublayerKind::mamba: mambas_[sub.index].for_each_parameter(prefixed); break;
        case SublayerKind::attention: attentions_[sub.index].for_each_parameter(prefixed); break;
        case SublayerKind::mlp: mlps_[sub.index].for_each_parameter(prefixed); break;
      }
    }
    final_norm_.for_each_parameter([&](std::string_view, const Shape& s, auto& w, ParamRole r) {
      f(config_.final_norm_name, s, w, r);
    });
    if (!config_.tie_embeddings)
      f(config_.lm_head_name, Shape{config_.padded_vocab_size, config_.d_model}, lm_head_, ParamRole::matrix);
  }

  /// Recomputes values derived from weights; call after writing weights through for_each_parameter.
  void prepare() {
    for (auto& m : mambas_) m.prepare();
  }

  index_t parameter_count() {
    index_t n = 0;
    for_each_parameter([&](std::string_view, const Shape& s, auto&, ParamRole) { n += element_count(s); });
    return n;
  }

 private:
  struct Sublayer {
    SublayerKind kind;
    std::size_t index;  // into mambas_, attentions_ or mlps_
    Norm norm;          // its pre-norm
  };

  static constexpr index_t pick(index_t fixed, index_t runtime) { return fixed != dynamic ? fixed : runtime; }

  template <class V, class L>
  static std::size_t push(V& v, L&& layer) {
    v.push_back(std::forward<L>(layer));
    return v.size() - 1;
  }

  const Matrix<W>& head() const { return config_.tie_embeddings ? embedding_ : lm_head_; }

  /// One sequence's share of a chunk: `rows` consecutive tokens continuing `state`.
  struct ChunkPart {
    SequenceState* state;
    index_t rows;
  };

  /// One chunk: the parts' tokens stacked (each part continues its own state); writes the logits of
  /// the last `logit_rows` stacked rows to `logits` [logit_rows, V_pad] and advances the states.
  /// Scratch comes from the first part's workspace.
  void forward_chunk(std::span<const ChunkPart> parts, std::span<const token_t> tokens, index_t logit_rows, float* logits,
                     const HiddenObserver& observer) const {
    const index_t T = static_cast<index_t>(tokens.size()), D = d_model(), first = parts.front().state->position;
    Workspace& ws = parts.front().state->scratch;
    const Workspace::Frame frame(ws);
    float* x = ws.floats(T * D);       // [T, D] residual stream
    float* normed = ws.floats(T * D);  // [T, D]
    float* out = ws.floats(T * D);     // [T, D] sublayer output
    for (index_t t = 0; t < T; ++t) row_to_float(embedding_, tokens[t], x + t * D);
    std::vector<Segment<MambaState>> mamba_parts(parts.size());
    std::vector<Segment<KvCache>> attention_parts(parts.size());
    index_t block = 0;
    for (std::size_t i = 0; i < sublayers_.size(); ++i) {
      const Sublayer& sub = sublayers_[i];
      // x += previous sublayer's output and this sublayer's pre-norm, in one pass.
      if (i == 0) sub.norm.forward(backend_, x, normed, T);
      else sub.norm.add_forward(backend_, x, out, normed, T);
      if (i > 0 && config_.sublayers[i - 1].ends_block && observer) observer(block++, first, x, T);
      switch (sub.kind) {
        case SublayerKind::mamba:
          for (std::size_t p = 0; p < parts.size(); ++p) mamba_parts[p] = {&parts[p].state->mamba[sub.index], parts[p].rows};
          mambas_[sub.index].forward(backend_, std::span<const Segment<MambaState>>(mamba_parts), normed, out, ws);
          break;
        case SublayerKind::attention:
          for (std::size_t p = 0; p < parts.size(); ++p) attention_parts[p] = {&parts[p].state->attention[sub.index], parts[p].rows};
          attentions_[sub.index].forward(backend_, std::span<const Segment<KvCache>>(attention_parts), normed, out, ws);
          break;
        case SublayerKind::mlp: mlps_[sub.index].forward(backend_, normed, out, T, ws); break;
      }
    }
    // The last residual add, fused with ln_f where logits are wanted.
    const index_t skip = T - logit_rows;  // leading rows that need the add alone
    if (skip > 0) add_inplace(backend_, x, out, skip * D);
    if (logit_rows > 0) final_norm_.add_forward(backend_, x + skip * D, out + skip * D, normed, logit_rows);
    if (config_.sublayers.back().ends_block && observer) observer(block++, first, x, T);
    for (const ChunkPart& part : parts) part.state->position += part.rows;
    if (logit_rows > 0) linear(backend_, normed, view(head()), logits, logit_rows, D, padded_vocab_size());
  }

  void check_state(const SequenceState& s) const {
    require(s.mamba.size() == mambas_.size() && s.attention.size() == attentions_.size(),
            "sequence state does not belong to this model (", s.mamba.size(), " Mamba and ", s.attention.size(),
            " attention states; the model has ", mambas_.size(), " and ", attentions_.size(), ")");
    for (std::size_t i = 0; i < attentions_.size(); ++i)
      require(s.attention[i].end() == s.position, "sequence state is inconsistent: attention layer ", i, " holds ",
              s.attention[i].end(), " positions, the state says ", s.position);
  }

  void check_shape() const {
    const ModelConfig& c = config_;
    const std::string what = "model '" + c.name + "'";
    require(S.architecture == Architecture::any || S.architecture == c.architecture, what, " is a ", to_string(c.architecture),
            " model but the model type was compiled for ", to_string(S.architecture));
    check_extent(S.n_layer, c.n_layer, what, "n_layer");
    check_extent(S.vocab_size, c.vocab_size, what, "vocab_size");
    check_extent(S.padded_vocab_size, c.padded_vocab_size, what, "padded_vocab_size");
  }

  ModelConfig config_;
  Backend backend_;
  Norm final_norm_;
  Matrix<W> embedding_;  // [V_pad, D] wte; also the head when tied
  Matrix<W> lm_head_;    // [V_pad, D] untied head (empty when tied)
  std::vector<Sublayer> sublayers_;
  std::vector<Mamba> mambas_;
  std::vector<Attention> attentions_;
  std::vector<Mlp> mlps_;
  index_t chunk_tokens_ = default_chunk_tokens;
};

/// A model whose every extent comes from its checkpoint.
template <class Backend = backend::Scalar, class W = float>
using DynamicModel = Model<ModelShape{}, Backend, W>;

}  // namespace samba
