// PgConnection: connecting with bounded timeouts, checked results, lazy prepares, COPY IN.
#include "sungrow/server/storage/pg_connection.hpp"

#include <fmt/format.h>
#include <poll.h>

#include <array>
#include <utility>

namespace sungrow::storage {

StoreErrorKind kind_of_sqlstate(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return StoreErrorKind::internal;
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "08") return StoreErrorKind::unavailable;  // connection exception
  if (cls == "53") return StoreErrorKind::unavailable;  // disk full, out of memory, connections
  if (cls == "40") return StoreErrorKind::unavailable;  // serialization failure, deadlock
  if (cls == "58") return StoreErrorKind::unavailable;  // I/O error outside PostgreSQL
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||  // shutdown, starting
      sqlstate == "57014" ||                                                // statement timeout
      sqlstate == "55P03" || sqlstate == "55006") {                         // lock not available
    return StoreErrorKind::unavailable;
  }
  if (cls == "22" || cls == "23") return StoreErrorKind::rejected;  // data, constraint
  return StoreErrorKind::internal;
}

std::vector<const char*> PgParams::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}

StoreError pg_error(PGconn* conn, const PGresult* result, std::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string text = result != nullptr ? PQresultErrorMessage(result) : "";
  if (text.empty() && conn != nullptr) text = PQerrorMessage(conn);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  // A lost connection often carries no SQLSTATE at all; the connection state says it.
  const bool lost = conn == nullptr || PQstatus(conn) != CONNECTION_OK;
  StoreErrorKind kind = state != nullptr ? kind_of_sqlstate(state) : StoreErrorKind::internal;
  if (lost) kind = StoreErrorKind::unavailable;
  return StoreError{kind,
                    fmt::format("postgres: {}: {}{}", what, text,
                                state != nullptr ? fmt::format(" (SQLSTATE {})", state)
                                                 : std::string(lost ? " (connection lost)" : ""))};
}

StoreResult<std::unique_ptr<PgConnection>> PgConnection::connect(const PgConnectParams& params) {
  const std::string connect_timeout = std::to_string(params.connect_timeout.count());
  const std::string tcp_user_timeout = std::to_string(params.tcp_user_timeout.count());
  // Our defaults first, the caller's conninfo (expanded from "dbname") last: later entries win.
  const std::array<const char*, 5> keywords{"connect_timeout", "tcp_user_timeout",
                                            "application_name", "dbname", nullptr};
  const std::array<const char*, 5> values{connect_timeout.c_str(), tcp_user_timeout.c_str(),
                                          "sungrow-server", params.conninfo.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keywords.data(), values.data(), 1);
  if (raw == nullptr) return StoreError{StoreErrorKind::unavailable, "postgres: out of memory"};
  std::unique_ptr<PgConnection> conn(new PgConnection(raw));
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string text = PQerrorMessage(raw);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    // A bad conninfo (unknown keyword) is not transient; everything else (refused, timeout,
    // auth while the server starts) is reported as unavailable so callers retry.
    return StoreError{StoreErrorKind::unavailable, fmt::format("postgres: connect: {}", text)};
  }
  // Session settings set here rather than in `options`, so a conninfo carrying its own options
  // cannot drop them. extra_float_digits > 0 makes float8 output the shortest exact text, whatever
  // the server's configuration says.
  const std::string setup = fmt::format(
      "SET statement_timeout = {}; SET extra_float_digits = 3; SET client_encoding = 'UTF8'",
      params.statement_timeout.count());
  // Notices (e.g. "relation already exists, skipping", shutdown warnings) are not errors and
  // must not reach stderr; errors come back as results.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  if (auto ok = conn->exec("session setup", setup.c_str()); !ok) return ok.error();
  return conn;
}

PgConnection::~PgConnection() {
  PQfinish(conn_);
}

bool PgConnection::usable() const {
  return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

bool PgConnection::still_usable() {
  // Whatever the server sent while the connection sat idle is read without blocking. A server
  // shutting down sends a notice and then closes: libpq returns after reading the notice, so
  // keep reading while the socket has more, until EOF turns the status to CONNECTION_BAD.
  for (int round = 0; round < 8 && usable(); ++round) {
    pollfd fd{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
    if (fd.fd < 0) return false;
    if (::poll(&fd, 1, 0) <= 0) return true;  // nothing pending: healthy
    if (PQconsumeInput(conn_) == 0) return false;
  }
  return usable();
}

StoreResult<PgResult> PgConnection::check(std::string_view what, PGresult* raw_result) {
  PgResult result(raw_result);
  const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  return pg_error(conn_, result.get(), what);
}

StoreResult<PgResult> PgConnection::exec(std::string_view what, const char* sql) {
  return check(what, PQexec(conn_, sql));
}

StoreResult<PgResult> PgConnection::exec_params(std::string_view what, const char* sql,
                                                const PgParams& params) {
  const auto values = params.pointers();
  return check(what, PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0));
}

StoreResult<PgResult> PgConnection::exec_prepared(std::string_view what,
                                                  const PgStatement& statement,
                                                  const PgParams& params) {
  if (!prepared_.contains(statement.name)) {
    auto prepared = check(fmt::format("prepare {}", what),
                          PQprepare(conn_, statement.name, statement.sql, 0, nullptr));
    if (!prepared) return prepared.error();
    prepared_.emplace(statement.name);
  }
  const auto values = params.pointers();
  return check(what, PQexecPrepared(conn_, statement.name, static_cast<int>(values.size()),
                                    values.data(), nullptr, nullptr, 0));
}

StoreResult<void> PgConnection::copy_in(std::string_view what, const char* copy_sql,
                                        std::string_view data) {
  PgResult started(PQexec(conn_, copy_sql));
  if (!started || PQresultStatus(started.get()) != PGRES_COPY_IN) {
    return pg_error(conn_, started.get(), what);
  }
  // libpq takes an int length; send in slices well below that.
  constexpr std::size_t kSlice = std::size_t{1} << 20;
  const char* error = nullptr;
  for (std::size_t at = 0; at < data.size(); at += kSlice) {
    const auto n = std::min(kSlice, data.size() - at);
    if (PQputCopyData(conn_, data.data() + at, static_cast<int>(n)) != 1) {
      error = "send failed";
      break;
    }
  }
  if (PQputCopyEnd(conn_, error) != 1) return pg_error(conn_, nullptr, what);
  // The COPY's own result, then nullptr; every result must be drained to reuse the connection.
  std::optional<StoreError> failure;
  while (PGresult* raw = PQgetResult(conn_)) {
    PgResult result(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK && !failure) {
      failure = pg_error(conn_, raw, what);
    }
  }
  if (failure) return *failure;
  if (error != nullptr) return pg_error(conn_, nullptr, what);
  return {};
}

}  // namespace sungrow::storage
