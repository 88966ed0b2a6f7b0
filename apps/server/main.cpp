// sungrow-server: serve the v1 API (the default), apply migrations, or print a new device token.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "sungrow/core/sample.hpp"
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
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  if (*token_new) return cmd_token_new(token_device);

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
