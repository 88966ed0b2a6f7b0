// bench_pipeline: end-to-end figures on real processes — a 7-day backlog drained by
// sungrow-edge over TLS into PostgreSQL, and 1,000 edges held by one server — with and without
// Caddy. Prints tables; exits 1 when a scenario lost or left rows (its figures are then void).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "postgres_instance.hpp"
#include "scenarios.hpp"
#include "stack.hpp"

namespace fs = std::filesystem;
using namespace sungrow;
using namespace sungrow::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  bool backlog = true;
  bool fleet = true;
  bool baseline = true;  // the same runs without Caddy, for the TLS overhead ratio
  std::size_t samples = 120'960;
  int repeat = 3;  // backlog drains per path (a few seconds each): the median is reported
  FleetOptions fleet_options;
  fs::path dir = "/var/tmp";  // real disk for the spool and PostgreSQL, as in production
  bool pg_fsync = true;
  bool pg_top = false;  // pg_stat_statements: where PostgreSQL's time goes (adds a little cost)
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "bench_pipeline: %s\n"
               "usage: bench_pipeline [--scenario all|backlog|fleet] [--no-baseline]\n"
               "  [--samples N] [--repeat N] [--devices N] [--batches N] [--batch-samples N]\n"
               "  [--compression X] [--dir PATH] [--pg-fsync on|off] [--pg-top]\n",
               problem.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view k = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value for " + std::string(k));
      return argv[++i];
    };
    try {
      if (k == "--scenario") {
        const auto v = next();
        if (v != "all" && v != "backlog" && v != "fleet") usage("unknown scenario " + v);
        a.backlog = v != "fleet";
        a.fleet = v != "backlog";
      } else if (k == "--pg-top") {
        a.pg_top = true;
      } else if (k == "--no-baseline") {
        a.baseline = false;
      } else if (k == "--repeat") {
        a.repeat = std::stoi(next());
      } else if (k == "--samples") {
        a.samples = std::stoul(next());
      } else if (k == "--devices") {
        a.fleet_options.devices = std::stoi(next());
      } else if (k == "--batches") {
        a.fleet_options.batches = std::stoi(next());
      } else if (k == "--batch-samples") {
        a.fleet_options.samples_per_batch = std::stoi(next());
      } else if (k == "--compression") {
        a.fleet_options.compression = std::stod(next());
      } else if (k == "--dir") {
        a.dir = next();
      } else if (k == "--pg-fsync") {
        const auto v = next();
        if (v != "on" && v != "off") usage("--pg-fsync takes on or off");
        a.pg_fsync = v == "on";
      } else {
        usage("unknown argument " + std::string(k));
      }
    } catch (const std::logic_error&) {
      usage("bad number for " + std::string(k));
    }
  }
  if (a.fleet_options.devices < 1 || a.fleet_options.batches < 1 ||
      a.fleet_options.samples_per_batch < 1 || a.fleet_options.compression <= 0 || a.samples < 1 ||
      a.repeat < 1)
    usage("counts must be positive");
  return a;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

