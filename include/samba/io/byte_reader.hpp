// samba/io/byte_reader.hpp: bounds-checked little-endian decoding of an in-memory byte range.
// Every read checks the bytes left first, and arrays check their announced length against them
// before anything is allocated, so a corrupt length can neither overrun nor exhaust memory.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "samba/core/error.hpp"

namespace samba::io {

class ByteReader {
 public:
  /// `where` prefixes every error message (typically the file's path).
  ByteReader(std::span<const std::byte> bytes, std::string where) : bytes_(bytes), where_(std::move(where)) {}

  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }

  std::uint32_t u32(const char* what) { return static_cast<std::uint32_t>(little_endian(4, what)); }
  std::uint64_t u64(const char* what) { return little_endian(8, what); }

  /// `count` IEEE binary32 values (count read from the data: checked against the bytes left).
  std::vector<float> f32s(std::uint64_t count, const char* what) { return words<float>(count, what); }
  /// `count` signed 32-bit integers.
  std::vector<std::int32_t> i32s(std::uint64_t count, const char* what) { return words<std::int32_t>(count, what); }
  /// Fills `out` with out.size() binary32 values.
  void read_f32s(std::span<float> out, const char* what) { read_words(out, what); }
  /// `count` raw bytes as a string.
  std::string text(std::uint64_t count, const char* what) {
    need(count, 1, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<std::size_t>(count));
    pos_ += static_cast<std::size_t>(count);
    return s;
  }

 private:
  /// Fails unless count * size bytes are left (without overflowing).
  void need(std::uint64_t count, std::size_t size, const char* what) const {
    if (count > remaining() / size)
      fail(where_, ": ", what, " needs ", count, " x ", size, " bytes at offset ", pos_, " but only ", remaining(),
           " bytes are left (truncated or damaged)");
  }

  std::uint64_t little_endian(std::size_t n, const char* what) {
    need(1, n, what);
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | std::to_integer<std::uint64_t>(bytes_[pos_ + i]);
    pos_ += n;
    return v;
  }

  template <class T>
  std::vector<T> words(std::uint64_t count, const char* what) {
    need(count, 4, what);  // before allocating
    std::vector<T> out(static_cast<std::size_t>(count));
    read_words(std::span<T>(out), what);
    return out;
  }

  template <class T>
  void read_words(std::span<T> out, const char* what) {
    static_assert(sizeof(T) == 4);
    need(out.size(), 4, what);
    if constexpr (std::endian::native == std::endian::little) {
      if (!out.empty()) std::memcpy(out.data(), bytes_.data() + pos_, out.size() * 4);
      pos_ += out.size() * 4;
    } else {
      for (auto& x : out) x = std::bit_cast<T>(static_cast<std::uint32_t>(little_endian(4, what)));
    }
  }

  std::span<const std::byte> bytes_;
  std::string where_;
  std::size_t pos_ = 0;
};

}  // namespace samba::io
