// tests/cuda/test_cuda_model.cu: the CUDA model against every golden and unseen case and against
// the scalar reference: full prefill (logits and hidden.{i}), prefill then single steps, small
// chunks, batched steps of sequences at different positions, forked states, and states moved
// between host and device. float32 within relative L2 1e-4, bf16 within 2e-2. Exits 77 (skipped)
// where there is no GPU. Usage: samba_cuda_model_test [CASE_ROOT ...] (defaults: the configured
// golden and unseen folders).
#include <cstdio>
#include <samba/cuda.cuh>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "cuda_test_support.hpp"

using namespace samba;

template class samba::Model<ModelShape{}, backend::Cuda, float>;
template class samba::Model<ModelShape{}, backend::Cuda, bf16>;

namespace {

int failures = 0, checks = 0;

void expect(bool ok, const std::string& what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::printf("FAIL %s\n", what.c_str());
  }
}

void expect_close(const std::string& what, const float* got, const float* want, std::size_t n, double tol) {
  const double err = test::rel_l2(got, want, n);
  ++checks;
  const bool ok = err < tol;
  std::printf("%-4s %-72s rel L2 %.3g\n", ok ? "ok" : "FAIL", what.c_str(), err);
  if (!ok) ++failures;
}

std::vector<token_t> row_of(const Tensor<std::int64_t>& ids, index_t b) {
  const index_t T = ids.dim(1);
  return std::vector<token_t>(ids.data.begin() + b * T, ids.data.begin() + (b + 1) * T);
}

