// The server side of the pipeline benchmark (PostgreSQL, Redis, sungrow-server, optional Caddy)
// and the /proc readings (RSS, CPU per process tree) its figures are made of.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caddy_instance.hpp"
#include "postgres_instance.hpp"
#include "redis_instance.hpp"
#include "server_process.hpp"

namespace sungrow::bench {

// Where the programs under test were built (the same build as this benchmark).
std::string bin_dir();

// A "Key:   123 kB" line of /proc/PID/status in KiB; -1 when the process or line is gone.
long status_kib(pid_t pid, const std::string& key);
double mib(long kib);
// Open sockets of a process (its listener, clients, PostgreSQL and Redis connections).
int socket_count(pid_t pid);

// CPU seconds (user + system) of a process, its live descendants and its reaped children
// (cutime/cstime): PostgreSQL's backends are the postmaster's children, and a backend that exited
// is only counted through its parent.
double tree_cpu_seconds(pid_t pid);

// CPU seconds of this process (every thread).
double self_cpu_seconds();

// Our direct children whose comm is `comm` (Caddy and Redis do not expose their pid).
std::vector<pid_t> children_named(const std::string& comm);

// Samples of the pipeline's components that matter for "where does the time go".
struct CpuSnapshot {
  std::map<std::string, double> seconds;  // component -> CPU seconds so far
  double machine_busy = 0;  // every process on the machine (/proc/stat): the rest is others' load
  std::chrono::steady_clock::time_point at;
};

struct StackOptions {
  bool via_caddy = true;
  // "token:device" per line, given to the server as --device-tokens-file.
  std::vector<std::pair<std::string, std::string>> tokens;
  std::filesystem::path dir;  // logs and the tokens file
  // pg_stat_statements in this scenario's database (the cluster must preload it).
  bool pg_statements = false;
};

// One PostgreSQL per benchmark run; each Stack gets a fresh database, its own Redis, server and
// (optionally) Caddy, so the server's peak RSS is that of one scenario alone.
class Stack {
 public:
  Stack(test::PostgresInstance& pg, StackOptions options);
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  ~Stack();

  // Where an edge posts: Caddy's https URL, or the server over loopback http.
  std::string ingest_url() const;
  // The CA an edge must trust ("" without Caddy).
  std::string ca_file() const;
  bool via_caddy() const { return caddy_ != nullptr; }

  pid_t server_pid() { return server_->process().pid(); }
  long server_kib(const std::string& key) { return status_kib(server_pid(), key); }
  std::optional<pid_t> caddy_pid() const { return caddy_pid_; }

  // count(*) of samples in this scenario's database (every device).
  std::int64_t rows() const;
  // The server's own view of /v1/ingest: requests and the sum of their handling time.
  struct IngestMetrics {
    double count = 0;
    double seconds = 0;
    double inserted = 0;
    double duplicates = 0;
  };
  IngestMetrics ingest_metrics() const;

  // CPU seconds of the server, Caddy, Redis and PostgreSQL (postmaster tree; shared by every
  // Stack of the run, so only differences between two snapshots mean anything).
  CpuSnapshot cpu(pid_t postmaster) const;

  // pg_stat_statements: forget what was counted so far; the `n` statements that took the most
  // time since, one line each ("" unless StackOptions::pg_statements).
  void reset_statements() const;
  std::string top_statements(int n) const;

  // Distinct client addresses in the server's access log for POST /v1/ingest: the connections
  // it accepted (a lower bound: a port may be reused by a later connection).
  std::size_t ingest_clients() const;

  std::string server_log() const { return server_->log(); }
  // SIGTERM; the server's exit status.
  std::optional<int> stop_server();

 private:
  std::string conninfo_;
  bool pg_statements_ = false;
  test::RedisInstance redis_;
  std::unique_ptr<test::ServerProcess> server_;
  std::unique_ptr<test::CaddyInstance> caddy_;
  std::optional<pid_t> redis_pid_;
  std::optional<pid_t> caddy_pid_;
};

// The postmaster of `pg` (our child named "postgres").
pid_t postmaster_pid();

// CPU seconds per component between two snapshots, as "name 12.3 s (61 %)" with the share of
// `cores` × the wall time between them, and what the rest of the machine took meanwhile (the
// machine is shared: other work skews every figure).
std::string cpu_breakdown(const CpuSnapshot& from, const CpuSnapshot& to, int cores);

}  // namespace sungrow::bench
