// samba/core/error.hpp: the one exception type the library throws, and helpers to build it.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace samba {

/// Every error the library reports: bad files, bad configurations, bad inputs.
/// The message names the file, tensor or field and says what is wrong.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Concatenates its arguments with operator<< (g++ 12 has no <format>).
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(concat(std::forward<Args>(args)...));
}

/// Throws Error(message...) unless `condition` holds.
template <class... Args>
void require(bool condition, Args&&... args) {
  if (!condition) fail(std::forward<Args>(args)...);
}

}  // namespace samba
