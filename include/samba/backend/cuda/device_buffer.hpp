// samba/backend/cuda/device_buffer.hpp: an owning array in GPU memory, with checked copies to and
// from the host.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <span>
#include <utility>

#include "samba/backend/cuda/error.hpp"

namespace samba::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    if (count_ > 0) check(cudaMalloc(reinterpret_cast<void**>(&data_), count_ * sizeof(T)), "cudaMalloc");
  }
  /// A device copy of `host`.
  explicit DeviceBuffer(std::span<const T> host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(data_, o.data_), std::swap(count_, o.count_);
    return *this;
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);  // no throw from a destructor; a failed free leaks at worst
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return count_; }

  void upload(std::span<const T> host) {
    require(host.size() == count_, "DeviceBuffer: uploading ", host.size(), " values into ", count_);
    if (count_ > 0) check(cudaMemcpy(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy (to device)");
  }
  /// A second buffer holding the same values (a device-to-device copy).
  DeviceBuffer clone() const {
    DeviceBuffer copy(count_);
    if (count_ > 0) check(cudaMemcpy(copy.data_, data_, count_ * sizeof(T), cudaMemcpyDeviceToDevice), "cudaMemcpy (device to device)");
    return copy;
  }
  /// Sets every byte to zero.
  void zero() {
    if (count_ > 0) check(cudaMemset(data_, 0, count_ * sizeof(T)), "cudaMemset");
  }
  void download(std::span<T> host) const {
    require(host.size() == count_, "DeviceBuffer: downloading ", count_, " values into ", host.size());
    if (count_ > 0) check(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy (to host)");
  }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace samba::cuda
