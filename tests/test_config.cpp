// tests/test_config.cpp: config.json in both formats, lit-gpt defaults, and clear errors for
// malformed or unsupported configurations.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <samba/samba.hpp>

using namespace samba;
using json = nlohmann::json;

namespace {

json official_base() {
  return json{{"name", "t"},          {"n_embd", 64},          {"n_layer", 4},         {"n_head", 4},
              {"n_query_groups", 2},  {"head_size", 16},       {"intermediate_size", 96},
              {"local_window", 8},    {"mb_per_layer", 2},     {"vocab_size", 250},    {"padding_multiple", 64},
              {"rotary_percentage", 1.0}, {"parallel_residual", false}, {"bias", false},
              {"_norm_class", "FusedRMSNorm"}, {"_mlp_class", "LLaMAMLP"}, {"mamba_init", true}};
}

ModelConfig parse(const json& j) { return parse_model_config(j.dump(), "config.json"); }

}  // namespace

TEST_CASE("official config: Samba layout, padding and tying", "[config]") {
  const ModelConfig c = parse(official_base());
  CHECK(c.architecture == Architecture::samba);
  CHECK(c.padded_vocab_size == 256);
  CHECK(c.tie_embeddings);
  REQUIRE(c.sublayers.size() == 8);
  CHECK(c.sublayers[0].kind == SublayerKind::mamba);
  CHECK(c.sublayers[0].prefix == "transformer.h.0.attn.");
  CHECK(c.sublayers[2].kind == SublayerKind::attention);
  CHECK(c.sublayers[2].window == 8);
  CHECK(c.sublayers[3].ends_block);
  CHECK(c.mamba.dt_rank == 4);
}

TEST_CASE("official config: full_per_layer, attn_layer_pos, mamba_swa_mlp and mamba-only", "[config]") {
  json j = official_base();
  j["full_per_layer"] = 2;
  j["attn_layer_pos"] = "[1, 2,]";
  ModelConfig c = parse(j);
  CHECK(c.sublayers[0].kind == SublayerKind::mamba);
  CHECK(c.sublayers[2].kind == SublayerKind::attention);
  CHECK(c.sublayers[2].window == -1);  // block 1: 1 % 2 == 1 -> full
  CHECK(c.sublayers[4].window == 8);   // block 2: local
  CHECK(c.sublayers[6].kind == SublayerKind::mamba);

  j = official_base();
  j["mamba_swa_mlp"] = true;
  c = parse(j);
  CHECK(c.architecture == Architecture::mamba_swa_mlp);
  CHECK(c.sublayers.size() == 12);
  CHECK(c.sublayers[0].prefix == "transformer.h.0.mb.");
  CHECK(c.sublayers[1].norm == "transformer.h.0.norm_attn.weight");

  j = official_base();
  j["mamba"] = true;
  j["_norm_class"] = "LayerNorm";  // the trainer's default, ignored by `mamba: true` models
  j["_mlp_class"] = "GptNeoxMLP";
  c = parse(j);
  CHECK(c.architecture == Architecture::mamba_only);
  CHECK(c.sublayers.size() == 4);
  CHECK(c.sublayers[0].prefix == "transformer.h.0.mixer.");

  j = official_base();
  j["mb_per_layer"] = -1;
  j["local_window"] = -1;
  j["mamba_init"] = false;
  c = parse(j);
  CHECK(c.architecture == Architecture::transformer_pp);
  CHECK_FALSE(c.tie_embeddings);
}

TEST_CASE("HF Mamba config", "[config]") {
  json j{{"model_type", "mamba"}, {"hidden_size", 96}, {"num_hidden_layers", 2}, {"state_size", 16}, {"expand", 2},
         {"conv_kernel", 4},      {"time_step_rank", "auto"}, {"vocab_size", 200}, {"use_conv_bias", false}};
  const ModelConfig c = parse(j);
  CHECK(c.format == CheckpointFormat::hf_mamba);
  CHECK(c.mamba.dt_rank == 6);
  CHECK_FALSE(c.mamba.conv_bias);
  CHECK(c.padded_vocab_size == 200);
  CHECK(c.sublayers[1].prefix == "backbone.layers.1.mixer.");
  j["model_type"] = "llama";
  CHECK_THROWS_WITH(parse(j), Catch::Contains("model_type 'llama' is not supported"));
}

