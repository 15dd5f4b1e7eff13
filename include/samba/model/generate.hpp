// samba/model/generate.hpp: token selection and a simple generation loop.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <vector>

#include "samba/model/model.hpp"

namespace samba {

/// Index of the largest logit among the first `vocab` (the padded tail is never chosen); ties pick the lowest id.
inline token_t argmax(std::span<const float> logits, index_t vocab) {
  return static_cast<token_t>(std::max_element(logits.begin(), logits.begin() + vocab) - logits.begin());
}

/// Greedy when temperature == 0, else samples softmax(logits / temperature) with `rng`.
inline token_t select_token(std::span<const float> logits, index_t vocab, float temperature, std::mt19937_64& rng) {
  if (temperature <= 0.0f) return argmax(logits, vocab);
  const float top = *std::max_element(logits.begin(), logits.begin() + vocab);
  std::vector<double> p(static_cast<std::size_t>(vocab));
  for (index_t i = 0; i < vocab; ++i) p[i] = std::exp((logits[i] - top) / static_cast<double>(temperature));
  std::discrete_distribution<index_t> pick(p.begin(), p.end());
  return static_cast<token_t>(pick(rng));
}

struct GenerateOptions {
  index_t max_new_tokens = 16;
  float temperature = 0.0f;
  std::uint64_t seed = 0;
};

/// Consumes `prompt` (one prefill) and produces up to max_new_tokens tokens, calling on_token(id)
/// as each is chosen. Returns the new tokens.
template <class ModelT, class OnToken>
std::vector<token_t> generate(const ModelT& model, SequenceState& state, std::span<const token_t> prompt,
                              const GenerateOptions& options, OnToken&& on_token) {
  require(!prompt.empty(), "generate: the prompt is empty");
  std::mt19937_64 rng(options.seed);
  const index_t vocab = model.config().vocab_size;
  std::vector<token_t> out;
  if (options.max_new_tokens <= 0) {
    model.forward(state, prompt, LogitsFor::none);
    return out;
  }
  std::vector<float> logits = model.forward(state, prompt, LogitsFor::last).data;
  for (index_t i = 0; i < options.max_new_tokens; ++i) {
    const token_t next = select_token(logits, vocab, options.temperature, rng);
    out.push_back(next);
    on_token(next);
    if (i + 1 < options.max_new_tokens) logits = model.step(state, next);
  }
  return out;
}

}  // namespace samba
