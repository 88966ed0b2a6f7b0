// sungrow-edge: run the agent, or read one sample, scan the register map, or inspect the spool.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "scan_table.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/core/version.hpp"
#include "sungrow/edge/agent.hpp"
#include "sungrow/edge/clock/clock_sync.hpp"
#include "sungrow/edge/config.hpp"
#include "sungrow/edge/modbus/poller.hpp"
#include "sungrow/edge/normalize/normalizer.hpp"
#include "sungrow/edge/spool/spool.hpp"

namespace {

using namespace sungrow;
using namespace sungrow::edge;

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

bool check(const EdgeConfig& config, Needs needs) {
  const auto problems = validate(config, needs);
  for (const auto& p : problems) std::cerr << "sungrow-edge: " << p << "\n";
  return problems.empty();
}

// The device `once` or `scan` reads (validated already, so only I/O can fail here).
std::optional<DeviceSpec> device_or_report(const EdgeConfig& c) {
  auto device = selected_device(c);
  if (!device) {
    std::cerr << "sungrow-edge: " << device.error().message << "\n";
    return std::nullopt;
  }
  return std::move(device).value();
}

int cmd_once(const EdgeConfig& c) {
  if (!check(c, Needs::inverter)) return kExitUsage;
  const auto device = device_or_report(c);
  if (!device) return kExitUsage;
  Poller poller(modbus_settings(c, *device));
  const auto ts = now_utc();
  auto image = poller.poll();
  if (!image) {
    std::cerr << "sungrow-edge: cannot read the inverter at " << device->host << ":" << device->port
              << ": " << image.error().message << "\n";
    return kExitFailure;
  }
  auto n = normalize(*image, ts, device->id);
  // One sample, no spool and no reference to check against: the kernel's word only.
  n.sample.ts_source = system_clock_synchronized() ? TsSource::ntp : TsSource::unsynced;
  for (const auto& w : n.warnings) spdlog::warn("Value discarded: {}", w);
  std::cout << to_json_text(n.sample) << std::endl;
  return 0;
}

int cmd_scan(const EdgeConfig& c) {
  if (!check(c, Needs::inverter)) return kExitUsage;
  const auto device = device_or_report(c);
  if (!device) return kExitUsage;
  Poller poller(modbus_settings(c, *device));
  auto scanned = poller.scan();
  if (!scanned) {
    std::cerr << "sungrow-edge: cannot scan the inverter at " << device->host << ":" << device->port
              << ": " << scanned.error().message << "\n";
    return kExitFailure;
  }
  std::cout << format_scan(*scanned) << std::flush;
  return 0;
}

// Opens an existing spool for inspection: never creates one on a mistyped path, and skips the
// full integrity check that a start-up does.
Result<Spool> open_existing_spool(const EdgeConfig& c) {
  if (!std::filesystem::exists(c.spool_path)) {
    return fail(fmt::format("no spool at {} (check SPOOL_PATH)", c.spool_path));
  }
  SpoolOptions options;
  options.check_integrity_on_open = false;
  return Spool::open(c.spool_path, options);
}

int cmd_spool_status(const EdgeConfig& c) {
  if (!check(c, Needs::spool)) return kExitUsage;
  auto spool = open_existing_spool(c);
  if (!spool) {
    std::cerr << "sungrow-edge: " << spool.error().message << "\n";
    return kExitFailure;
  }
  const auto s = spool->stats();
  const auto ts = [](const std::optional<Timestamp>& t) {
    return t ? format_rfc3339(*t) : std::string("-");
  };
  std::cout << "spool:            " << c.spool_path << "\n"
            << "depth:            " << s.depth << "\n"
            << "oldest unsent:    " << ts(s.oldest_ts) << "\n"
            << "newest:           " << ts(s.newest_ts) << "\n"
            << "last seq:         " << s.last_seq << "\n"
            << "dead letters:     " << s.dead_letters
            << (s.dead_letters > 0 ? "  (sungrow-edge spool dead-letters)" : "") << "\n"
            << "status:           " << (s.depth == 0 ? "drained" : "draining") << "\n";
  // Per device once several share the spool: each has its own seq and backlog.
  if (s.devices.size() > 1) {
    std::cout << fmt::format("{:<24} {:>8} {:>26} {:>10} {:>12}\n", "device", "depth",
                             "oldest unsent", "last seq", "dead letters");
    for (const auto& d : s.devices)
      std::cout << fmt::format("{:<24} {:>8} {:>26} {:>10} {:>12}\n", d.device_id,
                               d.depth + d.pending_in_memory, ts(d.oldest_ts), d.last_seq,
                               d.dead_letters);
  }
  std::cout << std::flush;
  return 0;
}

// One JSON line per dead letter: what the server refused, when, and why.
int cmd_spool_dead_letters(const EdgeConfig& c, std::size_t limit) {
  if (!check(c, Needs::spool)) return kExitUsage;
  auto spool = open_existing_spool(c);
  if (!spool) {
    std::cerr << "sungrow-edge: " << spool.error().message << "\n";
    return kExitFailure;
  }
  auto letters = spool->dead_letters(limit);
  if (!letters) {
    std::cerr << "sungrow-edge: " << letters.error().message << "\n";
    return kExitFailure;
  }
  for (const auto& d : *letters) {
    boost::json::object line{{"device_id", d.device_id},
                             {"seq", d.seq},
                             {"ts", format_rfc3339(d.ts)},
                             {"dead_lettered_at", format_rfc3339(d.dead_lettered_at)},
                             {"reason", d.reason}};
    boost::system::error_code ec;
    line["sample"] = boost::json::parse(d.json, ec);
    if (ec) line["sample"] = d.json;
    std::cout << boost::json::serialize(line) << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int cmd_run(const EdgeConfig& c) {
  if (!check(c, Needs::inverter_and_upload)) return kExitUsage;
  // Signals are taken by a dedicated thread so the loops can stop cleanly between steps.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::stop_source stop;
  std::jthread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("Signal {} received; stopping", sig);
    stop.request_stop();
  });
  auto result = run_agent(c, stop.get_token());
  if (!stop.stop_requested()) {
    // Start-up failed: wake the signal thread so it can be joined.
    pthread_kill(waiter.native_handle(), SIGTERM);
  }
  if (!result) {
    std::cerr << "sungrow-edge: " << result.error().message << "\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sungrow-edge: poll a Sungrow SH inverter, spool samples, upload them over HTTPS"};
  app.set_version_flag("--version", std::string("sungrow-edge ") + std::string(sungrow::kVersion));
  app.fallthrough();
  EdgeConfig config;
  bind_options(app, config);
  auto* run = app.add_subcommand("run", "Poll, spool and upload until stopped (the default)");
  auto* once = app.add_subcommand("once", "Read one sample and print its JSON");
  auto* scan = app.add_subcommand("scan", "Read every register of the map and print it decoded");
  for (auto* sub : {once, scan})
    sub->add_option("--device", config.device, "Which device of SUNGROW_DEVICES_FILE to read");
  auto* spool = app.add_subcommand("spool", "Inspect the spool");
  auto* spool_status = spool->add_subcommand("status", "Depth, oldest sample, drain status");
  auto* spool_dead =
      spool->add_subcommand("dead-letters", "Samples the server refused, as JSON lines");
  std::size_t dead_limit = 100;
  spool_dead->add_option("--limit", dead_limit, "How many, oldest first")->capture_default_str();
  spool->require_subcommand(1);
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  auto logger = spdlog::stderr_color_mt("edge");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  if (*once) return cmd_once(config);
  if (*scan) return cmd_scan(config);
  if (*spool_status) return cmd_spool_status(config);
  if (*spool_dead) return cmd_spool_dead_letters(config, dead_limit);
  (void)run;
  return cmd_run(config);
}
