// tests/test_model.cpp: presets, compile-time shapes against run-time checkpoints, and the
// errors a model gives for bad tokens, foreign states and incomplete checkpoints.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <samba/samba.hpp>

#include "test_support.hpp"

using namespace samba;

namespace {
const std::string golden_like = std::string(SAMBA_UNSEEN_DIR) + "/samba3_untied_v200_f32";
}

TEST_CASE("preset parameter counts match the official models", "[model]") {
  CHECK(estimate_memory(presets::config("samba-421m")).parameters == 421'793'280);
  CHECK(estimate_memory(presets::config("samba-1.3b")).parameters == 1'330'207'488);
  CHECK(estimate_memory(presets::config("mamba-130m")).parameters == 129'135'360);  // HF state-spaces/mamba-130m
  for (const auto& e : presets::all) {
    INFO(e.name);
    const ModelConfig c = presets::config(e.name);
    CHECK(c.n_layer == e.shape.n_layer);
    CHECK(estimate_memory(c).state_bytes + estimate_memory(c).state_bytes_per_token > 0);
  }
  CHECK_THROWS_WITH(presets::config("samba-9b"), Catch::Contains("unknown preset 'samba-9b'"));
}

TEST_CASE("a compile-time preset model runs and counts its own parameters", "[model]") {
  Model<presets::samba_mini> model(presets::config("samba-mini"));
  CHECK(model.parameter_count() == estimate_memory(model.config()).parameters);
  randomize(model, 7);
  SequenceState state = model.new_state();
  const std::vector<token_t> prompt{1, 2, 3, 4};
  const auto logits = model.forward(state, prompt, LogitsFor::last);
  CHECK(logits.shape == Shape{1, 32000});
  for (float v : logits.data) REQUIRE(std::isfinite(v));
  // Same seed, same weights, same logits.
  Model<presets::samba_mini> again(presets::config("samba-mini"));
  randomize(again, 7);
  SequenceState s2 = again.new_state();
  CHECK(again.forward(s2, prompt, LogitsFor::last).data == logits.data);
}

TEST_CASE("a checkpoint whose shape differs from the compile-time shape is refused", "[model]") {
  CHECK_THROWS_WITH(load_model<Model<presets::samba_mini>>(golden_like), Catch::Contains("compiled for"));
  constexpr ModelShape only_samba{.architecture = Architecture::samba};
  CHECK_NOTHROW(load_model<Model<only_samba>>(golden_like));
  constexpr ModelShape only_mamba{.architecture = Architecture::mamba_only};
  CHECK_THROWS_WITH(load_model<Model<only_mamba>>(golden_like), Catch::Contains("is a samba model but the model type was compiled for mamba"));
}

TEST_CASE("bad tokens and foreign states are errors", "[model]") {
  const auto model = load_model(golden_like);
  SequenceState state = model.new_state();
  const std::vector<token_t> bad{1, 200};
  CHECK_THROWS_WITH(model.forward(state, bad), Catch::Contains("token id 200 at position 1 is outside the vocabulary [0, 200)"));
  const std::vector<token_t> negative{-1};
  CHECK_THROWS_WITH(model.forward(state, negative), Catch::Contains("token id -1"));
  SequenceState foreign;
  CHECK_THROWS_WITH(model.step(foreign, 1), Catch::Contains("does not belong to this model"));
  // An empty input is defined: no logits, state unchanged.
  const auto none = model.forward(state, std::span<const token_t>{}, LogitsFor::last);
  CHECK(none.shape == Shape{0, model.padded_vocab_size()});
  CHECK(state.position == 0);
}

TEST_CASE("a missing or mis-shaped tensor is named", "[model]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("samba_model_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(golden_like + "/config.json", dir / "config.json", fs::copy_options::overwrite_existing);
  const io::SafetensorsFile full(golden_like + "/model.safetensors");
  // Rewrites the checkpoint without `drop` and with `reshape` given a transposed shape.
  auto write_variant = [&](const std::string& drop, const std::string& reshape) {
    std::vector<Tensor<float>> kept;
    std::vector<std::string> names;
    for (const auto& t : full.tensors()) {
      if (t.name == drop) continue;
      kept.push_back(full.read_f32(t.name));
      if (t.name == reshape) kept.back().shape = {kept.back().dim(1), kept.back().dim(0)};
      names.push_back(t.name);
    }
    std::vector<io::TensorToWrite> out;
    for (std::size_t i = 0; i < kept.size(); ++i) out.push_back(io::tensor_to_write(names[i], DType::f32, kept[i]));
    io::write_safetensors((dir / "model.safetensors").string(), out);
  };
  write_variant("transformer.h.0.attn.A_log", "");
  CHECK_THROWS_WITH(load_model(dir.string()), Catch::Contains("tensor 'transformer.h.0.attn.A_log' is missing"));
  write_variant("", "lm_head.weight");
  CHECK_THROWS_WITH(load_model(dir.string()), Catch::Contains("tensor 'lm_head.weight' has shape [32, 256], expected [256, 32]"));

  // A weight holding a NaN or an infinity is refused, for every storage type.
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<io::TensorToWrite> out;
    std::vector<Tensor<float>> kept;
    for (const auto& t : full.tensors()) kept.push_back(full.read_f32(t.name));
    for (std::size_t i = 0; i < kept.size(); ++i) {
      if (full.tensors()[i].name == "transformer.h.0.attn.in_proj.weight") kept[i].data[7] = bad;
      out.push_back(io::tensor_to_write(full.tensors()[i].name, DType::f32, kept[i]));
    }
    io::write_safetensors((dir / "model.safetensors").string(), out);
    const std::string message = "tensor 'transformer.h.0.attn.in_proj.weight' holds a value that is not finite (NaN or infinity) at flat index 7";
    CHECK_THROWS_WITH(load_model(dir.string()), Catch::Contains(message));
    using Bf16Model = DynamicModel<backend::Scalar, bf16>;
    using Q8Model = DynamicModel<backend::Scalar, q8>;
    CHECK_THROWS_WITH(load_model<Bf16Model>(dir.string()), Catch::Contains(message));
    CHECK_THROWS_WITH(load_model<Q8Model>(dir.string()), Catch::Contains(message));
  }

  // A config that asks for far more values than the file holds is refused before anything is
  // allocated from it (here ~4 GB of float32 weights against a file of ~0.1 MB).
  {
    auto config = nlohmann::json::parse(std::ifstream(golden_like + "/config.json"));
    config["n_embd"] = 2048, config["n_layer"] = 16, config["intermediate_size"] = 8192, config["head_size"] = 128;
    std::ofstream(dir / "config.json") << config.dump();
    fs::copy_file(golden_like + "/model.safetensors", dir / "model.safetensors", fs::copy_options::overwrite_existing);
    CHECK_THROWS_WITH(load_model(dir.string()), Catch::Contains("config does not belong to this checkpoint"));
  }
  fs::remove_all(dir);
}

