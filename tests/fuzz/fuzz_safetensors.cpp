// tests/fuzz/fuzz_safetensors.cpp: libFuzzer target for the safetensors reader: any bytes, as a
// file, either open as a checkpoint whose every tensor then reads back (as float32, or as ids),
// or are refused with samba::Error. Anything else (a crash, a sanitizer report, another
// exception) is a finding.
#include <unistd.h>

#include <cstdio>
#include <samba/io/safetensors.hpp>
#include <string>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = samba::fuzz::write_scratch_file("safetensors", data, size);
  try {
    const samba::io::SafetensorsFile file(path);
    for (const auto& t : file.tensors()) {
      if (samba::element_count(t.shape) > (samba::index_t{1} << 24)) continue;  // valid but too large to read here
      switch (t.dtype) {
        case samba::DType::f32:
        case samba::DType::bf16:
        case samba::DType::f16: (void)file.read_f32(t.name); break;
        case samba::DType::i64:
        case samba::DType::i32: (void)file.read_i64(t.name); break;
        default: (void)file.raw(t); break;
      }
    }
  } catch (const samba::Error&) {
    // refused with a message: the expected outcome for broken input
  }
  return 0;
}
