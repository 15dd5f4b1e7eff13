// cli/path_options.hpp: checks for the options that name files: an empty name is refused by the
// option parser (rather than read as "not given"), and a file the command will write is checked
// before the work that produces it, not after.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <samba/core/error.hpp>
#include <string>

namespace samba::cli {

/// A path option's value must not be empty.
inline CLI::Validator non_empty_path() {
  return CLI::Validator([](std::string& text) -> std::string { return text.empty() ? "an empty path names no file" : ""; }, "PATH");
}

/// Throws unless `path` can be created or replaced: its folder exists and it is not a folder.
inline void require_writable_path(const std::string& path, const char* option) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const fs::path folder = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code error;
  require(fs::is_directory(folder, error), option, " ", path, ": the folder ", folder.string(), " does not exist");
  require(!fs::is_directory(p, error), option, " ", path, ": is a folder, not a file");
}

}  // namespace samba::cli
