// samba/model/cuda/model.cuh: the members of Model<S, backend::Cuda, W> (model.hpp): weight upload,
// device states and the forward pass of a chunk of stacked sequences, each sublayer as on the host
// (SPEC.md "Block structure": x = x + layer(rmsnorm(x))) but with the CUDA kernels of ops/cuda and
// cuBLAS products. Compile with nvcc.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include "samba/model/cuda/chunk_support.cuh"
#include "samba/model/cuda/model.hpp"
#include "samba/ops/cuda/attention.cuh"
#include "samba/ops/cuda/causal_conv1d.cuh"
#include "samba/ops/cuda/elementwise.cuh"
#include "samba/ops/cuda/gemv.cuh"
#include "samba/ops/cuda/linear.cuh"
#include "samba/ops/cuda/rope.cuh"
#include "samba/ops/cuda/selective_scan.cuh"

namespace samba {

template <ModelShape S, class W>
struct Model<S, backend::Cuda, W>::Weights {
  struct Mamba {
    cuda::DeviceBuffer<W> in_proj;     // [2E, D]
    cuda::DeviceBuffer<float> conv_w;  // [E, K]
    cuda::DeviceBuffer<float> conv_b;  // [E]
    cuda::DeviceBuffer<W> x_proj;      // [R + 2N, E]
    cuda::DeviceBuffer<W> dt_proj;     // [E, R]
    cuda::DeviceBuffer<float> dt_bias; // [E]
    cuda::DeviceBuffer<float> a;       // [N, E] -exp(A_log), transposed
    cuda::DeviceBuffer<float> d;       // [E]
    cuda::DeviceBuffer<W> out_proj;    // [D, E]
  };
  struct Attention {
    cuda::DeviceBuffer<W> qkv;   // [(H + 2G) hs, D], grouped per KV group
    cuda::DeviceBuffer<W> proj;  // [D, H hs]
    index_t window;
  };
  struct Mlp {
    cuda::DeviceBuffer<W> gate_up;  // [2I, D]: rows of w1 and w2 interleaved (gate i, up i), one product for both
    cuda::DeviceBuffer<W> down;     // [D, I]
  };
  struct Sublayer {
    SublayerKind kind;
    std::size_t index;               // into mambas, attentions or mlps
    cuda::DeviceBuffer<float> norm;  // [D] its pre-norm
  };
  cuda::DeviceBuffer<W> embedding;  // [V_pad, D]
  cuda::DeviceBuffer<W> lm_head;    // [V_pad, D] (empty when tied)
  cuda::DeviceBuffer<float> final_norm;
  std::vector<Sublayer> sublayers;
  std::vector<Mamba> mambas;
  std::vector<Attention> attentions;
  std::vector<Mlp> mlps;
  std::size_t bytes = 0;

