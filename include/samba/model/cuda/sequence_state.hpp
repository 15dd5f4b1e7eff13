// samba/model/cuda/sequence_state.hpp: one sequence's state on the GPU: the Mamba conv and SSM
// states and the KV caches of a CUDA model, in the layouts of the host SequenceState, plus the
// device scratch memory of the chunk in flight. Copies fork the sequence (device-to-device copies;
// the copy's scratch starts empty).
#pragma once

#include <cstddef>
#include <vector>

#include "samba/backend/cuda/device_buffer.hpp"
#include "samba/core/types.hpp"

namespace samba::cuda {

/// One attention layer's keys and values, [G, slots, head_size] each (KvCache's layout): a ring
/// of `window` slots, or for full attention (window -1) a buffer that grows as the sequence does.
struct DeviceKvCache {
  index_t window = -1;
  index_t groups = 0;
  index_t head_size = 0;
  index_t slots = 0;  // positions the buffers hold
  DeviceBuffer<float> keys;
  DeviceBuffer<float> values;

  DeviceKvCache() = default;
  DeviceKvCache(index_t window_, index_t groups_, index_t head_size_, index_t slots_)
      : window(window_), groups(groups_), head_size(head_size_), slots(slots_),
        keys(static_cast<std::size_t>(groups_ * slots_ * head_size_)), values(keys.size()) {
    keys.zero(), values.zero();
  }
  DeviceKvCache(const DeviceKvCache& o)
      : window(o.window), groups(o.groups), head_size(o.head_size), slots(o.slots), keys(o.keys.clone()), values(o.values.clone()) {}
  DeviceKvCache& operator=(const DeviceKvCache& o) {
    if (this != &o) *this = DeviceKvCache(o);
    return *this;
  }
  DeviceKvCache(DeviceKvCache&&) noexcept = default;
  DeviceKvCache& operator=(DeviceKvCache&&) noexcept = default;

  /// Bytes held on the device.
  std::size_t bytes() const { return (keys.size() + values.size()) * sizeof(float); }
};

/// Everything one sequence carries between calls of a CUDA model.
struct DeviceSequenceState {
  index_t position = 0;                      // tokens consumed so far
  std::vector<DeviceBuffer<float>> conv;     // per Mamba sublayer: [K-1, E] last conv inputs, oldest first
  std::vector<DeviceBuffer<float>> ssm;      // per Mamba sublayer: [N, E]
  std::vector<DeviceKvCache> attention;      // per attention sublayer
  DeviceBuffer<std::byte> scratch;           // activations of the chunk in flight (not state)

  DeviceSequenceState() = default;
  DeviceSequenceState(const DeviceSequenceState& o) : position(o.position), attention(o.attention) {
    for (const auto& c : o.conv) conv.push_back(c.clone());
    for (const auto& s : o.ssm) ssm.push_back(s.clone());
  }
  DeviceSequenceState& operator=(const DeviceSequenceState& o) {
    if (this != &o) *this = DeviceSequenceState(o);
    return *this;
  }
  DeviceSequenceState(DeviceSequenceState&&) noexcept = default;
  DeviceSequenceState& operator=(DeviceSequenceState&&) noexcept = default;
};

/// Bytes of device memory a sequence's state holds (not its scratch).
inline std::size_t state_bytes(const DeviceSequenceState& s) {
  std::size_t n = 0;
  for (const auto& c : s.conv) n += c.size() * sizeof(float);
  for (const auto& h : s.ssm) n += h.size() * sizeof(float);
  for (const auto& kv : s.attention) n += kv.bytes();
  return n;
}

}  // namespace samba::cuda
