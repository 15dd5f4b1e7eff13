// samba/model/load.hpp: loads a checkpoint directory (config.json + model.safetensors) into a Model.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "samba/io/safetensors.hpp"
#include "samba/model/config_json.hpp"
#include "samba/model/model.hpp"

namespace samba {

/// Reads one tensor into a layer's storage, converting to its type (float, bf16, or q8).
inline void load_parameter(const io::SafetensorsFile& file, const std::string& name, const Shape& shape,
                           std::vector<float>& storage) {
  file.read_into(name, shape, std::span<float>(storage));
}
template <class W>
void load_parameter(const io::SafetensorsFile& file, const std::string& name, const Shape& shape, Matrix<W>& storage) {
  if constexpr (std::is_same_v<W, q8>) {
    std::vector<float> values(static_cast<std::size_t>(element_count(shape)));
    file.read_f32_into(name, shape, values);
    assign_from_float(storage, values);
  } else {
    file.read_into(name, shape, std::span<W>(storage.values));
  }
}

/// Copies every tensor the model needs from `file` (converting to the storage type), checking
/// names and shapes. Returns the names of tensors in the file that the model did not use.
template <class ModelT>
std::vector<std::string> load_weights(ModelT& model, const io::SafetensorsFile& file) {
  std::set<std::string> used;
  model.for_each_parameter([&](const std::string& name, const Shape& shape, auto& storage, ParamRole) {
    load_parameter(file, name, shape, storage);
    used.insert(name);
  });
  model.prepare();
  std::vector<std::string> unused;
  for (const auto& t : file.tensors())
    if (!used.count(t.name)) unused.push_back(t.name);
  return unused;
}

/// Loads `dir`/config.json and `dir`/model.safetensors. Throws Error naming the file and the
/// problem for a missing file, a bad config, or a missing or mis-shaped tensor.
template <class ModelT = DynamicModel<>>
ModelT load_model(const std::string& dir, std::vector<std::string>* unused_tensors = nullptr,
                  typename ModelT::backend_type backend = {}) {
  ModelT model(load_model_config(dir + "/config.json"), std::move(backend));
  const io::SafetensorsFile file(dir + "/model.safetensors");
  auto unused = load_weights(model, file);
  if (unused_tensors) *unused_tensors = std::move(unused);
  return model;
}

}  // namespace samba
