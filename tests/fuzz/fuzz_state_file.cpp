// tests/fuzz/fuzz_state_file.cpp: libFuzzer target for the state-file loader, against a small
// committed model (tests/data/unseen/samba5_mqa_w3): any bytes are loaded as a state file
// (magic, version, fingerprint, lengths, checksum), and also read directly as a state payload (so
// that mutations reach the payload parser past the checksum); each either yields a state that
// passes check_saved_sequence or is refused with samba::Error.
#include <samba/model/load.hpp>
#include <samba/model/state_file.hpp>
#include <string>

#include "fuzz_support.hpp"

namespace {
const samba::DynamicModel<>& model() {
  static const auto m = samba::load_model(SAMBA_FUZZ_STATE_MODEL);
  return m;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& m = model();
  const std::string path = samba::fuzz::write_scratch_file("state", data, size);
  try {
    (void)samba::load_sequence(path, m);
  } catch (const samba::Error&) {
  }
  try {
    samba::io::ByteReader reader(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz payload");
    const samba::SavedSequence saved = samba::detail::read_state_payload(reader, m.new_state(), m.padded_vocab_size(), "fuzz payload");
    samba::check_saved_sequence(m, saved, "fuzz payload");
  } catch (const samba::Error&) {
  }
  return 0;
}
