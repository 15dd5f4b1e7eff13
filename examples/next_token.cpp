// examples/next_token.cpp: load a checkpoint directory and print the next-token distribution
// after a prompt of token ids.
//   next_token MODEL_DIR [ID,ID,...] [TOP_K]
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <samba/samba.hpp>
#include <sstream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: next_token MODEL_DIR [ID,ID,...] [TOP_K]\n";
    return 2;
  }
  try {
    const auto model = samba::load_model(argv[1]);
    std::vector<samba::token_t> prompt;
    std::stringstream ids(argc > 2 ? argv[2] : "1");
    for (std::string id; std::getline(ids, id, ',');) prompt.push_back(static_cast<samba::token_t>(std::stol(id)));
    const std::size_t top_k = argc > 3 ? std::stoul(argv[3]) : 10;

    samba::SequenceState state = model.new_state();
    const std::vector<float> logits = model.forward(state, prompt, samba::LogitsFor::last).data;
    const auto vocab = static_cast<std::size_t>(model.config().vocab_size);
    const float top = *std::max_element(logits.begin(), logits.begin() + static_cast<long>(vocab));
    std::vector<double> p(vocab);
    double sum = 0.0;
    for (std::size_t i = 0; i < vocab; ++i) sum += (p[i] = std::exp(logits[i] - top));
    std::vector<std::size_t> order(vocab);
    for (std::size_t i = 0; i < vocab; ++i) order[i] = i;
    const std::size_t k = std::min(top_k, vocab);
    std::partial_sort(order.begin(), order.begin() + static_cast<long>(k), order.end(),
                      [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
    std::cout << "next token after " << prompt.size() << " prompt tokens (" << model.config().name << "):\n";
    for (std::size_t i = 0; i < k; ++i)
      std::cout << "  id " << std::setw(6) << order[i] << "  p = " << std::fixed << std::setprecision(4) << p[order[i]] / sum << "\n";
  } catch (const std::exception& e) {
    std::cerr << "next_token: " << e.what() << "\n";
    return 1;
  }
}
