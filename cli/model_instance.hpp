// cli/model_instance.hpp: the one model type the tool runs (every extent from the checkpoint),
// instantiated once in model_instance.cpp to keep the tool's compile time down.
#pragma once

#include <samba/samba.hpp>

namespace samba::cli {

using CliModel = DynamicModel<backend::Scalar>;

/// Loads a checkpoint directory; prints tensors the model did not use as a warning on stderr.
CliModel load_cli_model(const std::string& dir);

}  // namespace samba::cli

extern template class samba::Model<samba::ModelShape{}, samba::backend::Scalar>;
