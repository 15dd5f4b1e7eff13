// tests/fuzz/fuzz_support.hpp: what the fuzz targets share: a scratch file per process for
// readers that take a path (in /dev/shm where it exists, so that nothing touches the disk).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <samba/core/error.hpp>
#include <samba/core/types.hpp>
#include <string>

namespace samba::fuzz {

using samba::index_t;

/// Writes `size` bytes to this process's scratch file named after `tag`; returns its path.
inline std::string write_scratch_file(const char* tag, const std::uint8_t* data, std::size_t size) {
  static const std::string dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
  const std::string path = dir + "/samba-fuzz-" + tag + "-" + std::to_string(::getpid());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) fail(path, ": cannot write the fuzz input");
  return path;
}

}  // namespace samba::fuzz
