// sungrow-server: serve the v1 API (the default), apply migrations, or print a new device token.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "sungrow/core/sample.hpp"
#include "sungrow/core/unique_fd.hpp"
#include "sungrow/core/version.hpp"
#include "sungrow/server/app/config.hpp"
#include "sungrow/server/app/server_app.hpp"
#include "sungrow/server/auth/tokens.hpp"

namespace {

using namespace sungrow;
using namespace sungrow::app;

bool check(const ServerConfig& config, ServerNeeds needs) {
  const auto problems = validate(config, needs);
  for (const auto& p : problems) std::cerr << "sungrow-server: " << p << "\n";
  return problems.empty();
}

int cmd_token_new(const std::string& device_id) {
  if (!is_valid_device_id(device_id)) {
    std::cerr << "sungrow-server: DEVICE_ID must match [A-Za-z0-9._:-]{1,64}\n";
    return kExitUsage;
  }
  // The exact line DEVICE_TOKENS_FILE takes; the edge needs the part before the colon.
  std::cout << auth::new_token() << ":" << device_id << std::endl;
  return kExitOk;
}

// Appends the new viewer's line to `file` (created 0600: it grants reading) and prints the token,
// alone on its line, once: the file keeps only its digest.
int cmd_viewer_new(const std::string& file, const std::vector<std::string>& devices) {
  if (file.empty()) {
    std::cerr << "sungrow-server: viewer new needs --file (or VIEWER_TOKENS_FILE)\n";
    return kExitUsage;
  }
  for (const auto& device : devices) {
    if (!is_valid_device_id(device)) {
      std::cerr << "sungrow-server: DEVICE must match [A-Za-z0-9._:-]{1,64}\n";
      return kExitUsage;
    }
  }
  const std::string token = auth::new_token();
  const std::string line = auth::viewer_tokens_line(token, devices) + "\n";
  const UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
      ::fsync(fd.get()) != 0) {
    std::cerr << "sungrow-server: cannot append to " << file << ": " << std::strerror(errno)
              << "\n";
    return kExitFailure;
  }
  std::cout << token << std::endl;
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sungrow-server: ingest, store and serve Sungrow inverter telemetry"};
  app.set_version_flag("--version",
                       std::string("sungrow-server ") + std::string(sungrow::kVersion));
  app.fallthrough();
  ServerConfig config;
  bind_options(app, config);
  auto* serve_cmd = app.add_subcommand("serve", "Serve the API until SIGTERM (the default)");
  auto* migrate_cmd = app.add_subcommand("migrate", "Apply pending schema migrations and exit");
  auto* token_cmd = app.add_subcommand("token", "Device tokens");
  auto* token_new = token_cmd->add_subcommand("new", "Print a fresh token line for DEVICE_ID");
  std::string token_device;
  token_new->add_option("DEVICE_ID", token_device, "The device the token is for")->required();
  token_cmd->require_subcommand(1);
  auto* viewer_cmd = app.add_subcommand("viewer", "Read-only dashboard tokens");
  auto* viewer_new =
      viewer_cmd->add_subcommand("new", "Print a new viewer token for DEVICE…, append its digest");
  std::string viewer_file;
  std::vector<std::string> viewer_devices;
  viewer_new->add_option("--file", viewer_file, "The viewer tokens file (VIEWER_TOKENS_FILE)");
  viewer_new->add_option("DEVICE", viewer_devices, "The devices the viewer may read")->required();
  viewer_cmd->require_subcommand(1);
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  if (*token_new) return cmd_token_new(token_device);
  if (*viewer_new) {
    return cmd_viewer_new(viewer_file.empty() ? config.viewer_tokens_file : viewer_file,
                          viewer_devices);
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt("server"));
  if (*migrate_cmd) {
    if (!check(config, ServerNeeds::migrate)) return kExitUsage;
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    return migrate(config);
  }
  (void)serve_cmd;
  if (!check(config, ServerNeeds::serve)) return kExitUsage;
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  // Blocked before any thread starts, so every thread inherits the mask and only serve()'s
  // sigwait receives SIGINT/SIGTERM.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return serve(config);
}
