// tests/tool/make_fixtures.cpp: writes malformed inputs for the tool's error tests into a folder.
//   make_fixtures OUT_DIR CASE_DIR
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>
#include <samba/io/safetensors.hpp>

using namespace samba;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_fixtures OUT_DIR CASE_DIR\n";
    return 2;
  }
  const fs::path out = argv[1], source = argv[2];
  fs::create_directories(out);
  Tensor<std::int64_t> ids({1, 4});
  ids.data = {1, 2, 3, 1000000};
  io::write_safetensors((out / "ids_out_of_vocab.safetensors").string(), {io::tensor_to_write("input_ids", DType::i64, ids)});
  ids.data = {1, 2, 3, -5};
  io::write_safetensors((out / "ids_negative.safetensors").string(), {io::tensor_to_write("input_ids", DType::i64, ids)});
  Tensor<std::int64_t> flat({4}, 1);
  io::write_safetensors((out / "ids_rank1.safetensors").string(), {io::tensor_to_write("input_ids", DType::i64, flat)});
  Tensor<float> floats({1, 4}, 1.0f);
  io::write_safetensors((out / "ids_float.safetensors").string(), {io::tensor_to_write("input_ids", DType::f32, floats)});

  // Checkpoints: good config with a truncated, a garbage and a bit-flipped-header model file.
  std::ifstream in(source / "model.safetensors", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto checkpoint = [&](const std::string& name, const std::string& model_bytes) {
    fs::create_directories(out / name);
    fs::copy_file(source / "config.json", out / name / "config.json", fs::copy_options::overwrite_existing);
    std::ofstream(out / name / "model.safetensors", std::ios::binary) << model_bytes;
  };
  checkpoint("truncated", bytes.substr(0, bytes.size() / 2));
  checkpoint("garbage", "this is not a safetensors file at all");
  std::string flipped = bytes;
  flipped[3] ^= 0x40;  // header length becomes absurd
  checkpoint("flipped", flipped);
  // A config that does not parse, and one with an absurd size.
  checkpoint("bad_config", bytes);
  std::ofstream(out / "bad_config" / "config.json") << "{\"n_embd\": 64, \"n_layer\": ";
  checkpoint("absurd_config", bytes);
  std::ifstream cfg(source / "config.json");
  std::string text((std::istreambuf_iterator<char>(cfg)), std::istreambuf_iterator<char>());
  const std::string original_config = text;
  const auto pos = text.find("\"n_layer\"");
  if (pos == std::string::npos) return 1;
  text.replace(pos, text.find(',', pos) - pos, "\"n_layer\": 100000000");
  std::ofstream(out / "absurd_config" / "config.json") << text;
  // A negative dimension.
  std::string negative = original_config;
  const auto embd = negative.find("\"n_embd\"");
  if (embd == std::string::npos) return 1;
  negative.replace(embd, negative.find(',', embd) - embd, "\"n_embd\": -64");
  checkpoint("negative_dim", bytes);
  std::ofstream(out / "negative_dim" / "config.json") << negative;

  // Checkpoints rewritten tensor by tensor: one tensor left out, one with the wrong shape, and one
  // with a dtype nobody knows.
  const io::SafetensorsFile file((source / "model.safetensors").string());
  std::vector<Tensor<float>> values;
  for (const auto& t : file.tensors()) values.push_back(file.read_f32(t.name));
  auto rewrite = [&](const std::string& name, auto&& change) {
    std::vector<io::TensorToWrite> tensors;
    for (std::size_t i = 0; i < values.size(); ++i) tensors.push_back(io::tensor_to_write(file.tensors()[i].name, DType::f32, values[i]));
    change(tensors);
    checkpoint(name, "");
    io::write_safetensors((out / name / "model.safetensors").string(), tensors);
  };
  rewrite("missing_tensor", [](auto& t) { t.erase(t.begin()); });
  rewrite("misshaped_tensor", [](auto& t) { t.front().shape = {element_count(t.front().shape)}; });
  checkpoint("unknown_dtype", "");
  const std::string header = R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})";
  const std::uint64_t length = header.size();
  std::ofstream dtype_file(out / "unknown_dtype" / "model.safetensors", std::ios::binary);
  dtype_file.write(reinterpret_cast<const char*>(&length), 8);  // little-endian host (x86-64, arm64)
  dtype_file << header << std::string(8, '\0');

  // A weight holding a NaN.
  const float kept = values.back().data[3];
  values.back().data[3] = std::numeric_limits<float>::quiet_NaN();
  rewrite("nan_weight", [](auto&) {});
  values.back().data[3] = kept;
  // A config describing a model far larger than the checkpoint (GBs of weights against ~0.1 MB).
  checkpoint("big_config", bytes);
  nlohmann::json big = nlohmann::json::parse(original_config);
  big["n_embd"] = 2048, big["n_layer"] = 16, big["intermediate_size"] = 8192, big["head_size"] = 128;
  std::ofstream(out / "big_config" / "config.json") << big.dump();
  // A batch file whose second prompt holds an id outside the vocabulary (200 ids).
  std::ofstream(out / "batch_out_of_vocab.txt") << "1,2\n200\n";
  return 0;
}
