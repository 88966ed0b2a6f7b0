// The whole pipeline as real processes for fault campaigns: sungrow-sim → sungrow-edge → Caddy
// (TLS) → sungrow-server → PostgreSQL + Redis, and the oracle that counts samples end to end.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caddy_instance.hpp"
#include "child_process.hpp"
#include "redis_instance.hpp"
#include "server_process.hpp"

namespace sungrow::test {

struct PipelineOptions {
  std::vector<std::string> sim_args{};    // e.g. WiNet-S faults: {"--drop-every", "7"}
  std::vector<std::string> server_env{};  // e.g. {"SUNGROW_TEST_STORE_FAULT=kill_after_commit:3"}
  std::vector<std::string> edge_args{};   // appended to the defaults (later flags win)
  std::vector<std::string> edge_env{};    // e.g. LD_PRELOAD of libfaketime
  // false: the edge posts straight to the server over loopback http (allowed for loopback only),
  // for a faked edge clock that would reject Caddy's certificate as not yet valid.
  bool via_caddy = true;
  std::filesystem::path spool_dir{};  // empty: the pipeline's own temp directory
};

// What the oracle found: the spool numbered every sample it committed 1..committed (its seq,
// which never goes back), so each of those must be in PostgreSQL exactly once, in ts order.
struct OracleReport {
  std::int64_t committed = 0;
  std::int64_t stored_rows = 0;
  std::vector<std::int64_t> missing;        // committed, not stored: lost
  std::vector<std::int64_t> duplicated;     // stored under more than one ts
  std::vector<std::int64_t> unexpected;     // stored, never committed by this spool
  std::vector<std::int64_t> ts_not_rising;  // ts not after the previous seq's ts
  std::uint64_t dead_letters = 0;
  std::uint64_t spool_depth = 0;

  bool clean() const;
  std::string summary() const;
};

class Pipeline {
 public:
  static constexpr const char* kDevice = "pipe-sh4";
  static constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

  // Starts PostgreSQL (shared per test binary, a fresh database), Redis, the server, Caddy and
  // the simulator; the edge is started by the test.
  explicit Pipeline(PipelineOptions options = {});
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& sim_port() const { return sim_port_; }
  std::filesystem::path spool_path() const;
  std::filesystem::path health_path() const { return dir_ / "health.json"; }
  // Seconds since the pipeline was built: a campaign's wall time.
  double wall_seconds() const;

  void start_edge();
  void kill_edge();  // SIGKILL, reaped
  // SIGTERM; returns the exit status (0 expected: the edge flushes and exits cleanly).
  std::optional<int> stop_edge();
  bool edge_running() const;

  // No new samples from here on; returns once the edge has reported a failed poll, so every
  // sample it will ever commit is in its spool and the next "drained" means drained.
  void stop_sim();

  void start_server();  // on the same port as before, so Caddy's upstream stays valid
  void kill_server();
  // The server's exit status once it exited by itself (a fault hook), nullopt while it runs.
  std::optional<int> server_exit(std::chrono::milliseconds wait);
  std::uint16_t server_port() const { return server_port_; }

  RedisInstance& redis() { return redis_; }
  CaddyInstance& caddy() { return *caddy_; }
  void restart_postgres_immediate();

  std::string ingest_url() const;
  // GET through Caddy (or straight to the server without it) with the device's token.
  struct Reply {
    long status = 0;
    std::string body;
  };
  Reply get(const std::string& path_and_query) const;

  std::optional<boost::json::value> edge_health() const;
  // Until the edge reports an empty spool, nothing in memory and a successful last upload.
  bool wait_until_drained(std::chrono::seconds timeout) const;
  // Until the edge's health file satisfies `ready`.
  bool wait_for_health(const std::function<bool(const boost::json::value&)>& ready,
                       std::chrono::seconds timeout) const;
  // Until the edge's health shows at least `depth` samples waiting.
  bool wait_for_backlog(std::uint64_t depth, std::chrono::seconds timeout) const;

  std::string edge_log() const;
  std::string server_log() const;
  std::string sim_log() const;

  // Stop the edge first: the spool is read for its last seq.
  OracleReport oracle() const;
  // Every row of the samples table, whatever its device: nothing may arrive unannounced.
  std::int64_t stored_rows() const;

 private:
  PipelineOptions options_;
  std::filesystem::path dir_;
  std::string conninfo_;
  RedisInstance redis_;
  std::uint16_t server_port_ = 0;
  int server_starts_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<CaddyInstance> caddy_;
  std::unique_ptr<ChildProcess> sim_;
  std::string sim_port_;
  std::unique_ptr<ChildProcess> edge_;
  int edge_starts_ = 0;
  std::chrono::steady_clock::time_point built_ = std::chrono::steady_clock::now();
};

// Every line of `log` after `marker`, up to the end of the line (for the "[test-fault] …" lines of
// the fault store).
std::vector<std::string> lines_after(const std::string& log, const std::string& marker);

}  // namespace sungrow::test