TEST_CASE("malformed and unsupported configs give errors that name the field", "[config]") {
  auto refused = [](json j, const char* key, json value, const char* fragment) {
    if (value.is_null()) j.erase(key);
    else j[key] = value;
    INFO(key << " = " << value.dump());
    CHECK_THROWS_WITH(parse(j), Catch::Contains(fragment));
  };
  const json base = official_base();
  refused(base, "n_embd", nullptr, "neither an official Samba config");
  refused(base, "n_layer", nullptr, "required field 'n_layer' is missing");
  refused(base, "n_head", "four", "field 'n_head' must be an integer");
  refused(base, "n_head", 0, "n_head must be positive");
  refused(base, "n_query_groups", 3, "not a multiple of n_query_groups");
  refused(base, "n_embd", -64, "d_model = -64");
  refused(base, "n_embd", 1 << 20, "d_model = 1048576");
  refused(base, "vocab_size", 1LL << 40, "vocab_size");
  refused(base, "local_window", 0, "local_window must be -1 (full attention) or in [1, 16777216]");
  refused(base, "local_window", 1000000000000LL, "local_window must be -1 (full attention) or in [1, 16777216]");
  refused(base, "rotary_percentage", 0.1875, "must be even");  // 3 of 16 dims
  refused(base, "parallel_residual", true, "parallel_residual must be false");
  refused(base, "bias", true, "bias must be false");
  refused(base, "_norm_class", "LayerNorm", "_norm_class");
  refused(base, "_mlp_class", "GptNeoxMLP", "_mlp_class");
  refused(base, "gla_per_layer", 2, "GLA");
  refused(base, "sc_attn", true, "sc_attn");
  refused(base, "attn_layer_pos", "[1, x]", "non-integer");
  refused(base, "attn_layer_pos", 7, "attn_layer_pos must be a list");
  refused(base, "mamba_init", "yes", "must be true or false");
  refused(base, "norm_eps", 5.0, "norm_eps");
  refused(base, "intermediate_size", nullptr, "intermediate_size");
  refused(base, "rms_norm", false, "rms_norm must be true");
  refused(base, "shared_attention_norm", true, "shared_attention_norm must be false");
  refused(base, "use_mega", true, "use_mega is not implemented");
  refused(base, "abl_mamba", true, "abl_mamba");
  refused(base, "ret_per_layer", 2, "RetNet");
  refused(base, "condense_ratio", 0, "condense_ratio must be >= 1");
  refused(base, "rotary_percentage", 1.5, "rotary_percentage must be in [0, 1]");
  refused(base, "rotary_percentage", -0.25, "rotary_percentage must be in [0, 1]");
  refused(base, "padding_multiple", 0, "padding_multiple must be positive");
  refused(base, "padded_vocab_size", 7, "padded_vocab_size");

  // HF Mamba configs.
  const json hf{{"model_type", "mamba"}, {"hidden_size", 96}, {"num_hidden_layers", 2}, {"state_size", 16}, {"expand", 2},
                {"conv_kernel", 4},      {"time_step_rank", "auto"}, {"vocab_size", 200}};
  refused(hf, "use_bias", true, "use_bias (projection biases) must be false");
  refused(hf, "time_step_rank", "half", "time_step_rank' must be an integer or \"auto\"");
  refused(hf, "hidden_size", nullptr, "required field 'hidden_size' is missing");
  refused(hf, "num_hidden_layers", nullptr, "required field 'num_hidden_layers' is missing");
  CHECK_THROWS_WITH(parse_model_config("{\"n_embd\": ", "c.json"), Catch::Contains("c.json: not valid JSON"));
  CHECK_THROWS_WITH(parse_model_config("[]", "c.json"), Catch::Contains("not a JSON object"));
  CHECK_THROWS_WITH(load_model_config("/nonexistent/config.json"), Catch::Contains("cannot open"));
}
