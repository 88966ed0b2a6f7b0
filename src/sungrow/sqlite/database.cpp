// The RAII SQLite wrapper: handles owned by unique_ptr, failures returned with their result code.
#include "sungrow/sqlite/database.hpp"

#include <fmt/format.h>

#include <limits>
#include <stdexcept>
#include <utility>

namespace sungrow::sqlite {

void throw_exception_from_error(const Failure& failure, const boost::source_location&) {
  throw std::runtime_error("sqlite: " + failure.message);
}

void ConnectionCloser::operator()(sqlite3* db) const noexcept {
  // close_v2 defers the close until every statement is finalized, so destruction order is free.
  sqlite3_close_v2(db);
}

void StatementFinalizer::operator()(sqlite3_stmt* stmt) const noexcept {
  sqlite3_finalize(stmt);
}

namespace {

Failure failure_of(sqlite3* db, int code) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  return Failure{code, fmt::format("{} (SQLite code {}: {})", detail, code, sqlite3_errstr(code))};
}

int checked_size(std::string_view text) {
  // SQLite takes int lengths; a sample body never comes near 2 GiB, but do not wrap silently.
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return -1;
  return static_cast<int>(text.size());
}

}  // namespace

Statement& Statement::bind(int index, std::int64_t value) {
  keep(sqlite3_bind_int64(stmt_.get(), index, value));
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies the text, so the caller's buffer may die before the step;
  // _64 takes the length as it is (no int narrowing, no NUL needed).
  keep(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                           SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  keep(sqlite3_bind_blob64(stmt_.get(), index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
  return *this;
}

void Statement::keep(int rc) {
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

SqlResult<bool> Statement::next_row() {
  if (bind_rc_ != SQLITE_OK) return failure(bind_rc_);
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return failure(rc);
}

SqlResult<void> Statement::run() {
  ResetOnExit rewind(*this);
  for (;;) {
    auto row = next_row();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  bind_rc_ = SQLITE_OK;
}

std::int64_t Statement::column_int64(int index) const {
  return sqlite3_column_int64(stmt_.get(), index);
}

std::string_view Statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(stmt_.get(), index);
  if (text == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_.get(), index);
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

std::string_view Statement::column_blob(int index) const {
  const auto* data = sqlite3_column_blob(stmt_.get(), index);
  if (data == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_.get(), index);
  return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
}

Failure Statement::failure(int code) const {
  return failure_of(db_, code);
}

SqlResult<Connection> Connection::open(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  // NOMUTEX: every user serializes its calls on the connection with its own mutex.
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  ConnectionHandle db(raw);  // owned even on failure: sqlite3_open_v2 may allocate a handle anyway
  if (rc != SQLITE_OK) return failure_of(db.get(), rc);
  sqlite3_extended_result_codes(db.get(), 1);
  return Connection(std::move(db));
}

SqlResult<void> Connection::exec(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  return stmt->run();
}

SqlResult<void> Connection::exec_script(const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
  // sqlite3_exec reports through its own buffer; errmsg(db) holds the same text.
  sqlite3_free(message);
  if (rc != SQLITE_OK) return failure(rc);
  return {};
}

SqlResult<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), checked_size(sql),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  StatementHandle stmt(raw);
  if (rc != SQLITE_OK) return failure(rc);
  if (!stmt) return Failure{SQLITE_MISUSE, fmt::format("empty SQL statement: {}", sql)};
  return Statement(db_.get(), std::move(stmt));
}

namespace {

// Runs a statement expected to return one row and reads its first column with `column`.
template <class Column>
auto query_one(Connection& db, std::string_view sql, Column column)
    -> SqlResult<decltype(column(std::declval<Statement&>()))> {
  auto stmt = db.prepare(sql);
  if (!stmt) return stmt.error();
  ResetOnExit rewind(*stmt);
  auto row = stmt->next_row();
  if (!row) return row.error();
  if (!*row) return Failure{SQLITE_ERROR, fmt::format("no row from: {}", sql)};
  return column(*stmt);
}

}  // namespace

SqlResult<std::int64_t> Connection::query_int64(std::string_view sql) {
  return query_one(*this, sql, [](Statement& s) { return s.column_int64(0); });
}

SqlResult<std::string> Connection::query_text(std::string_view sql) {
  return query_one(*this, sql, [](Statement& s) { return std::string(s.column_text(0)); });
}

void Connection::set_busy_timeout(int milliseconds) {
  sqlite3_busy_timeout(db_.get(), milliseconds);
}

std::int64_t Connection::changes() const {
  return sqlite3_changes64(db_.get());
}

bool Connection::in_transaction() const {
  return sqlite3_get_autocommit(db_.get()) == 0;
}

Failure Connection::failure(int code) const {
  return failure_of(db_.get(), code);
}

SqlResult<Transaction> Transaction::begin(Connection& db, Mode mode) {
  if (auto begun = db.exec(mode == Mode::immediate ? "BEGIN IMMEDIATE" : "BEGIN"); !begun) {
    return begun.error();
  }
  return Transaction(db);
}

Transaction::~Transaction() {
  // SQLite rolls some failures back by itself (e.g. SQLITE_FULL, SQLITE_IOERR); only roll back
  // what is still open, and ignore the outcome: there is nothing more to undo.
  if (db_ != nullptr && db_->in_transaction()) (void)db_->exec("ROLLBACK");
}

SqlResult<void> Transaction::commit() {
  auto committed = db_->exec("COMMIT");
  if (committed) db_ = nullptr;
  return committed;
}

}  // namespace sungrow::sqlite