  const W* head(bool tied) const { return tied ? embedding.data() : lm_head.data(); }
};

template <ModelShape S, class W>
Model<S, backend::Cuda, W>::Model(ModelConfig config, backend::Cuda backend)
    : host_(std::move(config)), backend_(std::move(backend)), staging_(std::make_unique<cuda_detail::Staging>()),
      graph_(std::make_unique<cuda_detail::StepGraph>()) {
  const ModelConfig& c = host_.config();
  for (const auto& spec : c.sublayers) {
    if (spec.kind == SublayerKind::mamba)
      require(c.mamba.d_conv >= 2 && c.mamba.d_conv <= ops::cuda_conv_max_kernel && c.mamba.d_state <= 64,
              "model '", c.name, "': the CUDA backend runs d_conv 2..", ops::cuda_conv_max_kernel, " and d_state 1..64 (got ",
              c.mamba.d_conv, ", ", c.mamba.d_state, ")");
    if (spec.kind == SublayerKind::attention)
      require(c.attention.head_size <= ops::cuda_attention_max_head_size, "model '", c.name, "': the CUDA backend runs head sizes up to ",
              ops::cuda_attention_max_head_size, " (got ", c.attention.head_size, ")");
  }
}

template <ModelShape S, class W>
Model<S, backend::Cuda, W>::Model(Model&&) noexcept = default;
template <ModelShape S, class W>
Model<S, backend::Cuda, W>::~Model() = default;

template <ModelShape S, class W>
void Model<S, backend::Cuda, W>::prepare() {
  const std::lock_guard lock(*mutex_);
  host_.prepare();
  const ModelConfig& c = host_.config();
  struct HostTensor {
    const void* data;
    std::size_t count;
  };
  std::unordered_map<std::string, HostTensor> tensors;
  host_.for_each_parameter([&](std::string_view name, const Shape&, auto& storage, ParamRole) {
    if constexpr (std::is_same_v<std::decay_t<decltype(storage)>, Matrix<W>>)
      tensors[std::string(name)] = {storage.values.data(), storage.values.size()};
    else
      tensors[std::string(name)] = {storage.data(), storage.size()};
  });
  auto host = [&](const std::string& name) -> const HostTensor& {
    const auto it = tensors.find(name);
    require(it != tensors.end(), "CUDA model: no tensor '", name, "' to upload");
    return it->second;
  };
  auto w = std::make_unique<Weights>();
  auto matrix = [&](const std::string& name) {
    const HostTensor& t = host(name);
    w->bytes += t.count * sizeof(W);
    return cuda::DeviceBuffer<W>(std::span<const W>(static_cast<const W*>(t.data), t.count));
  };
  auto vec = [&](const std::string& name) {
    const HostTensor& t = host(name);
    w->bytes += t.count * sizeof(float);
    return cuda::DeviceBuffer<float>(std::span<const float>(static_cast<const float*>(t.data), t.count));
  };
  w->embedding = matrix(c.embedding_name);
  if (!c.tie_embeddings) w->lm_head = matrix(c.lm_head_name);
  w->final_norm = vec(c.final_norm_name);
  const index_t e = c.mamba.d_inner, n = c.mamba.d_state;
  for (const auto& spec : c.sublayers) {
    typename Weights::Sublayer sub{spec.kind, 0, vec(spec.norm)};
    const std::string& p = spec.prefix;
    switch (spec.kind) {
      case SublayerKind::mamba: {
        typename Weights::Mamba m;
        m.in_proj = matrix(p + "in_proj.weight");
        m.conv_w = vec(p + "conv1d.weight");
        if (c.mamba.conv_bias) m.conv_b = vec(p + "conv1d.bias");
        else m.conv_b = cuda::DeviceBuffer<float>(std::span<const float>(std::vector<float>(static_cast<std::size_t>(e), 0.0f)));
        m.x_proj = matrix(p + "x_proj.weight");
        m.dt_proj = matrix(p + "dt_proj.weight");
        m.dt_bias = vec(p + "dt_proj.bias");
        m.d = vec(p + "D");
        const HostTensor& a_log = host(p + "A_log");  // [E, N]
        std::vector<float> a(a_log.count);
        for (index_t ch = 0; ch < e; ++ch)
          for (index_t k = 0; k < n; ++k) a[k * e + ch] = -std::exp(static_cast<const float*>(a_log.data)[ch * n + k]);
        m.a = cuda::DeviceBuffer<float>(std::span<const float>(a));
        w->bytes += a.size() * sizeof(float);
        m.out_proj = matrix(p + "out_proj.weight");
        sub.index = w->mambas.size();
        w->mambas.push_back(std::move(m));
        break;
      }
      case SublayerKind::attention:
        sub.index = w->attentions.size();
        w->attentions.push_back({matrix(p + "attn.weight"), matrix(p + "proj.weight"), spec.window});
        break;
      case SublayerKind::mlp: {
        const HostTensor &w1 = host(p + "swiglu.w1.weight"), &w2 = host(p + "swiglu.w2.weight");
        require(w1.count == w2.count && w1.count == static_cast<std::size_t>(c.mlp.d_hidden * c.d_model), "CUDA model: '", p,
                "swiglu': w1 and w2 are not both [", c.mlp.d_hidden, ", ", c.d_model, "]");
        std::vector<W> gate_up(w1.count + w2.count);
        const auto D = static_cast<std::size_t>(c.d_model);
        for (std::size_t i = 0; i < static_cast<std::size_t>(c.mlp.d_hidden); ++i) {
          std::copy_n(static_cast<const W*>(w1.data) + i * D, D, gate_up.begin() + static_cast<std::ptrdiff_t>(2 * i * D));
          std::copy_n(static_cast<const W*>(w2.data) + i * D, D, gate_up.begin() + static_cast<std::ptrdiff_t>((2 * i + 1) * D));
        }
        w->bytes += gate_up.size() * sizeof(W);
        sub.index = w->mlps.size();
        w->mlps.push_back({cuda::DeviceBuffer<W>(std::span<const W>(gate_up)), matrix(p + "swiglu.w3.weight")});
        break;
      }
    }
    w->sublayers.push_back(std::move(sub));
  }
  weights_ = std::move(w);
}

template <ModelShape S, class W>
std::size_t Model<S, backend::Cuda, W>::device_weight_bytes() const {
  return weights_ ? weights_->bytes : 0;
}

template <ModelShape S, class W>
auto Model<S, backend::Cuda, W>::new_state() const -> State {
  const ModelConfig& c = host_.config();
  State s;
  for (const auto& spec : c.sublayers) {
    if (spec.kind == SublayerKind::mamba) {
      s.conv.emplace_back(static_cast<std::size_t>((c.mamba.d_conv - 1) * c.mamba.d_inner));
      s.ssm.emplace_back(static_cast<std::size_t>(c.mamba.d_state * c.mamba.d_inner));
      s.conv.back().zero(), s.ssm.back().zero();
    } else if (spec.kind == SublayerKind::attention) {
      s.attention.emplace_back(spec.window, c.attention.n_kv_head, c.attention.head_size, spec.window > 0 ? spec.window : 0);
    }
  }
  return s;
}

template <ModelShape S, class W>
void Model<S, backend::Cuda, W>::check_state(const State& s) const {
  require(weights_ != nullptr, "CUDA model: prepare() has not uploaded the weights");
  require(s.conv.size() == weights_->mambas.size() && s.ssm.size() == weights_->mambas.size() &&
              s.attention.size() == weights_->attentions.size(),
          "sequence state does not belong to this model (", s.ssm.size(), " Mamba and ", s.attention.size(),
          " attention states; the model has ", weights_->mambas.size(), " and ", weights_->attentions.size(), ")");
}

template <ModelShape S, class W>
Tensor<float> Model<S, backend::Cuda, W>::forward(State& state, std::span<const token_t> tokens, LogitsFor which,
                                                  const HiddenObserver& observer) const {
  const std::lock_guard lock(*mutex_);
  check_state(state);
  check_token_ids(tokens, host_.config().vocab_size);
  const index_t T = static_cast<index_t>(tokens.size()), V = padded_vocab_size();
  Tensor<float> logits({for_each_chunk(T, chunk_tokens_, which, [](index_t, index_t, index_t, index_t) {}), V});
  for_each_chunk(T, chunk_tokens_, which, [&](index_t begin, index_t n, index_t rows, index_t out_row) {
    const ChunkPart part{&state, n};
    forward_chunk(std::span<const ChunkPart>(&part, 1), tokens.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(n)), rows,
                  logits.ptr() + out_row * V, observer);
  });
  return logits;
}

