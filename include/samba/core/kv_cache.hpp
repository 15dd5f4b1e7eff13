// samba/core/kv_cache.hpp: keys and values of one attention layer for one sequence.
// With a window w it is a ring buffer of the last w positions (constant memory, SPEC.md "SWA");
// with full attention (window -1) it keeps every position.
#pragma once

#include <algorithm>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba {

class KvCache {
 public:
  KvCache() = default;
  /// window: keys per query (-1 = unbounded); width: floats per position (n_kv_head * head_size).
  KvCache(index_t window, index_t width) : window_(window), width_(width) {
    if (window_ > 0) {
      keys_.assign(static_cast<std::size_t>(window_ * width_), 0.0f);
      values_.assign(keys_.size(), 0.0f);
    }
  }

  index_t window() const { return window_; }
  index_t width() const { return width_; }
  /// Positions [0, end) have been written; those older than end - window are gone.
  index_t end() const { return end_; }

  const float* key(index_t position) const { return keys_.data() + slot(position) * width_; }
  const float* value(index_t position) const { return values_.data() + slot(position) * width_; }

  /// Appends positions [end, end + count): k, v [count, width].
  void append(const float* k, const float* v, index_t count) {
    const index_t first = window_ > 0 ? std::max<index_t>(0, count - window_) : 0;  // older ones would be overwritten
    if (window_ <= 0) {
      keys_.resize(static_cast<std::size_t>((end_ + count) * width_));
      values_.resize(keys_.size());
    }
    for (index_t i = first; i < count; ++i) {
      std::copy_n(k + i * width_, width_, keys_.data() + slot(end_ + i) * width_);
      std::copy_n(v + i * width_, width_, values_.data() + slot(end_ + i) * width_);
    }
    end_ += count;
  }

  /// Bytes held now (a ring buffer's is fixed; a full-attention cache grows with the sequence).
  std::size_t bytes() const { return (keys_.capacity() + values_.capacity()) * sizeof(float); }

 private:
  index_t slot(index_t position) const { return window_ > 0 ? position % window_ : position; }

  index_t window_ = -1;
  index_t width_ = 0;
  index_t end_ = 0;
  std::vector<float> keys_;    // [slots, width]
  std::vector<float> values_;  // [slots, width]
};

}  // namespace samba
