// The two end-to-end scenarios of bench_pipeline: a 7-day edge backlog drained through the real
// sungrow-edge, and a fleet of simulated edges held by one server.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "postgres_instance.hpp"

namespace sungrow::bench {

struct BacklogOptions {
  std::size_t samples = 120'960;         // 7 days at 5 s
  std::filesystem::path spool_template;  // pre-filled, closed spool (copied per run)
  std::filesystem::path dir;             // work directory of this run
  bool via_caddy = true;
  bool pg_statements = false;  // report PostgreSQL's busiest statements (pg_stat_statements)
  std::chrono::seconds timeout{600};
};

struct BacklogResult {
  std::string label;
  bool via_caddy = true;
  double seconds = 0;         // edge start → health file reports depth 0
  double first_upload_s = 0;  // edge start → the first batch acknowledged (start-up cost)
  std::int64_t rows = 0;
  long edge_hwm_kib = 0;
  long server_rss_kib = 0;
  long server_hwm_kib = 0;
  double server_ingest_requests = 0;
  double server_ingest_seconds = 0;  // the server's own handling time, summed
  std::string cpu;                   // CPU seconds per component over the drain
  std::string statements;            // PostgreSQL's busiest statements over the drain
  std::string problem;  // non-empty: rows lost or left behind (the figures are then worthless)
};

// Throws std::runtime_error when the stack or the edge fails, or the edge does not drain.
BacklogResult run_backlog(test::PostgresInstance& pg, const BacklogOptions& options);

// Fills `path` with `samples` realistic samples of `device` (synchronous=OFF: setup only).
void prefill_spool(const std::filesystem::path& path, const std::string& device,
                   std::size_t samples);

inline constexpr const char* kBacklogDevice = "sh40rs-backlog";

struct FleetOptions {
  int devices = 1'000;
  int batches = 30;           // measured, per device (after one warm-up batch each)
  int samples_per_batch = 2;  // one 10-s upload interval of 5-s polls
  double interval_s = 10;     // simulated time between a device's uploads
  double compression = 5;     // simulated seconds per real second in the measured part
  bool via_caddy = true;
  bool pg_statements = false;  // report PostgreSQL's busiest statements (pg_stat_statements)
  std::filesystem::path dir;
};

// Figures of the measured part unless said otherwise.
struct FleetResult {
  std::string label;
  double seconds = 0;  // first measured post due → last reply
  std::uint64_t requests = 0;
  std::uint64_t samples_measured = 0;
  std::uint64_t samples_sent = 0;    // warm-up included
  std::uint64_t errors = 0;          // posts not answered 2xx, warm-up included (each retried)
  std::uint64_t failed_batches = 0;  // given up after the retries
  std::string error_kinds;
  std::uint64_t inserted_reported = 0;  // the sum of the replies' "inserted"
  std::int64_t rows = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  double warmup_p50_ms = 0, warmup_p99_ms = 0, warmup_max_ms = 0;  // connect + handshake + post
  std::string timeline;                                            // latency by when the posts left
  double lag_p99_ms = 0, lag_max_ms = 0;  // how late posts left against the schedule
  std::uint64_t connections = 0;          // TCP connections the edges opened
  int server_sockets_peak = 0;            // sampled every 100 ms over the whole run
  std::size_t server_clients = 0;         // connections the server accepted (access log)
  long server_rss_kib = 0;
  long server_hwm_kib = 0;
  long caddy_hwm_kib = -1;
  long loadgen_hwm_kib = 0;
  double server_ingest_mean_ms = 0;  // the server's own handling time per request
  std::string cpu;
  std::string statements;  // PostgreSQL's busiest statements over the measured part
  std::string problem;     // non-empty: rows in PostgreSQL differ from the samples sent
};

// Throws std::runtime_error when the stack fails to start.
FleetResult run_fleet(test::PostgresInstance& pg, const FleetOptions& options);

}  // namespace sungrow::bench
