// samba/model/load.hpp: loads a checkpoint directory (config.json + model.safetensors) into a Model.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "samba/io/safetensors.hpp"
#include "samba/model/config_json.hpp"
#include "samba/model/model.hpp"

namespace samba {

/// Copies every tensor the model needs from `file` (converting BF16/F16 to float32), checking
/// names and shapes. Returns the names of tensors in the file that the model did not use.
template <class ModelT>
std::vector<std::string> load_weights(ModelT& model, const io::SafetensorsFile& file) {
  std::set<std::string> used;
  model.for_each_parameter([&](const std::string& name, const Shape& shape, auto& storage, ParamRole) {
    file.read_into(name, shape, storage);
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
