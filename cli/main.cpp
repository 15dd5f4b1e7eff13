// cli/main.cpp: the `samba` command-line tool.
#include <iostream>

#include <samba/config.hpp>
#include <samba/core/error.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"samba " SAMBA_VERSION_STRING ": run Samba-family language models (Mamba + sliding-window attention + SwiGLU)",
               "samba"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SAMBA_VERSION_STRING);
  samba::cli::add_logits_command(app);
  samba::cli::add_generate_command(app);
  samba::cli::add_info_command(app);
  samba::cli::add_bench_command(app);
  samba::cli::add_passkey_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const samba::Error& e) {
    std::cerr << "samba: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "samba: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "samba: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
