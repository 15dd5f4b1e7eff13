// samba/model/sampling.hpp: choosing the next token from logits: greedy, or temperature sampling
// with top-k, top-p (nucleus) and a repetition penalty, reproducible across compilers and standard
// libraries, with a random state that can be saved as text and resumed.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba {

/// How Sampler::next turns logits into a token. The steps run in Hugging Face's order:
/// repetition penalty, then greedy argmax (temperature 0) or temperature, top-k, top-p, draw.
struct SamplingOptions {
  float temperature = 0.0f;         // 0 = greedy (argmax); > 0 samples softmax(logits / temperature)
  index_t top_k = 0;                // 0 = off; else keep the k most likely tokens
  float top_p = 1.0f;               // 1 = off; else keep the smallest set whose probability reaches top_p
  float repetition_penalty = 1.0f;  // 1 = off; a token in the history has logit / penalty if > 0, * penalty if < 0
  std::uint64_t seed = 0;           // seeds the std::mt19937_64 that draws the samples

  /// Throws samba::Error naming the first option out of range.
  void validate() const {
    require(std::isfinite(temperature) && temperature >= 0.0f,
            "SamplingOptions: temperature must be finite and >= 0 (0 = greedy), got ", temperature);
    require(top_k >= 0, "SamplingOptions: top_k must be >= 0 (0 = off), got ", top_k);
    require(top_p > 0.0f && top_p <= 1.0f, "SamplingOptions: top_p must be in (0, 1] (1 = off), got ", top_p);
    require(std::isfinite(repetition_penalty) && repetition_penalty > 0.0f,
            "SamplingOptions: repetition_penalty must be finite and > 0 (1 = off), got ", repetition_penalty);
  }
};

/// Chooses tokens one at a time. Deterministic: the same options, seed, logits and history give the
/// same tokens with any compiler and standard library (it uses std::mt19937_64, whose output the
/// standard fixes, and draws and picks by its own arithmetic instead of std's distributions; only a
/// libm whose exp() differs in the last bit could, in a rare tie of rounding, pick differently).
///
/// Decisions:
/// - Logits that are NaN or +inf are errors (naming the position); -inf means probability 0.
///   When every one of the first `vocab` logits is -inf there is no token to choose, and next()
///   throws in greedy and sampling mode alike rather than inventing one.
/// - History ids outside [0, vocab) are errors, as they are for the model's forward pass.
/// - The penalty applies once per distinct history token, however often it occurs (as in HF).
/// - Sampling mode draws exactly one random number per call (even when one token is left);
///   greedy mode draws none.
/// - Tokens rank by penalised logit descending, ties by id ascending; this order is "probability
///   descending" and drives top-k, top-p and the inverse CDF. Scratch space is allocated once.
class Sampler {
 public:
  Sampler(const SamplingOptions& options, index_t vocab) : options_(options), vocab_(vocab) {
    options_.validate();
    require(vocab >= 1 && vocab <= std::numeric_limits<token_t>::max(),
            "Sampler: vocab must be in [1, ", std::numeric_limits<token_t>::max(), "], got ", vocab);
    const auto n = static_cast<std::size_t>(vocab);
    adjusted_.resize(n);
    weight_.resize(n);
    penalised_.assign(n, 0);
    order_.reserve(n);
    reseed(options_.seed, 0);
  }

  /// The most draws set_rng_state replays: 2^32 sampled tokens, some seconds of replay.
  static constexpr std::uint64_t max_replayed_draws = std::uint64_t{1} << 32;

  const SamplingOptions& options() const { return options_; }
  index_t vocab() const { return vocab_; }

  /// The next token from `logits` (at least `vocab` values; any padded tail is never chosen), with
  /// the repetition penalty over `history` (the prompt and the tokens generated so far).
  token_t next(std::span<const float> logits, std::span<const token_t> history) {
    require(static_cast<index_t>(logits.size()) >= vocab_, "Sampler::next: got ", logits.size(),
            " logits, fewer than the vocabulary size ", vocab_);
    load_logits(logits);
    apply_repetition_penalty(history);
    if (options_.temperature == 0.0f) return greedy();
    return sample();
  }

  /// The random engine's state as text ("mt19937_64 seed=S draws=N"): the seed and the number of
  /// 64-bit values drawn since. Unlike operator<< on the engine it reads the same in every standard
  /// library (libstdc++ appends a private position index that libc++ does not write).
  std::string rng_state() const { return concat(engine_name, " seed=", seed_, " draws=", draws_); }

