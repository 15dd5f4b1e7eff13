// cli/integer_options.hpp: CLI11 checks for integer options. CLI11 2.1 clamps an integer that
// overflows its option's type instead of refusing it, and its number checks print their bounds as
// doubles; these read the text themselves, exactly, and name the accepted range.
#pragma once

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>

namespace samba::cli {

/// An integer in [lo, hi], written in decimal.
inline CLI::Validator integer_in(long long lo, long long hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        long long v = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (error != std::errc{} || end != text.data() + text.size() || v < lo || v > hi)
          return "'" + text + "' is not an integer in " + range;
        return {};
      },
      "INT in " + range);
}

/// An unsigned 64-bit integer (a seed), written in decimal: no sign, no overflow.
inline CLI::Validator unsigned_64() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::uint64_t v = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (error != std::errc{} || end != text.data() + text.size())
          return "'" + text + "' is not an integer in [0, " + std::to_string(std::numeric_limits<std::uint64_t>::max()) + "]";
        return {};
      },
      "UINT64");
}

/// The largest token count an option takes (2^40: days of compute at any speed, well inside int64).
inline constexpr long long max_tokens = 1LL << 40;

}  // namespace samba::cli