template <ModelShape S, class W>
Tensor<float> Model<S, backend::Cuda, W>::step(std::span<State* const> states, std::span<const token_t> tokens) const {
  const std::lock_guard lock(*mutex_);
  require(states.size() == tokens.size(), "batched step: ", states.size(), " states but ", tokens.size(), " tokens");
  for (std::size_t b = 0; b < states.size(); ++b) {
    require(states[b] != nullptr, "batched step: state ", b, " is null");
    check_state(*states[b]);
    for (std::size_t c = 0; c < b; ++c) require(states[c] != states[b], "batched step: states ", c, " and ", b, " are the same sequence");
  }
  check_token_ids(tokens, host_.config().vocab_size);
  const index_t B = static_cast<index_t>(tokens.size()), V = padded_vocab_size();
  Tensor<float> logits({B, V});
  // A launch serves at most max_batch sequences; larger batches go in groups.
  for (index_t b0 = 0; b0 < B; b0 += ops::cuda_kernels::max_batch) {
    const index_t count = std::min<index_t>(ops::cuda_kernels::max_batch, B - b0);
    std::vector<ChunkPart> parts;
    for (index_t b = b0; b < b0 + count; ++b) parts.push_back({states[static_cast<std::size_t>(b)], 1});
    forward_chunk(parts, tokens.subspan(static_cast<std::size_t>(b0), static_cast<std::size_t>(count)), count, logits.ptr() + b0 * V, {});
  }
  return logits;
}

