// samba/model/load.hpp: loads a checkpoint directory (config.json + model.safetensors) into a Model.
#pragma once

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "samba/io/safetensors.hpp"
#include "samba/model/config_json.hpp"
#include "samba/model/memory.hpp"
#include "samba/model/model.hpp"

namespace samba {

/// The index of the first value that is not finite, or -1 (float or bf16 values).
template <class Values>
index_t first_non_finite(const Values& v) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(to_float(v[i]))) return static_cast<index_t>(i);
  return -1;
}
/// The same for a loaded matrix (int8 values were checked as float32 before quantization).
template <class W>
index_t first_non_finite(const Matrix<W>& m) {
  if constexpr (std::is_same_v<W, q8>) return -1;
  else return first_non_finite(m.values);
}

inline void require_finite(const io::SafetensorsFile& file, const std::string& name, index_t bad) {
  require(bad < 0, file.path(), ": tensor '", name, "' holds a value that is not finite (NaN or infinity) at flat index ", bad);
}

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
    require_finite(file, name, first_non_finite(values));
    assign_from_float(storage, values);
  } else {
    file.read_into(name, shape, std::span<W>(storage.values));
  }
}

/// Copies every tensor the model needs from `file` (converting to the storage type), checking
/// names, shapes and that every value is finite (a NaN or an infinity in a weight would turn
/// every logit into garbage, or into NaN). Returns the names of tensors in the file that the
/// model did not use.
template <class ModelT>
std::vector<std::string> load_weights(ModelT& model, const io::SafetensorsFile& file) {
  std::set<std::string> used;
  model.for_each_parameter([&](const std::string& name, const Shape& shape, auto& storage, ParamRole) {
    load_parameter(file, name, shape, storage);
    require_finite(file, name, first_non_finite(storage));
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
  ModelConfig config = load_model_config(dir + "/config.json");
  const io::SafetensorsFile file(dir + "/model.safetensors");
  // Every parameter is a tensor of the file. A config that asks for far more values than the file
  // holds does not describe it, and is refused before a model is allocated from it (a small
  // shortfall, a tensor missing or mis-shaped, is named by load_weights).
  index_t stored = 0;
  for (const auto& t : file.tensors()) stored += element_count(t.shape);
  const index_t needed = estimate_memory(config).parameters;
  require(needed <= 2 * stored + (index_t{1} << 20), dir, "/config.json describes ", needed, " parameters, more than twice the ", stored,
          " values ", file.path(), " holds: the config does not belong to this checkpoint");
  ModelT model(std::move(config), std::move(backend));
  auto unused = load_weights(model, file);
  if (unused_tensors) *unused_tensors = std::move(unused);
  return model;
}

}  // namespace samba
