// samba/io/byte_writer.hpp: little-endian encoding of integers, floats and byte strings onto a
// sink, i.e. any object with `void write(std::span<const std::byte>)`. The same encoder runs over
// a CountingSink (to learn a length before writing) and over a file (see atomic_file.hpp).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "samba/io/fnv1a.hpp"

namespace samba::io {

/// A sink that only counts the bytes written to it.
struct CountingSink {
  std::uint64_t bytes = 0;
  void write(std::span<const std::byte> b) { bytes += b.size(); }
};

/// Forwards to `inner` and hashes everything on the way (FNV-1a 64).
template <class Inner>
struct HashingSink {
  Inner& inner;
  Fnv1a hash{};
  void write(std::span<const std::byte> b) {
    hash.update(b);
    inner.write(b);
  }
};

template <class Sink>
class ByteWriter {
 public:
  explicit ByteWriter(Sink& sink) : sink_(sink) {}

  void u32(std::uint32_t v) { little_endian<4>(v); }
  void u64(std::uint64_t v) { little_endian<8>(v); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void bytes(std::span<const std::byte> b) { sink_.write(b); }
  void text(std::string_view s) { bytes(std::as_bytes(std::span<const char>(s.data(), s.size()))); }

  /// IEEE binary32 values, 4 little-endian bytes each.
  void f32s(std::span<const float> v) { words(v); }
  /// Signed 32-bit integers, 4 little-endian bytes each.
  void i32s(std::span<const std::int32_t> v) { words(v); }

 private:
  template <int N>
  void little_endian(std::uint64_t v) {
    std::array<std::byte, N> le;
    for (int i = 0; i < N; ++i) le[static_cast<std::size_t>(i)] = static_cast<std::byte>(v >> (8 * i));
    sink_.write(le);
  }

  template <class T>
  void words(std::span<const T> v) {
    static_assert(sizeof(T) == 4);
    if constexpr (std::endian::native == std::endian::little) {
      sink_.write(std::as_bytes(v));
    } else {
      for (T x : v) little_endian<4>(std::bit_cast<std::uint32_t>(x));
    }
  }

  Sink& sink_;
};

}  // namespace samba::io