template <ModelShape S, class W>
void Model<S, backend::Cuda, W>::forward_chunk(std::span<const ChunkPart> parts, std::span<const token_t> tokens, index_t logit_rows,
                                               float* logits, const HiddenObserver& observer) const {
  using A = W;  // the matrix products' input type
  namespace k = ops::cuda_kernels;
  const ModelConfig& c = host_.config();
  const Weights& w = *weights_;
  const backend::Cuda& be = backend_;
  const index_t T = static_cast<index_t>(tokens.size()), D = d_model(), V = padded_vocab_size();
  const index_t E = c.mamba.d_inner, N = c.mamba.d_state, R = c.mamba.dt_rank, K = c.mamba.d_conv, proj = R + 2 * N;
  const index_t H = c.attention.n_head, G = c.attention.n_kv_head, hs = c.attention.head_size, qkv_width = (H + 2 * G) * hs;
  const index_t I = c.mlp.d_hidden;
  require(T <= 0x7fffffff, "CUDA model: ", T, " rows in one chunk");
  const index_t first = parts.front().state->position;

  // The stacked sequences, and the full-attention caches grown to hold this chunk.
  k::SegmentTable seg;
  seg.count = static_cast<int>(parts.size());
  int max_rows = 0, row = 0;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    State& s = *parts[p].state;
    seg.row0[p] = row, seg.rows[p] = static_cast<int>(parts[p].rows), seg.first[p] = s.position;
    row += seg.rows[p], max_rows = std::max(max_rows, seg.rows[p]);
    for (cuda::DeviceKvCache& kv : s.attention) {
      if (kv.window > 0 || kv.slots >= s.position + parts[p].rows) continue;
      const index_t slots = std::max({s.position + parts[p].rows, 2 * kv.slots, index_t{1024}});
      cuda::DeviceKvCache grown(kv.window, kv.groups, kv.head_size, slots);
      const std::size_t used = static_cast<std::size_t>(s.position * kv.head_size) * sizeof(float);
      if (used > 0)
        for (cuda::DeviceBuffer<float>* part : {&kv.keys, &kv.values}) {
          cuda::DeviceBuffer<float>& dst = part == &kv.keys ? grown.keys : grown.values;
          cuda::check(cudaMemcpy2D(dst.data(), static_cast<std::size_t>(slots * kv.head_size) * sizeof(float), part->data(),
                                   static_cast<std::size_t>(kv.slots * kv.head_size) * sizeof(float), used,
                                   static_cast<std::size_t>(kv.groups), cudaMemcpyDeviceToDevice),
                      "cudaMemcpy2D (growing a KV cache)");
        }
      kv = std::move(grown);
    }
  }

  // Scratch: the residual stream, the sublayer input and output, and the largest sublayer's activations.
  cuda_detail::ScratchPlan plan;
  const std::size_t o_tokens = plan.take<int>(T), o_positions = plan.take<long long>(seg.count);
  const std::size_t o_x = plan.take<float>(T * D), o_out = plan.take<float>(T * D);
  const std::size_t o_normed = plan.take<A>(T * D), o_logits = plan.take<float>(logit_rows * V);
  cuda_detail::ScratchPlan mamba = plan, attention = plan, mlp = plan;  // sublayer areas overlap
  const std::size_t o_xz = mamba.take<float>(T * 2 * E), o_xc = mamba.take<float>(T * E), o_xc_a = mamba.take<A>(T * E);
  const std::size_t o_dbc = mamba.take<float>(T * proj), o_dt_low = mamba.take<A>(T * R), o_dt = mamba.take<float>(T * E);
  const std::size_t o_y = mamba.take<A>(T * E);
  const std::size_t o_scan = mamba.take<float>(static_cast<index_t>(ops::scan_scratch_floats(seg, E, N)));
  std::size_t attention_scratch = 0;  // the decode kernel's partial results, for the widest window
  std::vector<int> splits;            // launch sizes that depend on the positions (part of a graph's identity)
  for (const auto& a : w.attentions) {
    const k::AttentionGeometry geo{static_cast<int>(H), static_cast<int>(G), static_cast<int>(hs), static_cast<int>(a.window)};
    attention_scratch = std::max(attention_scratch, ops::attention_scratch_floats<A>(be, seg, max_rows, T, geo));
    const ops::AttentionSplit split = ops::attention_split(seg, geo);
    splits.insert(splits.end(), {split.splits, split.keys, split.threads});
  }
  const std::size_t o_qkv = attention.take<float>(T * qkv_width), o_att = attention.take<A>(T * H * hs);
  const std::size_t o_att_scratch = attention.take<float>(static_cast<index_t>(attention_scratch));
  const std::size_t o_gate_up = mlp.take<float>(T * 2 * I), o_hidden = mlp.take<A>(T * I);
  const std::size_t need = std::max({mamba.bytes(), attention.bytes(), mlp.bytes()});
  cuda::DeviceBuffer<std::byte>& scratch = parts.front().state->scratch;
  if (scratch.size() < need) scratch = cuda::DeviceBuffer<std::byte>(need);
  using cuda_detail::at;
  int* d_tokens = at<int>(scratch, o_tokens);
  long long* d_positions = at<long long>(scratch, o_positions);
  seg.position = d_positions;
  float *x = at<float>(scratch, o_x), *out = at<float>(scratch, o_out);
  A* normed = at<A>(scratch, o_normed);
  float* d_logits = at<float>(scratch, o_logits);

  // Inputs go through mapped pinned host memory, which a captured step reads afresh each replay.
  cuda_detail::Staging& staging = *staging_;
  staging.reserve(T, seg.count, logit_rows * V);
  std::copy(tokens.begin(), tokens.end(), staging.tokens);
  std::copy(seg.first, seg.first + seg.count, staging.positions);

  // The per-sequence state pointers of each Mamba and attention sublayer.
  std::vector<k::StatePointers> conv(w.mambas.size()), ssm(w.mambas.size());
  std::vector<k::KvPointers> kv(w.attentions.size());
  for (std::size_t p = 0; p < parts.size(); ++p) {
    State& s = *parts[p].state;
    for (std::size_t i = 0; i < w.mambas.size(); ++i) conv[i].at[p] = s.conv[i].data(), ssm[i].at[p] = s.ssm[i].data();
    for (std::size_t i = 0; i < w.attentions.size(); ++i)
      kv[i].keys[p] = s.attention[i].keys.data(), kv[i].values[p] = s.attention[i].values.data(), kv[i].slots[p] = s.attention[i].slots;
  }

  std::vector<float> host_x;
  auto observe = [&](index_t block) {
    host_x.resize(static_cast<std::size_t>(T * D));
    cuda::check(cudaMemcpyAsync(host_x.data(), x, host_x.size() * sizeof(float), cudaMemcpyDeviceToHost, be.stream()), "cudaMemcpyAsync (hidden)");
    be.synchronize();
    observer(block, first, host_x.data(), T);
  };

  // A decode step (or any chunk of a few rows): every product is a fused GEMV (gemv.cuh) whose
  // input is the RMSNorm of the residual stream or a float32 array, and whose output may be added
  // to the residual stream or reduced to SwiGLU's hidden state, so that norms, casts, gating and
  // residual adds need no kernels of their own.
  const auto serves = [&](index_t in, const void* weights) { return ops::gemv_serves<W>(T, in, weights, in); };
  bool few_rows = T <= k::gemv_max_rows && serves(D, w.head(c.tie_embeddings));
  for (const auto& m : w.mambas) few_rows = few_rows && serves(D, m.in_proj.data()) && serves(E, m.x_proj.data()) && serves(R, m.dt_proj.data()) && serves(E, m.out_proj.data());
  for (const auto& a : w.attentions) few_rows = few_rows && serves(D, a.qkv.data()) && serves(H * hs, a.proj.data());
  for (const auto& m : w.mlps) few_rows = few_rows && serves(D, m.gate_up.data()) && serves(I, m.down.data());
  const bool one_row_each = max_rows == 1 && T == seg.count;
  using In = k::GemvIn;
  using Out = k::GemvOut;
  auto product = [&]<In Input, Out Output>(std::integral_constant<In, Input>, std::integral_constant<Out, Output>, const void* input,
                                            index_t ldx, const float* gain, const W* weights, void* y, index_t ldy, index_t in, index_t outs,
                                            index_t rows = -1) {
    k::GemvArgs<W> a;
    if constexpr (Input == In::vector) a.x = static_cast<const W*>(input);
    else a.xf = static_cast<const float*>(input);
    a.gain = gain, a.eps = static_cast<float>(c.norm_eps), a.ldx = ldx, a.w = weights, a.ldy = ldy;
    if constexpr (Output == Out::swiglu) a.y_act = static_cast<W*>(y);
    else a.y = static_cast<float*>(y);
    a.rows = static_cast<int>(rows < 0 ? T : rows), a.in = static_cast<int>(in), a.out = static_cast<int>(outs);
    ops::gemv<Input, Output>(be, a);
  };
  constexpr std::integral_constant<In, In::vector> vector{};
  constexpr std::integral_constant<In, In::cast> cast{};
  constexpr std::integral_constant<In, In::rmsnorm> rmsnorm{};
  constexpr std::integral_constant<Out, Out::store> store{};
  constexpr std::integral_constant<Out, Out::accumulate> accumulate{};
  constexpr std::integral_constant<Out, Out::swiglu> swiglu{};

  // Everything the chunk queues on the stream, from the token upload to the logits download.
  auto enqueue = [&] {
    ops::stage_inputs(be, staging.tokens, d_tokens, T, staging.positions, d_positions, seg.count);
    ops::embed_rows(be, w.embedding.data(), d_tokens, x, T, D);
    index_t block = 0;
    for (std::size_t i = 0; i < w.sublayers.size(); ++i) {
      const auto& sub = w.sublayers[i];
      if (!few_rows) {
        ops::add_rmsnorm(be, x, i == 0 ? nullptr : out, sub.norm.data(), normed, T, D, c.norm_eps);
        if (i > 0 && c.sublayers[i - 1].ends_block && observer) observe(block++);
      }
      // The sublayer's output: added to x by the last product (few rows), or written to `out`.
      float* result = few_rows ? x : out;
      auto input_product = [&](const W* weights, float* y, index_t ldy, index_t outs) {  // normed x -> y
        if (few_rows) product(rmsnorm, store, x, D, sub.norm.data(), weights, y, ldy, D, outs);
        else ops::linear(be, normed, D, weights, y, ldy, T, D, outs);
      };
      auto output_product = [&](const A* input, index_t in, const W* weights) {  // -> D columns of the residual
        if (few_rows) product(vector, accumulate, input, in, nullptr, weights, result, D, in, D);
        else ops::linear(be, input, in, weights, result, D, T, in, D);
      };
      switch (sub.kind) {
        case SublayerKind::mamba: {
          const auto& m = w.mambas[sub.index];
          float *xz = at<float>(scratch, o_xz), *xc = at<float>(scratch, o_xc), *dbc = at<float>(scratch, o_dbc), *dt = at<float>(scratch, o_dt);
          A* y = at<A>(scratch, o_y);
          constexpr bool same = std::is_same_v<A, float>;
          A* xc_a = same ? nullptr : at<A>(scratch, o_xc_a);
          input_product(m.in_proj.data(), xz, 2 * E, 2 * E);
          ops::causal_conv1d_silu(be, xz, 2 * E, seg, conv[sub.index], m.conv_w.data(), m.conv_b.data(), xc, xc_a, E, K);
          const A* xc_in = same ? reinterpret_cast<const A*>(xc) : xc_a;
          ops::cuda_kernels::ScanInputs scan{xc, dt, m.dt_bias.data(), m.a.data(), dbc + R, dbc + R + N, proj, m.d.data(), xz + E, 2 * E};
          if (few_rows) {
            product(vector, store, xc_in, E, nullptr, m.x_proj.data(), dbc, proj, E, proj);
            if (R <= ops::scan_max_dt_rank) {  // the scan projects dt_low itself
              scan.dt_low = dbc, scan.dt_low_stride = proj, scan.dt_proj = m.dt_proj.data(), scan.dt_rank = static_cast<int>(R);
            } else {
              product(cast, store, dbc, proj, nullptr, m.dt_proj.data(), dt, E, R, E);
            }
          } else {
            ops::linear(be, xc_in, E, m.x_proj.data(), dbc, proj, T, E, proj);
            if constexpr (same) {
              ops::linear(be, reinterpret_cast<const A*>(dbc), proj, m.dt_proj.data(), dt, E, T, R, E);
            } else {
              A* dt_low = at<A>(scratch, o_dt_low);
              ops::cast_rows(be, dbc, proj, dt_low, T, R);
              ops::linear(be, dt_low, R, m.dt_proj.data(), dt, E, T, R, E);
            }
          }
          ops::selective_scan<A, W>(be, scan, seg, ssm[sub.index], y, E, N, at<float>(scratch, o_scan));
          output_product(y, E, m.out_proj.data());
          break;
        }
        case SublayerKind::attention: {
          const auto& a = w.attentions[sub.index];
          const k::AttentionGeometry geo{static_cast<int>(H), static_cast<int>(G), static_cast<int>(hs), static_cast<int>(a.window)};
          float* qkv = at<float>(scratch, o_qkv);
          A* att = at<A>(scratch, o_att);
          input_product(a.qkv.data(), qkv, qkv_width, qkv_width);
          if (one_row_each) {  // rotation, cache append and attention in one kernel
            const ops::cuda_kernels::RopeParams rope{static_cast<int>(c.attention.rope_dims), c.attention.rope_base, c.attention.position_scale};
            ops::attend_step(be, qkv, seg, kv[sub.index], geo, rope, att, at<float>(scratch, o_att_scratch));
          } else {
            if (c.attention.rope_dims > 0)
              ops::rope_qk(be, qkv, seg, T, G, H / G, hs, c.attention.rope_dims, c.attention.rope_base, c.attention.position_scale);
            ops::swa_forward(be, qkv, seg, max_rows, kv[sub.index], geo, att, at<float>(scratch, o_att_scratch));
            ops::kv_append(be, qkv, seg, max_rows, kv[sub.index], geo);
          }
          output_product(att, H * hs, a.proj.data());
          break;
        }
        case SublayerKind::mlp: {
          const auto& m = w.mlps[sub.index];
          A* hidden = at<A>(scratch, o_hidden);
          if (few_rows) {
            product(rmsnorm, swiglu, x, D, sub.norm.data(), m.gate_up.data(), hidden, I, D, 2 * I);
          } else {
            float* gate_up = at<float>(scratch, o_gate_up);
            ops::linear(be, normed, D, m.gate_up.data(), gate_up, 2 * I, T, D, 2 * I);
            ops::silu_mul(be, gate_up, hidden, T, I);
          }
          output_product(hidden, I, m.down.data());
          break;
        }
      }
      if (few_rows && c.sublayers[i].ends_block && observer) observe(block++);
    }
    // The last residual add, fused with ln_f where logits are wanted.
    const index_t skip = T - logit_rows;
    if (few_rows) {
      if (logit_rows > 0)
        product(rmsnorm, store, x + skip * D, D, w.final_norm.data(), w.head(c.tie_embeddings), d_logits, V, D, V, logit_rows);
      return;
    }
    if (skip > 0) ops::add_inplace(be, x, out, skip * D);
    if (logit_rows > 0) ops::add_rmsnorm(be, x + skip * D, out + skip * D, w.final_norm.data(), normed, logit_rows, D, c.norm_eps);
    if (c.sublayers.back().ends_block && observer) observe(block++);
    if (logit_rows > 0) ops::linear(be, normed, D, w.head(c.tie_embeddings), d_logits, V, logit_rows, D, V);
  };

  // Decode steps (one row per sequence) replay a CUDA graph of the whole step: it is captured
  // again only when what its launches are bound to changes (states, scratch, batch, key splits).
  // The graph holds kernels only (no memcpy nodes), whose pointers stay valid as long as the
  // addresses in the key do.
  const bool decode_step = graphs_ && !observer && max_rows == 1;
  if (decode_step) {
    std::vector<std::uintptr_t> key{reinterpret_cast<std::uintptr_t>(scratch.data()), static_cast<std::uintptr_t>(scratch.size()),
                                    reinterpret_cast<std::uintptr_t>(staging.tokens), reinterpret_cast<std::uintptr_t>(staging.positions),
                                    reinterpret_cast<std::uintptr_t>(staging.logits), static_cast<std::uintptr_t>(T),
                                    static_cast<std::uintptr_t>(logit_rows)};
    for (const auto& ptrs : conv) key.insert(key.end(), reinterpret_cast<const std::uintptr_t*>(ptrs.at), reinterpret_cast<const std::uintptr_t*>(ptrs.at) + seg.count);
    for (const auto& ptrs : ssm) key.insert(key.end(), reinterpret_cast<const std::uintptr_t*>(ptrs.at), reinterpret_cast<const std::uintptr_t*>(ptrs.at) + seg.count);
    for (const auto& ptrs : kv)
      for (int p = 0; p < seg.count; ++p)
        key.insert(key.end(), {reinterpret_cast<std::uintptr_t>(ptrs.keys[p]), reinterpret_cast<std::uintptr_t>(ptrs.values[p]),
                               static_cast<std::uintptr_t>(ptrs.slots[p])});
    key.insert(key.end(), splits.begin(), splits.end());
    graph_->run(be, key, enqueue);
  } else {
    enqueue();
  }
  if (logit_rows > 0)  // outside any graph: a graph holds no node bound to host allocations
    cuda::check(cudaMemcpyAsync(staging.logits, d_logits, static_cast<std::size_t>(logit_rows * V) * sizeof(float), cudaMemcpyDeviceToHost,
                                be.stream()),
                "cudaMemcpyAsync (logits)");
  be.synchronize();
  if (logit_rows > 0) std::copy_n(staging.logits, logit_rows * V, logits);
  for (const ChunkPart& part : parts) part.state->position += part.rows;
}

