// sungrow-sim: a simulated SH4.0RS behind a WiNet-S on Modbus TCP, until SIGINT/SIGTERM; or, with
// `history`, its past uploaded to a server.
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "history_command.hpp"
#include "sungrow/core/version.hpp"
#include "sungrow/sim/sim_server.hpp"

namespace {

using sungrow::DocRange;

constexpr int kExitBadUsage = 2;
constexpr int kExitFailure = 1;

std::optional<std::uint16_t> parse_doc(std::string_view text) {
  std::uint16_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return v;
}

// "13000-13049" or a single "5214"; document numbers, inclusive.
sungrow::Result<DocRange> parse_range(const std::string& text) {
  const auto dash = text.find('-');
  const auto first = parse_doc(std::string_view{text}.substr(0, dash));
  const auto last =
      dash == std::string::npos ? first : parse_doc(std::string_view{text}.substr(dash + 1));
  if (!first || !last || *first == 0 || *first > *last)
    return sungrow::fail("--exception-range '" + text +
                         "': expected A-B with 1 ≤ A ≤ B ≤ 65535 (document numbers)");
  return DocRange{*first, *last};
}

// Raw flag values before they are checked and turned into SimOptions.
struct CliArgs {
  sungrow::sim::SimOptions options;
  std::string start;
  std::string since;
  std::string clock_fault = "none";
  int clock_offset_s = 0;
  std::vector<std::string> exception_ranges;
  std::string units;
  unsigned slow_reply_ms = 0;
  bool verbose = false;
};

void bind_flags(CLI::App& app, CliArgs& a) {
  auto& o = a.options;
  auto& faults = o.faults;
  app.add_option("--listen", o.listen, "Numeric address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "TCP port (0 = any free port)")->capture_default_str();
  auto* unit_id = app.add_option("--unit-id", o.unit_id, "Modbus unit id answered (1-247)")
                      ->capture_default_str();
  app.add_option("--units", a.units,
                 "Several inverters on this port, e.g. 1,2: the first is the master (it has the "
                 "grid meter, which sees the whole plant), the others its slaves (no meter), each "
                 "with its own PV and battery")
      ->excludes(unit_id);
  app.add_option("--fault-unit", o.fault_unit,
                 "Apply the fault flags to this unit id only (--refuse-second-client stays "
                 "port-wide)");
  app.add_option("--time-scale", o.time_scale, "Simulated seconds per real second")
      ->capture_default_str();
  app.add_option("--start", a.start, "Simulated start time, RFC 3339 (default: now)");
  app.add_option("--since", a.since,
                 "When the household began, RFC 3339: its counters and SoC carry on from a "
                 "`history` generated from then (default: the start's day)");
  app.add_option("--tz", o.tz, "IANA time zone for daily counter resets")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of clouds and load")->capture_default_str();
  app.add_option("--serial", o.serial, "Serial number the nameplate registers report")
      ->capture_default_str();
  app.add_option("--drop-every", faults.drop_every, "Fault: close the connection every N requests");
  // One callback per occurrence: a vector<string> option trips GCC 12's -Wnull-dereference
  // inside CLI11's own split().
  app.add_option_function<std::string>(
         "--exception-range", [&a](const std::string& v) { a.exception_ranges.push_back(v); },
         "Fault: exception 02 for input reads touching doc range A-B (repeatable)")
      ->trigger_on_parse()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--malformed-exceptions", faults.malformed_exception,
               "Fault: WiNet-S style exception frames (MBAP length 2 + 3 bytes)");
  app.add_option("--slow-reply-ms", a.slow_reply_ms, "Fault: delay every reply by N ms");
  app.add_flag("--ffff-unsupported", faults.ffff_unsupported,
               "Fault: unimplemented registers read 0xFFFF instead of exception 02");
  app.add_flag("--refuse-second-client", faults.refuse_second_client,
               "Fault: close a second concurrent connection at once");
  app.add_flag("--flow-bits-stuck", faults.flow_bits_stuck, "Fault: register 13001 always 0");
  app.add_flag("--no-battery-power-register", faults.no_battery_power_register,
               "Fault: old firmware, 5214-5215 answer exception 02");
  app.add_option("--clock-offset-s", a.clock_offset_s,
                 "Fault: the inverter's clock (holding 5000-5005) runs this many seconds off");
  app.add_option("--clock-fault", a.clock_fault,
                 "Fault: the inverter's clock registers are unsupported (exception 02), "
                 "intermittent (every second read fails) or garbage (0xFFFF)")
      ->capture_default_str();
  app.add_option("--counter-glitch-every", faults.counter_glitch_every,
                 "Fault: every Nth read of the lifetime energy counters returns them glitched "
                 "(0, 0xFFFF in a word, or +1000 kWh, in turn)");
  app.add_flag("--no-reply", faults.no_reply,
               "Fault: no request is answered (clients time out), as for an unknown unit id");
  app.add_flag("--exception-all", faults.exception_all,
               "Fault: every read answers exception 0x0B (gateway target failed to respond)");
  app.add_flag("--verbose", a.verbose, "Log every connection");
}

// "1,2,3": the master's unit id, then its slaves'.
sungrow::Result<std::vector<int>> parse_units(const std::string& text) {
  std::vector<int> ids;
  for (std::size_t at = 0; at <= text.size();) {
    const auto comma = std::min(text.find(',', at), text.size());
    const std::string_view item{text.data() + at, comma - at};
    int id = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc{} || ptr != item.data() + item.size())
      return sungrow::fail("--units '" + text + "': expected unit ids like 1,2 (master first)");
    ids.push_back(id);
    at = comma + 1;
  }
  return ids;
}

