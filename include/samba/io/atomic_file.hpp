// samba/io/atomic_file.hpp: writes a file under a temporary name (path + ".tmp") and renames it
// into place only once every byte is written and synced, so a crash or an error never leaves a
// half-written file under the real name (POSIX: rename within a directory is atomic).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "samba/core/error.hpp"

namespace samba::io {

class AtomicFile {
 public:
  /// Creates (or truncates) path + ".tmp".
  explicit AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(path_, ": cannot create ", tmp_, ": ", std::strerror(errno));
    buffer_.reserve(buffer_bytes);
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  /// Without commit() the temporary file is removed and the real one left as it was.
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }

  void write(std::span<const std::byte> bytes) {
    if (bytes.size() >= buffer_bytes) {
      flush();
      write_all(bytes);
      return;
    }
    if (buffer_.size() + bytes.size() > buffer_bytes) flush();
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  }

  /// Flushes, syncs and renames the temporary file to the real name.
  void commit() {
    flush();
    if (::fsync(fd_) != 0) fail(path_, ": cannot sync ", tmp_, ": ", std::strerror(errno));
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail(path_, ": cannot close ", tmp_, ": ", std::strerror(errno));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail(path_, ": cannot rename ", tmp_, " to it: ", std::strerror(errno));
    committed_ = true;
  }

 private:
  static constexpr std::size_t buffer_bytes = std::size_t{1} << 20;

  void flush() {
    write_all(buffer_);
    buffer_.clear();
  }

  void write_all(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
      const ::ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(path_, ": cannot write ", tmp_, ": ", n < 0 ? std::strerror(errno) : "no progress");
      bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
  }

  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
  std::vector<std::byte> buffer_;
};

}  // namespace samba::io
