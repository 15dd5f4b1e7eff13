// cli/commands.hpp: each subcommand registers its options and its action on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace samba::cli {

void add_logits_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_passkey_command(CLI::App& app);

}  // namespace samba::cli
