#include <iostream>
#include <samba/samba.hpp>

int main() {
  constexpr samba::ModelShape tiny = samba::official_shape(samba::Architecture::samba, 2, 32, 2, 1, 64, 8, 64, 64);
  samba::Model<tiny> model(samba::config_from_shape(tiny, "tiny"));
  samba::randomize(model, 1);
  auto state = model.new_state();
  const std::vector<samba::token_t> prompt{1, 2, 3};
  const auto logits = model.forward(state, prompt, samba::LogitsFor::last);
  std::cout << "parameters: " << model.parameter_count() << ", next token " << samba::argmax(logits.data, 64) << "\n";
}
