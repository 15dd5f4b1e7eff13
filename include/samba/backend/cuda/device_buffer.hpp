// samba/backend/cuda/device_buffer.hpp: an owning array in GPU memory, with checked copies to and
// from the host. Copies and fills are complete, and ordered after all work queued before them, when
// they return: the backend's kernels run on a non-blocking stream, which cudaMemcpy and cudaMemset
// (legacy default stream) do not wait for, and a device-to-device cudaMemcpy or a cudaMemset may
// return before it is done.
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
    if (count_ > 0) fenced([&] { return cudaMemcpy(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice); }, "cudaMemcpy (to device)");
  }
  /// A second buffer holding the same values (a device-to-device copy).
  DeviceBuffer clone() const {
    DeviceBuffer copy(count_);
    if (count_ > 0)
      fenced([&] { return cudaMemcpy(copy.data_, data_, count_ * sizeof(T), cudaMemcpyDeviceToDevice); }, "cudaMemcpy (device to device)");
    return copy;
  }
  /// Sets every byte to zero.
  void zero() {
    if (count_ > 0) fenced([&] { return cudaMemset(data_, 0, count_ * sizeof(T)); }, "cudaMemset");
  }
  void download(std::span<T> host) const {
    require(host.size() == count_, "DeviceBuffer: downloading ", count_, " values into ", host.size());
    if (count_ > 0) fenced([&] { return cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost); }, "cudaMemcpy (to host)");
  }

 private:
  /// op() between two device-wide synchronizations, each checked.
  template <class Op>
  static void fenced(Op op, const char* what) {
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (before a copy)");
    check(op(), what);
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (after a copy)");
  }

  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace samba::cuda
