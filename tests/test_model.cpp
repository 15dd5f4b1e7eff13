// tests/test_model.cpp: presets, compile-time shapes against run-time checkpoints, and the
// errors a model gives for bad tokens, foreign states and incomplete checkpoints.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
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
  fs::remove_all(dir);
}
