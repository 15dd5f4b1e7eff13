// samba/model/saved_sequence.hpp: what a generation needs to continue exactly where it stopped
// (the unit that state_file.hpp saves and loads), and the check that it fits a given model.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/kv_cache.hpp"
#include "samba/model/model.hpp"

namespace samba {

/// What a generation needs to continue exactly where it stopped.
struct SavedSequence {
  SequenceState state;
  std::vector<float> logits;     // [V_pad] logits after the last consumed token (empty if none were kept)
  std::vector<token_t> history;  // tokens the caller wants to keep (e.g. for a repetition penalty); may be empty
  std::string sampler;           // opaque text (e.g. a random engine's state); may be empty
};

/// Largest sequence position a saved state may have (far beyond any real context; keeps
/// `position + tokens` clear of overflow).
inline constexpr index_t max_saved_position = index_t{1} << 62;

namespace detail {

/// Fails with "<where>: <what> holds a NaN or infinite value at index i" if one is in `v`.
inline void require_finite(std::span<const float> v, const std::string& where, const std::string& what) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) fail(where, ": ", what, " holds a NaN or infinite value (", v[i], ") at index ", i);
}

/// The KV geometry a cache must have: that of `expected` (from the model's new_state()).
inline void require_same_geometry(const KvCache& got, const KvCache& expected, std::size_t layer, const std::string& where) {
  require(got.window() == expected.window() && got.groups() == expected.groups() && got.head_size() == expected.head_size(),
          where, ": attention layer ", layer, " has window ", got.window(), ", ", got.groups(), " KV heads of ",
          got.head_size(), " floats; the model's has window ", expected.window(), ", ", expected.groups(),
          " KV heads of ", expected.head_size(), " floats");
}

}  // namespace detail

/// Checks that `saved` can continue on `model`: its Mamba states and KV caches have the sizes of
/// model.new_state()'s, every cache ends at the sequence position, every value (state and logits)
/// is finite, the logits are empty or [V_pad] and the history ids lie in the vocabulary. Errors
/// start with `where` (e.g. the file's path).
template <class ModelT>
void check_saved_sequence(const ModelT& model, const SavedSequence& saved, const std::string& where) {
  const SequenceState fresh = model.new_state();
  const SequenceState& s = saved.state;
  require(s.position >= 0 && s.position <= max_saved_position, where, ": sequence position ", s.position,
          " is outside [0, 2^62]");
  require(s.mamba.size() == fresh.mamba.size() && s.attention.size() == fresh.attention.size(), where, ": the state has ",
          s.mamba.size(), " Mamba and ", s.attention.size(), " attention layers; the model has ", fresh.mamba.size(),
          " and ", fresh.attention.size());
  for (std::size_t i = 0; i < s.mamba.size(); ++i) {
    const MambaState &m = s.mamba[i], &e = fresh.mamba[i];
    require(m.conv.size() == e.conv.size() && m.ssm.size() == e.ssm.size(), where, ": Mamba layer ", i, " has ",
            m.conv.size(), " conv and ", m.ssm.size(), " ssm values; the model's has ", e.conv.size(), " [K-1, E] and ",
            e.ssm.size(), " [N, E]");
    detail::require_finite(m.conv, where, "Mamba layer " + std::to_string(i) + " conv state");
    detail::require_finite(m.ssm, where, "Mamba layer " + std::to_string(i) + " ssm state");
  }
  for (std::size_t i = 0; i < s.attention.size(); ++i) {
    const KvCache& kv = s.attention[i];
    detail::require_same_geometry(kv, fresh.attention[i], i, where);
    require(kv.end() == s.position, where, ": attention layer ", i, " holds positions up to ", kv.end(),
            " but the sequence is at position ", s.position);
    const std::string what = "attention layer " + std::to_string(i);
    const auto hs = static_cast<std::size_t>(kv.head_size());
    for (index_t p = kv.end() - kv.live_positions(); p < kv.end(); ++p)
      for (index_t g = 0; g < kv.groups(); ++g) {
        detail::require_finite({kv.key(p, g), hs}, where, what + " key of position " + std::to_string(p));
        detail::require_finite({kv.value(p, g), hs}, where, what + " value of position " + std::to_string(p));
      }
  }
  const auto vocab = model.config().vocab_size, padded = model.padded_vocab_size();
  require(saved.logits.empty() || static_cast<index_t>(saved.logits.size()) == padded, where, ": ", saved.logits.size(),
          " logits; expected none or ", padded, " (the padded vocabulary)");
  detail::require_finite(saved.logits, where, "the logits");
  for (std::size_t i = 0; i < saved.history.size(); ++i)
    require(saved.history[i] >= 0 && saved.history[i] < vocab, where, ": history token ", i, " is ", saved.history[i],
            ", outside the vocabulary [0, ", vocab, ")");
}

}  // namespace samba
