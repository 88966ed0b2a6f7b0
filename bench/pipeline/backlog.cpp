// Scenario 1: the real sungrow-edge drains a 7-day spool backlog into sungrow-server on
// PostgreSQL + Redis, through Caddy (TLS) or straight over loopback http.
#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "child_process.hpp"
#include "edge_health.hpp"
#include "free_port.hpp"
#include "sample_factory.hpp"
#include "scenarios.hpp"
#include "stack.hpp"
#include "sungrow/edge/spool/spool.hpp"

namespace sungrow::bench {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kToken = "backlog0123456789abcdef0123456789";

std::string tail(const std::string& text, std::size_t n = 4'000) {
  return text.size() <= n ? text : "…" + text.substr(text.size() - n);
}

}  // namespace

void prefill_spool(const fs::path& path, const std::string& device, std::size_t samples) {
  edge::SpoolOptions o;
  o.synchronous = edge::SpoolSync::off;  // setup, not the measurement; the edge reopens it FULL
  auto spool = edge::Spool::open(path, o);
  if (!spool) throw std::runtime_error("spool: " + spool.error().message);
  for (std::size_t i = 0; i < samples; ++i) {
    const auto out = spool.value().enqueue(
        test::realistic_sample(device, static_cast<std::int64_t>(i), test::sample_epoch()));
    if (!out.durable) throw std::runtime_error("spool refused a sample during the fill");
  }
}

BacklogResult run_backlog(test::PostgresInstance& pg, const BacklogOptions& o) {
  fs::create_directories(o.dir);
  BacklogResult r;
  r.via_caddy = o.via_caddy;
  r.label = o.via_caddy ? "edge -> Caddy (TLS) -> server" : "edge -> server (loopback http)";
  Stack stack(pg, {.via_caddy = o.via_caddy,
                   .tokens = {{kToken, kBacklogDevice}},
                   .dir = o.dir,
                   .pg_statements = o.pg_statements});
  const pid_t postmaster = postmaster_pid();

  const auto spool = o.dir / "spool.db";
  fs::copy_file(o.spool_template, spool, fs::copy_options::overwrite_existing);
  const auto health = o.dir / "health.json";
  // Nothing listens on this port: every poll fails at once, so only the backlog moves.
  const auto dead_inverter = std::to_string(test::free_loopback_port());
  std::vector<std::string> argv{bin_dir() + "/sungrow-edge",
                                "run",
                                "--host",
                                "127.0.0.1",
                                "--port",
                                dead_inverter,
                                "--device-id",
                                kBacklogDevice,
                                "--ingest-url",
                                stack.ingest_url(),
                                "--token",
                                kToken,
                                "--spool-path",
                                spool.string(),
                                "--health-path",
                                health.string(),
                                "--log-level",
                                "info"};
  if (stack.via_caddy()) argv.insert(argv.end(), {"--ca-file", stack.ca_file()});
  // BATCH_SIZE and MAX_BATCH_SIZE stay at the edge's defaults (30 and 1,000).

  stack.reset_statements();
  const auto metrics0 = stack.ingest_metrics();
  auto cpu0 = stack.cpu(postmaster);
  const auto t0 = Clock::now();
  test::ChildProcess edge(argv, o.dir / "edge.log");
  cpu0.seconds["edge"] = 0;
  cpu0.seconds["bench (health polling)"] = self_cpu_seconds();
  bool drained = false;
  while (Clock::now() - t0 < o.timeout) {
    if (!edge.running())
      throw std::runtime_error("sungrow-edge exited: " +
                               tail(test::read_text_file(o.dir / "edge.log")));
    if (const auto h = test::read_edge_health(health)) {
      const auto& spool_h = h->at("spool");
      const auto& upload = h->at("upload");
      const bool uploaded = !upload.at("last_at").is_null() && upload.at("ok").as_bool();
      if (uploaded && r.first_upload_s == 0)
        r.first_upload_s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (uploaded && spool_h.at("depth").as_int64() == 0 &&
          spool_h.at("pending_in_memory").as_int64() == 0) {
        drained = true;
        break;
      }
    }
    std::this_thread::sleep_for(10ms);
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  auto cpu1 = stack.cpu(postmaster);
  cpu1.seconds["edge"] = tree_cpu_seconds(edge.pid());
  cpu1.seconds["bench (health polling)"] = self_cpu_seconds();
  r.edge_hwm_kib = status_kib(edge.pid(), "VmHWM");  // before it exits
  r.server_rss_kib = stack.server_kib("VmRSS");
  r.server_hwm_kib = stack.server_kib("VmHWM");
  const auto metrics1 = stack.ingest_metrics();
  r.server_ingest_requests = metrics1.count - metrics0.count;
  r.server_ingest_seconds = metrics1.seconds - metrics0.seconds;
  r.cpu = cpu_breakdown(cpu0, cpu1, static_cast<int>(std::thread::hardware_concurrency()));
  r.statements = stack.top_statements(8);

  edge.signal(SIGTERM);
  const auto status = edge.wait(30s);
  const auto edge_log = test::read_text_file(o.dir / "edge.log");
  if (!drained)
    throw std::runtime_error(fmt::format("{}: not drained within {} s; edge log:\n{}", r.label,
                                         o.timeout.count(), tail(edge_log)));
  if (status != 0)
    throw std::runtime_error(fmt::format("{}: sungrow-edge exited with {}; log:\n{}", r.label,
                                         status.value_or(-1), tail(edge_log)));

  // The oracle: every spooled sample is in PostgreSQL, and nothing is left in the spool.
  r.rows = stack.rows();
  auto reopened = edge::Spool::open(spool);
  if (!reopened) throw std::runtime_error("spool: " + reopened.error().message);
  const auto left = reopened.value().stats();
  if (r.rows != static_cast<std::int64_t>(o.samples) || left.depth != 0 || left.dead_letters != 0)
    r.problem =
        fmt::format("PostgreSQL holds {} rows, expected {}; spool depth {}, dead letters {}",
                    r.rows, o.samples, left.depth, left.dead_letters);
  return r;
}

}  // namespace sungrow::bench
