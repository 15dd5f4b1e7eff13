// cli/command_generate.cpp: `samba generate`: continue a prompt of token ids, printing the new ids.
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "model_instance.hpp"

namespace samba::cli {
namespace {

struct GenerateCliOptions {
  std::string model_dir;
  std::string prompt_ids;
  long long max_new_tokens = 16;
  float temperature = 0.0f;
  std::uint64_t seed = 0;
  BackendOptions backend;
};

std::vector<token_t> parse_ids(const std::string& text) {
  std::vector<token_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      fail("--prompt-ids: '", item, "' is not an integer");
    }
    require(item.find_first_not_of(" \t", used) == std::string::npos, "--prompt-ids: '", item, "' is not an integer");
    require(v >= 0 && v <= std::numeric_limits<token_t>::max(), "--prompt-ids: ", v, " is not a valid token id");
    ids.push_back(static_cast<token_t>(v));
  }
  require(!ids.empty(), "--prompt-ids: no ids given");
  return ids;
}

template <class ModelT>
void run_generate(const ModelT& model, const std::vector<token_t>& prompt, const GenerateCliOptions& o) {
  SequenceState state = model.new_state();
  GenerateOptions g;
  g.max_new_tokens = o.max_new_tokens;
  g.temperature = o.temperature;
  g.seed = o.seed;
  bool first = true;
  generate(model, state, prompt, g, [&](token_t id) {
    std::cout << (first ? "" : ",") << id << std::flush;
    first = false;
  });
  std::cout << "\n";
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateCliOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate tokens after a prompt; prints the new ids comma-separated on one line");
  cmd->add_option("--model", options->model_dir, "Checkpoint directory (config.json + model.safetensors)")->required();
  cmd->add_option("--prompt-ids", options->prompt_ids, "Prompt token ids, comma-separated (e.g. 1,2,3)")->required();
  cmd->add_option("--max-new-tokens", options->max_new_tokens, "Number of tokens to generate")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", options->temperature, "Sampling temperature; 0 = greedy (argmax)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", options->seed, "Random seed for sampling (temperature > 0)")->capture_default_str();
  add_backend_options(cmd, options->backend);
  cmd->callback([options] {
    const std::vector<token_t> prompt = parse_ids(options->prompt_ids);
    const AnyModel model = load_any_model(options->model_dir, options->backend);
    std::visit([&](const auto& m) { run_generate(m, prompt, *options); }, model);
  });
}

}  // namespace samba::cli
