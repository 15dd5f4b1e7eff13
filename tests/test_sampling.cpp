// tests/test_sampling.cpp: Sampler: greedy and tie rules, the padded tail, top-k, top-p, temperature,
// empirical frequencies against softmax, seeds and saved random state, the repetition penalty,
// and clear errors for bad options and bad logits.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <samba/model/generate.hpp>
#include <samba/model/sampling.hpp>

using namespace samba;
using Catch::Matchers::Contains;

namespace {

constexpr float minus_inf = -std::numeric_limits<float>::infinity();
const std::vector<token_t> no_history;

SamplingOptions sampling(float temperature, index_t top_k = 0, float top_p = 1.0f, std::uint64_t seed = 7) {
  SamplingOptions o;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  o.seed = seed;
  return o;
}

std::vector<float> random_logits(index_t n, std::uint64_t seed, float scale = 3.0f) {
  std::mt19937_64 rng(seed);
  std::vector<float> logits(static_cast<std::size_t>(n));
  for (float& v : logits) v = scale * (static_cast<float>(rng() >> 40) / static_cast<float>(1 << 24) - 0.5f);
  return logits;
}

/// softmax(logits / temperature) in double.
std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  const double top = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p;
  for (float l : logits) p.push_back(std::exp((l - top) / temperature));
  const double total = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& v : p) v /= total;
  return p;
}

/// Frequencies of each id over `draws` samples.
std::vector<double> frequencies(Sampler& sampler, const std::vector<float>& logits, int draws) {
  std::vector<double> count(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) count[static_cast<std::size_t>(sampler.next(logits, no_history))] += 1.0;
  for (double& c : count) c /= draws;
  return count;
}

std::vector<token_t> draw_sequence(Sampler& sampler, const std::vector<float>& logits, int n) {
  std::vector<token_t> out;
  for (int i = 0; i < n; ++i) out.push_back(sampler.next(logits, no_history));
  return out;
}