template <ModelShape S, class W>
SequenceState Model<S, backend::Cuda, W>::to_host(const State& state) const {
  check_state(state);
  SequenceState s = host_.new_state();
  s.position = state.position;
  for (std::size_t i = 0; i < state.conv.size(); ++i) state.conv[i].download(s.mamba[i].conv), state.ssm[i].download(s.mamba[i].ssm);
  for (std::size_t i = 0; i < state.attention.size(); ++i) {
    const cuda::DeviceKvCache& kv = state.attention[i];
    const index_t live = kv.window > 0 ? std::min(state.position, kv.window) : state.position;
    std::vector<float> all_k(kv.keys.size()), all_v(kv.values.size()), keys, values;
    kv.keys.download(all_k), kv.values.download(all_v);
    for (index_t g = 0; g < kv.groups; ++g)
      for (index_t j = state.position - live; j < state.position; ++j) {
        const index_t slot = kv.window > 0 ? j % kv.window : j;
        const auto from = static_cast<std::ptrdiff_t>((g * kv.slots + slot) * kv.head_size);
        keys.insert(keys.end(), all_k.begin() + from, all_k.begin() + from + kv.head_size);
        values.insert(values.end(), all_v.begin() + from, all_v.begin() + from + kv.head_size);
      }
    s.attention[i].restore(state.position, keys, values);
  }
  return s;
}

