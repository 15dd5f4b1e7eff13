// samba/model/generate.hpp: argmax and a simple generation loop over a Sampler.
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "samba/model/model.hpp"
#include "samba/model/sampling.hpp"

namespace samba {

/// Index of the largest logit among the first `vocab` (the padded tail is never chosen); ties pick the lowest id.
inline token_t argmax(std::span<const float> logits, index_t vocab) {
  return static_cast<token_t>(std::max_element(logits.begin(), logits.begin() + vocab) - logits.begin());
}

struct GenerateOptions {
  index_t max_new_tokens = 16;
  SamplingOptions sampling;  // greedy by default
};

/// Consumes `prompt` (one prefill, in chunks) and produces up to max_new_tokens tokens, calling
/// on_token(id) as each is chosen. The last token is not consumed. Returns the new tokens.
template <class ModelT, class OnToken>
std::vector<token_t> generate(const ModelT& model, SequenceState& state, std::span<const token_t> prompt,
                              const GenerateOptions& options, OnToken&& on_token) {
  require(!prompt.empty(), "generate: the prompt is empty");
  Sampler sampler(options.sampling, model.config().vocab_size);
  std::vector<token_t> history(prompt.begin(), prompt.end());
  std::vector<token_t> out;
  if (options.max_new_tokens <= 0) {
    model.forward(state, prompt, LogitsFor::none);
    return out;
  }
  std::vector<float> logits = model.forward(state, prompt, LogitsFor::last).data;
  for (index_t i = 0; i < options.max_new_tokens; ++i) {
    const token_t next = sampler.next(logits, history);
    out.push_back(next);
    history.push_back(next);
    on_token(next);
    if (i + 1 < options.max_new_tokens) logits = model.step(state, next);
  }
  return out;
}

}  // namespace samba