void print_backlog(const std::vector<BacklogResult>& runs, std::size_t samples) {
  std::printf(
      "\n1. 7-day backlog: %zu samples, edge defaults (BATCH_SIZE 30, MAX_BATCH_SIZE 1000)\n",
      samples);
  std::printf("%-3s %-32s %8s %10s %9s %9s %12s %13s %13s %14s\n", "run", "path", "seconds",
              "samples/s", "rows PG", "1st ack s", "edge HWM MiB", "server RSS MiB",
              "server HWM MiB", "server ms/req");
  std::map<std::string, std::vector<double>> seconds;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    seconds[r.label].push_back(r.seconds);
    std::printf("%-3zu %-32s %8.2f %10.0f %9lld %9.2f %12.1f %13.1f %13.1f %14.1f\n", i + 1,
                r.label.c_str(), r.seconds, static_cast<double>(r.rows) / r.seconds,
                static_cast<long long>(r.rows), r.first_upload_s, mib(r.edge_hwm_kib),
                mib(r.server_rss_kib), mib(r.server_hwm_kib),
                r.server_ingest_requests > 0
                    ? 1e3 * r.server_ingest_seconds / r.server_ingest_requests
                    : 0.0);
  }
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    std::printf("  run %zu: %.0f ingest requests; CPU over the drain: %s\n", i + 1,
                r.server_ingest_requests, r.cpu.c_str());
    if (!r.statements.empty())
      std::printf("  run %zu: PostgreSQL's busiest statements:\n%s", i + 1, r.statements.c_str());
    if (!r.problem.empty()) std::printf("  run %zu: ROWS WRONG: %s\n", i + 1, r.problem.c_str());
  }
  for (const auto& [label, v] : seconds) {
    const double m = median(v);
    std::printf("  %s: median of %zu runs %.2f s = %.0f samples/s; goal < 60 s %s\n", label.c_str(),
                v.size(), m, static_cast<double>(samples) / m, m < 60 ? "met" : "MISSED");
  }
  std::vector<double> tls;
  std::vector<double> plain;
  for (const auto& r : runs) (r.via_caddy ? tls : plain).push_back(r.seconds);
  if (!tls.empty() && !plain.empty())
    std::printf("  Caddy/TLS overhead: %.2f× the loopback-http drain time (medians)\n",
                median(tls) / median(plain));
}