template <ModelShape S, class W>
auto Model<S, backend::Cuda, W>::to_device(const SequenceState& host) const -> State {
  State s = new_state();
  require(host.mamba.size() == s.ssm.size() && host.attention.size() == s.attention.size(),
          "sequence state does not belong to this model (", host.mamba.size(), " Mamba and ", host.attention.size(),
          " attention states; the model has ", s.ssm.size(), " and ", s.attention.size(), ")");
  s.position = host.position;
  for (std::size_t i = 0; i < s.conv.size(); ++i) s.conv[i].upload(host.mamba[i].conv), s.ssm[i].upload(host.mamba[i].ssm);
  for (std::size_t i = 0; i < s.attention.size(); ++i) {
    const KvCache& kv = host.attention[i];
    cuda::DeviceKvCache& dev = s.attention[i];
    require(kv.groups() == dev.groups && kv.head_size() == dev.head_size && kv.window() == dev.window && kv.end() == host.position,
            "sequence state: attention layer ", i, " does not match this model");
    const index_t live = kv.live_positions();
    if (dev.window <= 0) dev = cuda::DeviceKvCache(dev.window, dev.groups, dev.head_size, std::max<index_t>(host.position, 1024));
    std::vector<float> keys(dev.keys.size(), 0.0f), values(dev.values.size(), 0.0f);
    for (index_t g = 0; g < dev.groups; ++g)
      for (index_t j = host.position - live; j < host.position; ++j) {
        const index_t slot = dev.window > 0 ? j % dev.window : j;
        std::copy_n(kv.key(j, g), dev.head_size, keys.begin() + (g * dev.slots + slot) * dev.head_size);
        std::copy_n(kv.value(j, g), dev.head_size, values.begin() + (g * dev.slots + slot) * dev.head_size);
      }
    dev.keys.upload(keys), dev.values.upload(values);
  }
  return s;
}

}  // namespace samba
