// samba/model/cuda/model.hpp: Model<S, backend::Cuda, W>, the CUDA backend's model: the same
// architecture, checkpoints and interface as the host models, with weights uploaded to one GPU
// once (prepare()) and every sequence's state kept on the GPU. This header declares it and can be
// compiled by any C++20 compiler that sees the CUDA headers; its members are defined in
// model.cuh, which only nvcc compiles: include that in one .cu file and instantiate the model
// types there (see cli/model_instance_cuda.cu), or include samba/cuda.cuh from .cu files.
//
// W is float (exact float32 products, no TF32) or bf16 (bf16 products, float32 accumulation).
// A model is used by one host thread at a time: its calls lock a mutex.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <type_traits>
#include <vector>

#include "samba/backend/cuda.hpp"
#include "samba/backend/cuda/device_buffer.hpp"
#include "samba/model/cuda/sequence_state.hpp"
#include "samba/model/model.hpp"

namespace samba {

namespace cuda_detail {
struct Staging;  // model.cuh
class StepGraph;
}  // namespace cuda_detail

/// Tokens a CUDA forward pass processes at once by default: enough rows for the matrix products to
/// reach the GPU's rate, a few GiB of activations for billion-parameter models at most.
inline constexpr index_t default_cuda_chunk_tokens = 8192;
/// The longest chunk the kernels' launch grids take (rows on a grid's y axis).
inline constexpr index_t max_cuda_chunk_tokens = 65535;

template <ModelShape S, class W>
class Model<S, backend::Cuda, W> {
  static_assert(std::is_same_v<W, float> || std::is_same_v<W, bf16>, "the CUDA backend stores weights as float or bf16");

 public:
  using State = cuda::DeviceSequenceState;
  using backend_type = backend::Cuda;
  using weight_type = W;
  static constexpr ModelShape shape = S;

  /// Builds a model with zero weights on the host; fill them through for_each_parameter (load.hpp,
  /// random_init.hpp), then prepare() uploads them.
  explicit Model(ModelConfig config, backend::Cuda backend = backend::Cuda{});
  Model(Model&&) noexcept;
  ~Model();

  const ModelConfig& config() const { return host_.config(); }
  const backend::Cuda& backend() const { return backend_; }
  index_t d_model() const { return host_.d_model(); }
  index_t padded_vocab_size() const { return host_.padded_vocab_size(); }

  State new_state() const;

  /// As the host Model::forward: runs `tokens` after what `state` has consumed, chunk_tokens() at a
  /// time; logits [T, V_pad] (all), [1, V_pad] (last) or [0, V_pad] (none) come back to the host.
  /// The observer, if any, gets a host copy of the residual stream after each block.
  Tensor<float> forward(State& state, std::span<const token_t> tokens, LogitsFor which = LogitsFor::all,
                        const HiddenObserver& observer = {}) const;

  /// One decode step for several sequences: consumes tokens[b] in *states[b]; logits [B, V_pad].
  Tensor<float> step(std::span<State* const> states, std::span<const token_t> tokens) const;

  /// One decode step: consumes `token`, returns its logits [V_pad].
  std::vector<float> step(State& state, token_t token) const {
    return forward(state, std::span<const token_t>(&token, 1), LogitsFor::last).data;
  }

  index_t chunk_tokens() const { return chunk_tokens_; }
  /// Sets the chunk length, 1..max_cuda_chunk_tokens.
  void set_chunk_tokens(index_t n) {
    require(n >= 1 && n <= max_cuda_chunk_tokens, "chunk length must be 1..", max_cuda_chunk_tokens, " tokens on the CUDA backend, got ", n);
    chunk_tokens_ = n;
  }

  /// The host copy of every tensor (the host Model's names and storage); call prepare() after writing.
  template <class F>
  void for_each_parameter(F&& f) {
    host_.for_each_parameter(std::forward<F>(f));
  }
  index_t parameter_count() { return host_.parameter_count(); }

  /// Uploads the weights (and the values derived from them) to the GPU.
  void prepare();

  /// The state in host form (for state files and the host models), and back.
  SequenceState to_host(const State& state) const;
  State to_device(const SequenceState& state) const;

  /// The host copy of the model: the same configuration and weights (state files are written and
  /// read through it, with states moved by to_host / to_device).
  const Model<S, backend::Scalar, W>& host_model() const { return host_; }

  /// Whether decode steps replay CUDA graphs (default on); off launches every kernel each step.
  void set_graphs(bool on) { graphs_ = on; }
  bool graphs() const { return graphs_; }

  /// Bytes of weights on the GPU.
  std::size_t device_weight_bytes() const;

 private:
  struct Weights;  // device copies, defined in model.cuh
  struct ChunkPart {
    State* state;
    index_t rows;
  };
  void forward_chunk(std::span<const ChunkPart> parts, std::span<const token_t> tokens, index_t logit_rows, float* logits,
                     const HiddenObserver& observer) const;
  void check_state(const State& s) const;

  Model<S, backend::Scalar, W> host_;  // the weights as loaded; the source of every upload
  backend::Cuda backend_;
  std::unique_ptr<Weights> weights_;
  index_t chunk_tokens_ = default_cuda_chunk_tokens;
  std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();
  std::unique_ptr<cuda_detail::Staging> staging_;
  std::unique_ptr<cuda_detail::StepGraph> graph_;
  bool graphs_ = true;
};

}  // namespace samba