void print_fleet(const std::vector<FleetResult>& runs, const FleetOptions& o) {
  const double period = o.interval_s / o.compression;
  std::printf(
      "\n2. Fleet: %d edges; warm-up: each edge's first batch (connect + handshake) spread over "
      "%.0f real seconds; measured: %d batches of %d samples per edge, one per %.0f s of "
      "simulated time compressed %.0f× (every %.2f s per edge: %.0f req/s offered)\n",
      o.devices, o.interval_s, o.batches, o.samples_per_batch, o.interval_s, o.compression, period,
      o.devices / period);
  std::printf("%-36s %7s %8s %9s %7s %7s %7s %8s %7s %9s %9s %8s\n", "path (measured part)",
              "seconds", "req/s", "samples/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors",
              "rows PG", "RSS MiB", "HWM MiB");
  for (const auto& r : runs) {
    std::printf("%-36s %7.2f %8.0f %9.0f %7.1f %7.1f %7.1f %8.1f %7llu %9lld %9.1f %8.1f\n",
                r.label.c_str(), r.seconds, static_cast<double>(r.requests) / r.seconds,
                static_cast<double>(r.samples_measured) / r.seconds, r.p50_ms, r.p90_ms, r.p99_ms,
                r.max_ms, static_cast<unsigned long long>(r.errors), static_cast<long long>(r.rows),
                mib(r.server_rss_kib), mib(r.server_hwm_kib));
  }
  std::printf(
      "  (errors and rows include the warm-up; rows PG must equal every sample sent; RSS/HWM: "
      "sungrow-server's VmRSS at the end and VmHWM)\n");
  for (const auto& r : runs) {
    std::printf(
        "  %s: %llu measured requests; %llu samples sent in all; warm-up post (connect + "
        "handshake) p50 %.1f ms, p99 %.1f ms, max %.1f ms; %llu connections opened (the server "
        "accepted at least %zu, its sockets peaked at %d); departures late against the schedule "
        "p99 %.1f ms, max %.1f ms; "
        "server's own handling %.2f ms/request",
        r.label.c_str(), static_cast<unsigned long long>(r.requests),
        static_cast<unsigned long long>(r.samples_sent), r.warmup_p50_ms, r.warmup_p99_ms,
        r.warmup_max_ms, static_cast<unsigned long long>(r.connections), r.server_clients,
        r.server_sockets_peak, r.lag_p99_ms, r.lag_max_ms, r.server_ingest_mean_ms);
    if (r.caddy_hwm_kib >= 0) std::printf("; Caddy VmHWM %.1f MiB", mib(r.caddy_hwm_kib));
    std::printf("; load generator VmHWM %.1f MiB\n", mib(r.loadgen_hwm_kib));
    std::printf("  %s: CPU over the measured part: %s\n", r.label.c_str(), r.cpu.c_str());
    std::printf("  %s: latency by departure:\n%s", r.label.c_str(), r.timeline.c_str());
    if (!r.statements.empty())
      std::printf("  %s: PostgreSQL's busiest statements:\n%s", r.label.c_str(),
                  r.statements.c_str());
    if (!r.error_kinds.empty())
      std::printf("  %s: errors: %s\n", r.label.c_str(), r.error_kinds.c_str());
    if (!r.problem.empty())
      std::printf("  %s: ROWS WRONG: %s\n", r.label.c_str(), r.problem.c_str());
  }
  if (runs.size() == 2)
    std::printf("  Caddy/TLS: p50 latency %.2f×, p99 %.2f× the loopback-http figures\n",
                runs[0].p50_ms / runs[1].p50_ms, runs[0].p99_ms / runs[1].p99_ms);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const auto load_before = loadavg();
  const auto work = a.dir / fmt::format("sungrow-bench-pipeline-{}", std::random_device{}());
  fs::create_directories(work);
  bool ok = true;
  try {
    // Production durability (fsync, full-page writes) on a real disk; the test fixture's
    // defaults (fsync off, tmpfs) would flatter every ingest figure.
    std::vector<std::string> settings{
        fmt::format("fsync = {}", a.pg_fsync ? "on" : "off"),
        fmt::format("full_page_writes = {}", a.pg_fsync ? "on" : "off")};
    if (a.pg_top) settings.emplace_back("shared_preload_libraries = 'pg_stat_statements'");
    test::PostgresInstance pg(test::PostgresOptions{.settings = settings, .base_dir = a.dir});
    std::printf(
        "bench_pipeline — %u cores, load average at start %s; PostgreSQL 15 under %s, "
        "fsync %s; binaries from %s\n",
        std::thread::hardware_concurrency(), load_before.c_str(), a.dir.c_str(),
        a.pg_fsync ? "on" : "off", bin_dir().c_str());
    std::fflush(stdout);

    std::vector<BacklogResult> backlog;
    if (a.backlog) {
      const auto tmpl = work / "backlog-template.db";
      const auto t0 = Clock::now();
      prefill_spool(tmpl, kBacklogDevice, a.samples);
      std::printf("backlog spool: %zu samples in %.1f s (setup), %.1f MB\n", a.samples,
                  seconds_since(t0), static_cast<double>(fs::file_size(tmpl)) / 1e6);
      std::fflush(stdout);
      // Alternating, so a burst of load elsewhere on the machine does not hit one path only.
      for (int round = 0; round < a.repeat; ++round) {
        for (const bool caddy : {false, true}) {
          if (!caddy && !a.baseline) continue;
          BacklogOptions o{
              .samples = a.samples,
              .spool_template = tmpl,
              .dir = work / fmt::format("backlog-{}-{}", caddy ? "caddy" : "http", round + 1),
              .via_caddy = caddy,
              .pg_statements = a.pg_top};
          backlog.push_back(run_backlog(pg, o));
          std::fprintf(stderr, "# %s: %.2f s\n", backlog.back().label.c_str(),
                       backlog.back().seconds);
          ok = ok && backlog.back().problem.empty();
        }
      }
      print_backlog(backlog, a.samples);
      std::fflush(stdout);
    }
    if (a.fleet) {
      std::vector<FleetResult> fleet;
      for (const bool caddy : {true, false}) {
        if (!caddy && !a.baseline) continue;
        auto o = a.fleet_options;
        o.via_caddy = caddy;
        o.pg_statements = a.pg_top;
        o.dir = work / (caddy ? "fleet-caddy" : "fleet-http");
        fleet.push_back(run_fleet(pg, o));
        std::fprintf(stderr, "# %s: %.2f s\n", fleet.back().label.c_str(), fleet.back().seconds);
        ok = ok && fleet.back().problem.empty();
      }
      print_fleet(fleet, a.fleet_options);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_pipeline: %s\n(kept %s)\n", e.what(), work.c_str());
    return 1;
  }
  std::printf("\nload average at start %s, at end %s\n", load_before.c_str(), loadavg().c_str());
  if (!ok) {
    std::printf("FAILED: rows were lost or left behind (see ROWS WRONG); kept %s\n", work.c_str());
    return 1;
  }
  if (!::getenv("SUNGROW_KEEP_TEST_DIRS")) fs::remove_all(work);
  return 0;
}
