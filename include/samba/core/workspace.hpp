// samba/core/workspace.hpp: scratch memory for forward passes, reused from call to call. A prefill
// chunk needs tens of MiB of activations per layer; allocating them afresh every layer costs page
// faults and zero-filling (measured ~9% of a mamba-1.4b prefill), so each sequence keeps one arena
// whose size settles after the first chunk.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba {

class Workspace {
 public:
  Workspace() = default;
  // A copy starts empty: scratch holds nothing between calls, so a forked sequence needs none of it.
  Workspace(const Workspace&) {}
  Workspace& operator=(const Workspace&) { return *this; }
  Workspace(Workspace&&) noexcept = default;
  Workspace& operator=(Workspace&&) noexcept = default;

  /// Marks the arena on construction and gives back everything taken since on destruction.
  class Frame {
   public:
    explicit Frame(Workspace& ws) : ws_(ws), block_(ws.block_), used_(ws.used_) {}
    Frame(const Frame&) = delete;
    Frame& operator=(const Frame&) = delete;
    ~Frame() { ws_.block_ = block_, ws_.used_ = used_; }

   private:
    Workspace& ws_;
    std::size_t block_, used_;
  };

  /// `n` uninitialised floats, 64-byte aligned, valid until the enclosing Frame ends.
  float* floats(index_t n) {
    require(n >= 0, "Workspace: negative size ", n);
    const std::size_t want = round_up(static_cast<std::size_t>(n));
    while (block_ < blocks_.size() && blocks_[block_].size - used_ < want) ++block_, used_ = 0;
    if (block_ == blocks_.size()) {
      // Grow geometrically: a new block is at least as large as all earlier ones together, so a
      // warmed-up arena holds at most about twice its peak use, in a handful of blocks.
      const std::size_t size = std::max({want, capacity(), min_block_floats});
      blocks_.push_back({std::unique_ptr<float[], AlignedDelete>(static_cast<float*>(
                             ::operator new[](size * sizeof(float), std::align_val_t{alignment}))),
                         size});
      used_ = 0;
    }
    float* p = blocks_[block_].data.get() + used_;
    used_ += want;
    return p;
  }

  /// Floats held, in all blocks.
  std::size_t capacity() const {
    std::size_t total = 0;
    for (const auto& b : blocks_) total += b.size;
    return total;
  }

  /// Frees every block (no Frame may be open).
  void release() { blocks_.clear(), block_ = 0, used_ = 0; }

 private:
  static constexpr std::size_t alignment = 64;
  static constexpr std::size_t min_block_floats = std::size_t{1} << 16;
  static std::size_t round_up(std::size_t n) {
    constexpr std::size_t per_line = alignment / sizeof(float);
    return (n + per_line - 1) / per_line * per_line;
  }
  struct AlignedDelete {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t{alignment}); }
  };
  struct Block {
    std::unique_ptr<float[], AlignedDelete> data;
    std::size_t size = 0;  // floats
  };
  std::vector<Block> blocks_;
  std::size_t block_ = 0;  // block being filled
  std::size_t used_ = 0;   // floats taken from it
};

}  // namespace samba