template <class W>
void check_case(const std::string& dir, double tol) {
  using GpuModel = DynamicModel<backend::Cuda, W>;
  const std::string name = dir.substr(dir.find_last_of('/') + 1) + (std::is_same_v<W, float> ? " f32" : " bf16");
  const backend::Cuda gpu;
  const GpuModel model = load_model<GpuModel>(dir, nullptr, gpu);
  const io::SafetensorsFile io(dir + "/io.safetensors");
  const auto ids = io.read_i64("input_ids");
  const auto ref = io.read_f32("logits");
  const index_t B = ids.dim(0), T = ids.dim(1), V = ref.dim(2), D = model.d_model();
  expect(V == model.padded_vocab_size(), name + ": vocabulary");
  std::vector<Tensor<float>> hidden_ref;
  while (io.contains("hidden." + std::to_string(hidden_ref.size())))
    hidden_ref.push_back(io.read_f32("hidden." + std::to_string(hidden_ref.size())));

  for (index_t b = 0; b < B; ++b) {
    const auto tokens = row_of(ids, b);
    const float* expected = ref.ptr() + b * T * V;
    const std::string row = name + " row " + std::to_string(b);

    auto full = model.new_state();
    std::vector<std::vector<float>> hidden;
    const auto logits = model.forward(full, tokens, LogitsFor::all, [&](index_t, index_t, const float* x, index_t n) {
      hidden.emplace_back(x, x + n * D);
    });
    expect(full.position == T, row + ": position after prefill");
    expect_close(row + ": prefill logits", logits.ptr(), expected, T * V, tol);
    if (std::is_same_v<W, float>)
      for (std::size_t i = 0; i < hidden_ref.size() && i < hidden.size(); ++i)
        expect_close(row + ": hidden." + std::to_string(i), hidden[i].data(), hidden_ref[i].ptr() + b * T * D, T * D, tol);
    if (!hidden_ref.empty()) expect(hidden.size() == hidden_ref.size(), row + ": one hidden state per block");

    // A third as prefill, then single steps; and a fork of the state after the prefill.
    auto split = model.new_state();
    const index_t n = T / 3;
    auto mixed = model.forward(split, std::span<const token_t>(tokens.data(), n)).data;
    auto fork = split;
    for (index_t t = n; t < T; ++t) {
      const auto step = model.step(split, tokens[t]);
      mixed.insert(mixed.end(), step.begin(), step.end());
    }
    expect_close(row + ": prefill " + std::to_string(n) + " then steps", mixed.data(), expected, T * V, tol);
    const auto forked = model.forward(fork, std::span<const token_t>(tokens.data() + n, T - n));
    expect_close(row + ": forked state continues", forked.ptr(), expected + n * V, (T - n) * V, tol);

    // The state moves to the host, where the scalar reference finishes the sequence.
    if constexpr (std::is_same_v<W, float>) {
      const auto host_model = load_model<DynamicModel<backend::Scalar, float>>(dir);
      auto moved = model.new_state();
      model.forward(moved, std::span<const token_t>(tokens.data(), n), LogitsFor::none);
      SequenceState on_host = model.to_host(moved);
      const auto rest = host_model.forward(on_host, std::span<const token_t>(tokens.data() + n, T - n));
      expect_close(row + ": GPU state finished on the host", rest.ptr(), expected + n * V, (T - n) * V, tol);
      SequenceState host_state = host_model.new_state();
      host_model.forward(host_state, std::span<const token_t>(tokens.data(), n), LogitsFor::none);
      auto back = model.to_device(host_state);
      const auto rest2 = model.forward(back, std::span<const token_t>(tokens.data() + n, T - n));
      expect_close(row + ": host state finished on the GPU", rest2.ptr(), expected + n * V, (T - n) * V, tol);
    }
  }

  // Chunks of 7 tokens equal the one-shot prefill; steps without CUDA graphs equal those with them.
  {
    GpuModel chunked = load_model<GpuModel>(dir, nullptr, gpu);
    chunked.set_chunk_tokens(7);
    const auto tokens = row_of(ids, 0);
    auto s = chunked.new_state();
    const auto logits = chunked.forward(s, tokens);
    expect_close(name + ": chunks of 7", logits.ptr(), ref.ptr(), T * V, tol);
    chunked.set_graphs(false);
    chunked.set_chunk_tokens(model.chunk_tokens());  // the same kernels as `model` from here on
    auto with = model.new_state(), without = chunked.new_state();
    const index_t n = T / 2;
    model.forward(with, std::span<const token_t>(tokens.data(), n), LogitsFor::none);
    chunked.forward(without, std::span<const token_t>(tokens.data(), n), LogitsFor::none);
    bool same = true;
    for (index_t t = n; t < T; ++t) same = same && model.step(with, tokens[t]) == chunked.step(without, tokens[t]);
    expect(same, name + ": steps replayed from CUDA graphs equal launched steps exactly");
  }

  // Batched steps: 2B sequences of the case's rows, each prefilled to its own length, step together.
  {
    const index_t S = 2 * B;
    std::vector<typename GpuModel::State> states;
    std::vector<index_t> pos;
    for (index_t s = 0; s < S; ++s) {
      const auto tokens = row_of(ids, s % B);
      states.push_back(model.new_state());
      pos.push_back(std::min<index_t>(T - 1, T / 4 + s));
      model.forward(states.back(), std::span<const token_t>(tokens.data(), pos.back()), LogitsFor::none);
    }
    std::vector<float> got, want;
    for (;;) {
      std::vector<typename GpuModel::State*> live;
      std::vector<token_t> next;
      std::vector<index_t> who;
      for (index_t s = 0; s < S; ++s)
        if (pos[s] < T) live.push_back(&states[s]), next.push_back(row_of(ids, s % B)[pos[s]]), who.push_back(s);
      if (live.empty()) break;
      const auto logits = model.step(live, next);
      for (std::size_t i = 0; i < who.size(); ++i) {
        const index_t s = who[i];
        got.insert(got.end(), logits.ptr() + i * V, logits.ptr() + (i + 1) * V);
        const float* e = ref.ptr() + ((s % B) * T + pos[s]) * V;
        want.insert(want.end(), e, e + V);
        ++pos[s];
      }
    }
    expect_close(name + ": batched steps at mixed positions", got.data(), want.data(), got.size(), tol);
  }

  // Bad input is refused with an error, not run.
  {
    auto s = model.new_state();
    bool refused = false;
    try {
      const token_t bad = static_cast<token_t>(model.config().vocab_size);
      model.forward(s, std::span<const token_t>(&bad, 1));
    } catch (const Error&) {
      refused = true;
    }
    expect(refused && s.position == 0, name + ": an id outside the vocabulary is refused");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> roots(argv + 1, argv + argc);
  if (roots.empty()) roots = {SAMBA_GOLDEN_DIR, SAMBA_UNSEEN_DIR};
  std::vector<std::string> cases;
  for (const auto& r : roots)
    for (const auto& c : test::case_dirs(r)) cases.push_back(c);
  const int status = test::run_cuda_checks(
      [&] {
        expect(cases.size() >= 10, "at least 10 cases found");
        for (const auto& dir : cases) {
          check_case<float>(dir, 1e-4);
          check_case<bf16>(dir, 2e-2);
        }
      },
      [] { return failures; });
  if (status != 77) std::printf("%d of %d checks passed over %zu cases\n", checks - failures, checks, cases.size());
  return status;
}
