// samba/io/fnv1a.hpp: the 64-bit FNV-1a hash (http://www.isthe.com/chongo/tech/comp/fnv/), the
// checksum of state files and the mixer of model fingerprints. Each byte step (xor, then multiply
// by an odd prime) is a bijection of the running value, so changing any one byte of the input
// always changes the hash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace samba::io {

class Fnv1a {
 public:
  static constexpr std::uint64_t offset_basis = 0xcbf29ce484222325ull;
  static constexpr std::uint64_t prime = 0x100000001b3ull;

  void update(std::span<const std::byte> bytes) {
    std::uint64_t h = value_;
    for (std::byte b : bytes) h = (h ^ std::to_integer<std::uint64_t>(b)) * prime;
    value_ = h;
  }

  /// Hashes `v` as its 8 little-endian bytes (so the result does not depend on the host).
  void update_u64(std::uint64_t v) {
    std::byte le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<std::byte>(v >> (8 * i));
    update(le);
  }

  std::uint64_t value() const { return value_; }

 private:
  std::uint64_t value_ = offset_basis;
};

/// FNV-1a 64 of `bytes`.
inline std::uint64_t fnv1a64(std::span<const std::byte> bytes) {
  Fnv1a h;
  h.update(bytes);
  return h.value();
}

}  // namespace samba::io
