// examples/compile_time_variant.cpp: define a Samba variant at compile time, give it seeded
// random weights, stream a prompt through it in chunks and generate a few tokens.
//
// The shape below is a type: change a number and the compiler checks it (for instance, a head
// count that the KV heads do not divide is a static_assert), and every layer is built for it.
#include <chrono>
#include <iostream>
#include <samba/samba.hpp>
#include <samba/simd.hpp>

// Samba pattern (Mamba, MLP, SWA, MLP), 6 blocks, width 256, 4 query heads of 64 sharing one
// KV head, SwiGLU 768, a 64-token attention window, a 4096-token vocabulary.
constexpr samba::ModelShape kVariant = samba::official_shape(samba::Architecture::samba, /*n_layer=*/6, /*d_model=*/256,
                                                             /*n_head=*/4, /*n_kv_head=*/1, /*d_mlp=*/768, /*window=*/64,
                                                             /*vocab=*/4096, /*padded=*/4096);
using VariantModel = samba::Model<kVariant, samba::backend::Simd>;  // the CPU SIMD backend, float32 weights

int main() {
  VariantModel model(samba::config_from_shape(kVariant, "example-variant"), samba::backend::Simd(/*threads=*/0));
  samba::randomize(model, /*seed=*/42);
  const samba::MemoryEstimate memory = samba::estimate_memory(model.config());
  std::cout << "variant: " << model.parameter_count() << " parameters, " << memory.state_bytes / 1024
            << " KiB of state per sequence (independent of context length)\n";

  // A 1024-token prompt, 16 windows long, streamed in chunks of 256: the state stays the same size.
  std::vector<samba::token_t> prompt(1024);
  for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<samba::token_t>((i * 7919) % 4096);
  samba::SequenceState state = model.new_state();
  const auto start = std::chrono::steady_clock::now();
  std::vector<float> last;
  for (std::size_t first = 0; first < prompt.size(); first += 256) {
    const std::span<const samba::token_t> chunk(prompt.data() + first, 256);
    last = model.forward(state, chunk, samba::LogitsFor::last).data;
    std::cout << "  consumed " << state.position << " tokens\n";
  }
  const double prefill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::cout << "generated:";
  samba::token_t next = samba::argmax(last, 4096);
  for (int i = 0; i < 8; ++i) {
    std::cout << " " << next;
    next = samba::argmax(model.step(state, next), 4096);
  }
  std::cout << "\nprefill: " << static_cast<double>(prompt.size()) / prefill_s << " tokens/s on the SIMD backend, "
            << model.backend().threads() << " thread(s)\n";
}