TEST_CASE("a forward pass in chunks equals one pass over the whole prompt", "[model][stream]") {
  // Windows of 3 and 16, full attention and Mamba-only: chunk boundaries cut through every kind
  // of state (ring buffer wrap, conv history, SSM state, a growing full-attention cache).
  for (const char* name : {"samba5_mqa_w3", "samba2_mha_w16_f16", "transformer2_full_mha_f32", "hf_mamba_d128_l3"}) {
    INFO(name);
    auto model = load_model<DynamicModel<backend::Scalar>>(std::string(SAMBA_UNSEEN_DIR) + "/" + name);
    std::vector<token_t> tokens(61);
    for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<token_t>((i * 37 + 11) % 120);
    SequenceState whole = model.new_state();
    const auto want = model.forward(whole, tokens);
    for (index_t chunk : {1, 4, 7, 60}) {
      INFO("chunk " << chunk);
      model.set_chunk_tokens(chunk);
      SequenceState s = model.new_state();
      std::vector<index_t> firsts;
      const auto got = model.forward(s, tokens, LogitsFor::all, [&](index_t block, index_t first, const float*, index_t) {
        if (block == 0) firsts.push_back(first);
      });
      CHECK(s.position == whole.position);
      CHECK(test::rel_l2(got.data, want.data) < 1e-6);
      CHECK(static_cast<index_t>(firsts.size()) == (61 + chunk - 1) / chunk);
      CHECK(firsts.back() == (60 / chunk) * chunk);
      SequenceState last = model.new_state();
      const auto tail = model.forward(last, tokens, LogitsFor::last);
      CHECK(test::rel_l2(tail.data.data(), want.ptr() + 60 * model.padded_vocab_size(), tail.data.size()) < 1e-6);
    }
    model.set_chunk_tokens(default_chunk_tokens);
  }
  auto model = load_model(golden_like);
  CHECK_THROWS_WITH(model.set_chunk_tokens(0), Catch::Contains("at least 1 token"));
}

