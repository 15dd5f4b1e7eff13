#include "model_instance.hpp"

#include <iostream>

template class samba::Model<samba::ModelShape{}, samba::backend::Scalar>;

namespace samba::cli {

CliModel load_cli_model(const std::string& dir) {
  std::vector<std::string> unused;
  CliModel model = load_model<CliModel>(dir, &unused);
  if (!unused.empty()) {
    std::cerr << "samba: warning: " << dir << "/model.safetensors holds " << unused.size()
              << " tensor(s) the model does not use, e.g. '" << unused.front() << "'\n";
  }
  return model;
}

}  // namespace samba::cli
