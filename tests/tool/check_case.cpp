// tests/tool/check_case.cpp: runs the `samba` tool on a case directory the way a user would and
// compares what it wrote with the case's reference outputs.
//   check_case SAMBA_BINARY CASE_DIR PREFILL_DIVISOR [TOOL_OPTION...]
// runs `samba logits --prefill T/PREFILL_DIVISOR --hidden TOOL_OPTION...` and checks logits and
// hidden.{i} (relative L2 < 1e-4); for cases with generate_ids, runs `samba generate` (greedy)
// with the same options and compares the printed ids. Exit 0 on success.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <samba/io/safetensors.hpp>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace samba;

namespace {

double rel_l2(const Tensor<float>& a, const Tensor<float>& b) {
  if (a.shape != b.shape) return INFINITY;
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) {
    const double d = double(a.data[i]) - b.data[i];
    num += d * d, den += double(b.data[i]) * b.data[i];
  }
  return std::sqrt(num / den);
}

/// Runs a shell command, returning its stdout; fails unless it exits with status 0.
std::string run(const std::string& command) {
  std::cerr << "+ " << command << "\n";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("command failed: " + command);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: check_case SAMBA_BINARY CASE_DIR PREFILL_DIVISOR [TOOL_OPTION...]\n";
    return 2;
  }
  const std::string samba = argv[1], dir = argv[2];
  const long divisor = std::stol(argv[3]);
  std::string extra;
  for (int i = 4; i < argc; ++i) extra += std::string(" '") + argv[i] + "'";
  try {
    const io::SafetensorsFile ref(dir + "/io.safetensors");
    const index_t T = ref.info("input_ids").shape.at(1);
    const std::string out = "check_case_" + std::to_string(::getpid()) + ".safetensors";
    run("'" + samba + "' logits --model '" + dir + "' --input '" + dir + "/io.safetensors' --output " + out +
        " --hidden --prefill " + std::to_string(T / divisor) + extra);
    const io::SafetensorsFile got(out);
    bool ok = true;
    for (const auto& t : ref.tensors()) {
      if (t.name != "logits" && t.name.rfind("hidden.", 0) != 0) continue;
      const double err = rel_l2(got.read_f32(t.name), ref.read_f32(t.name));
      std::cout << t.name << ": rel L2 " << err << "\n";
      ok = ok && err < 1e-4;
    }
    std::remove(out.c_str());
    if (ref.contains("generate_ids")) {
      const auto prompt = ref.read_i64("generate_prompt"), expected = ref.read_i64("generate_ids");
      std::string ids, want;
      auto append = [](std::string& list, std::int64_t v) {
        if (!list.empty()) list += ',';
        list += std::to_string(v);
      };
      for (auto v : prompt.data) append(ids, v);
      for (std::size_t i = prompt.data.size(); i < expected.data.size(); ++i) append(want, expected.data[i]);
      const std::string printed = run("'" + samba + "' generate --model '" + dir + "' --prompt-ids " + ids +
                                      " --max-new-tokens " + std::to_string(expected.data.size() - prompt.data.size()) + extra);
      std::cout << "generate: " << printed << "expected: " << want << "\n";
      ok = ok && printed == want + "\n";
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "check_case: " << e.what() << "\n";
    return 1;
  }
}
