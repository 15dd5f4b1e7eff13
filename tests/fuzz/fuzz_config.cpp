// tests/fuzz/fuzz_config.cpp: libFuzzer target for config.json: any text either parses into a
// validated ModelConfig (whose memory estimate is then computed, so that absurd sizes meet the
// arithmetic) or is refused with samba::Error.
#include <samba/model/config_json.hpp>
#include <samba/model/memory.hpp>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const samba::ModelConfig config = samba::parse_model_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
    config.validate();
    (void)samba::estimate_memory(config);
  } catch (const samba::Error&) {
    // refused with a message
  }
  return 0;
}