// Completes the options from the raw flags; the error names the offending flag.
sungrow::Result<void> finish_options(CliArgs& a) {
  auto& o = a.options;
  if (!a.units.empty()) {
    auto ids = parse_units(a.units);
    if (!ids) return ids.error();
    o.unit_id = ids.value().front();
    o.slave_units.assign(ids.value().begin() + 1, ids.value().end());
  }
  o.faults.slow_reply = std::chrono::milliseconds{a.slow_reply_ms};
  for (const auto& text : a.exception_ranges) {
    auto range = parse_range(text);
    if (!range) return range.error();
    o.faults.exception_ranges.push_back(range.value());
  }
  o.faults.clock_offset = std::chrono::seconds{a.clock_offset_s};
  const auto clock_fault = sungrow::sim::clock_fault_from_string(a.clock_fault);
  if (!clock_fault)
    return sungrow::fail("--clock-fault '" + a.clock_fault +
                         "': expected none, unsupported, intermittent or garbage");
  o.faults.clock_fault = *clock_fault;
  if (!a.since.empty()) {
    o.since = sungrow::parse_rfc3339(a.since);
    if (!o.since)
      return sungrow::fail("--since '" + a.since +
                           "' is not an RFC 3339 time (e.g. 2026-05-21T10:00:00Z)");
  }
  if (!a.start.empty()) {
    o.start = sungrow::parse_rfc3339(a.start);
    if (!o.start)
      return sungrow::fail("--start '" + a.start +
                           "' is not an RFC 3339 time (e.g. 2026-06-21T10:00:00Z)");
  }
  return sungrow::sim::validate(o);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("sungrow-sim"));

  CliArgs args;
  args.options.port = 1502;  // unprivileged; a real WiNet-S listens on 502
  CLI::App app{"sungrow-sim: a simulated Sungrow SH4.0RS (behind a WiNet-S) on Modbus TCP"};
  app.set_version_flag("--version", std::string("sungrow-sim ") + std::string(sungrow::kVersion));
  bind_flags(app, args);
  sungrow::sim::HistoryArgs history_args;
  const auto* history = sungrow::sim::add_history_command(app, history_args);
  app.require_subcommand(0, 1);  // no subcommand: serve Modbus, as always

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadUsage;
  }
  if (*history) return sungrow::sim::run_history(history_args);
  if (args.verbose) spdlog::set_level(spdlog::level::debug);
  if (auto ok = finish_options(args); !ok) {
    std::cerr << "sungrow-sim: " << ok.error().message << "\n";
    return kExitBadUsage;
  }
  auto& options = args.options;

  // Block the signals before the server thread exists, so only sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  const auto listen = options.listen;
  auto server = sungrow::sim::SimServer::start(std::move(options));
  if (!server) {
    std::cerr << "sungrow-sim: " << server.error().message << "\n";
    return kExitFailure;
  }
  std::cout << "sungrow-sim listening on " << listen << ":" << server.value()->port() << std::endl;

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("signal {}: shutting down", received);
  server.value()->stop();
  const auto s = server.value()->stats();
  spdlog::info("served {} connections, {} requests, {} exceptions, {} dropped, {} refused",
               s.connections, s.requests, s.exceptions, s.dropped, s.refused);
  return 0;
}