  /// Restores a state from rng_state() (replays the draws, a few seconds per 10^9); throws samba::Error
  /// on anything else, or more than max_replayed_draws, and then leaves the current state unchanged.
  void set_rng_state(const std::string& text) {
    const std::string_view view(text);
    const std::string_view seed_key = " seed=", draws_key = " draws=";
    const std::size_t seed_at = engine_name.size(), draws_at = view.find(draws_key);
    std::uint64_t seed = 0, draws = 0;
    const bool ok = view.substr(0, seed_at) == engine_name && view.substr(seed_at, seed_key.size()) == seed_key &&
                    draws_at != std::string_view::npos && draws_at > seed_at + seed_key.size() &&
                    parse_u64(view.substr(seed_at + seed_key.size(), draws_at - seed_at - seed_key.size()), seed) &&
                    parse_u64(view.substr(draws_at + draws_key.size()), draws);
    require(ok, "Sampler::set_rng_state: expected \"", engine_name, " seed=<unsigned> draws=<unsigned>\", got \"",
            text, "\"");
    require(draws <= max_replayed_draws, "Sampler::set_rng_state: draws=", draws, " exceeds the ",
            max_replayed_draws, " this sampler replays (one draw per sampled token)");
    reseed(seed, draws);
  }

 private:
  static constexpr std::string_view engine_name = "mt19937_64";
  static constexpr double infinity = std::numeric_limits<double>::infinity();

  static bool parse_u64(std::string_view digits, std::uint64_t& out) {
    if (digits.empty() || digits.front() < '0' || digits.front() > '9') return false;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return error == std::errc{} && end == digits.data() + digits.size();
  }

  void reseed(std::uint64_t seed, std::uint64_t draws) {
    rng_.seed(seed);
    rng_.discard(draws);
    seed_ = seed;
    draws_ = draws;
  }

  /// A uniform double in [0, 1) from the top 53 bits of one engine output (the usual 53-bit construction).
  double draw_uniform() {
    ++draws_;
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  }

  /// Copies the first vocab_ logits into adjusted_ (double: the penalty can then never overflow).
  void load_logits(std::span<const float> logits) {
    for (index_t i = 0; i < vocab_; ++i) {
      const float v = logits[static_cast<std::size_t>(i)];
      require(!std::isnan(v), "Sampler::next: logits[", i, "] is NaN");
      require(v != std::numeric_limits<float>::infinity(), "Sampler::next: logits[", i, "] is +inf");
      adjusted_[static_cast<std::size_t>(i)] = v;
    }
  }

  /// CTRL (Keskar et al. 2019, arXiv:1909.05858 sec. 4.1) as in HF RepetitionPenaltyLogitsProcessor:
  /// l <- l / penalty if l > 0, else l * penalty, once for each distinct token in the history.
  void apply_repetition_penalty(std::span<const token_t> history) {
    for (std::size_t t = 0; t < history.size(); ++t)
      require(history[t] >= 0 && history[t] < vocab_, "Sampler::next: history[", t, "] = ", history[t],
              " is outside the vocabulary [0, ", vocab_, ")");
    const double penalty = options_.repetition_penalty;
    if (penalty == 1.0) return;
    for (const token_t id : history) {
      const auto i = static_cast<std::size_t>(id);
      if (penalised_[i]) continue;
      penalised_[i] = 1;
      adjusted_[i] = adjusted_[i] > 0.0 ? adjusted_[i] / penalty : adjusted_[i] * penalty;
    }
    for (const token_t id : history) penalised_[static_cast<std::size_t>(id)] = 0;
  }

  /// A kept token and its penalised logit, stored together so sorting reads contiguous memory.
  struct Ranked {
    double logit;
    token_t id;
    /// Rank order: higher logit first, ties lower id first.
    bool operator<(const Ranked& other) const {
      return logit > other.logit || (logit == other.logit && id < other.id);
    }
  };

  [[noreturn]] void fail_all_masked() const {
    fail("Sampler::next: all ", vocab_, " logits are -inf (after the repetition penalty); no token can be chosen");
  }

  /// argmax of the penalised logits; ties pick the lowest id.
  token_t greedy() const {
    token_t best = 0;
    for (token_t i = 1; i < vocab_; ++i)
      if (adjusted_[static_cast<std::size_t>(i)] > adjusted_[static_cast<std::size_t>(best)]) best = i;
    if (adjusted_[static_cast<std::size_t>(best)] == -infinity) fail_all_masked();
    return best;
  }

