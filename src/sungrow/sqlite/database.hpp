// A small RAII wrapper over the SQLite C API, shared by the edge's spool and the server's SQLite
// store: owned handles, failures returned with SQLite's result code, reusable statements.
#pragma once

#include <sqlite3.h>

#include <boost/system/result.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace sungrow::sqlite {

struct ConnectionCloser {
  void operator()(sqlite3* db) const noexcept;
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept;
};

using ConnectionHandle = std::unique_ptr<sqlite3, ConnectionCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// A failed call with SQLite's (extended) result code, so callers can tell "disk full" from others.
// (A constructor, not an aggregate, so SqlResult<int64_t> is not ambiguous between value and
// error.)
struct Failure {
  Failure() = default;
  Failure(int result_code, std::string text) : code(result_code), message(std::move(text)) {}
  int code = SQLITE_ERROR;
  std::string message;

  int primary_code() const { return code & 0xff; }
};

// Found by ADL when SqlResult<T>::value() is called on a failure.
[[noreturn]] void throw_exception_from_error(const Failure& failure,
                                             const boost::source_location& location);

template <class T>
using SqlResult = boost::system::result<T, Failure>;

// A prepared statement, reused across calls: every cycle of binds and steps ends with reset()
// (ResetOnExit does it on every path). A failed bind is kept and reported by the next step.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, StatementHandle stmt) : db_(db), stmt_(std::move(stmt)) {}

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);

  // Steps once. Returns true when a row is available, false when done.
  SqlResult<bool> next_row();
  // Steps to completion for statements that return no rows, then resets.
  SqlResult<void> run();
  // Clears bindings and rewinds; always call before reuse (also releases read locks).
  void reset() noexcept;

  std::int64_t column_int64(int index) const;
  // Valid until the next step or reset.
  std::string_view column_text(int index) const;
  std::string_view column_blob(int index) const;

 private:
  void keep(int rc);
  Failure failure(int code) const;

  sqlite3* db_ = nullptr;
  StatementHandle stmt_;
  int bind_rc_ = SQLITE_OK;
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
  // Opens (creating if missing) a read-write database with extended result codes. NOMUTEX: each
  // user serializes its calls on the connection with a mutex of its own.
  static SqlResult<Connection> open(const std::filesystem::path& path);

  // One statement.
  SqlResult<void> exec(std::string_view sql);
  // Several statements separated by ';' (a migration).
  SqlResult<void> exec_script(const std::string& sql);
  SqlResult<Statement> prepare(std::string_view sql);
  // Runs a statement that yields one row and reads its first column (a PRAGMA or a count).
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

// BEGIN … COMMIT; rolls back unless committed. `immediate` takes the write lock up front, so a
// busy database waits in busy_timeout at BEGIN instead of failing at the first write; a plain
// BEGIN is a read transaction (one snapshot for several queries).
class Transaction {
 public:
  enum class Mode { deferred, immediate };
  static SqlResult<Transaction> begin(Connection& db, Mode mode = Mode::immediate);
  Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  SqlResult<void> commit();

 private:
  explicit Transaction(Connection& db) : db_(&db) {}
  Connection* db_;
};

}  // namespace sungrow::sqlite
