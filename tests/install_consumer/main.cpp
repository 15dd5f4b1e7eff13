#include <iostream>
#include <samba/samba.hpp>
#include <samba/simd.hpp>

int main() {
  constexpr samba::ModelShape tiny = samba::official_shape(samba::Architecture::samba, 2, 32, 2, 1, 64, 8, 64, 64);
  samba::Model<tiny> reference(samba::config_from_shape(tiny, "tiny"));
  samba::Model<tiny, samba::backend::Simd, samba::bf16> fast(samba::config_from_shape(tiny, "tiny"), samba::backend::Simd(2));
  samba::randomize(reference, 1);
  samba::randomize(fast, 1);
  auto s1 = reference.new_state();
  auto s2 = fast.new_state();
  const std::vector<samba::token_t> prompt{1, 2, 3};
  const auto a = reference.forward(s1, prompt, samba::LogitsFor::last);
  const auto b = fast.forward(s2, prompt, samba::LogitsFor::last);
  std::cout << "parameters: " << reference.parameter_count() << ", next token " << samba::argmax(a.data, 64) << " / "
            << samba::argmax(b.data, 64) << "\n";
}
