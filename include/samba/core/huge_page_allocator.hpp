// samba/core/huge_page_allocator.hpp: a std::allocator for weight storage that asks Linux for
// transparent huge pages. A decode step streams every weight once; with 4 KiB pages the
// hardware prefetcher stops at each page boundary and every page costs a TLB walk. On the 2-core
// development VM (THP in "madvise" mode) a bf16 GEMV read 10-14% faster from 2 MiB pages on one
// thread and ~5% faster on two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace samba {

inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  /// Blocks of at least one huge page start on a huge-page boundary and are advised as huge
  /// (a hint only: where THP is off nothing changes). The block is not rounded up, so at most
  /// its last partial huge page stays in small pages and no memory is wasted.
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < huge_page_bytes) return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T) > 64 ? alignof(T) : 64}));
    void* p = ::operator new(bytes, std::align_val_t{huge_page_bytes});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    ::madvise(p, bytes / huge_page_bytes * huge_page_bytes, MADV_HUGEPAGE);
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    ::operator delete(p, bytes < huge_page_bytes ? std::align_val_t{alignof(T) > 64 ? alignof(T) : 64}
                                                 : std::align_val_t{huge_page_bytes});
  }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

/// A vector whose large buffers live in huge pages.
template <class T>
using huge_page_vector = std::vector<T, HugePageAllocator<T>>;

}  // namespace samba
