// cli/model_instance.hpp: the model types the tool runs (every extent from the checkpoint), one per
// backend and weight type, instantiated once in model_instance.cpp to keep compile times down.
#pragma once

#include <CLI/CLI.hpp>
#include <samba/samba.hpp>
#include <samba/simd.hpp>
#include <variant>

#include "cuda_support.hpp"

namespace samba::cli {

using ScalarModel = DynamicModel<backend::Scalar, float>;
using ScalarBf16Model = DynamicModel<backend::Scalar, bf16>;
using SimdModel = DynamicModel<backend::Simd, float>;
using SimdBf16Model = DynamicModel<backend::Simd, bf16>;
using ScalarQ8Model = DynamicModel<backend::Scalar, q8>;
using SimdQ8Model = DynamicModel<backend::Simd, q8>;
using AnyModel = std::variant<ScalarModel, ScalarBf16Model, ScalarQ8Model, SimdModel, SimdBf16Model, SimdQ8Model
#if SAMBA_HAVE_CUDA
                             ,
                             CudaModel, CudaBf16Model
#endif
                             >;

/// --backend, --threads, --device and --dtype, shared by the commands that run a model.
struct BackendOptions {
  std::string backend = "simd";
  int threads = 0;
  std::string dtype = "f32";
  int device = 0;            // CUDA device
  bool cuda_graphs = true;   // decode steps replay CUDA graphs
};
void add_backend_options(CLI::App* cmd, BackendOptions& options);

/// Loads a checkpoint directory; prints tensors the model did not use as a warning on stderr.
AnyModel load_any_model(const std::string& dir, const BackendOptions& options);

/// A model of `config` with seeded random weights (see samba::randomize).
AnyModel random_any_model(const ModelConfig& config, const BackendOptions& options, std::uint64_t seed);

}  // namespace samba::cli

extern template class samba::Model<samba::ModelShape{}, samba::backend::Scalar, float>;
extern template class samba::Model<samba::ModelShape{}, samba::backend::Scalar, samba::bf16>;
extern template class samba::Model<samba::ModelShape{}, samba::backend::Simd, float>;
extern template class samba::Model<samba::ModelShape{}, samba::backend::Simd, samba::bf16>;
extern template class samba::Model<samba::ModelShape{}, samba::backend::Scalar, samba::q8>;
extern template class samba::Model<samba::ModelShape{}, samba::backend::Simd, samba::q8>;
