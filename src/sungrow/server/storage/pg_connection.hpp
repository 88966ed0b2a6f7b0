// RAII libpq: one connection, its results, prepared statements, COPY, and SQLSTATE → error kind.
// Internal to the PostgreSQL store (pg_store.hpp keeps libpq out of its users' sight).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "sungrow/server/storage/store.hpp"

namespace sungrow::storage {

struct PgResultDeleter {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// Where and how to connect. `conninfo` is a libpq keyword string or URI; its own settings win
// over the defaults below (so an operator can still set e.g. connect_timeout in DATABASE_URL).
struct PgConnectParams {
  std::string conninfo;
  // libpq's minimum is 2 s: a dead database never holds a request for long.
  std::chrono::seconds connect_timeout{3};
  // Server side: a runaway query is cancelled (→ unavailable) instead of holding a connection.
  std::chrono::milliseconds statement_timeout{30'000};
  // Client side: unacknowledged data on a silent peer (a partitioned VPS) fails the call.
  std::chrono::milliseconds tcp_user_timeout{15'000};
};

// The kind of a failed call: connection trouble, shutdown, serialization/deadlock, resources
// (disk full, out of memory, too many connections) and cancelled statements are transient;
// data and constraint errors are the input's fault; everything else is internal.
StoreErrorKind kind_of_sqlstate(std::string_view sqlstate);

// Text-format statement parameters: each value NUL-terminated, nullopt = SQL NULL.
class PgParams {
 public:
  void add(std::string value) { values_.push_back(std::move(value)); }
  void add_null() { values_.push_back(std::nullopt); }
  std::size_t size() const { return values_.size(); }
  // Pointers into the owned strings, valid while this object lives unchanged.
  std::vector<const char*> pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

// A named statement, prepared on a connection at its first use there.
struct PgStatement {
  const char* name;
  const char* sql;
};

// Not thread-safe: the pool hands a connection to one caller at a time.
class PgConnection {
 public:
  static StoreResult<std::unique_ptr<PgConnection>> connect(const PgConnectParams& params);
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  // False once libpq saw the connection fail (it never recovers; the pool replaces it).
  bool usable() const;
  // A non-blocking look at an idle connection: reads what the server sent meanwhile, so a
  // connection closed by a server restart is noticed before it is handed out.
  bool still_usable();

  StoreResult<PgResult> exec(std::string_view what, const char* sql);
  StoreResult<PgResult> exec_params(std::string_view what, const char* sql, const PgParams& params);
  StoreResult<PgResult> exec_prepared(std::string_view what, const PgStatement& statement,
                                      const PgParams& params);
  // Runs `copy_sql` (COPY … FROM STDIN) and sends `data` in the text format.
  StoreResult<void> copy_in(std::string_view what, const char* copy_sql, std::string_view data);

  // For an operation's retry decision: whether COMMIT was sent since the last reset_commit_flag.
  void note_commit_sent() { commit_sent_ = true; }
  void reset_commit_flag() { commit_sent_ = false; }
  bool commit_sent() const { return commit_sent_; }

  PGconn* raw() { return conn_; }

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  StoreResult<PgResult> check(std::string_view what, PGresult* raw_result);

  PGconn* conn_;
  std::unordered_set<std::string> prepared_;
  bool commit_sent_ = false;
};

// The error of a failed call on `conn`, classified; `result` may be null (no result at all).
StoreError pg_error(PGconn* conn, const PGresult* result, std::string_view what);

}  // namespace sungrow::storage
