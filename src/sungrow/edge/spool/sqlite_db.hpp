// A small RAII wrapper over the SQLite C API, internal to the spool (keeps sqlite3.h out of
// spool.hpp).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "sungrow/core/result.hpp"

namespace sungrow::edge::sqlite {

struct ConnectionCloser {
  void operator()(sqlite3* db) const noexcept;
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept;
};

using ConnectionHandle = std::unique_ptr<sqlite3, ConnectionCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// A failed call with SQLite's (extended) result code, so callers can tell "disk full" from others.
// (A constructor, not an aggregate, so Result<int64_t> is not ambiguous between value and error.)
struct Failure {
  Failure() = default;
  Failure(int result_code, std::string text) : code(result_code), message(std::move(text)) {}
  int code = SQLITE_ERROR;
  std::string message;
};

template <class T>
using SqlResult = boost::system::result<T, Failure>;

// A prepared statement. Reused across calls: every `run`/`next_row` cycle ends with `reset()`.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, StatementHandle stmt) : db_(db), stmt_(std::move(stmt)) {}

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);

  // Steps once. Returns true when a row is available, false when done.
  SqlResult<bool> next_row();
  // Steps to completion for statements that return no rows, then resets.
  SqlResult<void> run();
  // Clears bindings and rewinds; always call before reuse (also releases read locks).
  void reset() noexcept;

  std::int64_t column_int64(int index) const;
  std::string column_text(int index) const;

 private:
  Failure failure(int code) const;

  sqlite3* db_ = nullptr;
  StatementHandle stmt_;
};

// Rewinds a statement when the scope ends, so an early return never leaves a read lock behind.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& stmt) : stmt_(stmt) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { stmt_.reset(); }

 private:
  Statement& stmt_;
};

class Connection {
 public:
  // Opens (creating if missing) a read-write database with extended result codes.
  static SqlResult<Connection> open(const std::filesystem::path& path);

  SqlResult<void> exec(std::string_view sql);
  SqlResult<Statement> prepare(std::string_view sql);
  // Runs a statement that yields one integer (e.g. a PRAGMA or a count).
  SqlResult<std::int64_t> query_int64(std::string_view sql);
  SqlResult<std::string> query_text(std::string_view sql);

  void set_busy_timeout(int milliseconds);
  std::int64_t changes() const;
  bool in_transaction() const;

 private:
  explicit Connection(ConnectionHandle db) : db_(std::move(db)) {}
  Failure failure(int code) const;

  ConnectionHandle db_;
};

// BEGIN IMMEDIATE … COMMIT; rolls back unless committed. IMMEDIATE takes the write lock up front,
// so a busy database waits in busy_timeout at BEGIN instead of failing at the first write.
class Transaction {
 public:
  static SqlResult<Transaction> begin(Connection& db);
  Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  SqlResult<void> commit();

 private:
  explicit Transaction(Connection& db) : db_(&db) {}
  Connection* db_;
};

}  // namespace sungrow::edge::sqlite