TEST_CASE("a batched step equals separate steps of each sequence", "[model][batch]") {
  for (const char* name : {"samba5_mqa_w3", "transformer2_full_mha_f32", "hf_mamba_d128_l3", "llama_swa_fpl2_gqa"}) {
    INFO(name);
    const auto model = load_model<DynamicModel<backend::Scalar>>(std::string(SAMBA_UNSEEN_DIR) + "/" + name);
    const index_t V = model.padded_vocab_size();
    // Four sequences at different positions (prompts of 1, 5, 9 and 13 tokens).
    std::vector<SequenceState> alone, batched;
    std::vector<token_t> next;
    for (int b = 0; b < 4; ++b) {
      std::vector<token_t> prompt(static_cast<std::size_t>(1 + 4 * b));
      for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<token_t>((i * 13 + 7 * b + 3) % 100);
      alone.push_back(model.new_state());
      model.forward(alone.back(), prompt, LogitsFor::none);
      batched.push_back(alone.back());
      next.push_back(static_cast<token_t>(20 + b));
    }
    std::vector<SequenceState*> ptrs;
    for (auto& s : batched) ptrs.push_back(&s);
    for (int step = 0; step < 6; ++step) {
      const auto logits = model.step(ptrs, next);
      REQUIRE(logits.shape == Shape{4, V});
      for (int b = 0; b < 4; ++b) {
        const auto want = model.step(alone[b], next[b]);
        CHECK(test::rel_l2(logits.ptr() + b * V, want.data(), static_cast<std::size_t>(V)) < 1e-6);
        CHECK(batched[b].position == alone[b].position);
        next[b] = argmax(want, model.config().vocab_size);
      }
    }
    CHECK_THROWS_WITH(model.step(std::vector<SequenceState*>{ptrs[0], ptrs[0]}, std::vector<token_t>{1, 2}),
                      Catch::Contains("are the same sequence"));
    CHECK_THROWS_WITH(model.step(ptrs, std::vector<token_t>{1}), Catch::Contains("4 states but 1 tokens"));
  }
}

TEST_CASE("int8 weights are absmax/127 per row and compute the product of their dequantized values", "[model][q8]") {
  // The quantizer: scale = absmax / 127 per row, every value within half a step of scale * q.
  const std::vector<float> src = test::random_vector(6 * 37, 5);
  Matrix<q8> m;
  allocate(m, Shape{6, 37});
  assign_from_float(m, src);
  for (index_t r = 0; r < 6; ++r) {
    float absmax = 0.0f;
    for (index_t i = 0; i < 37; ++i) absmax = std::max(absmax, std::abs(src[r * 37 + i]));
    CHECK(m.scales[r] == absmax / 127.0f);
    std::vector<float> back(37);
    row_to_float(m, r, back.data());
    for (index_t i = 0; i < 37; ++i) CHECK(std::abs(back[i] - src[r * 37 + i]) <= m.scales[r] * 0.5f * (1.0f + 1e-5f));
  }
  // A whole model: int8 weights against float32 weights holding their dequantized values, prefill
  // then steps; only the order of float32 roundings differs.
  for (const std::string& dir : test::case_dirs(SAMBA_UNSEEN_DIR)) {
    INFO(dir);
    const auto quantized = load_model<DynamicModel<backend::Scalar, q8>>(dir);
    auto dequantized = load_model<DynamicModel<backend::Scalar, float>>(dir);
    dequantized.for_each_parameter([](std::string_view, const Shape& shape, auto& storage, ParamRole) {
      if constexpr (std::is_same_v<std::decay_t<decltype(storage)>, Matrix<float>>) {
        Matrix<q8> q;
        allocate(q, shape);
        assign_from_float(q, std::vector<float>(storage.values.begin(), storage.values.end()));
        for (index_t r = 0; r < static_cast<index_t>(q.scales.size()); ++r) row_to_float(q, r, storage.values.data() + r * q.cols);
      }
    });
    dequantized.prepare();
    const io::SafetensorsFile io(dir + "/io.safetensors");
    const auto ids = io.read_i64("input_ids");
    const std::vector<token_t> tokens(ids.data.begin(), ids.data.begin() + ids.dim(1));
    SequenceState a = quantized.new_state(), b = dequantized.new_state();
    const index_t n = static_cast<index_t>(tokens.size()) / 2;
    auto got = quantized.forward(a, std::span<const token_t>(tokens.data(), n)).data;
    auto want = dequantized.forward(b, std::span<const token_t>(tokens.data(), n)).data;
    for (std::size_t t = static_cast<std::size_t>(n); t < tokens.size(); ++t) {
      const auto x = quantized.step(a, tokens[t]), y = dequantized.step(b, tokens[t]);
      got.insert(got.end(), x.begin(), x.end()), want.insert(want.end(), y.begin(), y.end());
    }
    CHECK(test::rel_l2(got, want) < 1e-6);
  }
}

