// A throwaway PostgreSQL 15 server for tests and benchmarks: initdb in a temp dir, loopback port.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sungrow::test {

struct PostgresOptions {
  // Extra postgresql.conf lines (e.g. "shared_buffers = 512MB" for a benchmark).
  std::vector<std::string> settings;
  // Where the throwaway directory goes; empty: $SUNGROW_PG_TMPDIR, else /dev/shm (tmpfs), else
  // the system temp directory. An initdb'd template is kept there (sungrow-pg-template-UID-…)
  // and copied for each instance, so a test process does not pay for initdb.
  std::filesystem::path base_dir;
};

// Starts on construction (throws std::runtime_error with a clear message when a binary is missing
// or the server does not come up) and always stops the server and removes the directory on
// destruction. The postmaster is our child process with a parent-death signal, so even a crashed
// test binary leaves no server behind. When the tests run as root the server runs as the
// `postgres` system user (or `nobody`), which owns the data directory.
class PostgresInstance {
 public:
  explicit PostgresInstance(const PostgresOptions& options = {});
  PostgresInstance(const PostgresInstance&) = delete;
  PostgresInstance& operator=(const PostgresInstance&) = delete;
  ~PostgresInstance();

  int port() const { return port_; }
  // libpq keyword conninfo for `database` over TCP on 127.0.0.1, as the superuser.
  std::string conninfo(const std::string& database = "postgres") const;
  // CREATE DATABASE `name` (a plain identifier); throws when it fails.
  void create_database(const std::string& name) const;
  // A fresh database with a unique name; returns its conninfo.
  std::string fresh_database(const std::string& prefix = "t");

  // Fast shutdown (pg_ctl -m fast), waiting for the server to exit.
  void stop();
  // Starts the stopped server again on the same port and data directory.
  void start();
  // What a crash or `pg_ctl -m immediate stop` does: every backend killed, no checkpoint; then
  // started again on the same port (crash recovery replays the WAL).
  void restart_immediate();
  bool running() const { return pid_ > 0; }

  const std::filesystem::path& directory() const { return dir_; }

 private:
  void spawn_postmaster();
  void wait_ready();
  void signal_and_reap(int signal);

  std::filesystem::path bin_;
  std::filesystem::path dir_;
  int port_ = 0;
  int pid_ = -1;  // the postmaster, our child
  unsigned uid_ = 0;
  unsigned gid_ = 0;
  bool switch_user_ = false;
  int next_database_ = 0;
};

// One server per test binary, started at first use and stopped at exit.
PostgresInstance& shared_postgres();

}  // namespace sungrow::test