  /// Makes order_[0, needed) the first `needed` kept tokens in rank order, growing the sorted prefix
  /// geometrically so a peaked distribution sorts only a few tokens (nth_element, then sort).
  void sort_prefix(std::size_t needed) {
    if (needed <= sorted_) return;
    const std::size_t n = order_.size();
    std::size_t end = std::min(n, std::max({needed, 4 * sorted_, std::size_t{64}}));
    if (end > n / 2) end = n;  // most of it: one sort beats selecting first
    const auto first = order_.begin() + static_cast<std::ptrdiff_t>(sorted_);
    const auto last = order_.begin() + static_cast<std::ptrdiff_t>(end);
    if (end < n) std::nth_element(first, last, order_.end());
    std::sort(first, last);
    sorted_ = end;
  }

  /// The kept token at rank j (sorting further as needed).
  token_t ranked(std::size_t j) {
    sort_prefix(j + 1);
    return order_[j].id;
  }

  token_t sample() {
    // Candidates: every token with a finite penalised logit.
    order_.clear();
    double top = -infinity;
    for (token_t i = 0; i < vocab_; ++i) {
      const double l = adjusted_[static_cast<std::size_t>(i)];
      if (l == -infinity) continue;
      order_.push_back({l, i});
      top = std::max(top, l);
    }
    if (order_.empty()) fail_all_masked();
    sorted_ = 0;

    // Top-k (Fan et al. 2018, arXiv:1805.04833): keep the k highest-ranked; `cutoff` is the k-th.
    const auto k = static_cast<std::size_t>(options_.top_k);
    const bool cut = k > 0 && k < order_.size();
    Ranked cutoff{0.0, 0};
    if (cut) {
      std::nth_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(k - 1), order_.end());
      cutoff = order_[k - 1];
      order_.resize(k);
    }

    // softmax(l / T) weights w = exp((l - max) / T) (max subtracted: exp never overflows, max gets 1);
    // the total is summed in id order so it does not depend on how nth_element arranged order_.
    const double temperature = options_.temperature;
    double total = 0.0;
    for (token_t i = 0; i < vocab_; ++i) {
      const auto at = static_cast<std::size_t>(i);
      if (adjusted_[at] == -infinity || (cut && cutoff < Ranked{adjusted_[at], i})) continue;
      weight_[at] = std::exp((adjusted_[at] - top) / temperature);
      total += weight_[at];
    }

    // Top-p (Holtzman et al. 2019, arXiv:1904.09751): the shortest rank prefix whose mass reaches top_p.
    std::size_t kept = order_.size();
    double mass = total;
    if (options_.top_p < 1.0f) {
      const double target = static_cast<double>(options_.top_p) * total;
      double cumulative = 0.0;
      std::size_t j = 0;
      while (j < kept && cumulative < target) cumulative += weight_[static_cast<std::size_t>(ranked(j++))];
      kept = j;
      mass = cumulative;
    }

    // Inverse CDF over the kept tokens in rank order: the first whose cumulative weight exceeds u * mass.
    const double threshold = draw_uniform() * mass;
    double cumulative = 0.0;
    token_t last_positive = ranked(0);
    for (std::size_t j = 0; j < kept; ++j) {
      const token_t id = ranked(j);
      const double w = weight_[static_cast<std::size_t>(id)];
      if (w == 0.0) break;  // weights fall with rank: only zeros follow (exp underflowed)
      cumulative += w;
      last_positive = id;
      if (cumulative > threshold) return id;
    }
    return last_positive;  // rounding left u * mass at or beyond the summed mass
  }

  SamplingOptions options_;
  index_t vocab_;
  std::mt19937_64 rng_;
  std::uint64_t seed_ = 0;   // what rng_ was seeded with
  std::uint64_t draws_ = 0;  // 64-bit values drawn from rng_ since seeding
  std::vector<double> adjusted_;          // [vocab] logits after the penalty
  std::vector<double> weight_;            // [vocab] unnormalised probabilities of the kept tokens
  std::vector<unsigned char> penalised_;  // [vocab] marks tokens already penalised in this call
  std::vector<Ranked> order_;             // kept tokens; order_[0, sorted_) in rank order
  std::size_t sorted_ = 0;
};

}  // namespace samba
