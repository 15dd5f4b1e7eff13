// cli/state_support.hpp: what the commands need to treat host and CUDA sequence states alike:
// scratch size, and the host form of a state that state files read and write.
#pragma once

#include <samba/samba.hpp>
#include <type_traits>
#include <utility>

#if SAMBA_HAVE_CUDA
#include <samba/model/cuda/sequence_state.hpp>
#endif

namespace samba::cli {

inline std::size_t scratch_bytes(const SequenceState& s) { return s.scratch.capacity() * sizeof(float); }
#if SAMBA_HAVE_CUDA
inline std::size_t scratch_bytes(const cuda::DeviceSequenceState& s) { return s.scratch.size(); }
#endif

template <class ModelT>
constexpr bool host_states = std::is_same_v<typename ModelT::State, SequenceState>;

/// The model whose fingerprint and geometry a state file records: the model itself, or a CUDA
/// model's host copy.
template <class ModelT>
const auto& state_file_model(const ModelT& model) {
  if constexpr (host_states<ModelT>) return model;
  else return model.host_model();
}

/// A state in host form, and back.
template <class ModelT>
SequenceState to_host_state(const ModelT& model, typename ModelT::State&& s) {
  if constexpr (host_states<ModelT>) return std::move(s);
  else return model.to_host(s);
}
template <class ModelT>
typename ModelT::State from_host_state(const ModelT& model, SequenceState&& s) {
  if constexpr (host_states<ModelT>) return std::move(s);
  else return model.to_device(s);
}

/// Puts a fresh state at sequence position `context` as if that many tokens had been consumed, with
/// zeros for their keys, values and Mamba states: decode timing at a long context without its
/// prefill (`samba bench --context`; the outputs mean nothing). Full-attention caches get room for
/// `context + reserve` positions. CUDA states only.
template <class ModelT>
void start_at_context(typename ModelT::State& s, long long context, long long reserve) {
  if constexpr (host_states<ModelT>) {
    (void)s, (void)context, (void)reserve;
    fail("--context runs on the cuda backend only");
  } else {
    s.position = context;
    for (auto& kv : s.attention)
      if (kv.window <= 0) kv = std::decay_t<decltype(kv)>(kv.window, kv.groups, kv.head_size, context + reserve);
  }
}

}  // namespace samba::cli
