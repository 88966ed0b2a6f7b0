// `sungrow-sim history`: flags, checks, progress lines and the summary around load_history.
#include "history_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>

namespace sungrow::sim {

namespace {

constexpr int kExitBadUsage = 2;
constexpr int kExitFailure = 1;
constexpr unsigned kProgressSteps = 10;  // a line per tenth of the load

// Completes the options from the raw flags; each message names the offending flag.
Result<void> finish(HistoryArgs& a) {
  a.history.end = now_utc();
  if (!a.end.empty()) {
    const auto end = parse_rfc3339(a.end);
    if (!end)
      return fail("--end '" + a.end + "' is not an RFC 3339 time (e.g. 2026-06-21T00:00:00Z)");
    a.history.end = end.value();
  }
  a.history.step = std::chrono::seconds{a.step_s};
  if (auto ok = validate(a.history); !ok) return fail("history: " + ok.error().message);
  if (auto ok = validate(a.load); !ok)
    return fail("--batch-size/--attempts: " + ok.error().message);
  if (a.timeout_s < 1) return fail("--timeout must be at least 1 second");
  a.load.client.timeout = std::chrono::seconds{a.timeout_s};
  if (auto ok = edge::validate_ingest_url(a.load.client.url); !ok)
    return fail("--ingest-url: " + ok.error().message);
  if (auto ok = edge::validate_token(a.load.client.token); !ok)
    return fail("--token: " + ok.error().message);
  if (!a.ca_file.empty()) {
    // Caught here: libcurl would report a missing CA file as a TLS failure and be retried.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(a.ca_file, ec))
      return fail("--ca-file '" + a.ca_file + "' is not a readable file");
    a.load.client.ca_file = a.ca_file;
  }
  return {};
}

}  // namespace

CLI::App* add_history_command(CLI::App& app, HistoryArgs& a) {
  auto* cmd = app.add_subcommand(
      "history",
      "Generate the simulated household's past as the edge would have polled it and upload it "
      "to a server's /v1/ingest (idempotent: a re-run with the same flags inserts nothing)");
  auto& h = a.history;
  auto& client = a.load.client;
  cmd->add_option("--days", h.days, "Days of history, ending at --end")->capture_default_str();
  cmd->add_option("--step", a.step_s, "Seconds between samples (>= 5, divides 86400)")
      ->capture_default_str();
  cmd->add_option("--device-id", h.device_id, "Device id of the samples (the token's device)")
      ->envname("DEVICE_ID")
      ->required();
  cmd->add_option("--ingest-url", client.url, "Server ingest URL (https://…/v1/ingest)")
      ->envname("VPS_INGEST_URL")
      ->required();
  cmd->add_option("--token", client.token, "Bearer token of the device (never logged)")
      ->envname("VPS_DEVICE_TOKEN")
      ->required();
  cmd->add_option("--ca-file", a.ca_file, "PEM CA bundle for a self-hosted server")
      ->envname("VPS_CA_FILE");
  cmd->add_option("--end", a.end, "End of the history (exclusive), RFC 3339 (default: now)");
  cmd->add_option("--tz", h.tz, "IANA time zone of the inverter (daily counters reset there)")
      ->capture_default_str();
  cmd->add_option("--seed", h.seed, "Seed of clouds and load (the simulator's)")
      ->capture_default_str();
  cmd->add_option("--batch-size", a.load.batch_size, "Samples per POST")->capture_default_str();
  cmd->add_flag("--gzip", client.gzip, "Gzip the POST bodies");
  cmd->add_option("--attempts", a.load.attempts,
                  "Posts per batch on 408/429/5xx/network errors, with backoff")
      ->capture_default_str();
  cmd->add_option("--timeout", a.timeout_s, "HTTP timeout per POST, seconds")
      ->capture_default_str();
  return cmd;
}

int run_history(HistoryArgs& args) {
  if (auto ok = finish(args); !ok) {
    std::cerr << "sungrow-sim: " << ok.error().message << "\n";
    return kExitBadUsage;
  }
  auto generator = HistoryGenerator::create(args.history);
  if (!generator) {
    std::cerr << "sungrow-sim: history: " << generator.error().message << "\n";
    return kExitBadUsage;
  }
  auto& gen = generator.value();
  const auto& h = args.history;
  const auto last = gen.first_ts() + h.step * static_cast<std::int64_t>(gen.total() - 1);
  std::cerr << fmt::format("history: {} samples for device {}, {} to {} every {} s ({}), to {}\n",
                           gen.total(), h.device_id, format_rfc3339(gen.first_ts()),
                           format_rfc3339(last), h.step.count(), h.tz, args.load.client.url);

  unsigned printed = 0;
  const auto progress = [&](const HistoryLoadProgress& p) {
    const auto step =
        static_cast<unsigned>(p.sent * kProgressSteps / std::max<std::size_t>(p.total, 1));
    if (step <= printed || p.sent == p.total) return;  // the summary reports the end
    printed = step;
    std::cerr << fmt::format("history: {} of {} samples ({}%), {} new, {:.1f} s\n", p.sent, p.total,
                             p.sent * 100 / p.total, p.inserted, p.elapsed.count())
              << std::flush;
  };
  auto done = load_history(gen, args.load, progress);
  if (!done) {
    std::cerr << "sungrow-sim: history: " << done.error().message << "\n";
    return kExitFailure;
  }
  const auto& p = done.value();
  const double seconds = p.elapsed.count();
  std::cout << fmt::format(
                   "history: sent {} samples, inserted {} ({} already there), {:.1f} s, {:.0f} "
                   "samples/s{}",
                   p.sent, p.inserted, p.sent - p.inserted, seconds,
                   seconds > 0 ? static_cast<double>(p.sent) / seconds : 0.0,
                   p.retries > 0 ? fmt::format(", {} retried posts", p.retries) : "")
            << std::endl;
  if (gen.warnings() > 0)
    std::cerr << fmt::format("history: the normalizer nulled {} value(s); see the warning above\n",
                             gen.warnings());
  return 0;
}

}  // namespace sungrow::sim