/// The sampling rule written plainly (full sort, no penalty) to check Sampler's partial sorting
/// against: rank by logit desc / id asc, keep top_k, weights exp((l - max) / T) with the total
/// summed in id order, keep the shortest prefix reaching top_p, inverse CDF with a 53-bit u.
class ReferenceSampler {
 public:
  ReferenceSampler(const std::vector<float>& logits, const SamplingOptions& o) : rng_(o.seed) {
    for (token_t i = 0; i < static_cast<token_t>(logits.size()); ++i)
      if (logits[static_cast<std::size_t>(i)] != minus_inf) order_.push_back(i);
    std::sort(order_.begin(), order_.end(), [&](token_t a, token_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    if (o.top_k > 0 && static_cast<std::size_t>(o.top_k) < order_.size())
      order_.resize(static_cast<std::size_t>(o.top_k));
    const double top = logits[order_[0]];
    std::vector<bool> kept(logits.size(), false);
    for (token_t id : order_) kept[id] = true;
    weight_.assign(logits.size(), 0.0);
    double total = 0.0;
    for (std::size_t i = 0; i < logits.size(); ++i)
      if (kept[i]) total += (weight_[i] = std::exp((logits[i] - top) / static_cast<double>(o.temperature)));
    mass_ = total;
    if (o.top_p < 1.0f) {
      double c = 0.0;
      std::size_t j = 0;
      while (j < order_.size() && c < static_cast<double>(o.top_p) * total) c += weight_[order_[j++]];
      order_.resize(j);
      mass_ = c;
    }
  }

  token_t next() {
    const double threshold = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * mass_;
    double c = 0.0;
    token_t last = order_[0];
    for (std::size_t j = 0; j < order_.size() && weight_[order_[j]] > 0.0; ++j) {
      c += weight_[order_[j]];
      last = order_[j];
      if (c > threshold) return order_[j];
    }
    return last;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<token_t> order_;
  std::vector<double> weight_;
  double mass_ = 0.0;
};

}  // namespace

TEST_CASE("greedy picks the argmax of the first vocab logits, ties the lowest id", "[sampling]") {
  Sampler greedy(SamplingOptions{}, 6);
  CHECK(greedy.next(std::vector<float>{0.1f, 2.0f, -1.0f, 1.9f, 0.0f, 0.5f}, no_history) == 1);
  CHECK(greedy.next(std::vector<float>{0.1f, 2.0f, -1.0f, 2.0f, 0.0f, 2.0f}, no_history) == 1);
  CHECK(greedy.next(std::vector<float>{3.0f, 3.0f, 3.0f, 3.0f, 3.0f, 3.0f}, no_history) == 0);
  CHECK(greedy.next(std::vector<float>{minus_inf, minus_inf, -5.0f, minus_inf, -5.0f, -6.0f}, no_history) == 2);
  Sampler greedy_1000(SamplingOptions{}, 1000);
  for (std::uint64_t s = 0; s < 20; ++s) {
    const auto logits = random_logits(1000, s);
    CHECK(greedy_1000.next(logits, no_history) == argmax(logits, 1000));
  }
}

TEST_CASE("the padded tail beyond vocab is never chosen", "[sampling]") {
  std::vector<float> logits{0.0f, 0.3f, 0.1f, 0.2f, 100.0f, 200.0f, 300.0f, 400.0f};  // vocab 4, padded to 8
  Sampler greedy(SamplingOptions{}, 4);
  CHECK(greedy.next(logits, no_history) == 1);
  Sampler sampler(sampling(1.0f), 4);
  std::set<token_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(sampler.next(logits, no_history));
  CHECK(seen == std::set<token_t>{0, 1, 2, 3});
}

TEST_CASE("top_k = 1 and a tiny top_p equal greedy at any temperature", "[sampling]") {
  Sampler greedy(SamplingOptions{}, 500);
  for (float temperature : {0.01f, 0.7f, 1.0f, 5.0f, 1000.0f}) {
    Sampler top1(sampling(temperature, 1), 500);
    Sampler tiny_p(sampling(temperature, 0, 1e-6f), 500);
    for (std::uint64_t s = 0; s < 30; ++s) {
      const auto logits = random_logits(500, 100 + s);
      const token_t best = greedy.next(logits, no_history);
      CHECK(top1.next(logits, no_history) == best);
      CHECK(tiny_p.next(logits, no_history) == best);
    }
  }
}

TEST_CASE("with top_k = 3 only the three most likely ids appear, all of them", "[sampling]") {
  const std::vector<float> logits{0.5f, 2.0f, -1.0f, 1.5f, 1.8f, 1.4f, 0.0f, 1.45f};  // top 3: ids 1, 4, 3
  Sampler sampler(sampling(2.0f, 3), 8);
  std::set<token_t> seen;
  for (int i = 0; i < 5000; ++i) seen.insert(sampler.next(logits, no_history));
  CHECK(seen == std::set<token_t>{1, 3, 4});
}

TEST_CASE("empirical frequencies match softmax(logits / T) at temperature 1", "[sampling]") {
  const std::vector<float> logits{1.0f, 2.0f, 0.5f, -0.3f};
  const auto p = softmax(logits, 1.0);
  Sampler sampler(sampling(1.0f, 0, 1.0f, 12345), 4);
  const auto f = frequencies(sampler, logits, 20000);
  for (std::size_t i = 0; i < p.size(); ++i) {
    INFO("token " << i << ": p = " << p[i] << ", frequency = " << f[i]);
    CHECK(std::abs(f[i] - p[i]) < 0.015);  // about 4 standard errors (sqrt(0.25 / 20000) = 0.0035)
  }
}

TEST_CASE("temperature scaling sharpens below 1 and flattens above", "[sampling]") {
  const std::vector<float> logits{1.0f, 2.0f, 0.5f, -0.3f};
  double previous = 1.0;
  for (float temperature : {0.25f, 0.5f, 1.0f, 2.0f, 4.0f}) {
    Sampler sampler(sampling(temperature, 0, 1.0f, 99), 4);
    const auto f = frequencies(sampler, logits, 20000);
    const auto p = softmax(logits, temperature);
    INFO("temperature " << temperature);
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(std::abs(f[i] - p[i]) < 0.015);
    CHECK(f[1] < previous);  // the most likely token loses share as the temperature rises
    previous = f[1];
  }
  CHECK(softmax(logits, 0.25)[1] > 0.95);
  CHECK(softmax(logits, 4.0)[1] < 0.4);
}

TEST_CASE("top_p keeps the shortest prefix reaching top_p and renormalises it", "[sampling]") {
  // p = 0.5, 0.3, 0.15, 0.05: top_p = 0.7 keeps ids 0 and 1 (0.5 < 0.7 <= 0.8), renormalised 0.625 / 0.375.
  const std::vector<float> logits{std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  Sampler sampler(sampling(1.0f, 0, 0.7f, 3), 4);
  const auto f = frequencies(sampler, logits, 20000);
  CHECK(std::abs(f[0] - 0.625) < 0.015);
  CHECK(std::abs(f[1] - 0.375) < 0.015);
  CHECK(f[2] == 0.0);
  CHECK(f[3] == 0.0);
  // top_k and top_p together: top_k = 3 leaves 0.5, 0.3, 0.15 (renormalised 0.526, 0.316, 0.158);
  // top_p = 0.9 then needs all three (0.842 < 0.9).
  Sampler both(sampling(1.0f, 3, 0.9f, 4), 4);
  const auto g = frequencies(both, logits, 20000);
  CHECK(std::abs(g[0] - 0.5 / 0.95) < 0.015);
  CHECK(std::abs(g[2] - 0.15 / 0.95) < 0.015);
  CHECK(g[3] == 0.0);
}

TEST_CASE("the partial sorts pick exactly what a full sort picks, at vocab 32000", "[sampling]") {
  const index_t vocab = 32000;
  for (const SamplingOptions& o : {sampling(1.0f, 0, 1.0f, 1), sampling(0.8f, 40, 1.0f, 2), sampling(1.0f, 0, 0.9f, 3),
                                   sampling(1.3f, 50, 0.95f, 4), sampling(0.5f, 20000, 0.99f, 5),
                                   sampling(100.0f, 0, 1.0f, 6)}) {
    auto logits = random_logits(vocab, o.seed, 12.0f);
    for (index_t i = 0; i < vocab; i += 97) logits[static_cast<std::size_t>(i)] = minus_inf;
    for (index_t i = 5; i < vocab; i += 101) logits[static_cast<std::size_t>(i)] = logits[0];  // ties
    Sampler sampler(o, vocab);
    ReferenceSampler reference(logits, o);
    INFO("temperature " << o.temperature << ", top_k " << o.top_k << ", top_p " << o.top_p);
    for (int i = 0; i < 100; ++i) REQUIRE(sampler.next(logits, no_history) == reference.next());
  }
}

TEST_CASE("logits of -inf are never sampled; all -inf is an error in both modes", "[sampling]") {
  const std::vector<float> logits{minus_inf, 0.0f, minus_inf, 0.0f};
  Sampler sampler(sampling(1.0f), 4);
  for (int i = 0; i < 1000; ++i) {
    const token_t t = sampler.next(logits, no_history);
    REQUIRE((t == 1 || t == 3));
  }
  const std::vector<float> masked(4, minus_inf);
  CHECK_THROWS_WITH(sampler.next(masked, no_history), Contains("-inf"));
  Sampler greedy(SamplingOptions{}, 4);
  CHECK_THROWS_AS(greedy.next(masked, no_history), Error);
  // Logits far below the maximum underflow to weight 0 and are never chosen either.
  Sampler cold(sampling(1e-3f), 3);
  for (int i = 0; i < 200; ++i) REQUIRE(cold.next(std::vector<float>{0.0f, -10.0f, 0.0f}, no_history) != 1);
}

TEST_CASE("the same seed repeats the sequence, another seed changes it", "[sampling]") {
  const auto logits = random_logits(100, 5, 2.0f);
  Sampler a(sampling(1.0f, 0, 1.0f, 42), 100), b(sampling(1.0f, 0, 1.0f, 42), 100), c(sampling(1.0f, 0, 1.0f, 43), 100);
  const auto sa = draw_sequence(a, logits, 200);
  CHECK(sa == draw_sequence(b, logits, 200));
  CHECK(sa != draw_sequence(c, logits, 200));
}

TEST_CASE("the sequence is fixed by the standard's mt19937_64, not the standard library", "[sampling]") {
  // Recorded from this implementation; any compiler or standard library must give the same ids.
  const std::vector<float> logits{1.0f, 2.0f, 0.5f, -0.3f, 1.5f, 0.0f};
  Sampler sampler(sampling(1.0f, 0, 1.0f, 2024), 6);
  CHECK(draw_sequence(sampler, logits, 16) == std::vector<token_t>{4, 0, 1, 1, 1, 1, 5, 4, 1, 4, 4, 4, 5, 0, 1, 1});
  CHECK(sampler.rng_state() == "mt19937_64 seed=2024 draws=16");
}

TEST_CASE("rng_state round-trips and resumes the identical sequence", "[sampling]") {
  const auto logits = random_logits(50, 9, 2.0f);
  Sampler original(sampling(0.9f, 20, 0.95f, 77), 50);
  draw_sequence(original, logits, 37);
  const std::string saved = original.rng_state();
  const auto continuation = draw_sequence(original, logits, 100);

  Sampler resumed(sampling(0.9f, 20, 0.95f, 1), 50);  // another seed: the state text carries its own
  resumed.set_rng_state(saved);
  CHECK(resumed.rng_state() == saved);
  CHECK(draw_sequence(resumed, logits, 100) == continuation);

  // Greedy calls draw nothing; sampling calls draw exactly one number each.
  Sampler greedy(SamplingOptions{}, 50);
  const std::string before = greedy.rng_state();
  greedy.next(logits, no_history);
  CHECK(greedy.rng_state() == before);
  Sampler top1(sampling(1.0f, 1, 1.0f, 5), 50);
  draw_sequence(top1, logits, 3);
  CHECK(top1.rng_state() == "mt19937_64 seed=5 draws=3");
}

TEST_CASE("set_rng_state rejects garbage and keeps the current state", "[sampling]") {
  Sampler sampler(sampling(1.0f, 0, 1.0f, 8), 10);
  const std::string before = sampler.rng_state();
  for (const std::string bad : {"", "garbage", "mt19937_64", "mt19937_64 seed=1", "mt19937_64 seed= draws=2",
                                "mt19937_64 seed=1 draws=", "mt19937_64 seed=-1 draws=2", "mt19937_64 seed=+1 draws=2",
                                "mt19937_64 seed=1 draws=2 ", "mt19937_64 seed=1 draws=2x", "mt19937 seed=1 draws=2",
                                "mt19937_64 seed=1  draws=2", "mt19937_64 seed=99999999999999999999 draws=2"}) {
    INFO("text: \"" << bad << "\"");
    CHECK_THROWS_WITH(sampler.set_rng_state(bad), Contains("set_rng_state") && Contains(bad));
  }
  CHECK(sampler.rng_state() == before);
  CHECK_THROWS_WITH(sampler.set_rng_state("mt19937_64 seed=1 draws=18446744073709551615"), Contains("draws="));
  CHECK(sampler.rng_state() == before);
  sampler.set_rng_state("mt19937_64 seed=18446744073709551615 draws=0");
  CHECK(sampler.rng_state() == "mt19937_64 seed=18446744073709551615 draws=0");
}

TEST_CASE("the repetition penalty divides positive and multiplies negative logits of seen tokens", "[sampling]") {
  SamplingOptions o;
  o.repetition_penalty = 2.0f;
  Sampler penalised(o, 4);
  Sampler plain(SamplingOptions{}, 4);
  const std::vector<token_t> saw_0{0};
  // Positive: 2.0 / 2 = 1.0 < 1.5, so id 1 wins.
  const std::vector<float> positive{2.0f, 1.5f, -3.0f, 0.0f};
  CHECK(plain.next(positive, saw_0) == 0);
  CHECK(penalised.next(positive, saw_0) == 1);
  CHECK(penalised.next(positive, no_history) == 0);
  // Negative: -1.0 * 2 = -2.0 < -1.5, so id 1 wins (dividing would have raised it to -0.5).
  const std::vector<float> negative{-1.0f, -1.5f, -3.0f, -4.0f};
  CHECK(plain.next(negative, saw_0) == 0);
  CHECK(penalised.next(negative, saw_0) == 1);
  // Once per distinct token: 2.0 / 2 = 1.0 > 0.9 however often id 0 repeats.
  const std::vector<float> close{2.0f, 0.9f, -3.0f, 0.0f};
  CHECK(penalised.next(close, std::vector<token_t>{0, 0, 0, 0}) == 0);
  CHECK(penalised.next(close, std::vector<token_t>{0, 0, 2, 0}) == 0);
  // A penalty below 1 favours seen tokens.
  o.repetition_penalty = 0.5f;
  Sampler favour(o, 4);
  CHECK(favour.next(positive, std::vector<token_t>{1}) == 1);
  // It applies in sampling mode too: top_k = 1 follows the penalised argmax.
  o.repetition_penalty = 2.0f;
  o.temperature = 1.0f;
  o.top_k = 1;
  Sampler sampled(o, 4);
  CHECK(sampled.next(positive, saw_0) == 1);
}

TEST_CASE("each invalid option throws naming the option", "[sampling]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const auto with = [](auto set) {
    SamplingOptions o;
    set(o);
    return o;
  };
  for (float t : {-0.5f, nan, inf}) {
    CHECK_THROWS_WITH(with([&](SamplingOptions& o) { o.temperature = t; }).validate(), Contains("temperature"));
    CHECK_THROWS_AS(Sampler(with([&](SamplingOptions& o) { o.temperature = t; }), 10), Error);
  }
  CHECK_THROWS_WITH(with([](SamplingOptions& o) { o.top_k = -1; }).validate(), Contains("top_k") && Contains("-1"));
  for (float p : {0.0f, -0.1f, 1.5f, nan})
    CHECK_THROWS_WITH(Sampler(with([&](SamplingOptions& o) { o.top_p = p; }), 10), Contains("top_p"));
  for (float r : {0.0f, -1.0f, nan, inf})
    CHECK_THROWS_WITH(Sampler(with([&](SamplingOptions& o) { o.repetition_penalty = r; }), 10),
                      Contains("repetition_penalty"));
  CHECK_THROWS_WITH(Sampler(SamplingOptions{}, 0), Contains("vocab"));
  CHECK_NOTHROW(with([](SamplingOptions& o) {
                  o.temperature = 0.7f;
                  o.top_k = 50;
                  o.top_p = 1.0f;
                  o.repetition_penalty = 1.3f;
                }).validate());
}

TEST_CASE("bad logits and history throw clear errors", "[sampling]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float temperature : {0.0f, 1.0f}) {
    Sampler sampler(sampling(temperature), 4);
    CHECK_THROWS_WITH(sampler.next(std::vector<float>{0.0f, 1.0f, nan, 2.0f}, no_history),
                      Contains("logits[2]") && Contains("NaN"));
    CHECK_THROWS_WITH(sampler.next(std::vector<float>{0.0f, std::numeric_limits<float>::infinity(), 1.0f, 2.0f},
                                   no_history),
                      Contains("logits[1]") && Contains("+inf"));
    CHECK_THROWS_WITH(sampler.next(std::vector<float>{0.0f, 1.0f, 2.0f}, no_history), Contains("fewer than"));
    CHECK_THROWS_WITH(sampler.next(std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f}, std::vector<token_t>{1, 4}),
                      Contains("history[1] = 4"));
    CHECK_THROWS_WITH(sampler.next(std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f}, std::vector<token_t>{-1}),
                      Contains("history[0] = -1"));
    // NaN in the padded tail is not looked at.
    CHECK_NOTHROW(sampler.next(std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f, nan}, no_history));
  }
}
