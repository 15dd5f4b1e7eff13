// samba/core/kv_cache.hpp: keys and values of one attention layer for one sequence.
// With a window w it is a ring buffer of the last w positions (constant memory, SPEC.md "SWA");
// with full attention (window -1) it keeps every position. Storage is group-major,
// [G][slot][head_size], so that one KV head's keys are contiguous and stream at full bandwidth.
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba {

class KvCache {
 public:
  KvCache() = default;
  /// window: keys per query (-1 = unbounded); groups: KV heads; head_size: floats per head.
  KvCache(index_t window, index_t groups, index_t head_size)
      : window_(window), groups_(groups), head_size_(head_size),
        keys_(static_cast<std::size_t>(groups)), values_(static_cast<std::size_t>(groups)) {
    if (window_ > 0)
      for (index_t g = 0; g < groups_; ++g) {
        keys_[g].assign(static_cast<std::size_t>(window_ * head_size_), 0.0f);
        values_[g].assign(keys_[g].size(), 0.0f);
      }
  }

  index_t window() const { return window_; }
  index_t groups() const { return groups_; }
  index_t head_size() const { return head_size_; }
  /// Positions [0, end) have been written; those older than end - window are gone.
  index_t end() const { return end_; }

  /// Key / value of KV head `group` at `position` [head_size].
  const float* key(index_t position, index_t group) const { return keys_[group].data() + slot(position) * head_size_; }
  const float* value(index_t position, index_t group) const { return values_[group].data() + slot(position) * head_size_; }

  /// Appends positions [end, end + count): k, v [count, G, head_size].
  void append(const float* k, const float* v, index_t count) {
    const index_t first = window_ > 0 ? std::max<index_t>(0, count - window_) : 0;  // older ones would be overwritten
    for (index_t g = 0; g < groups_; ++g) {
      if (window_ <= 0) {
        keys_[g].resize(static_cast<std::size_t>((end_ + count) * head_size_));
        values_[g].resize(keys_[g].size());
      }
      for (index_t i = first; i < count; ++i) {
        const index_t src = (i * groups_ + g) * head_size_, dst = slot(end_ + i) * head_size_;
        std::copy_n(k + src, head_size_, keys_[g].data() + dst);
        std::copy_n(v + src, head_size_, values_[g].data() + dst);
      }
    }
    end_ += count;
  }

  /// Positions still held, [end() - live_positions(), end()): min(end, window) for a ring buffer,
  /// all of them for full attention. Their key() / value() rows are the cache's whole content.
  index_t live_positions() const { return live_for(end_); }

  /// Replaces the contents (the inverse of reading key() / value() of the live positions, for
  /// loading a saved state): afterwards the cache has consumed positions [0, end) and holds
  /// keys, values [G, live, head_size], live = min(end, window) (end for full attention), the
  /// live positions oldest first. Throws Error, changing nothing, if the sizes do not match.
  void restore(index_t end, std::span<const float> keys, std::span<const float> values) {
    require(end >= 0, "KvCache::restore: negative end position ", end);
    const index_t live = live_for(end);
    const auto row = static_cast<std::size_t>(groups_ * head_size_);  // floats per position
    const bool fits = row == 0 ? keys.empty() : keys.size() % row == 0 && keys.size() / row == static_cast<std::size_t>(live);
    require(fits && values.size() == keys.size(), "KvCache::restore: ", keys.size(), " key and ", values.size(),
            " value floats for ", live, " positions of ", groups_, " heads of ", head_size_, " floats");
    const auto slots = static_cast<std::size_t>((window_ > 0 ? window_ : live) * head_size_);
    std::vector<std::vector<float>> k(static_cast<std::size_t>(groups_)), v(k.size());
    for (index_t g = 0; g < groups_; ++g) {
      k[g].assign(slots, 0.0f);
      v[g].assign(slots, 0.0f);
      for (index_t i = 0; i < live; ++i) {
        const index_t src = (g * live + i) * head_size_, dst = slot(end - live + i) * head_size_;
        std::copy_n(keys.data() + src, head_size_, k[g].data() + dst);
        std::copy_n(values.data() + src, head_size_, v[g].data() + dst);
      }
    }
    keys_.swap(k);
    values_.swap(v);
    end_ = end;
  }

  /// Bytes held now (a ring buffer's is fixed; a full-attention cache grows with the sequence).
  std::size_t bytes() const {
    std::size_t n = 0;
    for (index_t g = 0; g < groups_; ++g) n += (keys_[g].capacity() + values_[g].capacity()) * sizeof(float);
    return n;
  }

 private:
  index_t slot(index_t position) const { return window_ > 0 ? position % window_ : position; }
  index_t live_for(index_t end) const { return window_ > 0 ? std::min(end, window_) : end; }

  index_t window_ = -1;
  index_t groups_ = 0;
  index_t head_size_ = 0;
  index_t end_ = 0;
  std::vector<std::vector<float>> keys_;    // [G][slots * head_size]
  std::vector<std::vector<float>> values_;  // [G][slots * head_size]
};

}  // namespace samba