TEST_CASE("the memory estimate is what a state holds", "[model]") {
  for (const std::string& dir : test::case_dirs(SAMBA_UNSEEN_DIR)) {
    INFO(dir);
    const auto model = load_model(dir);
    const ModelConfig& c = model.config();
    const MemoryEstimate m = estimate_memory(c);
    index_t widest = 1;
    for (const auto& s : c.sublayers) widest = std::max(widest, s.window);
    SequenceState s = model.new_state();
    const std::vector<token_t> filler(static_cast<std::size_t>(widest + 5), 1);  // past every window
    model.forward(s, filler, LogitsFor::none);
    const auto n = static_cast<index_t>(filler.size());
    const auto held = static_cast<index_t>(state_bytes(s));
    if (m.state_bytes_per_token == 0) {
      CHECK(held == m.state_bytes);
    } else {  // a full-attention cache's vectors grow at most to twice what they hold
      CHECK(held >= m.state_bytes + n * m.state_bytes_per_token);
      CHECK(held <= m.state_bytes + 2 * n * m.state_bytes_per_token);
    }
  }
}

TEST_CASE("generate() samples as a hand-written loop over Sampler does, and refuses an empty prompt", "[model][sampling]") {
  const auto model = load_model(golden_like);
  GenerateOptions options;
  options.max_new_tokens = 12;
  options.sampling.temperature = 0.9f, options.sampling.top_k = 40, options.sampling.top_p = 0.95f;
  options.sampling.repetition_penalty = 1.3f, options.sampling.seed = 17;
  const std::vector<token_t> prompt{5, 6, 7, 8};

  SequenceState s = model.new_state();
  std::vector<token_t> streamed;
  const auto produced = generate(model, s, prompt, options, [&](token_t id) { streamed.push_back(id); });
  CHECK(produced == streamed);
  CHECK(produced.size() == 12);
  CHECK(s.position == static_cast<index_t>(prompt.size()) + 11);  // the last token is not consumed

  // The same loop by hand: the penalty sees the prompt and every token drawn so far.
  Sampler sampler(options.sampling, model.config().vocab_size);
  SequenceState t = model.new_state();
  std::vector<token_t> history = prompt, want;
  std::vector<float> logits = model.forward(t, prompt, LogitsFor::last).data;
  for (int i = 0; i < 12; ++i) {
    want.push_back(sampler.next(logits, history));
    history.push_back(want.back());
    logits = model.step(t, want.back());
  }
  CHECK(produced == want);
  // Sampling, not greedy: some draw differs from the argmax of its logits at this temperature.
  GenerateOptions greedy = options;
  greedy.sampling = {};
  SequenceState g = model.new_state();
  CHECK(generate(model, g, prompt, greedy, [](token_t) {}) != produced);

  // No tokens wanted: the prompt is consumed and nothing is drawn.
  GenerateOptions none = options;
  none.max_new_tokens = 0;
  SequenceState z = model.new_state();
  CHECK(generate(model, z, prompt, none, [](token_t) { FAIL("no token expected"); }).empty());
  CHECK(z.position == static_cast<index_t>(prompt.size()));
  SequenceState e = model.new_state();
  CHECK_THROWS_WITH(generate(model, e, std::span<const token_t>{}, options, [](token_t) {}), Catch::Contains("prompt is empty"));
}
