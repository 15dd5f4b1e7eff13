// cli/process_stats.hpp: what the tool reports about its own process.
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace samba::cli {

/// The process's peak resident set size so far, in bytes (getrusage: ru_maxrss is in KiB on Linux).
inline std::int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace samba::cli
